//! The hidden checks of the `checkout` exercise: grading only, never in a candidate's kit.

// The exercise's public modules (world, contract, …), which the hidden checks build on.
pub use checks_public::checks::checkout::*;

pub mod carts;
pub mod flaws;
pub mod in_flight;
pub mod property;
pub mod upgrade;

use crate::checks::{Check, Visibility, settle};

/// The flaw and property checks, in report order after the contract checks: grouped by
/// planted flaw, so the report's per-flaw verdicts give partial credit.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "checkout.retry-after-lost-response",
            flaw: Some("charge-not-idempotent"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "The provider charges the card and the response is lost; another time it answers 500. The client retries with the same key until answered: the checkout completes, every success is the same paid order, and the customer is charged exactly once for its total.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::retry_after_lost_response(env).await) }),
        },
        Check {
            id: "checkout.crash-after-charge",
            flaw: Some("charge-not-idempotent"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "On an instance that has taken orders for 6 s, the provider charges the card and holds its answer; the service is killed with SIGKILL and restarted; the client retries with the same key: the checkout completes within 5 s of the crash (409 only until then, or while a request is really in flight) and the customer is charged once. Then the service dies while the provider is still processing a charge, which it finishes: a retry that hears the provider's 409 is not declined, and once the charge is made a retry completes the checkout with it.",
            soak: true,
            run: |env| Box::pin(async move { settle(flaws::crash_after_charge(env).await) }),
        },
        Check {
            id: "checkout.concurrent-duplicates",
            flaw: Some("replay-not-guarded"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Three duplicates of a checkout arrive at two instances on one database: while the provider holds the first after charging it; while it holds it before charging; and all four held at shipping-rates, then released together into a database whose write lock the harness holds. Each round: one charge, at most one live order for the key, every success the same order, duplicates answered with it or a retryable 409/5xx, stock held by that order alone, and afterwards the key replays the order.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::concurrent_duplicates(env).await) }),
        },
        Check {
            id: "checkout.key-reused-with-other-cart",
            flaw: Some("replay-not-guarded"),
            visibility: Visibility::Hidden,
            points: 1,
            description: "A key that placed an order is reused with another cart, another payment method and another shipping address: 422 with a JSON error each time and nothing charged or changed; the original cart still replays its order with 200. Then across a deploy: an order made by the version production runs today, its key sent to the fix with another cart and with another address (the old rows keep both): 422 each time.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(flaws::key_reused_with_other_cart(env).await) })
            },
        },
        Check {
            id: "checkout.every-write-aborted",
            flaw: Some("order-not-atomic"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "For every k, the row writes of a three-line checkout fail from the k-th on, as on a full disk (a trigger in the service's database aborts them). After each, every unit of stock is on the shelf or held by a whole order matching its cart; the client's retry with the same key completes the checkout, leaving the same.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::every_write_aborted(env).await) }),
        },
        Check {
            id: "checkout.crash-at-every-write",
            flaw: Some("order-not-atomic"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "For every k, the k-th row write of a checkout is frozen and the service killed with SIGKILL there, then restarted on the same file: stock and orders are whole, and the client's retry with the same key completes the checkout.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::crash_at_every_write(env).await) }),
        },
        Check {
            id: "checkout.out-of-stock-midway",
            flaw: Some("order-not-atomic"),
            visibility: Visibility::Hidden,
            points: 1,
            description: "A cart whose last line asks for more than the shelf holds gets 409 and takes no stock from its other lines; the scarce unit is still for sale afterwards; a cart naming one SKU on two lines of 3 with 5 on the shelf gets 409 too, and nothing is oversold.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::out_of_stock_midway(env).await) }),
        },
        Check {
            id: "checkout.declined-card",
            flaw: Some("order-not-atomic"),
            visibility: Visibility::Hidden,
            points: 1,
            description: "The provider declines the card of a cart naming one SKU on two lines that together take every unit on the shelf: not a success, nothing charged, an order recorded for it `failed`, every unit back on the shelf, and the same cart for another customer then goes through.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::declined_card(env).await) }),
        },
        Check {
            id: "checkout.rejects-bad-carts",
            flaw: Some("input-not-validated"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Each of the brief's rules broken once — quantities 0, negative, 101 and 10^15, unknown SKUs, no lines, 51 lines, a total over the cap, bad customer, payment method and address fields, unserved countries: 400/422 (404 for an unknown SKU) with a JSON error, never a 5xx, and nothing charged, reserved or created. Valid carts at the limits (50 lines, quantity 100, a total near the cap) still succeed.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::rejects_bad_carts(env).await) }),
        },
        Check {
            id: "checkout.property-random-carts",
            flaw: Some("input-not-validated"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "Seeded random carts, mostly valid, some with bad quantities, unknown SKUs or a broken rule: valid ones become paid orders at the right price — one in five bought again by the same customer under a new key, a second order with a charge of its own —, bad ones are refused with 400/404/422 and leave nothing; after every cart all stock is accounted for. Failing carts are shrunk and replayed.",
            soak: false,
            run: |env| Box::pin(async move { settle(property::random_carts(env).await) }),
        },
        Check {
            id: "checkout.in-flight",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "While a checkout's charge is at the provider the harness takes the database's write lock (the service must not be holding it) and the provider then answers: no success may be sent before the lock is let go, since nothing could have been recorded; afterwards a successful order is paid with the provider's charge.",
            soak: false,
            run: |env| Box::pin(async move { settle(in_flight::in_flight(env).await) }),
        },
        Check {
            id: "checkout.key-in-flight",
            flaw: Some("replay-not-guarded"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "While a checkout's charge is at the provider, another cart under its key gets 409 or 422 (never an order); a client that gives up mid-request leaves a key a retry completes within 5 s; a checkout answered with an error (a provider 500, a shipping-rates 503) is not in flight, so its retry gets no 409; each key charged once with one paid order.",
            soak: false,
            run: |env| Box::pin(async move { settle(in_flight::key_in_flight(env).await) }),
        },
        Check {
            id: "checkout.budget-as-stated",
            flaw: Some("shipping-unguarded"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "The 2 s budget as the brief states it, with no margin for a loaded machine: while shipping-rates hangs, stalls mid-body then hangs, or answers 503 after 900 ms then hangs, a checkout on a fresh service is answered within 2 s as its client counts it; the fastest of up to three trials decides, so a fix over the budget by design fails on any machine.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::budget_as_stated(env).await) }),
        },
        Check {
            id: "checkout.shipping-hangs",
            flaw: Some("shipping-unguarded"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Shipping-rates hangs for one checkout and stalls its body after the headers for another, at once: each is answered 502/503/504 with a JSON error within the brief's 2 s (2.5 s allowed), with nothing charged and no stock reserved; once shipping-rates is back the same keys complete within 10 s of retries (time for a circuit breaker to cool down); then a weightless gift card, quoted free shipping (0 cents, a rate like any other), is ordered with shipping 0.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::shipping_hangs(env).await) }),
        },
        Check {
            id: "checkout.shipping-fails",
            flaw: Some("shipping-unguarded"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "An order completed before the outage is retried while shipping-rates answers 500: 200 with the same order (its answer needs no rate). Shipping-rates answers 500, 503, an HTML page, truncated JSON, a rate of -500 cents or one in euros, or resets the connection: each checkout is answered 502/503/504 with a JSON error within the budget (never a made-up rate), with nothing charged and no stock reserved; once shipping-rates is back the same keys complete within 10 s of retries (time for a circuit breaker to cool down); then a weightless gift card, quoted free shipping (0 cents, a rate like any other), is ordered with shipping 0.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::shipping_fails(env).await) }),
        },
        Check {
            id: "checkout.retry-across-upgrade",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "An order made by the version production runs today is retried under its key, with the same cart, after the fix is deployed on the same database: the retry returns that order with 200, and the card is charged once and the stock taken once. Production's database also holds what the old version's flaw left there — a double-submit's two charged orders under one key — and the fix must start on it and keep both.",
            soak: false,
            run: |env| Box::pin(async move { settle(upgrade::retry_across_upgrade(env).await) }),
        },
        crate::checks::upgrade::production::registration(
            "checkout.upgrade-from-production",
            |env| {
                Box::pin(crate::checks::upgrade::production::run(
                    env,
                    &["payments", "shipping"],
                ))
            },
        ),
    ]
}
