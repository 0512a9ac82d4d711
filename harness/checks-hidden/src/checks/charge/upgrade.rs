//! A retry that straddles a deploy: a charge made by the version production runs today,
//! retried under its key once the fix is deployed on the same database, replays that
//! charge — the customer is not charged again for a key the old version recorded.

use crate::checks::charge::world::{ChargeBody, judge_one_key_on};
use crate::checks::http::send;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, start_service, verdict};
use crate::fakes::PaymentProvider;
use crate::service::ServiceSpec;

/// The charge under one key, made by production's build, then retried under the fix.
pub async fn retry_across_upgrade(env: CheckEnv) -> CheckResult {
    let Some(pristine) = env.pristine.clone() else {
        return Err(Problem::Harness(
            "production's build was not handed to this check".to_owned(),
        ));
    };
    let provider = PaymentProvider::start().await?;
    provider.record_into(env.journal.timeline());
    let db = env.workdir.join("production.db");
    let spec = |binary: &std::path::Path, log: &str| ServiceSpec {
        binary: binary.to_path_buf(),
        db: db.clone(),
        downstreams: vec![("payments".to_owned(), provider.url())],
        env: Vec::new(),
        log: env.workdir.join(log),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    };
    let mut story = Evidence::new();
    let body = ChargeBody {
        customer_id: format!("cus_upgrade_{:x}", env.seed & 0xffff),
        amount: 4_250,
        currency: "eur".to_owned(),
    };
    let key = format!("key-before-deploy-{:x}", env.seed & 0xffff_ffff);
    let mut old = start_service(&spec(&pristine, "production.log")).await?;
    let first = post(env.journal.timeline(), &old.url(), &key, &body).await;
    story.say(format!("The version production runs today: {first}"));
    if !first.is_success() {
        return Err(Problem::Harness(format!(
            "production's own build did not charge a plain request: {first}"
        )));
    }
    old.stop().await;
    story.say("It is stopped for the deploy; the fixed service starts on the same database.");
    let new = start_service(&spec(&env.binary, "fixed.log")).await?;
    let retry = post(env.journal.timeline(), &new.url(), &key, &body).await;
    story.say(format!("The client's retry, after the deploy: {retry}"));
    let mut broken = Vec::new();
    // The brief's 200: "a retry of a request that already succeeded (same key, same
    // body); body is the original charge" — also when the old version made it.
    if !retry.is_success() || retry.str_field("id") != first.str_field("id") {
        broken.push(format!(
            "A retry of a key the old version recorded, with the same body, must replay its charge {} with a 2xx; it answered: {retry}",
            first.str_field("id").unwrap_or("?")
        ));
    }
    broken.extend(judge_one_key_on(
        &provider,
        new.db(),
        &body,
        &[first, retry],
        &mut story,
    )?);
    Ok(verdict(story, broken))
}

async fn post(
    timeline: &crate::checks::Timeline,
    base: &str,
    key: &str,
    body: &ChargeBody,
) -> crate::checks::http::Exchange {
    send(
        timeline,
        &reqwest::Client::new(),
        reqwest::Method::POST,
        base,
        "/charges",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.json()),
    )
    .await
}
