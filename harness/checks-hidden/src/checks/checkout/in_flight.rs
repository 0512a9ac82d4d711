//! A requirement judged while a checkout waits for the payment provider, next to the
//! planted flaws: a success is sent only for an order the service has recorded as
//! paid, and the database's write lock is not held across the charge. Forced with the
//! provider's hold and the harness taking the write lock itself, as another process
//! would.

use std::time::Duration;

use crate::checks::checkout::world::{BUDGET_ALLOWED, CheckoutWorld, Scope};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::{LockHolder, ProviderFault};

/// How long the harness holds the write lock once the provider has answered.
const LOCK_HOLD: Duration = Duration::from_millis(1200);

/// One checkout whose charge the provider holds; the harness takes the write lock,
/// then the provider answers: no `2xx` may arrive while nothing can be recorded.
pub async fn in_flight(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(1, 1_000)?;
    let cart = w.cart(&[(&skus[0], 1)]);
    let key = w.new_key();
    story.say(format!(
        "Checkout {key}: the payment provider holds its charge call."
    ));
    w.provider.fail_next(ProviderFault::HoldUntilReleased);
    let (client, url, k, body) = (w.client(), w.svc.url(), key.clone(), cart.json());
    let mut task = tokio::spawn(async move {
        client
            .checkout_within(&url, &k, &body, BUDGET_ALLOWED + Duration::from_secs(10))
            .await
    });
    if !w.provider.wait_for_held(1, Duration::from_secs(5)).await {
        w.provider.release_held();
        let x = task
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
        story.exchange(&x);
        story.say("The checkout never reached the payment provider within 5 s.");
        return Err(Problem::Service(story));
    }
    let db = w.svc.db().to_path_buf();
    let lock = tokio::task::spawn_blocking(move || LockHolder::take(&db, Duration::from_secs(2)))
        .await
        .map_err(|e| Problem::Harness(format!("lock task failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("taking the database's write lock: {e}")))?;
    let x = match lock {
        None => {
            story.say("The harness could not take the database's write lock within 2 s while the charge was at the provider.");
            broken.push("The service holds the database's write lock while it waits for the payment provider: every other checkout, on every instance, waits behind one slow charge.".to_owned());
            w.provider.release_held();
            task.await
                .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?
        }
        Some(lock) => {
            story.say(format!(
                "The harness takes the database's write lock and the provider answers; the lock is held {} ms.",
                LOCK_HOLD.as_millis()
            ));
            w.provider.release_held();
            let early = tokio::time::timeout(LOCK_HOLD, &mut task).await;
            tokio::task::spawn_blocking(move || lock.release())
                .await
                .map_err(|e| Problem::Harness(format!("lock task failed: {e}")))?
                .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
            match early {
                Ok(answered) => {
                    let x = answered
                        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
                    story.say(format!(
                        "Answered while the harness held the write lock: {x}"
                    ));
                    if x.is_success() {
                        broken.push(format!(
                            "A success must be sent only once the order is recorded as paid; this one was sent while the database could take no write (the harness held its write lock), so a crash right after it loses what it reports: {x}"
                        ));
                    }
                    x
                }
                Err(_) => {
                    let x = task
                        .await
                        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
                    story.say(format!("Answered after the lock was let go: {x}"));
                    x
                }
            }
        }
    };
    w.record(&key, Some(&cart), &cart.value(), &x);
    if x.is_success() {
        // A success is sent after its writes, so the order is already what it says.
        broken.extend(w.judge_scope(Scope::Charges)?);
    }
    Ok(verdict(story, broken))
}
