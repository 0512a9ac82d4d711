//! The kit: the small, trusted runtime every exercise service links.
//!
//! At grading time the kit always comes from the grader's own copy, never from a
//! submission, so everything the harness must be able to rely on lives here:
//!
//! - [`config`]: the command-line/environment contract (listen address, SQLite path,
//!   downstream base URLs, demo-data seeding).
//! - [`db`]: the SQLite handle exercises use, with idempotent migrations.
//! - [`hook`]: traces every SQLite connection the process opens (an auto-extension
//!   registered before `main`) and notices when a trace hook is replaced or the
//!   extension removed.
//! - [`accounting`]: the process-wide statement ledger, per-HTTP-request windows over
//!   it, reported in response headers the kit writes last and in MAC'd stats lines,
//!   plus a canary route with a known count.
//! - [`serve`]: binds the listener, prints the single `READY <addr>` line, stops
//!   gracefully on SIGTERM.
//! - [`telemetry`]: tracing to stderr, so stdout carries only the READY line.

pub mod accounting;
pub mod config;
pub mod db;
pub mod hook;
pub mod serve;
pub mod telemetry;

pub use config::KitArgs;
pub use db::{Db, DbError};
pub use serve::{ServeError, serve};
