//! A requirement judged while a checkout waits for the payment provider, next to the
//! planted flaws: a success is sent only for an order the service has recorded as
//! paid, and the database's write lock is not held across the charge. Forced with the
//! provider's hold and the harness taking the write lock itself, as another process
//! would.

use std::time::Duration;

use crate::checks::checkout::world::{BUDGET_ALLOWED, CheckoutWorld, Scope};
use crate::checks::http::post_then_hang_up;
use crate::checks::write_lock::{Answered, answer_under_write_lock};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::{ProviderFault, ShippingFault};

/// Retries a client makes after an answered error before the check stops waiting.
const ATTEMPTS_AFTER_ERROR: usize = 8;
/// How long the harness holds the write lock once the provider has answered.
const LOCK_HOLD: Duration = Duration::from_millis(1200);

/// One checkout whose charge the provider holds; the harness takes the write lock,
/// then the provider answers: no `2xx` may arrive while nothing can be recorded.
pub async fn in_flight(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(1, 1_000)?;
    let cart = w.cart(&[(&skus[0], 1)]);
    let key = w.new_key();
    story.say(format!(
        "Checkout {key}: the payment provider holds its charge call."
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let (client, url, k, body) = (w.client(), w.svc.url(), key.clone(), cart.json());
    let mut task = tokio::spawn(async move {
        client
            .checkout_within(&url, &k, &body, BUDGET_ALLOWED + Duration::from_secs(10))
            .await
    });
    if !w.provider.wait_for_held(1, Duration::from_secs(5)).await {
        w.provider.release_held();
        let x = task
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
        story.exchange(&x);
        story.say("The checkout never reached the payment provider within 5 s.");
        return Err(Problem::Service(story));
    }
    let db = w.svc.db().to_path_buf();
    let provider = &w.provider;
    let answered = answer_under_write_lock(
        &db,
        w.timeline(),
        &mut task,
        || provider.release_held(),
        LOCK_HOLD,
        "the provider",
        &mut story,
    )
    .await?;
    let x = match answered {
        Answered::LockHeldAcross(x) => {
            broken.push("The service holds the database's write lock while it waits for the payment provider: every other checkout, on every instance, waits behind one slow charge.".to_owned());
            x
        }
        Answered::WhileLocked(x) => {
            if x.is_success() {
                broken.push(format!(
                    "A success must be sent only once the order is recorded as paid; this one was sent while the database could take no write (the harness held its write lock), so a crash right after it loses what it reports: {x}"
                ));
            }
            x
        }
        Answered::AfterRelease(x) => x,
    };
    w.record(&key, Some(&cart), &cart.value(), &x);
    if x.is_success() {
        // A success is sent after its writes, so the order is already what it says.
        broken.extend(w.judge_scope(Scope::Charges)?);
    }
    Ok(verdict(story, broken))
}

/// A key whose first request is at the provider: another cart under it gets `409` or
/// `422` (never an order of its own nor the first one's); and a client that gives up
/// mid-request leaves a key a retry can complete within the time the brief allows a
/// request that died, charged once; a request answered with an error is not in flight.
pub async fn key_in_flight(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(2, 1_000)?;

    // 1. Another cart under a key whose first request is in flight.
    let cart = w.cart(&[(&skus[0], 1)]);
    let key = w.new_key();
    let mut other = cart.clone();
    other.lines[0].quantity = 3;
    story.say(format!(
        "1. Checkout {key}: the payment provider holds its charge call; meanwhile the same key with another cart."
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let first = spawn_checkout(&w, &key, &cart);
    held_or_fail(&w, &mut story).await?;
    let (client, url, k, body) = (w.client(), w.svc.url(), key.clone(), other.json());
    let mut reuse = tokio::spawn(async move {
        client
            .checkout_within(&url, &k, &body, BUDGET_ALLOWED + Duration::from_secs(10))
            .await
    });
    // Answered at once, or made to wait for the first: judged on whatever it gets.
    let early = tokio::time::timeout(Duration::from_millis(500), &mut reuse).await;
    w.provider.release_held();
    let x = match early {
        Ok(answered) => {
            answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?
        }
        Err(_) => reuse
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?,
    };
    story.say(format!("Another cart under the same key: {x}"));
    let reused = x.clone();
    if !matches!(x.status, Some(409 | 422)) {
        broken.push(format!(
            "Another cart under a key whose first request is still in flight must get 409 or 422 (the brief: \"while the key's first request is still in flight, 409 is accepted\"): {x}"
        ));
    }
    let x = first
        .await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
    story.say(format!("The first: {x}"));
    // The key's own request first, then the other cart, as the judge files them.
    w.record(&key, Some(&cart), &cart.value(), &x);
    w.record(&key, None, &other.value(), &reused);

    // 2. A client that gives up while its charge is at the provider.
    let cart = w.cart(&[(&skus[1], 2)]);
    let key2 = w.new_key();
    story.say(format!(
        "2. Checkout {key2}: the payment provider holds its charge call and the client gives up (closes its connection)."
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let abandoned = w.client().file(&w.svc.url(), Some(&key2), &cart.json());
    let reached = post_then_hang_up(
        w.timeline(),
        &w.svc.url(),
        "/checkout",
        &[("idempotency-key", &key2)],
        &cart.json(),
        w.provider.wait_for_held(1, Duration::from_secs(5)),
    )
    .await
    .map_err(|e| Problem::Harness(format!("sending the abandoned checkout: {e}")))?;
    let gone = tokio::time::Instant::now();
    if !reached {
        w.provider.release_held();
        story.say("The abandoned checkout never reached the payment provider within 5 s.");
        return Err(Problem::Service(story));
    }
    // A service that cancels the request drops its provider call with it: wait for
    // that (or, for one that carries on, a second) before the provider answers.
    let cancelled = w
        .provider
        .wait_for_at_most_held(0, Duration::from_secs(1))
        .await;
    story.say(if cancelled {
        "The service dropped the request's provider call when its client left."
    } else {
        "The service carried on with the request after its client left."
    });
    w.provider.release_held();
    w.client()
        .gave_up(abandoned, gone, tokio::time::Instant::now());
    let x = w
        .checkout_until_recovered(&key2, &cart, 4, gone, &mut story)
        .await;
    story.say(format!("The client's retries end with: {x}"));
    if !x.is_success() {
        broken.push(format!(
            "After its client gave up mid-request, the key must let a retry complete the checkout within 5 s (the brief: \"a request that died may keep its key answering 409 for at most those 5 s\"): {x}"
        ));
    }

    // 3. A request answered with an error is over, whatever the service kept for it:
    // a provider 500 (nothing charged) and a shipping-rates 503, each answered.
    let mut keys = vec![key, key2];
    for (n, what) in [
        (1, "the payment provider answers 500 (nothing charged)"),
        (2, "shipping-rates answers 503"),
    ] {
        let cart = w.cart(&[(&skus[1], n)]);
        let key = w.new_key();
        story.say(format!(
            "3.{n} Checkout {key} while {what}; then it is healthy again and the client retries at once."
        ));
        if n == 1 {
            w.provider.fail_next(ProviderFault::ServerError);
        } else {
            w.shipping.set_standing(Some(ShippingFault::Status(503)));
        }
        let x = w.checkout(&key, &cart).await;
        story.exchange(&x);
        w.provider.heal();
        w.shipping.heal();
        let retry = w.checkout(&key, &cart).await;
        story.exchange(&retry);
        if x.status.is_some_and(|s| s >= 400) && retry.status == Some(409) {
            broken.push(format!(
                "Once the service has answered a request, also with an error, a retry of it gets no 409 (the brief): it answered {} when {what}, then refused the retry as in flight: {retry}",
                x.status.unwrap_or_default()
            ));
        }
        if !retry.is_success() {
            w.checkout_until_done(&key, &cart, ATTEMPTS_AFTER_ERROR, &mut story)
                .await;
        }
        keys.push(key);
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    broken.extend(w.judge_keys(Scope::Charges, &keys)?);
    Ok(verdict(story, broken))
}

fn spawn_checkout(
    w: &CheckoutWorld,
    key: &str,
    cart: &crate::checks::checkout::world::Cart,
) -> tokio::task::JoinHandle<crate::checks::http::Exchange> {
    let (client, url, k, body) = (w.client(), w.svc.url(), key.to_owned(), cart.json());
    tokio::spawn(async move {
        client
            .checkout_within(&url, &k, &body, BUDGET_ALLOWED + Duration::from_secs(10))
            .await
    })
}

async fn held_or_fail(w: &CheckoutWorld, story: &mut Evidence) -> Result<(), Problem> {
    if w.provider.wait_for_held(1, Duration::from_secs(5)).await {
        return Ok(());
    }
    w.provider.release_held();
    story.say("The checkout never reached the payment provider within 5 s.");
    Err(Problem::Service(story.clone()))
}
