//! The harness's own pauses: stretches when it did not run — starved of CPU on a busy
//! machine, stopped, every worker of its runtime blocked.
//!
//! The fakes serve and log, and the clients send and time, only while the harness
//! runs. Across a pause a fake's log may miss calls the service made (they time out
//! unserved on the service's side), a request's time includes the pause, and a gap in
//! a log may be the harness's silence rather than the service's. So a judge that reads
//! an absence ("no call to pricing for 6 s") or a duration ("the page took 1 s") must
//! not read one across a pause: a watcher ticks on the check's runtime and files every
//! tick that came late on the check's [`Timeline`], where judges find it
//! ([`Timeline::pauses`]) and the interviewer sees it.
//!
//! A service cannot hide behind this by starving the harness: a judge only leaves out
//! what overlaps a pause, and the grade reports every pause on the check's timeline.

use std::time::{Duration, Instant};

use super::Timeline;

/// How often the watcher ticks.
pub const TICK: Duration = Duration::from_millis(10);
/// A tick this much later than due is a pause: far beyond a loaded scheduler's jitter,
/// far below the seconds the judges it protects reason in.
pub const LATE: Duration = Duration::from_millis(250);

/// A stretch in which the harness did not run: from the last tick on time to the
/// late one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// The last moment the harness is known to have run before it.
    pub from: Instant,
    /// When it ran again.
    pub until: Instant,
}

impl Pause {
    /// Whether the pause overlaps the stretch from `from` to `until`.
    pub fn overlaps(&self, from: Instant, until: Instant) -> bool {
        self.from < until && from < self.until
    }

    /// How long it lasted.
    pub fn length(&self) -> Duration {
        self.until.saturating_duration_since(self.from)
    }
}

/// When the harness last resumed from a pause begun before `at`, if it did: an absence
/// in a log can be read only from then on.
pub fn resumed_before(pauses: &[Pause], at: Instant) -> Option<Instant> {
    pauses.iter().filter(|p| p.from < at).map(|p| p.until).max()
}

/// How long the harness listened after a pause before giving up, for its give-up to
/// say the service was silent: an answer that came during the pause is read at once.
pub const HEARD_AFTER: Duration = Duration::from_millis(500);

/// How long the service certainly took over a request the harness sent at `sent` and
/// stopped waiting for `took` later (`answered`: an answer came, else the harness gave
/// up or the connection broke). The service runs while the harness is paused, and an
/// answer that came during a pause waited in the socket until the harness resumed, so
/// the time measured less the pauses within it is a lower bound of the service's own
/// time: judged against a budget it never fails a service for the harness's pause.
/// With no answer, the silence was the service's if the harness listened for
/// [`HEARD_AFTER`] after its last pause; `None` when it gave up sooner (whether an
/// answer had come during the pause is not known).
pub fn service_time(
    pauses: &[Pause],
    sent: Instant,
    took: Duration,
    answered: bool,
) -> Option<Duration> {
    let until = sent + took;
    let within: Vec<&Pause> = pauses.iter().filter(|p| p.overlaps(sent, until)).collect();
    if within.is_empty() {
        return Some(took);
    }
    if !answered {
        let resumed = within.iter().map(|p| p.until).max()?;
        return (until.saturating_duration_since(resumed) > HEARD_AFTER).then_some(took);
    }
    let paused: Duration = within
        .iter()
        .map(|p| {
            p.until
                .min(until)
                .saturating_duration_since(p.from.max(sent))
        })
        .sum();
    Some(took.saturating_sub(paused))
}

/// Watches the runtime it was started on for pauses, filing each on `timeline`, until
/// dropped.
#[derive(Debug)]
pub struct Watch {
    task: tokio::task::JoinHandle<()>,
    timeline: Timeline,
}

impl Watch {
    /// Starts watching (on the current tokio runtime).
    pub fn start(timeline: Timeline) -> Watch {
        let watched = timeline.clone();
        let task = tokio::spawn(async move {
            let mut last = Instant::now();
            timeline.ticked(last);
            loop {
                tokio::time::sleep(TICK).await;
                let now = Instant::now();
                if now.saturating_duration_since(last) > TICK + LATE {
                    timeline.paused(Pause {
                        from: last,
                        until: now,
                    });
                }
                timeline.ticked(now);
                last = now;
            }
        });
        Watch {
            task,
            timeline: watched,
        }
    }
}

