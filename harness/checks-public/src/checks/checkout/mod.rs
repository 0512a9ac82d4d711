//! Checks for the `checkout` capstone: one AI-generated endpoint with several planted
//! flaws side by side, each graded by its own group of checks so the report gives
//! partial credit per flaw.
//!
//! - `world`: the service + fake payment provider + fake shipping-rates fixture, the
//!   catalogue the harness stocks, and the judge, scoped per requirement.
//! - `contract`: public checks that the service does its job.
//! - `carts`: the brief's cart and address rules, each broken on a valid cart.
//! - `flaws`: hidden checks, one group per planted flaw.
//! - `property`: hidden property over random carts.

pub mod contract;
pub mod world;

use crate::checks::{Check, Visibility, settle};

/// Every check of the checkout exercise, contract checks first.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "checkout.happy-path",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A two-line cart is answered 201 with the paid order at catalogue prices plus the shipping rate; GET /orders/{id} shows it and unknown ids give 404; the card is charged once for the total; a retry with the same key and cart answers 200 with the same order; a cart under a 255-character key (the longest allowed) goes through; stock and orders reconcile.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::happy_path(env).await) }),
        },
        Check {
            id: "checkout.rejects-malformed-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "No or an over-long Idempotency-Key gets 400; malformed JSON, missing lines or address and a string quantity get 400 (or 422); each with a JSON error, nothing charged, nothing changed.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(contract::rejects_malformed_requests(env).await) })
            },
        },
        Check {
            id: "checkout.out-of-stock",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "With 5 on the shelf, a checkout of 6 gets 409 with a JSON error and changes nothing; 5 can be sold; then 1 more gets 409.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::out_of_stock(env).await) }),
        },
        Check {
            id: "checkout.statement-accounting",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The kit's SQL statement accounting is intact: the canary route reports exactly its known number of statements.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
    ]
}
