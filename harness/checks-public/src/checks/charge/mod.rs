//! Checks for the `charge` exercise: a payments endpoint that must never charge a
//! customer twice, whatever retries, lost responses, concurrency and crashes do.
//!
//! - `world`: the service + fake provider fixture and the shared ground-truth judge.
//! - `contract`: public checks that the service does its job.
//! - `flaws`: hidden checks, one forced scenario per planted flaw.
//! - `property`: hidden property over random histories.

pub mod contract;
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
            soak: false,
            run: |env| Box::pin(async move { settle(contract::happy_path(env).await) }),
        },
        Check {
            id: "charge.distinct-keys",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "Two requests with identical bodies but different Idempotency-Keys are two charges: two different ids, two provider charges.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::distinct_keys(env).await) }),
        },
        Check {
            id: "charge.sequential-retry",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The same request sent three times in a row with one key: every answer is 2xx with the same charge, and the provider charged once.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::sequential_retry(env).await) }),
        },
        Check {
            id: "charge.accepts-values-at-limits",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "Every value just inside the brief's limits is charged exactly as asked (201, one provider charge, one succeeded row): a customer_id of 1 and 64 characters (also multi-byte ones within 64 bytes), an amount of 1 and of 100000000, each of usd, eur and gbp, an Idempotency-Key of 1 and of 255 characters (two 255-character keys differing only in the last character are two charges; a retry under one returns its charge). A customer_id of 64 multi-byte characters may be charged or cleanly refused.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(contract::accepts_values_at_limits(env).await) })
            },
        },
        Check {
            id: "charge.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A missing, empty or 256-character Idempotency-Key gets 400; a customer_id that is empty, 65 characters (ASCII or multi-byte), null or not a string, an amount of 0, -1, 100000001, beyond 64 bits, fractional, a string or null, a currency other than usd/eur/gbp (upper case, empty, null), a missing field, an unknown field, malformed, non-object and empty JSON get 400 (or 422); every refusal has a JSON error body and nothing is charged or stored.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "charge.provider-error-is-clean",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The provider answers 500 without charging: the service answers a 5xx with a JSON error (or succeeds after retrying internally), and a client retry with the same key then charges exactly once. Then the provider is down for a while: the charge still gets a 5xx within the client's timeout, and once the provider recovers a retry with the same key charges exactly once.",
            soak: false,
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
            soak: false,
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
    ]
}