impl Drop for Watch {
    /// Stops the watcher, and tells the timeline no one ticks any more: its last tick
    /// ageing is no pause under way.
    fn drop(&mut self) {
        self.task.abort();
        self.timeline.unwatched();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(at: Instant, from_ms: u64, until_ms: u64) -> Pause {
        Pause {
            from: at + Duration::from_millis(from_ms),
            until: at + Duration::from_millis(until_ms),
        }
    }

    #[test]
    fn overlap_and_resumption_are_read_from_the_pauses() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let pauses = [pause(t0, 1_000, 3_000), pause(t0, 5_000, 5_400)];
        let overlaps = |from, until| pauses.iter().any(|p| p.overlaps(from, until));
        assert!(overlaps(ms(2_500), ms(2_600)));
        assert!(overlaps(ms(500), ms(1_001)));
        assert!(!overlaps(ms(3_000), ms(4_999)));
        assert!(!overlaps(ms(0), ms(1_000)));
        assert_eq!(resumed_before(&pauses, ms(900)), None);
        assert_eq!(resumed_before(&pauses, ms(4_000)), Some(ms(3_000)));
        assert_eq!(resumed_before(&pauses, ms(9_000)), Some(ms(5_400)));
        assert_eq!(pauses[0].length(), Duration::from_secs(2));
    }

    #[test]
    fn the_service_time_is_the_time_measured_less_the_pauses() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let pauses = [pause(t0, 1_000, 3_000)];
        // Answered at 3.2 s, 2 s of it paused: the service took at most 1.2 s.
        assert_eq!(service_time(&pauses, t0, ms(3_200), true), Some(ms(1_200)));
        // Sent during the pause: only what overlaps counts.
        assert_eq!(
            service_time(&pauses, t0 + ms(2_000), ms(1_500), true),
            Some(ms(500))
        );
        // No pause within: the time measured.
        assert_eq!(
            service_time(&pauses, t0 + ms(3_000), ms(800), true),
            Some(ms(800))
        );
        // No answer, the harness listening 1 s after the pause: the silence was real.
        assert_eq!(service_time(&pauses, t0, ms(4_000), false), Some(ms(4_000)));
        // No answer, given up 100 ms after the pause: not known.
        assert_eq!(service_time(&pauses, t0, ms(3_100), false), None);
    }

    /// A worker blocked for 600 ms is filed as a pause covering the block.
    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_is_filed_as_a_pause() {
        let timeline = Timeline::new();
        let watch = Watch::start(timeline.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Blocks the only worker: the watcher's tick cannot run meanwhile.
        let blocked = Instant::now();
        std::thread::sleep(Duration::from_millis(600));
        let unblocked = Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(watch);
        // Once the watcher is gone, time passing is no pause under way.
        std::thread::sleep(Duration::from_millis(300));
        let pauses = timeline.pauses();
        assert!(
            pauses
                .iter()
                .any(|p| p.from <= blocked && p.until >= unblocked),
            "{pauses:?}"
        );
        assert!(
            pauses.iter().all(|p| p.from < unblocked),
            "a pause after the watcher stopped: {pauses:?}"
        );
        assert!(timeline.take().moments.iter().any(|m| m.actor == "harness"));
    }

    /// A judge that runs before the watcher has filed the pause it resumed from sees
    /// the pause under way.
    #[tokio::test(flavor = "current_thread")]
    async fn a_pause_not_yet_filed_is_seen_under_way() {
        let timeline = Timeline::new();
        let _watch = Watch::start(timeline.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let blocked = Instant::now();
        std::thread::sleep(Duration::from_millis(600));
        // Still blocking the only worker: the watcher has not run since.
        let pauses = timeline.pauses();
        assert!(
            pauses
                .iter()
                .any(|p| p.from <= blocked && p.length() >= LATE),
            "{pauses:?}"
        );
    }
}
