//! Each exercise's world and its public contract checks: what a candidate's kit runs.
//!
//! A world is an exercise's fixture — its service started from the submission's binary,
//! the fakes it talks to, its database read directly — and the judges its public checks
//! use. The grader's hidden checks build on these worlds from their own crate; nothing
//! here can see them.

/// The check model from [`harness_core`], and one module per exercise.
pub mod checks {
    pub use harness_core::checks::*;

    pub mod charge;
    pub mod checkout;
    pub mod orders;
    pub mod quote;
    pub mod transfer;
}

pub use harness_core::{fakes, seed, service};

use harness_core::catalog::{Exercise, Key};
use harness_core::checks::Check;

/// The public checks of `exercise`, in report order.
pub fn registry(exercise: Exercise) -> Vec<Check> {
    match exercise.key {
        Key::Charge => checks::charge::checks(),
        Key::Orders => checks::orders::checks(),
        Key::Transfer => checks::transfer::checks(),
        Key::Quote => checks::quote::checks(),
        Key::Checkout => checks::checkout::checks(),
    }
}
