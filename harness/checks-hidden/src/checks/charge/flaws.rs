//! Flaw checks (hidden): each provokes one planted flaw deterministically. Races are
//! forced by holding the provider call while duplicates arrive; crashes happen at the
//! exact point the check chooses.

use std::time::Duration;

use crate::checks::charge::world::{
    CRASH_RECOVERY, ChargeBody, ChargeWorld, HeldOrAnswered, HoldPoint, judge_one_key,
};
use crate::checks::http::Exchange;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::{LockHolder, ProviderFault};
use crate::service::RunningService;

/// How long the crash check's request waits on the provider before its instance is
/// killed: long enough for a lease renewed every second to have been renewed a few times.
const IN_FLIGHT_BEFORE_KILL: Duration = Duration::from_secs(4);

/// How long the harness holds the write lock while duplicates reach their first write:
/// far above a request's way to it, far below the busy timeout (5 s by default).
const GATE_HOLD: Duration = Duration::from_millis(1000);

/// Duplicates with one key arrive while the first request's provider call is in
/// flight: once held before the provider charges, once after it charged but before it
/// answered (two keys, one round each).
pub async fn concurrent_duplicates(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    for hold in [HoldPoint::BeforeCharge, HoldPoint::AfterCharge] {
        let customer = w.new_customer();
        let key = w.new_key();
        let body = w.body_for(&customer);
        story.say(format!(
            "Sending {} with Idempotency-Key {key}.",
            body.json()
        ));
        let svc = &w.svc;
        let answers = w
            .burst_while_held(&[svc, svc, svc], &key, &body, hold, &mut story)
            .await?;
        broken.extend(judge_burst(&w, &body, &answers, &mut story)?);
    }
    Ok(verdict(story, broken))
}

/// Two instances on one database receive the same request while the first is in flight.
pub async fn two_instances(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let second = w.start_another_instance().await?;
    let mut story = Evidence::new();
    story.say("Two service instances share one database, as behind a load balancer.");
    let mut broken = Vec::new();
    for hold in [HoldPoint::BeforeCharge, HoldPoint::AfterCharge] {
        let customer = w.new_customer();
        let key = w.new_key();
        let body = w.body_for(&customer);
        story.say(format!(
            "Instance 1 gets {} with Idempotency-Key {key}; instance 2 gets the same twice.",
            body.json()
        ));
        let answers = w
            .burst_while_held(&[&w.svc, &second, &second], &key, &body, hold, &mut story)
            .await?;
        broken.extend(judge_burst(&w, &body, &answers, &mut story)?);
    }
    broken.extend(both_at_their_first_write(&mut w, &second, &mut story).await?);
    Ok(verdict(story, broken))
}

/// Duplicates at both instances at once, each stopped at its first write: the harness
/// holds the database's write lock while they arrive, so each can read that the key is
/// unused and neither can write; then it lets go. A lookup and a claim that are not one
/// atomic step (a unique key, or one `IMMEDIATE` transaction) both pass, and each
/// instance charges. Waiting [`GATE_HOLD`] can only miss a request that has not reached
/// its write yet, never fail a right one: the verdict rests on the provider's charges.
async fn both_at_their_first_write(
    w: &mut ChargeWorld,
    second: &RunningService,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let lock = LockHolder::take(w.svc.db(), Duration::from_secs(2))
        .await
        .map_err(|e| Problem::Harness(format!("taking the database's write lock: {e}")))?
        .ok_or_else(|| {
            Problem::Harness(
                "the database's write lock stayed taken with no request in flight".into(),
            )
        })?;
    story.say(format!(
        "The harness holds the database's write lock; instance 1 and instance 2 each get {} with Idempotency-Key {key}, and after {} ms the lock is let go.",
        body.json(),
        GATE_HOLD.as_millis()
    ));
    let tasks: Vec<_> = [w.svc.url(), second.url()]
        .into_iter()
        .map(|url| {
            let (client, k, b) = (w.client(), key.clone(), body.json());
            tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await })
        })
        .collect();
    tokio::time::sleep(GATE_HOLD).await;
    tokio::task::spawn_blocking(move || lock.release())
        .await
        .map_err(|e| Problem::Harness(format!("lock task failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(
            task.await
                .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?,
        );
    }
    for x in &answers {
        story.exchange(x);
    }
    // Both may be refused (a short busy timeout answers 503): what must not happen is a
    // second charge.
    judge_one_key(w, &body, &answers, story)
}

