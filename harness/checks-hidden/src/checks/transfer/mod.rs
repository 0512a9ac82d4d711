//! The hidden checks of the `transfer` exercise: grading only, never in a candidate's kit.

// The exercise's public modules (world, contract, …), which the hidden checks build on.
pub use checks_public::checks::transfer::*;

pub mod flaws;
pub mod in_flight;
pub mod property;

use crate::checks::{Check, Visibility, settle};

/// The flaw and property checks, in report order after the contract checks.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "transfer.every-write-aborted",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "For every k, the row writes of a transfer fail from the k-th on, as on a full disk (a trigger in the service's database aborts them). After each, money is conserved, every balance equals its ledger, no transfer lacks its entries, a transfer answered with an error left no trace (a 2xx one is whole), and the next transfer works.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::every_write_aborted(env).await) }),
        },
        Check {
            id: "transfer.failed-write-pages-on-call",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "For every k, the row writes of a transfer fail from the k-th on, as on a full disk: the answer is not 503 (the brief's 500 `internal_error` pages on-call; 503 has clients retry quietly). What the failures leave in the ledger is judged by `transfer.every-write-aborted`.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(flaws::failed_write_pages_on_call(env).await) })
            },
        },
        Check {
            id: "transfer.crash-at-every-write",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "For every k, the k-th row write of a transfer is frozen and the service is killed there with SIGKILL, then restarted on the same file: the transfer is whole or absent, every invariant holds, and the next transfer works.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::crash_at_every_write(env).await) }),
        },
        Check {
            id: "transfer.concurrent-overdraft",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Five transfers out of one account whose balance covers one of them, then four transfers into one account, then two out of an account that covers both and one into it, each held at the risk check until all have read their balances: no overdraft, money conserved, exactly the accepted transfers applied, no transfer the payer could cover refused, every refusal a clean 409/422 — never a 503, since no one else holds the database (\"never because of our own concurrent requests\").",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::concurrent_overdraft(env).await) }),
        },
        Check {
            id: "transfer.two-instances",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "The concurrent-overdraft rounds with the transfers spread over two service instances on one database file, which a process-local lock cannot serialise.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::two_instances(env).await) }),
        },
        Check {
            id: "transfer.busy-database",
            flaw: Some("busy-is-500"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Two instances with a 200 ms busy timeout: transfers arrive while another process holds the database's write lock, then twelve arrive at once. Every answer is a success or a clean 409/503 with a JSON error (never a 500 from SQLITE_BUSY), and every accepted transfer is there.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::busy_database(env).await) }),
        },
        Check {
            id: "transfer.crash-under-load",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Eight concurrent transfers; a seed-chosen row write among them is frozen and the service is killed with SIGKILL, then restarted: every transfer that got a 2xx is there, the rest are whole or absent, every invariant holds.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::crash_under_load(env).await) }),
        },
        Check {
            id: "transfer.property-histories",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Seeded random histories over two instances: transfers the payer can or cannot cover, invalid requests, concurrent bursts held at the risk check, transfers whose writes fail from a random point (every history holds a burst out of an account that cannot cover it all). After every step each balance equals its ledger and the harness's model, nothing is overdrawn, created or lost, and every answer told the truth. Failing histories are shrunk and replayed.",
            soak: false,
            run: |env| Box::pin(async move { settle(property::histories(env).await) }),
        },
        Check {
            id: "transfer.in-flight",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "Requirements judged while a transfer waits for the risk service: the service does not hold the database's write lock meanwhile (the harness takes it, and no success may arrive until the harness lets it go); a transfer between other accounts is answered 2xx within 3 s; a client that gives up mid-request leaves the transfer whole or absent; transfers that wait long (a 4 s assessment, then the lock held 4.5 s by someone else) get answers that tell the truth: an error means nothing is recorded, also after the lock is free. Afterwards every balance equals its ledger and money is conserved.",
            soak: true,
            run: |env| Box::pin(async move { settle(in_flight::in_flight(env).await) }),
        },
        Check {
            id: "transfer.everyday-contention",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "Four equal transfers (same payer, payee, amount and reference), one after another: each is answered 201 with its own id and moves its money. Then the harness holds the database's write lock for 3 s, less than the brief's 5 s busy timeout, while a transfer arrives: it must succeed once the lock is free, not be refused as busy. Afterwards every balance equals its ledger.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::everyday_contention(env).await) }),
        },
        crate::checks::upgrade::production::registration(
            "transfer.upgrade-from-production",
            |env| Box::pin(crate::checks::upgrade::production::run(env, &["risk"])),
        ),
    ]
}
