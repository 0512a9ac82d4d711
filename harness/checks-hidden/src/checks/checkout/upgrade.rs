//! A checkout that straddles a deploy: an order made by the version production runs
//! today, retried under its key once the fix is deployed on the same database, returns
//! that order — the customer is not charged again and no stock is taken twice for a
//! key the old version recorded.
//!
//! Production's data is what the old version wrote, its mistakes included: a
//! double-submit it let through left two orders under one key, both charged. The fix
//! must start on that database and keep both (the brief: "no existing row may be lost").

use std::time::Duration;

use crate::checks::checkout::world::CheckoutWorld;
use crate::checks::http::{Exchange, send};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::ProviderFault;

/// How long the harness waits for both requests of a double-submit to reach the
/// provider under production's build.
const BOTH_AT_PROVIDER: Duration = Duration::from_secs(5);

/// The order under one key, made by production's build, then retried under the fix.
pub async fn retry_across_upgrade(env: CheckEnv) -> CheckResult {
    let Some(mut w) = CheckoutWorld::start_as_production(env).await? else {
        return Err(Problem::Harness(
            "production's build was not handed to this check".to_owned(),
        ));
    };
    let mut story = Evidence::new();
    let skus = w.stock_products(1, 10)?;
    let cart = w.cart(&[(skus[0].as_str(), 2)]);
    let key = w.new_key();
    let first = w.checkout(&key, &cart).await;
    story.say(format!("The version production runs today: {first}"));
    if !first.is_success() {
        return Err(Problem::Harness(format!(
            "production's own build did not complete a plain checkout: {first}"
        )));
    }
    let doubled = double_submit(&mut w, &mut story).await?;
    w.production_wrote(&doubled);
    story.say("It is stopped for the deploy; the fixed service starts on the same database.");
    if let Err(e) = w.deploy_fix().await {
        // What production held is the story of why it did not start: keep it.
        let Problem::Service(failed) = e else {
            return Err(e);
        };
        for line in failed.into_lines() {
            story.push(line);
        }
        return Ok(crate::checks::Verdict::Fail(story));
    }
    let mut broken = Vec::new();
    let kept = w
        .shop()?
        .orders
        .values()
        .filter(|o| o.key == doubled)
        .count();
    if kept != 2 {
        broken.push(format!(
            "The old version's two orders under key {doubled} must both stay in production's database after the deploy (no existing row may be lost); {kept} remain."
        ));
    }
    let retry = w.checkout(&key, &cart).await;
    story.say(format!("The client's retry, after the deploy: {retry}"));
    // The brief's 200 replays "a request that already succeeded (same key, same body)",
    // and "once a 2xx has been sent for a key, later retries answer 200": the old
    // version sent one. Its rows keep the customer, the lines and the address, so a fix
    // can tell this retry from another cart (only the payment method is not kept); a
    // refusal tells the client an order it was charged for failed, and a 409 has it
    // retry for ever. Nor is a new order or a second charge right (judged below).
    if !(retry.status == Some(200) && retry.str_field("id") == first.str_field("id")) {
        broken.push(format!(
            "A retry of a key the old version answered, with the same cart, must return its order {} with 200: {retry}",
            first.str_field("id").unwrap_or("?")
        ));
    }
    broken.extend(w.judge()?);
    Ok(verdict(story, broken))
}

/// A double-submit to production's build: two checkouts of one cart under one key, both
/// held at the provider until both have arrived, leaving two charged orders under the
/// key, as the old version does. Sent outside the world's records: the two charges
/// are the old version's doing, not the fix's. Returns the key.
async fn double_submit(w: &mut CheckoutWorld, story: &mut Evidence) -> Result<String, Problem> {
    let skus = w.stock_products(1, 10)?;
    let cart = w.cart(&[(skus[0].as_str(), 1)]);
    let key = w.new_key();
    w.provider
        .set_standing(Some(ProviderFault::HoldUntilReleased));
    let send_one = || {
        let (timeline, base, key, body) =
            (w.timeline().clone(), w.svc.url(), key.clone(), cart.json());
        tokio::spawn(async move {
            send(
                &timeline,
                &reqwest::Client::new(),
                reqwest::Method::POST,
                &base,
                "/checkout",
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", &key),
                ],
                Some(body),
            )
            .await
        })
    };
    let (a, b) = (send_one(), send_one());
    let both = w.provider.wait_for_held(2, BOTH_AT_PROVIDER).await;
    w.provider.heal();
    w.provider.release_held();
    let (a, b) = (joined(a).await?, joined(b).await?);
    let orders = w.shop()?.orders.values().filter(|o| o.key == key).count();
    if !both || orders != 2 {
        return Err(Problem::Harness(format!(
            "a double-submit to production's build did not leave the two orders under one key the old version writes ({orders} order(s)): {a}; {b}"
        )));
    }
    story.say(format!(
        "A mobile double-submit to the version production runs today (both requests held at the provider until both arrived): {a}; {b} — two charged orders under key {key}."
    ));
    Ok(key)
}

async fn joined(task: tokio::task::JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("a request task failed: {e}")))
}
