//! The kit: the small, trusted runtime every exercise service links.
//!
//! At grading time the kit always comes from the grader's own copy, never from a
//! submission, so everything the harness must be able to rely on lives here:
//!
//! - [`config`]: the command-line/environment contract (listen address, SQLite path,
//!   downstream base URLs, demo-data seeding).
//! - [`db`]: the SQLite handle exercises use, with idempotent migrations and the
//!   statement tracing that feeds [`accounting`].
//! - [`accounting`]: per-HTTP-request SQL statement counts, reported in a response
//!   header that the kit writes last, plus a canary route with a known count.
//! - [`serve`]: binds the listener, prints the single `READY <addr>` line, stops
//!   gracefully on SIGTERM.
//! - [`telemetry`]: tracing to stderr, so stdout carries only the READY line.

pub mod accounting;
pub mod config;
pub mod db;
pub mod serve;
pub mod telemetry;

pub use config::KitArgs;
pub use db::{Db, DbError};
pub use serve::{ServeError, serve};
