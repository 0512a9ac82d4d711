//! The hidden checks of the `charge` exercise: grading only, never in a candidate's kit.

// The exercise's public modules (world, contract, …), which the hidden checks build on.
pub use checks_public::checks::charge::*;

pub mod flaws;
pub mod in_flight;
pub mod property;
pub mod upgrade;

use crate::checks::{Check, Visibility, settle};

/// The flaw and property checks, in report order after the contract checks.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "charge.concurrent-duplicates",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Three requests with one key: the provider holds the first one's charge call while the two duplicates arrive, then answers — once holding it before it charges the card, once after it charged but before it answers. Each time the customer must be charged once, every 2xx must carry the same charge, and the `charges` table must agree with the provider.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::concurrent_duplicates(env).await) }),
        },
        Check {
            id: "charge.two-instances",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Two service instances on one database: instance 1 gets a request whose charge call the provider holds (before, then in a second round after, it charges), instance 2 gets two duplicates meanwhile; then one request at each instance while the harness holds the database's write lock, so both read the key unused before either can write. Each time: one charge, one succeeded row, the same charge in every 2xx.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::two_instances(env).await) }),
        },
        Check {
            id: "charge.key-reuse-different-body",
            flaw: Some("key-not-bound-to-request"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "A key that already charged is reused with a different amount, a different currency and a different customer: each must be refused with 422 and a JSON error, charge nobody, and the original body must still replay the original charge. Then a key whose first request failed (provider 500) is reused with a different amount (422, nothing changes), and the original's retry must complete at once (no 409).",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::key_reuse_different_body(env).await) }),
        },
        Check {
            id: "charge.lost-provider-response",
            flaw: Some("provider-key-missing"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "The provider charges the card and the connection drops before its answer arrives. Before any retry, the `charges` table must already hold a row for the request (reconciliation); after the client's retry with the same key the customer must be charged exactly once, with the service's succeeded record pointing at that charge.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::lost_provider_response(env).await) }),
        },
        Check {
            id: "charge.crash-after-provider-call",
            flaw: Some("record-after-charge"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "The service is killed with SIGKILL while the provider, having charged the card, holds its answer. After the restart and before any retry, the `charges` table must hold a row for the request (reconciliation); after the client's retry the customer must be charged exactly once.",
            soak: true,
            run: |env| Box::pin(async move { settle(flaws::crash_after_provider_call(env).await) }),
        },
        Check {
            id: "charge.property-histories",
            flaw: Some("provider-key-missing"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Seeded random histories, under keys that differ only in case, of requests, different-body reuse, concurrent bursts, lost provider responses, provider 500s and SIGKILLs (every history holds at least one SIGKILL mid-request on a fresh key and one different-body reuse); afterwards every key is retried until it succeeds (a key cut off by a SIGKILL may answer 409 for up to 5 s). Per key: at most one provider charge, every 2xx the same charge describing its request, the service's rows agreeing with the provider.",
            soak: false,
            run: |env| Box::pin(async move { settle(property::histories(env).await) }),
        },
        Check {
            id: "charge.in-flight",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Requirements judged while a request is at the provider: a different body under its key gets 409 or 422 and charges nothing; a client that gives up mid-request leaves a key a retry can complete within 5 s; no success is sent while the harness holds the database's write lock (nothing could be recorded), and the service does not hold that lock across the provider call; a charge for another customer does not wait for someone else's slow provider call; on a service of its own (busy timeout 200 ms), a charge under a new key while the harness holds the write lock for up to 6 s is answered 503 (500 let pass), never 409, and a retry after the lock is let go completes it. Each time the customer is charged at most once and the table agrees with the provider.",
            soak: false,
            run: |env| Box::pin(async move { settle(in_flight::in_flight(env).await) }),
        },
        Check {
            id: "charge.retry-across-upgrade",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "A charge made by the version production runs today is retried under its key after the fix is deployed on the same database: the retry replays that charge and the customer is charged once. Production's data also holds a key the old version charged twice (a mobile double-submit it let through): the fix starts on that database and keeps both rows.",
            soak: false,
            run: |env| Box::pin(async move { settle(upgrade::retry_across_upgrade(env).await) }),
        },
        crate::checks::upgrade::production::registration("charge.upgrade-from-production", |env| {
            Box::pin(crate::checks::upgrade::production::run(env, &["payments"]))
        }),
    ]
}
