//! What every checks crate and both command-line tools build on: the check model, the
//! fakes that play downstream dependencies, the service runner, grading and the report.
//!
//! It knows no exercise's checks: a [`checks::Registry`] from a checks crate says which
//! checks an exercise has, so the same grading runs the kit's public checks or the
//! grader's hidden ones.
//!
//! - [`checks`]: the check model (checks, verdicts, evidence), the HTTP client and the
//!   property runner.
//! - [`fakes`]: downstream dependencies played by the harness, with fault injection.
//! - [`service`]: starts a service binary as a confined child process (READY, kill -9).
//! - [`grade`]: builds each exercise, runs its checks, assembles the report.
//! - [`report`]: the versioned JSON report and its Markdown, JUnit and Classroom forms.
//! - [`review`]: scores a candidate's `REVIEW.md` against the planted flaws.
//! - [`live`]: the live session: a service run by hand against fakes that take faults.
//! - [`seed`]: derives every random choice from the grade's seed.
//!
//! The trust boundary ([`confine`]) is re-exported under its module names.

pub mod checks;
pub mod fakes;
pub mod grade;
pub mod live;
pub mod report;
pub mod review;
pub mod seed;
pub mod service;
pub mod verbs;

pub use confine::{catalog, intake, sandbox, staging, toolchain};
