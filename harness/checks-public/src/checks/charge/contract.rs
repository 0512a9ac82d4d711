//! Contract checks (public): the charge service still does its job.

use crate::checks::charge::world::{ChargeBody, ChargeWorld, judge_one_key};
use crate::checks::http::Exchange;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
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

/// Longest `customer_id` the brief allows, in characters.
const MAX_CUSTOMER_CHARS: usize = 64;
/// Longest `Idempotency-Key` the brief allows, in characters.
const MAX_KEY_CHARS: usize = 255;
/// Largest `amount` the brief allows, in minor units.
const MAX_AMOUNT: i64 = 100_000_000;

/// Every value just inside the brief's limits is accepted and charged exactly as asked:
/// a `customer_id` of 1 and 64 characters (ASCII, and multi-byte within 64 bytes), an
/// amount of 1 and of 100000000, each currency, an `Idempotency-Key` of 1 and of 255
/// characters — two 255-character keys that differ only in their last character are
/// two charges, and a retry under one of them returns its charge. A `customer_id` of
/// 64 multi-byte characters (more than 64 bytes) may be read either way: charged as
/// asked, or refused with a JSON error and nothing charged.
pub async fn accepts_values_at_limits(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();

    let letter = char::from(b'a' + w.rng().below(26) as u8);
    let long_customer = padded(&w.new_customer(), 'x', MAX_CUSTOMER_CHARS);
    let mut cases: Vec<(String, String, ChargeBody)> = Vec::new();
    for (label, customer) in [
        ("a customer_id of 1 character", letter.to_string()),
        ("a customer_id of 64 characters", long_customer),
        ("a customer_id of 1 four-byte character", "😀".to_owned()),
        (
            "a customer_id of 32 two-byte characters (64 bytes)",
            "ü".repeat(MAX_CUSTOMER_CHARS / 2),
        ),
    ] {
        let key = w.new_key();
        let body = w.body_for(&customer);
        cases.push((label.to_owned(), key, body));
    }
    for amount in [1, MAX_AMOUNT] {
        let customer = w.new_customer();
        let key = w.new_key();
        let mut body = w.body_for(&customer);
        body.amount = amount;
        cases.push((format!("an amount of {amount}"), key, body));
    }
    for currency in ["usd", "eur", "gbp"] {
        let customer = w.new_customer();
        let key = w.new_key();
        let mut body = w.body_for(&customer);
        currency.clone_into(&mut body.currency);
        cases.push((format!("currency {currency}"), key, body));
    }
    let customer = w.new_customer();
    let body = w.body_for(&customer);
    cases.push((
        "an Idempotency-Key of 1 character".to_owned(),
        letter.to_ascii_uppercase().to_string(),
        body,
    ));

    for (label, key, body) in &cases {
        story.say(format!("Sending {label}."));
        let x = w.post_charge(Some(key), body).await;
        story.exchange(&shown(&x));
        if x.status != Some(201) {
            broken.push(format!(
                "A request with {label} is within the brief's limits and must be charged (201): {}",
                shown(&x)
            ));
        }
        broken.extend(judge_one_key(&w, body, &[x], &mut story)?);
    }

    // Two keys of the longest length, alike but for their last character: two charges,
    // each key keeping its own (no key may be cut short).
    let stem = padded(&w.new_key(), '-', MAX_KEY_CHARS - 1);
    let (key_a, key_b) = (format!("{stem}a"), format!("{stem}b"));
    let customer_a = w.new_customer();
    let customer_b = w.new_customer();
    let (body_a, body_b) = (w.body_for(&customer_a), w.body_for(&customer_b));
    story.say(format!(
        "Two Idempotency-Keys of {MAX_KEY_CHARS} characters that differ only in the last one, {}… and {}…, each with its own customer; the first is then sent again.",
        clip(&key_a),
        clip(&key_b)
    ));
    let a = w.post_charge(Some(&key_a), &body_a).await;
    let b = w.post_charge(Some(&key_b), &body_b).await;
    let again = w.post_charge(Some(&key_a), &body_a).await;
    for x in [&a, &b, &again] {
        story.exchange(&shown(x));
    }
    if a.status != Some(201) || b.status != Some(201) {
        broken.push(format!(
            "Each of two Idempotency-Keys of {MAX_KEY_CHARS} characters must make its own charge (201)."
        ));
    }
    if !again.is_success() {
        broken.push(format!(
            "A retry under an Idempotency-Key of {MAX_KEY_CHARS} characters must return the original charge: {}",
            shown(&again)
        ));
    }
    broken.extend(judge_one_key(&w, &body_a, &[a, again], &mut story)?);
    broken.extend(judge_one_key(&w, &body_b, &[b], &mut story)?);

    // 64 characters of three bytes each: within 64 characters, beyond 64 bytes. A
    // careful reader may count either, so either answer is accepted if it is clean.
    let wide = "東".repeat(MAX_CUSTOMER_CHARS);
    let key = w.new_key();
    let body = w.body_for(&wide);
    story.say("Sending a customer_id of 64 three-byte characters (192 bytes).");
    let x = w.post_charge(Some(&key), &body).await;
    story.exchange(&x);
    if x.is_success() {
        if x.status != Some(201) {
            broken.push(format!("A new charge must be answered with 201: {x}"));
        }
        broken.extend(judge_one_key(&w, &body, &[x], &mut story)?);
    } else if refused_body(&x) {
        broken.extend(nothing_charged_for(&w, &wide, "refused", &mut story)?);
    } else {
        broken.push(format!(
            "A customer_id of 64 multi-byte characters must be charged (201) or refused with 400/422 and a JSON error: {x}"
        ));
    }
    Ok(verdict(story, broken))
}

