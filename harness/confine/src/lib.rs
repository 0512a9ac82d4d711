//! The grader's trust boundary: everything that touches a submission before a check
//! runs, and the confinement candidate code runs under.
//!
//! - [`catalog`]: the exercises and which of their paths a candidate owns.
//! - [`intake`]: a submission from a directory, archive, patch or git ref, refused
//!   when it holds links or is too large.
//! - [`staging`]: candidate-owned paths beside the grader's kit, the rebuilt manifest,
//!   the sandboxed offline build and the binary cache.
//! - [`sandbox`]: the users, namespaces, mounts and limits builds and services run under.
//! - [`toolchain`]: the grader's own crates fetched and toolchain found, before any build.

pub mod catalog;
pub mod intake;
pub mod sandbox;
pub mod staging;
pub mod toolchain;
