//! A checkout that straddles a deploy: an order made by the version production runs
//! today, retried under its key once the fix is deployed on the same database, returns
//! that order — the customer is not charged again and no stock is taken twice for a
//! key the old version recorded.

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
