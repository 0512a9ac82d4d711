//! The timeline of one check: every request the harness sent and its answer, every
//! call the fakes received and what they did with it, every start, kill and restart of
//! the service, and every violation the judges found — on one clock (milliseconds since
//! the check began), one lane per actor. Recorded by the harness as the check runs,
//! never taken from the service; kept in the report for a failed check so an
//! interviewer sees the race or the cascade instead of reconstructing it from prose.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Moments a timeline keeps: the first ones, which set the scene. A property check's
/// hundreds of requests are counted past that.
pub const MAX_MOMENTS: usize = 240;

/// Violations a timeline keeps besides: they are the point, but a history that breaks a
/// requirement a hundred times says no more with the hundredth.
pub const MAX_VIOLATIONS: usize = 40;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// Milliseconds since the check began.
    pub at_ms: u64,
    /// Whose lane it is in: `client`, `service`, `provider`, `risk`, `pricing`,
    /// `shipping`, `harness` (its own pauses), `judge`.
    pub actor: String,
    /// What happened, in a line.
    pub what: String,
    /// The judges found a requirement broken here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub violation: bool,
}

/// A check's timeline, recorded as it runs: shared by its worlds, clients and services.
#[derive(Debug, Clone)]
pub struct Timeline(Arc<Mutex<Inner>>);

#[derive(Debug)]
struct Inner {
    start: Instant,
    moments: Vec<Moment>,
    violations: usize,
    left_out: usize,
    /// Every kill or stop of an instance, as `(base URL, when)`: unbounded, as judges
    /// need each one ([`crate::checks::in_use`]), and never shown as such.
    ends: Vec<(String, Instant)>,
    /// Every pause of the harness ([`super::pauses`]): unbounded, as judges need each.
    pauses: Vec<super::pauses::Pause>,
    /// The pause watcher's last tick, if one watches.
    last_tick: Option<Instant>,
    /// Every stretch in which the harness held the database's write lock, as
    /// `(from, until)`, `None` while still held: unbounded, as judges need each.
    locks: Vec<(Instant, Option<Instant>)>,
}

