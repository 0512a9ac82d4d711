//! The grader's hidden checks: each exercise's flaw checks (one forced scenario per
//! planted flaw), its property over generated histories, and the upgrade from
//! production's database. Grading only: a candidate's kit is built without this crate,
//! and the compiler keeps the public checks from depending on it.

/// The check model and the public worlds, with each exercise's hidden checks beside
/// its public modules.
pub mod checks {
    pub use checks_public::checks::*;

    pub mod charge;
    pub mod checkout;
    pub mod orders;
    pub mod quote;
    pub mod transfer;
    pub mod upgrade;
    pub mod write_lock;
}

pub use harness_core::{fakes, seed, service};

use harness_core::catalog::{Exercise, Key};
use harness_core::checks::Check;

/// Every check of `exercise`, public then hidden, in report order.
pub fn registry(exercise: Exercise) -> Vec<Check> {
    let mut all = checks_public::registry(exercise);
    all.extend(match exercise.key {
        Key::Charge => checks::charge::checks(),
        Key::Orders => checks::orders::checks(),
        Key::Transfer => checks::transfer::checks(),
        Key::Quote => checks::quote::checks(),
        Key::Checkout => checks::checkout::checks(),
    });
    all
}
