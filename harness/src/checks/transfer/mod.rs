//! Checks for the `transfer` exercise: money moves between accounts whole or not at
//! all, never twice, never into overdraft, whatever concurrency, lock contention, write
//! failures and crashes do.
//!
//! - `world`: the service + fake risk service fixture, the harness's model of every
//!   balance and the ground-truth judge.
//! - `contract`: public checks that the service does its job.
//! - `flaws`: hidden checks, one exhausted failure mode each.
//! - `property`: hidden property over random histories.

pub mod contract;
pub mod flaws;
pub mod property;
pub mod world;

use crate::checks::{Check, Visibility, settle};

/// Every check of the transfer exercise, contract checks first.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "transfer.happy-path",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "POST /transfers answers 201 with the transfer; GET /transfers/{id} and GET /accounts/{id} show it and the new balances; unknown ids give 404; the risk service was asked; the tables reconcile.",
            run: |env| Box::pin(async move { settle(contract::happy_path(env).await) }),
        },
        Check {
            id: "transfer.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "Same account, unknown accounts, zero, negative, fractional, string, over-the-limit and out-of-range amounts, missing fields, an over-long reference and malformed JSON each get a 4xx with a JSON error, and nothing changes.",
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "transfer.insufficient-funds",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A transfer of the balance plus one gets 409 (or 422) with a JSON error and changes nothing; the whole balance can be moved; then one more cent is refused.",
            run: |env| Box::pin(async move { settle(contract::insufficient_funds(env).await) }),
        },
        Check {
            id: "transfer.risk-decline-and-outage",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A transfer the risk service declines gets 422; while the risk service answers 500, transfers get 502/503/504; each with a JSON error and nothing changed; once it recovers, transfers go through.",
            run: |env| {
                Box::pin(async move { settle(contract::risk_decline_and_outage(env).await) })
            },
        },
        Check {
            id: "transfer.statement-accounting",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The kit's SQL statement accounting is intact: the canary route reports exactly its known number of statements.",
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
        Check {
            id: "transfer.every-write-aborted",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "For every k, the row writes of a transfer fail from the k-th on, as on a full disk (a trigger in the service's database aborts them). After each, money is conserved, every balance equals its ledger, no transfer lacks its entries, a transfer answered with an error left no trace (a 2xx one is whole), and the next transfer works.",
            run: |env| Box::pin(async move { settle(flaws::every_write_aborted(env).await) }),
        },
        Check {
            id: "transfer.crash-at-every-write",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "For every k, the k-th row write of a transfer is frozen and the service is killed there with SIGKILL, then restarted on the same file: the transfer is whole or absent, every invariant holds, and the next transfer works.",
            run: |env| Box::pin(async move { settle(flaws::crash_at_every_write(env).await) }),
        },
        Check {
            id: "transfer.concurrent-overdraft",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Five transfers out of one account whose sum exceeds its balance, then four transfers into one account, each held at the risk check until all have read their balances: no overdraft, money conserved, exactly the accepted transfers applied, no transfer the payer could cover refused, every refusal a clean 409/422/503.",
            run: |env| Box::pin(async move { settle(flaws::concurrent_overdraft(env).await) }),
        },
        Check {
            id: "transfer.two-instances",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "The concurrent-overdraft rounds with the transfers spread over two service instances on one database file, which a process-local lock cannot serialise.",
            run: |env| Box::pin(async move { settle(flaws::two_instances(env).await) }),
        },
        Check {
            id: "transfer.busy-database",
            flaw: Some("busy-is-500"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Two instances with a 200 ms busy timeout: transfers arrive while another process holds the database's write lock, then twelve arrive at once. Every answer is a success or a clean 409/503 with a JSON error (never a 500 from SQLITE_BUSY), and every accepted transfer is there.",
            run: |env| Box::pin(async move { settle(flaws::busy_database(env).await) }),
        },
        Check {
            id: "transfer.crash-under-load",
            flaw: Some("not-atomic"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Eight concurrent transfers; a seed-chosen row write among them is frozen and the service is killed with SIGKILL, then restarted: every transfer that got a 2xx is there, the rest are whole or absent, every invariant holds.",
            run: |env| Box::pin(async move { settle(flaws::crash_under_load(env).await) }),
        },
        Check {
            id: "transfer.property-histories",
            flaw: Some("check-then-act"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Seeded random histories over two instances: transfers the payer can or cannot cover, invalid requests, concurrent bursts held at the risk check, transfers whose writes fail from a random point (every history holds a burst out of an account that cannot cover it all). After every step each balance equals its ledger and the harness's model, nothing is overdrawn, created or lost, and every answer told the truth. Failing histories are shrunk and replayed.",
            run: |env| Box::pin(async move { settle(property::histories(env).await) }),
        },
    ]
}
