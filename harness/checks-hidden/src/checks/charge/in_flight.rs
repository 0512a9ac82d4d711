//! Requirements judged while a request is in flight, next to the planted flaws: fixes
//! that handle the flaw's own scenario often break here — a different body under a key
//! whose first request is at the provider, a client that gives up mid-request, an
//! answer sent before the write it reports, a lock held across the provider call.
//! Each situation is forced with the provider's hold and the harness holding the
//! database's write lock, never hoped for.

use std::time::{Duration, Instant};

use crate::checks::charge::world::{ChargeBody, ChargeWorld, HeldOrAnswered, judge_one_key};
use crate::checks::http::{Exchange, post_then_hang_up};
use crate::checks::pauses::service_time;
use crate::checks::write_lock::{Answered, answer_under_write_lock};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::LockHolder;
use crate::fakes::ProviderFault;

/// How long a request that died (its client gone) may keep its key answering `409`:
/// the brief's 5 s for a request that died with its instance, plus a second for a
/// loaded machine.
const DIED_WINDOW: Duration = Duration::from_secs(6);
/// How far past [`DIED_WINDOW`] a key still answering 409 is probed once more.
const PAST_THE_WINDOW: Duration = Duration::from_millis(500);
/// How long the harness holds the write lock while the service would record a charge.
const LOCK_HOLD: Duration = Duration::from_millis(1200);
/// How long an unrelated charge may take while another one is held at the provider:
/// far above a normal charge, far below the database's busy timeout.
const UNRELATED_LIMIT: Duration = Duration::from_secs(3);

/// Every in-flight situation, each on its own key and customer.
pub async fn in_flight(env: CheckEnv) -> CheckResult {
    // On a service of its own, beside the others: it waits out a lock for seconds.
    let locked = tokio::spawn(new_key_while_database_locked(env.clone()));
    let mut w = ChargeWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    different_body_in_flight(&mut w, &mut story, &mut broken).await?;
    client_gone_mid_request(&mut w, &mut story, &mut broken).await?;
    answer_only_what_is_recorded(&mut w, &mut story, &mut broken).await?;
    unrelated_charge_while_one_is_slow(&mut w, &mut story, &mut broken).await?;
    let (lines, found) = locked
        .await
        .map_err(|e| Problem::Harness(format!("locked-database task failed: {e}")))??;
    for line in lines.into_lines() {
        story.push(line);
    }
    broken.extend(found);
    Ok(verdict(story, broken))
}

/// Longest the harness keeps the database locked: past the service's busy timeout
/// (200 ms here, 5 s for a service that ignores the setting).
const LOCKED_FOR: Duration = Duration::from_secs(6);

/// Someone else (a backup, a migration) holds the database's write lock past the busy
/// timeout while a charge under a key never used arrives: the brief's table answers
/// `503` (`500` is let pass: to the client it says the same, safe to retry), never
/// `409` — nothing is in flight under that key — nor a success the service could not
/// record; once the lock is let go a retry completes it,
/// charged once.
async fn new_key_while_database_locked(
    mut env: CheckEnv,
) -> Result<(Evidence, Vec<String>), Problem> {
    env.workdir = env.workdir.join("locked-database");
    // Customers and keys of its own, not the first world's over again.
    env.seed = crate::seed::for_check(env.seed, "locked-database");
    std::fs::create_dir_all(&env.workdir)?;
    let busy = vec![("KIT_BUSY_TIMEOUT_MS".to_owned(), "200".to_owned())];
    let mut w = ChargeWorld::start_with(env, busy).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    story.say(format!(
        "5. On a service of its own (busy timeout 200 ms), the harness takes the database's write lock, as a backup would, and sends {} under Idempotency-Key {key}, a key never used.",
        body.json()
    ));
    let Some(lock) = LockHolder::take(w.svc.db(), Duration::from_secs(10))
        .await
        .map_err(|e| Problem::Harness(format!("taking the write lock: {e}")))?
    else {
        story.say("The harness could not get the write lock within 10 s: something holds it.");
        return Err(Problem::Service(story));
    };
    let client = w.client();
    let (url, k, b) = (w.svc.url(), key.clone(), body.json());
    let mut task = tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
    let in_time = tokio::time::timeout(LOCKED_FOR, &mut task).await;
    lock.release()
        .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
    let (x, while_locked) = match in_time {
        Ok(answered) => (
            answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?,
            true,
        ),
        Err(_) => (join(task).await?, false),
    };
    let when = if while_locked {
        "While the lock was held:".to_owned()
    } else {
        format!(
            "The lock was let go after {} s; then:",
            LOCKED_FOR.as_secs()
        )
    };
    story.say(format!("{when} {x}"));
    if x.status == Some(409) {
        broken.push(format!(
            "A charge under a key never used was answered 409 while someone else held the database's lock: 409 is for a request really in flight under that key; a database locked past the busy timeout is 503 (safe to retry): {x}"
        ));
    } else if while_locked && !(matches!(x.status, Some(500 | 503)) && x.is_json_error()) {
        // The table names 503; a 500 tells the client the same (safe to retry with the
        // same key), so it is not held against the fix here.
        broken.push(format!(
            "While the database stays locked past the busy timeout, the brief's answer is 503 with a JSON error (safe to retry with the same key): {x}"
        ));
    }
    let mut answers = vec![x];
    if !answers[0].is_success() {
        story.say("The client retries with the same key.");
        answers.extend(w.post_until_success(&key, &body, 3).await);
        if !answers.last().is_some_and(Exchange::is_success) {
            broken.push(format!(
                "Once the lock is let go, a retry of {key} must complete the charge: {}",
                answers.last().map(ToString::to_string).unwrap_or_default()
            ));
        }
    }
    broken.extend(judge_one_key(&w, &body, &answers, &mut story)?);
    Ok((story, broken))
}

