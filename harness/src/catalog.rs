//! The exercises the harness knows, and which of their paths a candidate owns.

use crate::checks::{self, Check};

/// One exercise: a service crate under `exercises/` and its checks.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// Id used on the command line and in reports; also its directory name.
    pub id: &'static str,
    /// Cargo package name.
    pub package: &'static str,
    /// Binary target name.
    pub binary: &'static str,
    /// One line for `list`.
    pub summary: &'static str,
    /// The exercise's checks.
    pub checks: fn() -> Vec<Check>,
}

impl Exercise {
    /// Paths (relative to the exercise directory) taken from a submission; everything
    /// else comes from the grader's own copy.
    pub const CANDIDATE_FILES: &'static [&'static str] = &["Cargo.toml", "REVIEW.md"];
    /// Directories (relative to the exercise directory) taken whole from a submission.
    pub const CANDIDATE_DIRS: &'static [&'static str] = &["src"];

    /// The exercise directory relative to a repository root.
    pub fn dir(&self) -> String {
        format!("exercises/{}", self.id)
    }
}

/// Every exercise, in the order `list` shows them.
pub fn all() -> Vec<Exercise> {
    vec![
        Exercise {
            id: "charge",
            package: "charge",
            binary: "charge",
            summary: "Payments endpoint: retries, lost provider responses, concurrency and crashes must never charge a customer twice.",
            checks: checks::charge::checks,
        },
        Exercise {
            id: "orders",
            package: "orders",
            binary: "orders",
            summary: "Order-history endpoint: must stay cheap as customers and catalogue grow, without changing its answer.",
            checks: checks::orders::checks,
        },
        Exercise {
            id: "transfer",
            package: "transfer",
            binary: "transfer",
            summary: "Money-transfer endpoint: write failures, crashes, concurrent transfers and a busy database must never lose, create or overdraw money.",
            checks: checks::transfer::checks,
        },
        Exercise {
            id: "quote",
            package: "quote-service",
            binary: "quote",
            summary: "Storefront quote endpoint: must answer in time, honestly and without hammering a pricing service that hangs, fails, flaps and recovers.",
            checks: checks::quote::checks,
        },
        Exercise {
            id: "checkout",
            package: "checkout",
            binary: "checkout",
            summary: "Capstone checkout endpoint with several flaws side by side: retries, duplicates, crashes, write failures, bad carts and a failing shipping service, each graded apart for partial credit.",
            checks: checks::checkout::checks,
        },
    ]
}

/// The exercise with this id.
pub fn find(id: &str) -> Option<Exercise> {
    all().into_iter().find(|e| e.id == id)
}