/// Missing or out-of-limit keys and invalid bodies are refused with a JSON error and
/// charge nothing.
pub async fn rejects_invalid_requests(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let valid = w.body_for(&customer);
    let client = w.client();
    let url = w.svc.url();
    let json = ("content-type", "application/json");
    let mut broken = Vec::new();

    // Keys: missing, empty, one character too long — each with a valid body.
    let long_key = padded(&w.new_key(), '-', MAX_KEY_CHARS + 1);
    let keys: [(&str, Option<&str>); 3] = [
        ("no Idempotency-Key", None),
        ("an empty Idempotency-Key", Some("")),
        ("an Idempotency-Key of 256 characters", Some(&long_key)),
    ];
    for (label, key) in keys {
        let mut headers = vec![json];
        if let Some(key) = key {
            headers.push(("Idempotency-Key", key));
        }
        let x = client.post_raw(&url, &headers, &valid.json()).await;
        story.exchange(&shown(&x));
        if x.status != Some(400) || !x.is_json_error() {
            broken.push(format!(
                "A request with {label} must get 400 with a JSON error: {}",
                shown(&x)
            ));
        }
    }

    let c = &customer;
    let max = MAX_AMOUNT;
    let too_long = padded(c, 'x', MAX_CUSTOMER_CHARS + 1);
    let too_wide = "ø".repeat(MAX_CUSTOMER_CHARS + 1);
    let bad_bodies = [
        r#"{"customer_id":"","amount":1000,"currency":"usd"}"#.to_owned(),
        format!(r#"{{"customer_id":"{too_long}","amount":1000,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{too_wide}","amount":1000,"currency":"usd"}}"#),
        r#"{"customer_id":null,"amount":1000,"currency":"usd"}"#.to_owned(),
        r#"{"customer_id":1234,"amount":1000,"currency":"usd"}"#.to_owned(),
        r#"{"amount":1000,"currency":"usd"}"#.to_owned(),
        format!(r#"{{"customer_id":"{c}","amount":0,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":-1,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":-500,"currency":"usd"}}"#),
        format!(
            r#"{{"customer_id":"{c}","amount":{},"currency":"usd"}}"#,
            max + 1
        ),
        format!(r#"{{"customer_id":"{c}","amount":9223372036854775808,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":"1000","currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1.5,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":null,"currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","currency":"usd"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":"xyz"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":"USD"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":""}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":null}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"currency":"usd","note":"gift"}}"#),
        format!(r#"{{"customer_id":"{c}","amount":1000,"#),
        "[]".to_owned(),
        String::new(),
    ];
    for (n, body) in bad_bodies.iter().enumerate() {
        let key = format!("{}-invalid-{n}", w.new_key());
        let x = client
            .post_raw(&url, &[json, ("Idempotency-Key", &key)], body)
            .await;
        story.exchange(&x);
        if !refused_body(&x) {
            broken.push(format!(
                "An invalid body must get 400 (or 422) with a JSON error: {x}"
            ));
        }
    }

    let charged = w.provider.charges();
    let rows = count_charge_rows(w.svc.db()).map_err(|e| {
        let mut ev = Evidence::new();
        ev.say(format!(
            "The contract table `charges` could not be read from the service's database: {e}"
        ));
        Problem::Service(ev)
    })?;
    story.say(format!(
        "The provider holds {} charge(s) and the `charges` table {rows} row(s).",
        charged.len()
    ));
    if !charged.is_empty() {
        broken.push(format!(
            "An invalid request reached the provider and charged {}.",
            charged
                .iter()
                .map(|c| format!("{:?} {} {}", c.customer, c.amount, c.currency))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if rows > 0 {
        broken.push("An invalid request left a row in `charges`.".to_owned());
    }
    Ok(verdict(story, broken))
}

/// True for the refusal the brief asks of an invalid body: 400 (422 also accepted)
/// with a JSON error.
fn refused_body(x: &Exchange) -> bool {
    matches!(x.status, Some(400 | 422)) && x.is_json_error()
}

/// A refused request left nothing behind for `customer`: no provider charge, no row.
fn nothing_charged_for(
    w: &ChargeWorld,
    customer: &str,
    what: &str,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let charged = w.provider.charges_for(customer).len();
    let rows = w.db_charges_for(customer)?.len();
    story.say(format!(
        "The provider holds {charged} charge(s) and the `charges` table {rows} row(s) for the {what} customer."
    ));
    let mut broken = Vec::new();
    if charged > 0 || rows > 0 {
        broken.push(format!(
            "A refused request must change nothing; the provider holds {charged} charge(s) and `charges` {rows} row(s) for its customer."
        ));
    }
    Ok(broken)
}

/// `stem` extended with `fill` to exactly `chars` characters.
fn padded(stem: &str, fill: char, chars: usize) -> String {
    let mut s = stem.to_owned();
    while s.chars().count() < chars {
        s.push(fill);
    }
    s
}

/// The first characters of a long value, for evidence.
fn clip(s: &str) -> String {
    s.chars().take(20).collect()
}

/// `x` as evidence shows it, long header values cut (a 255-character key would drown
/// the line) with their length said.
fn shown(x: &Exchange) -> Exchange {
    let mut x = x.clone();
    for (_, value) in &mut x.shown_headers {
        let chars = value.chars().count();
        if chars > 40 {
            *value = format!("{}… ({chars} characters)", clip(value));
        }
    }
    x
}

/// Rows in the contract table `charges`, read from the service's database file.
fn count_charge_rows(db: &std::path::Path) -> rusqlite::Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.query_row("SELECT COUNT(*) FROM charges", [], |r| r.get(0))
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

    // The provider down for a while: every call fails until it recovers. The client
    // still gets an answer it can act on (a 5xx, within its 10 s timeout), not a
    // request that retries forever inside the service and keeps its key busy.
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    w.provider.set_standing(Some(ProviderFault::ServerError));
    story.say("The provider now answers every charge call with 500 (an outage), charging nothing.");
    let during = w.post_charge(Some(&key), &body).await;
    story.exchange(&during);
    w.provider.set_standing(None);
    if !(during.status.is_some_and(|s| (500..600).contains(&s)) && during.is_json_error()) {
        broken.push(format!(
            "While the provider is down a charge must get a 5xx with a JSON error, in time for the client to retry: {during}"
        ));
    }
    story.say("The provider recovers.");
    let mut answers = vec![during];
    for x in w.post_until_success(&key, &body, 3).await {
        story.exchange(&x);
        answers.push(x);
    }
    if !answers.last().is_some_and(|x| x.is_success()) {
        broken.push(
            "Once the provider recovers from an outage a retry with the same key must succeed."
                .to_owned(),
        );
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    Ok(verdict(story, broken))
}

/// The kit's SQL statement accounting is intact (canary with a known count).
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let w = ChargeWorld::start(env).await?;
    Ok(crate::checks::kit_canary(&w.svc.url()).await)
}
