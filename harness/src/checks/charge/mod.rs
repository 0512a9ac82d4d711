//! Checks for the `charge` exercise: a payments endpoint that must never charge a
//! customer twice, whatever retries, lost responses, concurrency and crashes do.
//!
//! - `world`: the service + fake provider fixture and the shared ground-truth judge.
//! - `contract`: public checks that the service does its job.
//! - `flaws`: hidden checks, one forced scenario per planted flaw.
//! - `property`: hidden property over random histories.

pub mod contract;
pub mod flaws;
pub mod property;
pub mod world;

use crate::checks::{Check, Visibility, settle};

/// Every check of the charge exercise, contract checks first.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "charge.happy-path",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "POST /charges with a new Idempotency-Key answers 201 with the charge; GET /charges/{id} returns it; an unknown id gives 404; the provider made exactly one matching charge and the `charges` table records it.",
            run: |env| Box::pin(async move { settle(contract::happy_path(env).await) }),
        },
        Check {
            id: "charge.distinct-keys",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "Two requests with identical bodies but different Idempotency-Keys are two charges: two different ids, two provider charges.",
            run: |env| Box::pin(async move { settle(contract::distinct_keys(env).await) }),
        },
        Check {
            id: "charge.sequential-retry",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The same request sent three times in a row with one key: every answer is 2xx with the same charge, and the provider charged once.",
            run: |env| Box::pin(async move { settle(contract::sequential_retry(env).await) }),
        },
        Check {
            id: "charge.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A missing Idempotency-Key gets 400; zero, negative, fractional or string amounts, unknown currencies, missing fields, malformed and empty JSON get a 4xx; every refusal has a JSON error body and nothing is charged or stored.",
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "charge.provider-error-is-clean",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The provider answers 500 without charging: the service answers a 5xx with a JSON error (or succeeds after retrying internally), and a client retry with the same key then charges exactly once.",
            run: |env| {
                Box::pin(async move { settle(contract::provider_error_is_clean(env).await) })
            },
        },
        Check {
            id: "charge.statement-accounting",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The kit's SQL statement accounting is intact: the canary route reports exactly its known number of statements.",
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
        Check {
            id: "charge.concurrent-duplicates",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Three requests with one key: the provider holds the first one's charge call while the two duplicates arrive, then answers — once holding it before it charges the card, once after it charged but before it answers. Each time the customer must be charged once, every 2xx must carry the same charge, and the `charges` table must agree with the provider.",
            run: |env| Box::pin(async move { settle(flaws::concurrent_duplicates(env).await) }),
        },
        Check {
            id: "charge.two-instances",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Two service instances on one database: instance 1 gets a request whose charge call the provider holds (before, then in a second round after, it charges), instance 2 gets two duplicates meanwhile. Each time: one charge, one succeeded row, the same charge in every 2xx.",
            run: |env| Box::pin(async move { settle(flaws::two_instances(env).await) }),
        },
        Check {
            id: "charge.key-reuse-different-body",
            flaw: Some("key-not-bound-to-request"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "A key that already charged is reused with a different amount, a different currency and a different customer: each must be refused with 422 and a JSON error, charge nobody, and the original body must still replay the original charge.",
            run: |env| Box::pin(async move { settle(flaws::key_reuse_different_body(env).await) }),
        },
        Check {
            id: "charge.lost-provider-response",
            flaw: Some("provider-key-missing"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "The provider charges the card and the connection drops before its answer arrives. Before any retry, the `charges` table must already hold a row for the request (reconciliation); after the client's retry with the same key the customer must be charged exactly once, with the service's succeeded record pointing at that charge.",
            run: |env| Box::pin(async move { settle(flaws::lost_provider_response(env).await) }),
        },
        Check {
            id: "charge.crash-after-provider-call",
            flaw: Some("record-after-charge"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "The service is killed with SIGKILL while the provider, having charged the card, holds its answer. After the restart and before any retry, the `charges` table must hold a row for the request (reconciliation); after the client's retry the customer must be charged exactly once.",
            run: |env| Box::pin(async move { settle(flaws::crash_after_provider_call(env).await) }),
        },
        Check {
            id: "charge.property-histories",
            flaw: Some("provider-key-missing"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Seeded random histories of requests, different-body reuse, concurrent bursts, lost provider responses, provider 500s and SIGKILLs (every history holds at least one SIGKILL mid-request on a fresh key and one different-body reuse); afterwards every key is retried until it succeeds. Per key: at most one provider charge, every 2xx the same charge describing its request, the service's rows agreeing with the provider.",
            run: |env| Box::pin(async move { settle(property::histories(env).await) }),
        },
    ]
}
