//! Checks for the `quote` exercise: a storefront service that must stay fast, honest
//! and polite to its pricing dependency whatever that dependency does.
//!
//! - `world`: the service + fake pricing fixture, timed requests and the budgets.
//! - `contract`: public checks that the service prices products while pricing is healthy.
//! - `flaws`: hidden checks, one incident shape each.
//! - `property`: hidden property over random fault schedules.

pub mod contract;
pub mod flaws;
pub mod property;
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
            run: |env| Box::pin(async move { settle(contract::healthy_quote(env).await) }),
        },
        Check {
            id: "quote.rejects-invalid-requests",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "A SKU not in the catalogue gets 404; a missing, zero, negative, too large, fractional or non-numeric qty gets 400; each with a JSON error and without calling pricing.",
            run: |env| {
                Box::pin(async move { settle(contract::rejects_invalid_requests(env).await) })
            },
        },
        Check {
            id: "quote.statement-accounting",
            flaw: None,
            visibility: Visibility::Public,
            points: 1,
            description: "The kit's SQL statement accounting is intact: the canary route reports exactly its known number of statements.",
            run: |env| Box::pin(async move { settle(contract::statement_accounting(env).await) }),
        },
        Check {
            id: "quote.deadline",
            flaw: Some("no-timeout"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Pricing stalls mid-body on one quote and hangs on another: both are answered within the 2 s budget (3 s allowed for a loaded machine) with 502/503/504 and a JSON error.",
            run: |env| Box::pin(async move { settle(flaws::deadline(env).await) }),
        },
        Check {
            id: "quote.honest-errors",
            flaw: Some("unwrap-on-body"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Pricing answers garbage, truncated JSON, a price for another SKU, a connection reset, 500, 503: each quote gets 502/503/504 with a JSON error in time (or pricing's correct price), never a made-up price or a dropped connection, and the service stays up.",
            run: |env| Box::pin(async move { settle(flaws::honest_errors(env).await) }),
        },
        Check {
            id: "quote.retry-discipline",
            flaw: Some("unbounded-retry"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "On separate services: pricing answering 503 gets at most 3 attempts per quote, at least 10 ms apart; a pricing 404 or 400 is not retried (404 becomes unknown_sku); 429 with Retry-After: 1 is retried no sooner than a second later; 429 with Retry-After: 30 fails fast after one call. Every quote is answered in time.",
            run: |env| Box::pin(async move { settle(flaws::retry_discipline(env).await) }),
        },
        Check {
            id: "quote.circuit-breaker",
            flaw: Some("no-circuit-breaker"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Pricing is down (503): after 20 concurrent quotes, 10 more make at most 2 calls to pricing and each fails fast (within 500 ms) with a JSON error; once pricing recovers, a quote succeeds within 10 s (11 s allowed).",
            run: |env| Box::pin(async move { settle(flaws::circuit_breaker(env).await) }),
        },
        Check {
            id: "quote.product-page-isolated",
            flaw: Some("shared-lock-across-call"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "While 20 quotes are stuck on a hanging pricing service, GET /products/{sku} answers 200 within 200 ms (1 s allowed), five times in a row.",
            run: |env| Box::pin(async move { settle(flaws::product_page_isolated(env).await) }),
        },
        Check {
            id: "quote.health-independent",
            flaw: Some("health-depends-on-pricing"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "While 20 quotes are stuck on a hanging pricing service, GET /health (the liveness probe) answers 200 within 200 ms (1 s allowed), five times in a row.",
            run: |env| Box::pin(async move { settle(flaws::health_independent(env).await) }),
        },
        Check {
            id: "quote.property-fault-schedules",
            flaw: Some("no-timeout"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Seeded random schedules of pricing behaviour over time (healthy, slow, hanging, stalling mid-body, failing, rate-limiting, garbage, resets, flapping), with quotes arriving throughout: every quote is answered in time with pricing's correct price or a JSON error, and pricing never receives more than 3 calls per quote plus a probe. Failing schedules are shrunk and replayed.",
            run: |env| Box::pin(async move { settle(property::fault_schedules(env).await) }),
        },
    ]
}
