//! Which fault a fake applies to its next call: queued one-off faults first, then a
//! standing fault, then none. Shared by every fake.

use std::collections::VecDeque;

/// One-off faults in arrival order, and a standing fault for every call after them.
#[derive(Debug, Clone)]
pub struct FaultPlan<F> {
    queued: VecDeque<F>,
    standing: Option<F>,
}

impl<F> Default for FaultPlan<F> {
    fn default() -> Self {
        FaultPlan {
            queued: VecDeque::new(),
            standing: None,
        }
    }
}

impl<F: Clone> FaultPlan<F> {
    /// Applies `fault` to the next call that has no earlier queued fault.
    pub fn push(&mut self, fault: F) {
        self.queued.push_back(fault);
    }

    /// Applies `fault` to every call without a queued fault, until cleared with `None`.
    pub fn set_standing(&mut self, fault: Option<F>) {
        self.standing = fault;
    }

    /// Drops queued and standing faults.
    pub fn clear(&mut self) {
        self.queued.clear();
        self.standing = None;
    }

    /// The fault for the call arriving now.
    pub fn take_next(&mut self) -> Option<F> {
        self.queued.pop_front().or_else(|| self.standing.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_before_the_standing_one() {
        let mut plan = FaultPlan::default();
        assert_eq!(plan.take_next(), None::<u8>);
        plan.set_standing(Some(9));
        plan.push(1);
        plan.push(2);
        assert_eq!(
            (plan.take_next(), plan.take_next(), plan.take_next()),
            (Some(1), Some(2), Some(9))
        );
        plan.clear();
        assert_eq!(plan.take_next(), None);
    }
}
