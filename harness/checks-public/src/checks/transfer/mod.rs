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
            soak: false,
            run: |env| Box::pin(async move { settle(contract::happy_path(env).await) }),
        },
        Check {
            id: "transfer.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "Same account, unknown accounts, zero, negative, fractional, string, over-the-limit and out-of-range amounts, missing fields, an over-long reference and malformed JSON each get the status the brief's table gives them (400, or 404 for a valid request naming an unknown account) with a JSON error, and nothing changes; a reference of exactly 140 characters is accepted.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "transfer.insufficient-funds",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A transfer of the balance plus one gets 409 (or 422) with a JSON error and changes nothing; the whole balance can be moved; then one more cent is refused. A covered transfer of exactly 1000000000 (the largest amount) succeeds; a transfer the payer cannot cover gets 409 also when the risk service would decline it or is failing.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::insufficient_funds(env).await) }),
        },
        Check {
            id: "transfer.risk-decline-and-outage",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A transfer the risk service declines gets 422; while the risk service gives no usable answer (500, 503, a 429 — it did not assess, so no decline —, an HTML page, a decision the brief does not name, a dropped connection, an answer that stalls mid-body), transfers get 502/503/504; each with a JSON error and nothing changed; once it recovers, transfers go through.",
            soak: false,
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
            soak: false,
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
    ]
}
