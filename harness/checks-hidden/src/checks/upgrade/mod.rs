//! Upgrade from production: a fix is judged on the database production has, not only
//! on a fresh file.

pub mod production;
