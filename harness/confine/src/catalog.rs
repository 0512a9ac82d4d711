//! The exercises the harness knows, and which of their paths a candidate owns.
//!
//! Plain data: which checks an exercise has is the checks crates' business (they match
//! on [`Key`], so an exercise without checks does not compile), not the catalog's.

/// Names each exercise, so code that must handle every exercise can match exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `charge`: idempotent payments.
    Charge,
    /// `orders`: the order history that must stay cheap.
    Orders,
    /// `transfer`: all-or-nothing money movement.
    Transfer,
    /// `quote`: a dependency that must not drag the service down.
    Quote,
    /// `checkout`: the capstone.
    Checkout,
}

/// One exercise: a service crate under `exercises/`.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// Which exercise this is.
    pub key: Key,
    /// Id used on the command line and in reports; also its directory name.
    pub id: &'static str,
    /// Cargo package name.
    pub package: &'static str,
    /// Binary target name.
    pub binary: &'static str,
    /// One line for `list`.
    pub summary: &'static str,
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
            key: Key::Charge,
            id: "charge",
            package: "charge",
            binary: "charge",
            summary: "Payments endpoint: retries, lost provider responses, concurrency and crashes must never charge a customer twice.",
        },
        Exercise {
            key: Key::Orders,
            id: "orders",
            package: "orders",
            binary: "orders",
            summary: "Order-history endpoint: must stay cheap as customers and catalogue grow, without changing its answer.",
        },
        Exercise {
            key: Key::Transfer,
            id: "transfer",
            package: "transfer",
            binary: "transfer",
            summary: "Money-transfer endpoint: write failures, crashes, concurrent transfers and a busy database must never lose, create or overdraw money.",
        },
        Exercise {
            key: Key::Quote,
            id: "quote",
            package: "quote-service",
            binary: "quote",
            summary: "Storefront quote endpoint: must answer in time, honestly and without hammering a pricing service that hangs, fails, flaps and recovers.",
        },
        Exercise {
            key: Key::Checkout,
            id: "checkout",
            package: "checkout",
            binary: "checkout",
            summary: "Capstone checkout endpoint with several flaws side by side: retries, duplicates, crashes, write failures, bad carts and a failing shipping service, each graded apart for partial credit.",
        },
    ]
}

/// The exercise with this id.
pub fn find(id: &str) -> Option<Exercise> {
    all().into_iter().find(|e| e.id == id)
}