/// What a timeline holds when its check ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The moments kept, in time order.
    pub moments: Vec<Moment>,
    /// Moments recorded past [`MAX_MOMENTS`] (or violations past [`MAX_VIOLATIONS`])
    /// and left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_out: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Recorded {
    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.moments.is_empty() && self.left_out == 0
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    /// A timeline whose clock starts now.
    pub fn new() -> Timeline {
        Timeline(Arc::new(Mutex::new(Inner {
            start: Instant::now(),
            moments: Vec::new(),
            violations: 0,
            left_out: 0,
            ends: Vec::new(),
            pauses: Vec::new(),
            last_tick: None,
            locks: Vec::new(),
        })))
    }

    /// Records that `actor` did `what`, now.
    pub fn record(&self, actor: &str, what: impl Into<String>) {
        self.record_at(Instant::now(), actor, what.into(), false);
    }

    /// Notes that the instance at `base` is gone (killed, or stopped), now.
    pub fn instance_ended(&self, base: String) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        inner.ends.push((base, Instant::now()));
    }

    /// Every instance end noted so far.
    pub fn ends(&self) -> Vec<(String, Instant)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ends
            .clone()
    }

    /// Notes that the harness took the database's write lock at `at` (as another
    /// process would); [`Timeline::unlocked`] notes when it let go.
    pub fn locked(&self, at: Instant) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .locks
            .push((at, None));
    }

    /// Notes that the harness let go of the write lock it took last, now.
    pub fn unlocked(&self) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, until)) = inner.locks.iter_mut().rev().find(|(_, u)| u.is_none()) {
            *until = Some(Instant::now());
        }
    }

    /// Every stretch in which the harness held the database's write lock, `None` as
    /// its end while still held: a write by the service may rightly wait or fail then.
    pub fn locks(&self) -> Vec<(Instant, Option<Instant>)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .locks
            .clone()
    }

    /// Files a pause of the harness, and shows it in the `harness` lane.
    pub fn paused(&self, pause: super::pauses::Pause) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pauses
            .push(pause);
        self.record_at(
            pause.from,
            "harness",
            format!(
                "paused {} ms (a busy machine): what was measured across it is not held against the service",
                pause.length().as_millis()
            ),
            false,
        );
    }

    /// Notes that the pause watcher ran at `at`.
    pub fn ticked(&self, at: Instant) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_tick = Some(at);
    }

    /// Notes that no pause watcher ticks any more.
    pub fn unwatched(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_tick = None;
    }

    /// Every pause of the harness filed so far, and the one under way if the watcher
    /// is overdue now: a judge running as the harness resumes may run before the
    /// watcher has filed the pause it just came out of.
    pub fn pauses(&self) -> Vec<super::pauses::Pause> {
        let inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut pauses = inner.pauses.clone();
        let now = Instant::now();
        if let Some(last) = inner.last_tick
            && now.saturating_duration_since(last) > super::pauses::TICK + super::pauses::LATE
        {
            pauses.push(super::pauses::Pause {
                from: last,
                until: now,
            });
        }
        pauses
    }

    /// Records a broken requirement now (when a judge only knows it at the end).
    pub fn violation(&self, actor: &str, what: impl Into<String>) {
        self.record_at(Instant::now(), actor, what.into(), true);
    }

    fn record_at(&self, at: Instant, actor: &str, what: String, violation: bool) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let full = if violation {
            inner.violations >= MAX_VIOLATIONS
        } else {
            inner.moments.len() - inner.violations >= MAX_MOMENTS
        };
        if full {
            inner.left_out += 1;
            return;
        }
        inner.violations += usize::from(violation);
        let at_ms = at
            .saturating_duration_since(inner.start)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX);
        inner.moments.push(Moment {
            at_ms,
            actor: actor.to_owned(),
            what: crate::checks::evidence::cut(&what).unwrap_or(what),
            violation,
        });
    }

    /// Everything recorded so far, in time order (ties keep recording order), leaving
    /// the timeline empty.
    pub fn take(&self) -> Recorded {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut moments = std::mem::take(&mut inner.moments);
        inner.violations = 0;
        moments.sort_by_key(|m| m.at_ms);
        Recorded {
            moments,
            left_out: std::mem::take(&mut inner.left_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn moments_come_out_in_time_order_on_the_checks_clock() {
        let t = Timeline::new();
        let start = Instant::now();
        t.record_at(
            start + Duration::from_millis(5),
            "client",
            "POST /charges sent".to_owned(),
            false,
        );
        t.record_at(
            start,
            "provider",
            "a call recorded later, made earlier".to_owned(),
            false,
        );
        t.record_at(
            start + Duration::from_secs(3),
            "judge",
            "charged twice".to_owned(),
            true,
        );
        let r = t.take();
        let actors: Vec<&str> = r.moments.iter().map(|m| m.actor.as_str()).collect();
        assert_eq!(actors, ["provider", "client", "judge"]);
        assert!(r.moments[2].violation && !r.moments[0].violation);
        assert!(r.moments[2].at_ms >= 3000, "{:?}", r.moments[2]);
        assert!(t.take().is_empty(), "take leaves it empty");
    }

    #[test]
    fn a_long_history_keeps_its_start_and_its_violations_up_to_their_bound() {
        let t = Timeline::new();
        for i in 0..MAX_MOMENTS + 10 {
            t.record("client", format!("request {i}"));
        }
        for _ in 0..MAX_VIOLATIONS + 2 {
            t.violation("judge", "money created");
        }
        let r = t.take();
        assert_eq!(r.moments.len(), MAX_MOMENTS + MAX_VIOLATIONS);
        assert_eq!(r.left_out, 12);
        assert_eq!(r.moments[0].what, "request 0");
        assert!(r.moments.last().is_some_and(|m| m.violation));
    }
}