fn judge_burst(
    w: &ChargeWorld,
    body: &ChargeBody,
    answers: &[Exchange],
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    for x in answers {
        story.exchange(x);
    }
    let mut broken = judge_one_key(w, body, answers, story)?;
    if !answers.iter().any(|x| x.is_success()) {
        broken.push("None of the requests succeeded once the provider answered.".to_owned());
    }
    Ok(broken)
}

/// A key that already charged is reused with a different amount, a different currency
/// and a different customer: each must be refused with 422 and change nothing; so is a
/// key whose first request failed, and its retry then completes at once.
pub async fn key_reuse_different_body(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let mut variants = Vec::new();
    let mut other = body.clone();
    other.amount += 1 + w.rng().below(5_000) as i64;
    variants.push(("amount", other));
    let mut other = body.clone();
    other.currency = if body.currency == "eur" { "gbp" } else { "eur" }.to_owned();
    variants.push(("currency", other));
    let mut other = body.clone();
    other.customer_id = w.new_customer();
    variants.push(("customer_id", other));

    let first = w.post_charge(Some(&key), &body).await;
    story.exchange(&first);
    let mut broken = Vec::new();
    for (field, other) in &variants {
        let reused = w.post_charge(Some(&key), other).await;
        story.exchange(&reused);
        if reused.status != Some(422) || !reused.is_json_error() {
            broken.push(format!(
                "Reusing a key with a different `{field}` must be refused with 422 and a JSON error."
            ));
        }
    }
    let stranger = &variants[2].1.customer_id;
    let charged_stranger = w.provider.charges_for(stranger).len();
    if charged_stranger > 0 {
        broken.push(format!(
            "The reused key charged another customer ({stranger}) {charged_stranger} time(s)."
        ));
    }
    let replay = w.post_charge(Some(&key), &body).await;
    story.exchange(&replay);
    if !first.is_success() || !replay.is_success() {
        broken.push("The original request and its exact retry must both succeed.".to_owned());
    }
    broken.extend(judge_one_key(&w, &body, &[first, replay], &mut story)?);

    // A key whose first request failed cleanly (the provider answered 500). If the
    // service recorded the attempt, a different body under the key is refused with 422
    // and changes nothing — so the original's retry, which the service has already
    // answered, gets no 409 and completes at once. If it recorded nothing, the key is
    // unused and the other body may go through (the brief's 422 is for a key "that
    // already has a charge recorded"); then the original is the different body.
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let mut other = body.clone();
    other.amount += 1;
    w.provider.fail_next(ProviderFault::ServerError);
    story.say("The provider will answer the next charge call with 500 and charge nothing.");
    let failed = w.post_charge(Some(&key), &body).await;
    story.exchange(&failed);
    let recorded = w
        .db_charges_for(&customer)?
        .iter()
        .any(|c| c.idempotency_key == key);
    let reused = w.post_charge(Some(&key), &other).await;
    story.exchange(&reused);
    if failed.is_success() {
        // The first attempt succeeded after all (an internal retry): the first part
        // of this check judged reuse after a success.
        return Ok(verdict(story, broken));
    }
    if reused.is_success() {
        // Read from `charges` between the two requests, not from the service's word.
        if recorded {
            broken.push(format!(
                "The failed attempt left a charge recorded under key {key}, so a different body under it must be refused with 422, not charged: {reused}"
            ));
        }
        return Ok(verdict(story, broken));
    }
    if reused.status != Some(422) || !reused.is_json_error() {
        broken.push(format!(
            "After its first request failed, reusing the key with a different `amount` must be refused with 422 and a JSON error (or go through, if the failed attempt recorded nothing): {reused}"
        ));
    }
    let retry = w.post_charge(Some(&key), &body).await;
    story.exchange(&retry);
    if !retry.is_success() {
        broken.push(format!(
            "The original request's retry, after a different body was refused under its key, must complete (the service had answered it, so no 409; the refusal changed nothing): {retry}"
        ));
    }
    broken.extend(judge_one_key(&w, &body, &[failed, retry], &mut story)?);
    Ok(verdict(story, broken))
}

