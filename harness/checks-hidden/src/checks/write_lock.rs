//! "No success before its write", forced the same way in every exercise: while a
//! downstream holds a request, the harness takes the database's write lock (as another
//! process would), lets the downstream answer, and sees whether the service answers
//! while nothing can be written. Each exercise words the requirement it judges.

use std::path::Path;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::checks::http::Exchange;
use crate::checks::{Evidence, Problem};
use crate::fakes::LockHolder;

/// How long the harness tries to take the write lock before it says the service holds
/// it across the downstream call: far above any write, far below a downstream timeout.
const TAKE_WITHIN: Duration = Duration::from_secs(2);

/// When a held request was answered, relative to the harness's write lock.
pub enum Answered {
    /// The harness could not take the lock while the request was held: the service
    /// holds it across the downstream call. The request was then let go and answered.
    LockHeldAcross(Exchange),
    /// Answered while the harness held the lock: nothing it reports can have been
    /// written yet.
    WhileLocked(Exchange),
    /// Answered only after the harness let the lock go.
    AfterRelease(Exchange),
}

/// With `request` held at `downstream` (named for the story), takes the write lock of
/// `db`, lets the downstream answer with `release`, holds the lock for `hold`, lets it
/// go, and says when the service answered. Tells the story as it goes, and notes the
/// hold on `timeline` for the judges that excuse what it refused.
pub async fn answer_under_write_lock(
    db: &Path,
    timeline: &crate::checks::Timeline,
    request: &mut JoinHandle<Exchange>,
    release: impl FnOnce(),
    hold: Duration,
    downstream: &str,
    story: &mut Evidence,
) -> Result<Answered, Problem> {
    let lock = LockHolder::take(db, TAKE_WITHIN)
        .await
        .map_err(|e| Problem::Harness(format!("taking the database's write lock: {e}")))?;
    let Some(lock) = lock.map(|lock| lock.noted_on(timeline)) else {
        story.say(format!(
            "The harness could not take the database's write lock within {} s while the request waited for {downstream}.",
            TAKE_WITHIN.as_secs()
        ));
        release();
        return Ok(Answered::LockHeldAcross(finish(request).await?));
    };
    story.say(format!(
        "The harness takes the database's write lock (as another process would) and {downstream} answers; the lock is held {} ms.",
        hold.as_millis()
    ));
    release();
    let early = tokio::time::timeout(hold, &mut *request).await;
    tokio::task::spawn_blocking(move || lock.release())
        .await
        .map_err(|e| Problem::Harness(format!("lock task failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
    Ok(match early {
        Ok(answered) => {
            let x = answered.map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
            story.say(format!(
                "Answered while the harness held the write lock: {x}"
            ));
            Answered::WhileLocked(x)
        }
        Err(_) => {
            let x = finish(request).await?;
            story.say(format!("Answered after the lock was let go: {x}"));
            Answered::AfterRelease(x)
        }
    })
}

async fn finish(request: &mut JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    request
        .await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))
}
