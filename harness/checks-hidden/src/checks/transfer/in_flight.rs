//! Requirements judged while a transfer waits for the risk service, next to the planted
//! flaws: a client that gives up mid-request, the database's write lock held across the
//! risk call, a success sent before its transfer is written, another customer's
//! transfer made to wait behind a slow one. Each situation is
//! forced with the risk service's hold and the harness taking the write lock itself.

use std::time::{Duration, Instant};

use crate::checks::http::post_then_hang_up;
use crate::checks::pauses::service_time;
use crate::checks::transfer::contract::accounts;
use crate::checks::transfer::world::{TransferWorld, join};
use crate::checks::write_lock::{Answered, answer_under_write_lock};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::RiskFault;

/// How long the harness holds the write lock once the risk service has answered.
const LOCK_HOLD: Duration = Duration::from_millis(1200);
/// How long an unrelated transfer may take while another is held at the risk service:
/// far above a normal transfer, below the database's busy timeout.
const UNRELATED_LIMIT: Duration = Duration::from_secs(3);
/// How long the slow assessment is held while the unrelated transfer waits: past
/// [`UNRELATED_LIMIT`] by more than a busy machine's pauses, so a transfer that waits
/// for it is judged over the limit even with those pauses taken out.
const HELD_WHILE_UNRELATED: Duration = Duration::from_secs(5);
/// A slow risk service, then a lock someone else holds for a while: the first transfer
/// waits `SLOW_RISK` for its assessment, the second only `SLOW_RISK - LATE_SENT`; then
/// both wait `LONG_LOCK` for the lock, under the brief's 5 s busy timeout. Together they
/// wait from half a second to eight and a half: a service that gives up on a request at
/// any moment in between, while its write still waits for the lock, is caught.
const SLOW_RISK: Duration = Duration::from_millis(4_000);
const LATE_SENT: Duration = Duration::from_millis(3_500);
const LONG_LOCK: Duration = Duration::from_millis(4_500);
/// How long a transfer answered with an error is watched after the lock is let go: a
/// write still waiting for the lock takes it within SQLite's busy-handler retry (at most
/// 100 ms apart), so it lands well inside this.
const LATE_WRITE_WINDOW: Duration = Duration::from_secs(2);

