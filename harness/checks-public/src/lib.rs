//! Each exercise's world and its public contract checks: what a candidate's kit runs.
//!
//! A world is an exercise's fixture — its service started from the submission's binary,
//! the fakes it talks to, its database read directly — and the judges its public checks
//! use. The grader's hidden checks build on these worlds from their own crate; nothing
//! here can see them.

/// The check model from [`harness_core`], and one module per exercise. Each exercise
/// is a cargo feature (all on by default): a candidate's kit turns on only its own and
/// carries only their modules.
pub mod checks {
    pub use harness_core::checks::*;

    #[cfg(feature = "charge")]
    pub mod charge;
    #[cfg(feature = "checkout")]
    pub mod checkout;
    #[cfg(feature = "orders")]
    pub mod orders;
    #[cfg(feature = "quote")]
    pub mod quote;
    #[cfg(feature = "transfer")]
    pub mod transfer;
}

pub use harness_core::{fakes, seed, service};

use harness_core::catalog::{Exercise, Key};
use harness_core::checks::Check;

/// The public checks of `exercise`, in report order (none for an exercise this build
/// leaves out; a kit's `list` shows only the exercises it holds).
pub fn registry(exercise: Exercise) -> Vec<Check> {
    match exercise.key {
        Key::Charge => charge(),
        Key::Orders => orders(),
        Key::Transfer => transfer(),
        Key::Quote => quote(),
        Key::Checkout => checkout(),
    }
}

/// One function per exercise, so the match above stays exhaustive whatever is built.
macro_rules! exercise_checks {
    ($($name:ident = $feature:literal),*) => {$(
        #[cfg(feature = $feature)]
        fn $name() -> Vec<Check> {
            checks::$name::checks()
        }
        #[cfg(not(feature = $feature))]
        fn $name() -> Vec<Check> {
            Vec::new()
        }
    )*};
}
exercise_checks!(
    charge = "charge",
    orders = "orders",
    transfer = "transfer",
    quote = "quote",
    checkout = "checkout"
);

/// The standing requirements `exercise`'s world judges on every check's history when
/// the check ends (ids of its `requirements.toml`; none for an exercise whose
/// requirements are all judged by its checks alone, or that this build leaves out).
pub fn standing(exercise: Exercise) -> &'static [&'static str] {
    match exercise.key {
        Key::Charge => standing_charge(),
        Key::Transfer => standing_transfer(),
        Key::Checkout => standing_checkout(),
        Key::Quote => standing_quote(),
        Key::Orders => standing_orders(),
    }
}

macro_rules! exercise_standing {
    ($($fn_name:ident = $name:ident, $feature:literal),*) => {$(
        #[cfg(feature = $feature)]
        fn $fn_name() -> &'static [&'static str] {
            checks::$name::world::STANDING
        }
        #[cfg(not(feature = $feature))]
        fn $fn_name() -> &'static [&'static str] {
            &[]
        }
    )*};
}
exercise_standing!(
    standing_charge = charge,
    "charge",
    standing_transfer = transfer,
    "transfer",
    standing_checkout = checkout,
    "checkout",
    standing_quote = quote,
    "quote",
    standing_orders = orders,
    "orders"
);
