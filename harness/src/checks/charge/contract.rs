//! Contract checks (public): the charge service still does its job.

use crate::checks::charge::world::{ChargeWorld, judge_one_key};
use crate::checks::{CheckEnv, CheckResult, Evidence, verdict};
use crate::fakes::ProviderFault;

/// A new key charges once and the charge can be read back.
pub async fn happy_path(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let created = w.post_charge(Some(&key), &body).await;
    story.exchange(&created);
    let mut broken = Vec::new();
    if created.status != Some(201) {
        broken.push("A new charge must be answered with 201 Created.".to_owned());
    }
    for field in [
        "id",
        "customer_id",
        "currency",
        "status",
        "provider_charge_id",
        "created_at",
    ] {
        if created.str_field(field).is_none() {
            broken.push(format!("The created charge has no string field `{field}`."));
        }
    }
    if created
        .str_field("status")
        .is_some_and(|s| s != "succeeded")
    {
        broken.push("The created charge's status is not `succeeded`.".to_owned());
    }
    if let Some(id) = created.str_field("id") {
        let read = w.get_charge(id).await;
        story.exchange(&read);
        if read.status != Some(200) || read.str_field("id") != Some(id) {
            broken.push("GET /charges/{id} does not return the charge just created.".to_owned());
        } else if read.i64_field("amount") != Some(body.amount) {
            broken.push("GET /charges/{id} returns a different amount.".to_owned());
        }
    }
    let missing = w.get_charge("ch_does_not_exist").await;
    story.exchange(&missing);
    if missing.status != Some(404) || !missing.is_json_error() {
        broken.push("An unknown charge id must give 404 with a JSON error.".to_owned());
    }
    broken.extend(judge_one_key(&w, &body, &[created], &mut story)?);
    Ok(verdict(story, broken))
}

/// Two keys are two charges, even with identical bodies.
pub async fn distinct_keys(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let body = w.body_for(&customer);
    let (k1, k2) = (w.new_key(), w.new_key());
    let a = w.post_charge(Some(&k1), &body).await;
    let b = w.post_charge(Some(&k2), &body).await;
    story.exchange(&a);
    story.exchange(&b);
    let mut broken = Vec::new();
    if !a.is_success() || !b.is_success() {
        broken.push("Both charges must succeed.".to_owned());
    } else if a.str_field("id") == b.str_field("id") {
        broken.push("Two idempotency keys returned the same charge.".to_owned());
    }
    let charged = w.provider.charges_for(&customer).len();
    story.say(format!(
        "The provider holds {charged} charge(s) for {customer}."
    ));
    if charged != 2 {
        broken.push(format!(
            "Two keys must make two provider charges, not {charged}."
        ));
    }
    Ok(verdict(story, broken))
}

/// The same request sent three times in a row charges once.
pub async fn sequential_retry(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let x = w.post_charge(Some(&key), &body).await;
        story.exchange(&x);
        answers.push(x);
    }
    let mut broken = Vec::new();
    if !answers.iter().all(|x| x.is_success()) {
        broken.push(
            "A retry of a completed charge must answer 2xx with the original charge.".to_owned(),
        );
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    Ok(verdict(story, broken))
}

/// Missing keys and invalid bodies are refused with a JSON error and charge nothing.
pub async fn rejects_invalid_requests(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let valid = w.body_for(&customer);
    let client = w.client();
    let url = w.svc.url();
    let json = ("content-type", "application/json");
    let mut broken = Vec::new();

    let no_key = client.post_raw(&url, &[json], &valid.json()).await;
    story.exchange(&no_key);
    if no_key.status != Some(400) || !no_key.is_json_error() {
        broken.push(
            "A request without an Idempotency-Key must get 400 with a JSON error.".to_owned(),
        );
    }
    let c = &customer;
    let bad_bodies = [
        format!(r#"{{"customer_id":"{c}","amount":0,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":-500,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":"xyz"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":"1000","currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1.5,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","currency":"usd"}}"#),
        r#"{"amount":1000,"currency":"usd"}"#.to_owned(),
        format!(r#"{{"customer_id":"{c}","amount":1000,"#),
        String::new(),
    ];
    for (n, body) in bad_bodies.iter().enumerate() {
        let key = format!("{}-invalid-{n}", w.new_key());
        let x = client
            .post_raw(&url, &[json, ("Idempotency-Key", &key)], body)
            .await;
        story.exchange(&x);
        let four_xx = x.status.is_some_and(|s| (400..500).contains(&s));
        if !four_xx || !x.is_json_error() {
            broken.push(format!(
                "An invalid body must get a 4xx with a JSON error: {}",
                x
            ));
        }
    }
    let charged = w.provider.charges_for(&customer).len();
    let rows = w.db_charges_for(&customer)?.len();
    story.say(format!(
        "The provider holds {charged} charge(s) and the `charges` table {rows} row(s) for {customer}."
    ));
    if charged > 0 {
        broken.push("An invalid request reached the provider and charged the customer.".to_owned());
    }
    if rows > 0 {
        broken.push("An invalid request left a row in `charges`.".to_owned());
    }
    Ok(verdict(story, broken))
}

/// A provider failure (nothing charged) gives a clean 5xx; a retry then charges once.
pub async fn provider_error_is_clean(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    w.provider.fail_next(ProviderFault::ServerError);
    story.say("The provider will answer the next charge call with 500 and charge nothing.");
    let first = w.post_charge(Some(&key), &body).await;
    story.exchange(&first);
    let mut broken = Vec::new();
    let clean = first.is_success()
        || (first.status.is_some_and(|s| (500..600).contains(&s)) && first.is_json_error());
    if !clean {
        broken.push(
            "A provider failure must give a 5xx with a JSON error (or a 2xx after a successful internal retry)."
                .to_owned(),
        );
    }
    let mut answers = vec![first];
    if !answers[0].is_success() {
        for x in w.post_until_success(&key, &body, 3).await {
            story.exchange(&x);
            answers.push(x);
        }
        if !answers.last().is_some_and(|x| x.is_success()) {
            broken.push(
                "Once the provider is healthy a retry with the same key must succeed.".to_owned(),
            );
        }
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    Ok(verdict(story, broken))
}

/// The kit's SQL statement accounting is intact (canary with a known count).
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let w = ChargeWorld::start(env).await?;
    Ok(crate::checks::kit_canary(&w.svc.url()).await)
}
