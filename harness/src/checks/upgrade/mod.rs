//! Upgrade from production: a fix is judged on the database production has, not only
//! on a fresh file. The hidden judge lives in `production` (grading only).

#[cfg(feature = "hidden-checks")]
pub mod production;
