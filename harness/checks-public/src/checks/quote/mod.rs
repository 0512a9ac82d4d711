//! Checks for the `quote` exercise: a storefront service that must stay fast, honest
//! and polite to its pricing dependency whatever that dependency does.
//!
//! - `world`: the service + fake pricing fixture, timed requests and the budgets.
//! - `contract`: public checks that the service prices products while pricing is healthy.
//! - `flaws`: hidden checks, one incident shape each.
//! - `property`: hidden property over random fault schedules.

pub mod contract;
pub mod world;

use crate::checks::{Check, Visibility, settle};

/// Every check of the quote exercise, contract checks first.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "quote.healthy-quote",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "With pricing healthy, GET /quotes/{sku}?qty=N answers 200 with pricing's unit price and the total, after exactly one call to pricing; the product page shows the last quoted price; /health answers 200.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::healthy_quote(env).await) }),
        },
        Check {
            id: "quote.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A SKU not in the catalogue gets 404 with code `unknown_sku` (quote and product page); a qty that is missing, empty, 0, -1, 1001, 2^32+1, beyond 64 bits, fractional or not a number gets 400 with code `invalid_request`; each with a JSON error and without calling pricing.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "quote.quantity-limits",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "With pricing healthy, qty=1 and qty=1000 (both ends of the brief's range) are each quoted 200 with the unit price pricing served for that SKU and exactly that quantity, and the total, after exactly one pricing call each.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::quantity_limits(env).await) }),
        },
        Check {
            id: "quote.statement-accounting",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The kit's SQL statement accounting is intact: the canary route reports exactly its known number of statements.",
            soak: false,
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
    ]
}
