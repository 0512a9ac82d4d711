//! Where a fake tells the check's timeline what it did with each call, as it does it:
//! the call arriving, the fault applied, the charge made, the answer lost.

use std::sync::{Mutex, PoisonError};

use crate::checks::Timeline;

/// A fake's link to the timeline of the check that started it; silent until set.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Option<(Timeline, &'static str)>>);

impl Recorder {
    /// From now on, records into `timeline` in the lane `actor`.
    pub fn set(&self, timeline: &Timeline, actor: &'static str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((timeline.clone(), actor));
    }

    /// The harness's pauses on the timeline set, if one is ([`Timeline::pauses`]).
    pub fn pauses(&self) -> Vec<crate::checks::pauses::Pause> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((timeline, _)) => timeline.pauses(),
            None => Vec::new(),
        }
    }

    /// Records `what` now, if a timeline is set.
    pub fn note(&self, what: impl FnOnce() -> String) {
        if let Some((timeline, actor)) = &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            timeline.record(actor, what());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_once_set_and_in_its_lane() {
        let recorder = Recorder::default();
        let timeline = Timeline::new();
        recorder.note(|| "before".to_owned());
        recorder.set(&timeline, "provider");
        recorder.note(|| "after".to_owned());
        let moments = timeline.take().moments;
        assert_eq!(moments.len(), 1);
        assert_eq!(
            (moments[0].actor.as_str(), moments[0].what.as_str()),
            ("provider", "after")
        );
    }
}