/// The brief's reconciliation requirement: a charge the provider made must be findable
/// in `charges` (in any status) even if the client never retries.
fn traceable(
    w: &ChargeWorld,
    customer: &str,
    when: &str,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let rows = w.db_charges_for(customer)?;
    let charged = w.provider.charges_for(customer).len();
    story.say(format!(
        "{when}: the provider holds {charged} charge(s) for {customer}, the `charges` table {} row(s).",
        rows.len()
    ));
    if charged > 0 && rows.is_empty() {
        Ok(vec![format!(
            "{when} the provider had charged the customer but the `charges` table holds no row for the request: if the client never retries, the nightly reconciliation finds a charge we have no record of."
        )])
    } else {
        Ok(Vec::new())
    }
}

/// The provider charges the card but the response is lost; the client retries.
pub async fn lost_provider_response(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    w.provider.fail_next(ProviderFault::LostResponse);
    story.say(
        "The provider will charge the card on the next call, then drop the connection before answering.",
    );
    let mut answers = vec![w.post_charge(Some(&key), &body).await];
    story.exchange(&answers[0]);
    let mut broken = Vec::new();
    if !answers[0].is_success() {
        broken.extend(traceable(
            &w,
            &customer,
            "After the lost response",
            &mut story,
        )?);
        story
            .say("The client retries with the same Idempotency-Key, as the brief says clients do.");
        for x in w.post_until_success(&key, &body, 3).await {
            story.exchange(&x);
            answers.push(x);
        }
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    if !answers.iter().any(|x| x.is_success()) {
        broken.push("The retry never succeeded although the provider is healthy again.".to_owned());
    }
    Ok(verdict(story, broken))
}

/// The service is killed after the provider charged and before the service recorded it.
pub async fn crash_after_provider_call(env: CheckEnv) -> CheckResult {
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    w.provider.fail_next(ProviderFault::CommitThenHold);
    let client = w.client();
    let (url, k, b) = (w.svc.url(), key.clone(), body.json());
    let mut in_flight = tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
    match w.first_held_or_answered(&mut in_flight).await {
        HeldOrAnswered::Held => {}
        HeldOrAnswered::Answered(x) => {
            story.exchange(&x);
            story.say("The request was answered without its provider call completing.");
            w.provider.heal();
            return Err(Problem::Service(story));
        }
        HeldOrAnswered::Neither => {
            w.provider.release_held();
            story.say("The request never reached the payment provider within 5 s.");
            return Err(Problem::Service(story));
        }
    }
    story.say(format!(
        "Sent {} with Idempotency-Key {key}; the provider charged the card and is holding its answer.",
        body.json()
    ));
    // The provider is slow to answer: the request stays in flight a while before the
    // instance dies, so a lease renewed while it waits must still run out within 5 s of
    // the crash, not 5 s after a deadline that grew with every renewal.
    let answered = match tokio::time::timeout(IN_FLIGHT_BEFORE_KILL, &mut in_flight).await {
        Ok(x) => Some(x.map_err(|e| Problem::Harness(e.to_string()))?),
        Err(_) => None,
    };
    w.svc.kill9().await;
    story.say(if answered.is_some() {
        "The service answered before the provider did; then it was killed with SIGKILL.".to_owned()
    } else {
        format!(
            "Killed the service with SIGKILL {} ms later while it waited for the provider.",
            IN_FLIGHT_BEFORE_KILL.as_millis()
        )
    });
    w.provider.release_held();
    let cut = match answered {
        Some(x) => x,
        None => in_flight
            .await
            .map_err(|e| Problem::Harness(e.to_string()))?,
    };
    story.exchange(&cut);
    if !w.provider.wait_idle(Duration::from_secs(5)).await {
        return Err(Problem::Harness("the provider call did not finish".into()));
    }
    w.restart_after_kill9().await?;
    let back = tokio::time::Instant::now();
    let mut broken = traceable(&w, &customer, "After the crash and restart", &mut story)?;
    story.say("Restarted the service on the same database; the client retries with the same key.");
    let mut answers = Vec::new();
    for x in w.post_until_success_after_crash(&key, &body, 3, back).await {
        story.exchange(&x);
        answers.push(x);
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    if !answers.iter().any(|x| x.is_success()) {
        broken.push(format!(
            "After the restart the retry never succeeded: the brief requires a retry to be able to complete the charge within {} s of a crash.",
            CRASH_RECOVERY.as_secs()
        ));
    }
    Ok(verdict(story, broken))
}
