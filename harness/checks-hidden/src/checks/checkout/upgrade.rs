//! A checkout that straddles a deploy: an order made by the version production runs
//! today, retried under its key once the fix is deployed on the same database, returns
//! that order — the customer is not charged again and no stock is taken twice for a
//! key the old version recorded — and the same key with another cart is refused.

use crate::checks::checkout::world::CheckoutWorld;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};

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
    w.deploy_fix().await?;
    story.say("It is stopped for the deploy; the fixed service starts on the same database.");
    let mut broken = Vec::new();
    // "A different body under a key that already has an order, in any status, gets 422
    // and changes nothing": the old version's rows keep the customer, the lines and the
    // address, so a fix can tell another cart from a retry even without a fingerprint.
    let mut more = cart.clone();
    more.lines[0].quantity = 3;
    let mut elsewhere = cart.clone();
    elsewhere.shipping_address.line1 = format!("2{}", cart.shipping_address.line1);
    for (other, what, kept) in [
        (more, "another cart (3 units, not 2)", "`order_lines`"),
        (elsewhere, "another address", "`orders`"),
    ] {
        let reused = w.checkout(&key, &other).await;
        story.say(format!(
            "The same key with {what}, after the deploy: {reused}"
        ));
        if reused.status != Some(422) || !reused.is_json_error() {
            broken.push(format!(
                "A key the old version recorded an order for, sent again with {what}, must be refused with 422 and change nothing (the old version kept it in {kept}): {reused}"
            ));
        }
    }
    let retry = w.checkout(&key, &cart).await;
    story.say(format!("The client's retry, after the deploy: {retry}"));
    // The brief's 200 replays "a request that already succeeded (same key, same body)".
    // The old version stored no payment method, so a fix cannot tell this retry from
    // one with another card: returning the order, or refusing the key with 422 and
    // doing nothing, are both readings a careful engineer could take. A 409 is not: it
    // says the order is still being processed, and the client retries it for ever. Nor
    // is a new order or a second charge (judged below from the database and provider).
    let replayed = retry.is_success() && retry.str_field("id") == first.str_field("id");
    let refused = retry.status == Some(422) && retry.is_json_error();
    if !replayed && !refused {
        broken.push(format!(
            "A retry of a key the old version answered, with the same cart, must return its order {} (or be refused with 422, changing nothing): {retry}",
            first.str_field("id").unwrap_or("?")
        ));
    }
    broken.extend(w.judge()?);
    broken.dedup();
    Ok(verdict(story, broken))
}
