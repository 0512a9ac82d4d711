//! The hidden checks of the `quote` exercise: grading only, never in a candidate's kit.

// The exercise's public modules (world, contract, …), which the hidden checks build on.
pub use checks_public::checks::quote::*;

pub mod flaws;
pub mod incidents;
pub mod property;

use crate::checks::{Check, Visibility, settle};

/// The flaw and property checks, in report order after the contract checks.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "quote.deadline",
            flaw: Some("no-timeout"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Pricing stalls mid-body on one quote and hangs on another: both are answered within the 2 s budget (2.5 s allowed for a loaded machine) with 502/503/504 and a JSON error.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::deadline(env).await) }),
        },
        Check {
            id: "quote.budget-as-stated",
            flaw: Some("no-timeout"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "The 2 s budget as the brief states it, with no margin for a loaded machine: while pricing hangs, stalls mid-body, or answers 429 with Retry-After: 1 or 2, a quote on a fresh service is answered within 2 s as the storefront counts it; the fastest of up to three trials decides, so a fix over the budget by design fails on any machine.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::budget_as_stated(env).await) }),
        },
        Check {
            id: "quote.honest-errors",
            flaw: Some("unwrap-on-body"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Pricing quotes a free item (unit price 0), which must be a 200 with that price; then pricing answers garbage, truncated JSON, a price for another SKU, a negative price (which the service has always refused), a connection reset, 500, 503: each quote gets 502/503/504 with a JSON error in time (or pricing's correct price), never a made-up price or a dropped connection, and the service stays up.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::honest_errors(env).await) }),
        },
        Check {
            id: "quote.retry-discipline",
            flaw: Some("unbounded-retry"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "On separate services: pricing answering 503 gets at most 3 attempts per quote, at least 20 ms apart and not closer together over time; a pricing 404, 400, 408 or one more 4xx picked by the seed (401, 403, 409, 410, 422, 425) is not retried (404 becomes unknown_sku); a shrinking wait counts only if two fresh services show it too; 429 with Retry-After: 1 is retried no sooner than a second later; 429 with Retry-After: 30 fails fast (within 500 ms) after one call; 429 with Retry-After: 0 or with none still gets at most 3 attempts. Every quote is answered in time.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::retry_discipline(env).await) }),
        },
        Check {
            id: "quote.circuit-breaker",
            flaw: Some("no-circuit-breaker"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Pricing keeps failing in three ways, each on a service of its own (200s with an HTML page, bodies that stall after the headers, 503): each time, after 20 concurrent quotes, 10 more make at most 2 calls to pricing and each fails fast (within 500 ms) with a JSON error. On the 503 service pricing stays down until the service probes it (within 6 s) with a single call — the quote that probes makes no more — and that probe fails; quotes in the 500 ms after it make no call to pricing (the least cool-down is 1 s); the next probe's client gives up while pricing holds the call; once pricing recovers, a quote succeeds within 10 s (11 s allowed) and the 10 quotes after it, 100 ms apart, succeed too.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::circuit_breaker(env).await) }),
        },
        Check {
            id: "quote.unknown-skus-are-not-an-outage",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "20 quotes arrive for a product pricing does not know yet (it answers 404, as the brief says for new products); then every known product is still priced (200): a pricing 404 is an answer, not pricing failing, and must not open a circuit breaker.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(flaws::unknown_skus_are_not_an_outage(env).await) })
            },
        },
        Check {
            id: "quote.product-page-isolated",
            flaw: Some("shared-lock-across-call"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "While 20 quotes are stuck on a hanging pricing service, GET /products/{sku} answers 200 within 200 ms (500 ms allowed), five times in a row, without calling pricing itself.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::product_page_isolated(env).await) }),
        },
        Check {
            id: "quote.health-independent",
            flaw: Some("health-depends-on-pricing"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "While 20 quotes are stuck on a hanging pricing service, GET /health (the liveness probe) answers 200 within 200 ms (500 ms allowed), five times in a row, without calling pricing itself.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::health_independent(env).await) }),
        },
        Check {
            id: "quote.property-fault-schedules",
            flaw: Some("no-timeout"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Random pricing incidents over time, quotes throughout: each quote answered in time with pricing's own price or a JSON error, at most 3 pricing calls per quote. Seeded schedules of healthy, slow, hanging, stalling mid-body, failing, rate-limiting, garbage, reset and flapping stretches, each with a hang and a stalled body; failing schedules are shrunk and replayed, late answers judged on up to 3 replays.",
            soak: false,
            run: |env| Box::pin(async move { settle(property::fault_schedules(env).await) }),
        },
        Check {
            id: "quote.long-incidents",
            flaw: Some("no-circuit-breaker"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Three long incidents, each on a service of its own: pricing healthy for 1 s, then failing every call for 20 s (hanging, stalling mid-body, and one of 503, 500, garbage, truncated JSON or reset, picked by the seed), then healthy for 13 s; a quote every 100 ms (every 200 ms after), a product page or /health every 250 ms. Once pricing has failed 60 calls and 2.5 s more have passed, the service calls it no more than 5 times a second (probes after cool-downs), and never fails a quote without a call when none has been made for over 6 s (a cool-down of at most 5 s); quotes are priced again within 10 s of pricing healing (11 s allowed). Beside them, six more services each quoted for one SKU every 40 ms while pricing fails every call at once (503, 500, garbage, truncated JSON or reset) for 30 s: once a breaker has shown open, no probe begins less than 1 s (50 ms allowed) after the failed one before it (some 85 cool-downs in all, so a cool-down under 1 s one time in twenty is seen).",
            soak: true,
            run: |env| Box::pin(async move { settle(incidents::long_incidents(env).await) }),
        },
        crate::checks::upgrade::production::registration("quote.upgrade-from-production", |env| {
            Box::pin(crate::checks::upgrade::production::run(env, &["pricing"]))
        }),
    ]
}