/// Sends `body` under `key` in a task and waits until the provider holds its call.
async fn send_and_hold(
    w: &ChargeWorld,
    key: &str,
    body: &ChargeBody,
    story: &mut Evidence,
) -> Result<tokio::task::JoinHandle<Exchange>, Problem> {
    let client = w.client();
    let (url, k, b) = (w.svc.url(), key.to_owned(), body.json());
    let mut task = tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
    match w.first_held_or_answered(&mut task).await {
        HeldOrAnswered::Held => Ok(task),
        HeldOrAnswered::Answered(x) => {
            story.exchange(&x);
            story.say("A new charge was answered without calling the payment provider.");
            Err(Problem::Service(story.clone()))
        }
        HeldOrAnswered::Neither => {
            w.provider.release_held();
            task.abort();
            story.say(
                "A new charge neither reached the payment provider nor was answered within 5 s.",
            );
            Err(Problem::Service(story.clone()))
        }
    }
}

async fn join(task: tokio::task::JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))
}

/// A different body under a key whose first request is at the provider: `409` or
/// `422`, never the first request's charge and never a second charge.
async fn different_body_in_flight(
    w: &mut ChargeWorld,
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    let other = ChargeBody {
        amount: body.amount + 1,
        ..body.clone()
    };
    story.say(format!(
        "1. {} under Idempotency-Key {key}; the provider holds its charge call.",
        body.json()
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let first = send_and_hold(w, &key, &body, story).await?;
    // The different body may be answered at once, or made to wait for the first: it is
    // judged on whatever it gets, so the first is let go once it has had a moment.
    let client = w.client();
    let (url, k, b) = (w.svc.url(), key.clone(), other.json());
    let mut reuse = tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut reuse).await;
    w.provider.release_held();
    let x = match early {
        Ok(answered) => {
            answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?
        }
        Err(_) => join(reuse).await?,
    };
    story.say(format!(
        "While it is in flight, a different body under the same key: {x}"
    ));
    if !matches!(x.status, Some(409 | 422)) {
        broken.push(format!(
            "A different body under a key whose first request is still in flight must get 409 or 422 (the brief: \"while the key's first request is still in flight, 409 is accepted for it too\"): {x}"
        ));
    }
    let first = join(first).await?;
    story.exchange(&first);
    broken.extend(judge_one_key(w, &body, &[first], story)?);
    Ok(())
}

/// A client that gives up while its charge is at the provider: once the request is no
/// longer in flight, a retry completes the charge within the time the brief allows a
/// request that died, and the customer is charged at most once.
async fn client_gone_mid_request(
    w: &mut ChargeWorld,
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    story.say(format!(
        "2. {} under Idempotency-Key {key}; the provider holds its charge call and the client gives up (closes its connection).",
        body.json()
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let abandoned = w.client().file(&w.svc.url(), Some(&key), &body.json());
    let reached = post_then_hang_up(
        w.timeline(),
        &w.svc.url(),
        "/charges",
        &[("idempotency-key", &key)],
        &body.json(),
        w.provider.wait_for_held(1, Duration::from_secs(5)),
    )
    .await
    .map_err(|e| Problem::Harness(format!("sending the abandoned charge: {e}")))?;
    let gone = Instant::now();
    if !reached {
        w.provider.release_held();
        story.say("The abandoned charge never reached the payment provider within 5 s.");
        return Err(Problem::Service(story.clone()));
    }
    // The service may cancel the request when its client goes (then its provider call
    // goes too) or carry it on; either way the provider now answers whatever is held.
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
    w.client().gave_up(abandoned, gone, Instant::now());
    let mut answers = Vec::new();
    loop {
        let x = w.post_charge(Some(&key), &body).await;
        let done = x.is_success() || !matches!(x.status, None | Some(409) | Some(500..));
        answers.push(x);
        if done || gone.elapsed() > DIED_WINDOW {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let last = answers.last().cloned();
    story.say(format!(
        "The client retries the same request until it succeeds: {} attempt(s) over {} ms, the last {}",
        answers.len(),
        gone.elapsed().as_millis(),
        last.as_ref().map_or_else(String::new, ToString::to_string)
    ));
    if !last.as_ref().is_some_and(Exchange::is_success) {
        broken.push(format!(
            "After its client gave up mid-request, the key must let a retry complete the charge within 5 s (the brief: \"a request that died ... may keep its key answering 409 for at most those 5 s\"); retries for {} s did not: {}",
            DIED_WINDOW.as_secs(),
            last.as_ref().map_or_else(String::new, ToString::to_string)
        ));
        // One more try, clear of the window's edge, so the standing judge of 409s
        // sees a key still held past it whatever the phase of the retries above; the
        // verdict here rests on the window's own retries.
        tokio::time::sleep_until((gone + DIED_WINDOW + PAST_THE_WINDOW).into()).await;
        let x = w.post_charge(Some(&key), &body).await;
        story.say(format!(
            "{} ms after the client left, once more: {x}",
            gone.elapsed().as_millis()
        ));
        answers.push(x);
    }
    broken.extend(judge_one_key(w, &body, &answers, story)?);
    Ok(())
}

/// A success is sent only for a charge the service has recorded: while the harness
/// holds the database's write lock the service cannot record the provider's answer,
/// so no `2xx` may arrive before the lock is let go. Taking the lock also shows
/// whether the service holds it across the provider call.
async fn answer_only_what_is_recorded(
    w: &mut ChargeWorld,
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    story.say(format!(
        "3. {} under Idempotency-Key {key}; the provider holds its charge call.",
        body.json()
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let mut first = send_and_hold(w, &key, &body, story).await?;
    let db = w.svc.db().to_path_buf();
    let provider = &w.provider;
    let answered = answer_under_write_lock(
        &db,
        w.timeline(),
        &mut first,
        || provider.release_held(),
        LOCK_HOLD,
        "the provider",
        story,
    )
    .await?;
    let x = match answered {
        Answered::LockHeldAcross(x) => {
            broken.push("The service holds the database's write lock while it waits for the payment provider: every other charge, on every instance, waits behind one slow provider call (the database is shared by all instances).".to_owned());
            story.exchange(&x);
            return Ok(());
        }
        Answered::WhileLocked(x) => {
            if x.is_success() {
                broken.push(format!(
                    "A success must be sent only once the charge is recorded; this one was sent while the database could take no write (the harness held its write lock), so a crash right after it loses what it reports: {x}"
                ));
            }
            x
        }
        Answered::AfterRelease(x) => x,
    };
    let mut answers = vec![x];
    if !answers[0].is_success() {
        // It could not record the answer: the key may stay claimed for the brief's 5 s.
        answers.extend(
            w.post_until_success_after_crash(&key, &body, 10, tokio::time::Instant::now())
                .await,
        );
    }
    broken.extend(judge_one_key(w, &body, &answers, story)?);
    Ok(())
}

/// One charge is slow at the provider; a charge for another customer, under another
/// key, is not made to wait for it.
async fn unrelated_charge_while_one_is_slow(
    w: &mut ChargeWorld,
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let slow_customer = w.new_customer();
    let slow_key = w.new_key();
    let slow_body = w.body_for(&slow_customer);
    let customer = w.new_customer();
    let key = w.new_key();
    let body = w.body_for(&customer);
    story.say(format!(
        "4. {} under Idempotency-Key {slow_key}; the provider holds its charge call; meanwhile {} under {key}, which the provider answers at once.",
        slow_body.json(),
        body.json()
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let slow = send_and_hold(w, &slow_key, &slow_body, story).await?;
    let started = Instant::now();
    let client = w.client();
    let (url, k, b) = (w.svc.url(), key.clone(), body.json());
    let mut other = tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
    let in_time = tokio::time::timeout(UNRELATED_LIMIT, &mut other).await;
    w.provider.release_held();
    let x = match in_time {
        Ok(answered) => {
            answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?
        }
        Err(_) => join(other).await?,
    };
    let took = started.elapsed();
    story.say(format!(
        "The unrelated charge: {x} after {} ms",
        took.as_millis()
    ));
    // Timed as the service served it, the harness's own pauses taken out.
    let served = service_time(&w.timeline().pauses(), started, took, x.status.is_some());
    if !x.is_success() || served.is_some_and(|d| d > UNRELATED_LIMIT) {
        broken.push(format!(
            "A charge for another customer under another key must not wait for a slow provider call of someone else's (it got {} after {} ms while the other call was held).",
            x.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            took.as_millis()
        ));
    }
    let slow = join(slow).await?;
    story.exchange(&slow);
    broken.extend(judge_one_key(w, &body, &[x], story)?);
    Ok(())
}
