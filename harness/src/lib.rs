//! The harness: grades a candidate's fix of an exercise by what the service *does*.
//!
//! It builds the candidate's service from a staged copy of the submission, runs it as
//! a child process, plays its downstream dependencies, injects faults, and reports
//! each check as pass, fail or error with evidence an interviewer can read.
//!
//! Code map:
//! - [`cli`]: argument parsing and printing; nothing else.
//! - [`catalog`]: the exercises and which of their paths a candidate owns.
//! - [`staging`]: copies candidate-owned paths beside the grader's kit and builds.
//! - [`toolchain`]: the grader's own crates fetched and toolchain found, before any build.
//! - [`service`]: starts a service binary as a child process (READY line, kill -9).
//! - [`fakes`]: downstream dependencies played by the harness, with fault injection.
//! - [`checks`]: check definitions, evidence, and one module per exercise.
//! - [`grade`]: runs an exercise's checks and assembles the report.
//! - [`report`]: the versioned JSON report and the Markdown rendering.
//! - [`seed`]: derives every random choice from the grade's seed.

pub mod batch;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod fakes;
pub mod grade;
pub mod intake;
pub mod live;
pub mod pack;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod seed;
pub mod service;
pub mod staging;
pub mod toolchain;
