//! Requirements judged while a transfer waits for the risk service, next to the planted
//! flaws: a client that gives up mid-request, the database's write lock held across the
//! risk call, a success sent before its transfer is written, another customer's
//! transfer made to wait behind a slow one. Each situation is
//! forced with the risk service's hold and the harness taking the write lock itself.

use std::time::{Duration, Instant};

use crate::checks::http::post_then_hang_up;
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

/// Every in-flight situation, each on its own accounts; then the whole ledger judged.
pub async fn in_flight(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let [a, b, c, d, e, f] = accounts::<6>(&mut w, &[100_000; 6])?;

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
    let in_time = tokio::time::timeout(UNRELATED_LIMIT, &mut quick).await;
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
    if !x.is_success() || took > UNRELATED_LIMIT {
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
    w.record_unanswered(&body);
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

    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

fn spawn_transfer(
    w: &TransferWorld,
    body: &crate::checks::transfer::world::TransferBody,
) -> tokio::task::JoinHandle<crate::checks::http::Exchange> {
    let client = w.client();
    let (url, b) = (w.svc.url(), body.clone());
    tokio::spawn(async move { client.transfer(&url, &b).await })
}
