//! The grader's command line, and the workspace's map.
//!
//! The harness is split along trust and visibility lines (ARCHITECTURE.md has the whole
//! map):
//! - `harness-confine` ([`catalog`], [`intake`], [`staging`], [`sandbox`],
//!   [`toolchain`]): everything that touches a submission before a check runs.
//! - `harness-core` ([`checks`] model, [`fakes`], [`service`], [`grade`], [`report`],
//!   [`review`], [`live`], [`seed`], [`verbs`]): what both tools build on; knows no
//!   exercise's checks.
//! - `checks-public`: each exercise's world and contract checks (the kit's).
//! - `checks-hidden`: the flaw, property and upgrade checks (grading only).
//! - this crate: the grader's verbs — [`cli`], [`batch`], [`pack`] — over the hidden
//!   registry; the kit's `checks` tool is its own crate over the public one.

pub mod batch;
pub mod cli;
pub mod pack;

pub use harness_core::{
    catalog, checks, fakes, grade, intake, live, report, review, sandbox, seed, service, staging,
    toolchain, verbs,
};

/// Every check of `exercise` the grader runs, public then hidden.
pub use checks_hidden::registry;