/// Every in-flight situation, each on its own accounts; then the whole ledger judged.
pub async fn in_flight(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let [a, b, c, d, e, f, g, h, i, j] = accounts::<10>(&mut w, &[100_000; 10])?;

    // 1. The write lock while a transfer waits for the risk service.
    let body = w.body(&a, &b, 1_000);
    story.say(format!(
        "1. {}; the risk service holds its assessment.",
        body.json()
    ));
    w.risk.fail_next(RiskFault::Hold);
    let held = spawn_transfer(&w, &body);
    if !w.risk.wait_for_held(1, Duration::from_secs(5)).await {
        w.risk.release_held();
        let x = join(held).await?;
        story.exchange(&x);
        story.say("The transfer never reached the risk service within 5 s.");
        return Err(Problem::Service(story));
    }
    let db = w.db().to_path_buf();
    let mut held = held;
    let risk = &w.risk;
    let answered = answer_under_write_lock(
        &db,
        w.timeline(),
        &mut held,
        || risk.release_held(),
        LOCK_HOLD,
        "the risk service",
        &mut story,
    )
    .await?;
    let x = match answered {
        Answered::LockHeldAcross(x) => {
            broken.push("The service holds the database's write lock while it waits for the risk service: every other transfer, on every instance, waits behind one slow assessment and gets 503 once it outlasts the busy timeout (\"never because of our own concurrent requests\").".to_owned());
            x
        }
        Answered::WhileLocked(x) => {
            if x.is_success() {
                broken.push(format!(
                    "A success must be sent only once the transfer is written; this one was sent while the database could take no write (the harness held its write lock), so a crash right after it loses what it reports: {x}"
                ));
            }
            x
        }
        Answered::AfterRelease(x) => x,
    };
    story.say(format!("Its answer: {x}"));

    // 2. Another customer's transfer while one waits for the risk service.
    let slow = w.body(&c, &d, 1_000);
    let other = w.body(&e, &f, 1_000);
    story.say(format!(
        "2. {} is held at the risk service; meanwhile {}, which it answers at once.",
        slow.json(),
        other.json()
    ));
    w.risk.fail_next(RiskFault::Hold);
    let held = spawn_transfer(&w, &slow);
    w.risk.wait_for_held(1, Duration::from_secs(5)).await;
    let started = Instant::now();
    let mut quick = spawn_transfer(&w, &other);
    let in_time = tokio::time::timeout(HELD_WHILE_UNRELATED, &mut quick).await;
    w.risk.release_held();
    let x = match in_time {
        Ok(answered) => {
            answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?
        }
        Err(_) => join(quick).await?,
    };
    let took = started.elapsed();
    story.say(format!(
        "The other transfer: {x} after {} ms",
        took.as_millis()
    ));
    // Timed as the service served it, the harness's own pauses taken out.
    let served = service_time(&w.timeline().pauses(), started, took, x.status.is_some());
    if !x.is_success() || served.is_some_and(|d| d > UNRELATED_LIMIT) {
        broken.push(format!(
            "A transfer between other accounts must not wait for someone else's slow risk assessment (it got {} after {} ms).",
            x.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            took.as_millis()
        ));
    }
    join(held).await?;

    // 3. A client that gives up while its transfer waits for the risk service.
    let body = w.body(&a, &c, 2_000);
    story.say(format!(
        "3. {}; the risk service holds its assessment and the client gives up (closes its connection).",
        body.json()
    ));
    w.risk.fail_next(RiskFault::Hold);
    let sent = std::time::Instant::now();
    let reached = post_then_hang_up(
        w.timeline(),
        &w.svc.url(),
        "/transfers",
        &[],
        &body.json(),
        w.risk.wait_for_held(1, Duration::from_secs(5)),
    )
    .await
    .map_err(|e| Problem::Harness(format!("sending the abandoned transfer: {e}")))?;
    if !reached {
        w.risk.release_held();
        story.say("The abandoned transfer never reached the risk service within 5 s.");
        return Err(Problem::Service(story));
    }
    story.say("The client closed its connection while the risk service held the assessment.");
    w.record_unanswered(&body, sent);
    // A service that cancels the request drops its risk call with it: wait for that
    // (or, for one that carries on, a second) before the risk service answers.
    let cancelled = w
        .risk
        .wait_for_at_most_held(0, Duration::from_secs(1))
        .await;
    story.say(if cancelled {
        "The service dropped the request's risk call when its client left."
    } else {
        "The service carried on with the request after its client left."
    });
    w.risk.release_held();
    // One that carried on finishes now; the next transfer of the payer queues behind it.
    let after = w.body(&b, &a, 500);
    let x = w.transfer(&after).await;
    story.say(format!("A later transfer touching the same payer: {x}"));

    // 4. Requests that wait long: a slow assessment, then the lock held by someone else.
    broken.extend(long_waits(&mut w, [(&g, &h), (&i, &j)], &mut story).await?);

    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

/// Two transfers held at the risk service (one sent `LATE_SENT` after the other); after
/// `SLOW_RISK` the harness takes the write lock and lets the risk service answer both,
/// holds the lock `LONG_LOCK`, lets it go. Each answer must tell the truth: an error
/// means nothing was recorded, also a moment after the lock is free again.
async fn long_waits(
    w: &mut TransferWorld,
    pairs: [(&str, &str); 2],
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let mut broken = Vec::new();
    let bodies = [
        w.body(pairs[0].0, pairs[0].1, 1_100),
        w.body(pairs[1].0, pairs[1].1, 1_200),
    ];
    story.say(format!(
        "4. {} is held at the risk service; {} ms later {} is too. After {} ms the harness takes the database's write lock (as the nightly audit would) and the risk service approves both; the lock is held {} ms, under the brief's busy timeout.",
        bodies[0].json(),
        LATE_SENT.as_millis(),
        bodies[1].json(),
        SLOW_RISK.as_millis(),
        LONG_LOCK.as_millis()
    ));
    let started = Instant::now();
    w.risk.fail_next(RiskFault::Hold);
    w.risk.fail_next(RiskFault::Hold);
    let first = spawn_transfer(w, &bodies[0]);
    tokio::time::sleep(LATE_SENT).await;
    let second = spawn_transfer(w, &bodies[1]);
    tokio::time::sleep_until((started + SLOW_RISK).into()).await;
    let lock = crate::fakes::LockHolder::take(w.db(), Duration::from_secs(2))
        .await
        .map_err(|e| Problem::Harness(format!("taking the database's write lock: {e}")))?;
    w.risk.release_held();
    if let Some(lock) = lock {
        tokio::time::sleep(LONG_LOCK).await;
        tokio::task::spawn_blocking(move || lock.release())
            .await
            .map_err(|e| Problem::Harness(format!("lock task failed: {e}")))?
            .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
    } else {
        // Round 1 judges a lock held across the risk call; here there is nothing to add.
        story.say("The harness could not take the write lock: the service holds it.");
    }
    let released = Instant::now();
    for (body, task) in bodies.iter().zip([first, second]) {
        let x = join(task).await?;
        story.say(format!(
            "Answered after {} ms: {x}",
            started.elapsed().as_millis()
        ));
        if x.is_success() {
            continue;
        }
        // An error must mean nothing was recorded: watch a moment for a write that was
        // still waiting for the lock when the error was sent.
        let recorded = |w: &TransferWorld| -> Result<bool, Problem> {
            Ok(w.ledger()?.transfers.values().any(|t| {
                t.from_account == body.from_account
                    && t.to_account == body.to_account
                    && t.amount == body.amount
            }))
        };
        let mut late = recorded(w)?;
        while !late && released.elapsed() < LATE_WRITE_WINDOW {
            tokio::time::sleep(Duration::from_millis(50)).await;
            late = recorded(w)?;
        }
        if late {
            broken.push(format!(
                "The client was told the transfer failed ({}) but it was recorded afterwards: its write went on waiting for the lock after the answer was sent, and the client's retry of a 503 moves the money twice (\"any other answer means nothing was moved or recorded\"): {x}",
                x.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string())
            ));
        }
    }
    Ok(broken)
}

fn spawn_transfer(
    w: &TransferWorld,
    body: &crate::checks::transfer::world::TransferBody,
) -> tokio::task::JoinHandle<crate::checks::http::Exchange> {
    let client = w.client();
    let (url, b) = (w.svc.url(), body.clone());
    tokio::spawn(async move { client.transfer(&url, &b).await })
}
