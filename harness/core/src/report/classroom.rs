//! GitHub Classroom autograding output: the result object a Classroom "grader" action
//! hands to the Classroom autograding reporter, so a Classroom assignment can record the
//! harness's points.
//!
//! The format is the reporter's, not ours; it is read from the reporter's and a
//! grader's source, not guessed:
//!
//! - The reporter, `classroom-resources/autograding-grading-reporter@v1`, read at
//!   `github-education-resources/autograding-grading-reporter` commit `1a54efb` (the
//!   `classroom-resources` copy's `src/main.js` and `src/notify-classroom.js` agree on
//!   every point below): `src/main.js` reads, for each id in its `runners` input, the
//!   environment variable `<ID in capitals>_RESULTS`, base64-decodes it and parses it
//!   as JSON; it fails the job when any runner's top-level `status` is `"fail"`, else
//!   when any is `"error"`.
//!   `src/notify-classroom.js` records the points Classroom shows: the sum of every
//!   test's `score` over runners whose `max_score` is non-zero, out of the sum of
//!   their `max_score`. `src/console-results.js` prints each test from `name`,
//!   `status` (`pass`, `error` with its `message`, anything else as failed),
//!   `line_no` (appended to the name unless it is `0`) and `test_code` (printed when
//!   non-empty); its summary table prorates `max_score` by tests passed, so with checks
//!   of unequal points that table differs from the points recorded.
//! - A grader's output, `github-education-resources/autograding-command-grader` commit
//!   `4993a16`, `src/main.js` `generateResult`: `{version: 1, status, max_score,
//!   tests: [{name, status, score, message, test_code, filename, line_no, duration}]}`,
//!   emitted base64-encoded as the step output `result`.
//! - The reporter's README: the workflow must be named `Autograding Tests` with a single
//!   job `run-autograding-tests`, or no score reaches Classroom.
//!
//! So `--format classroom` writes that object as plain JSON; the workflow
//! base64-encodes it into a step output (`docs/pipelines.md` has the steps). A test per
//! check (its points as `score`, evidence as `message`, description as `test_code`),
//! plus one `<exercise>.build` test per exercise (no points), as in JUnit. A test's
//! `status` is its check's (`pass`, `fail`, `error`; a skipped check is `fail`); the
//! top-level `status` follows the exit code: `error` when a check could not be judged,
//! else `fail` when a check or a build failed, else `pass`.
//!
//! The reporter reads the object from one environment variable, and Linux refuses to
//! start a process with a single environment string over 128 KiB
//! (`MAX_ARG_STRLEN`), base64 growing it by a third: messages are shortened until the
//! JSON fits [`MAX_JSON_BYTES`]. The full evidence is in the JSON and Markdown reports.

use serde::{Deserialize, Serialize};

use super::{BuildStatus, CheckStatus, Report, junit::build_case_name};

/// The reporter's result format version (`version: 1` in the command grader).
pub const VERSION: u32 = 1;

/// Most bytes of the rendered JSON: base64 of this (4/3 of it) plus the variable's
/// name stays under the kernel's 128 KiB limit for one environment string.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Longest message a test starts with, in characters, before [`MAX_JSON_BYTES`]
/// shortens messages further.
const FIRST_MESSAGE_CHARS: usize = 4_000;

/// What follows a shortened message.
const CUT: &str = "… (shortened; the full evidence is in the JSON or Markdown report)";

/// One runner's result, as the reporter reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClassroomResult {
    /// Always [`VERSION`].
    pub version: u32,
    /// `pass`, `fail` or `error`: the reporter fails the job on `fail`, then `error`.
    pub status: String,
    /// Points available: the report's `max_points`.
    pub max_score: u32,
    /// One per build and per check.
    pub tests: Vec<ClassroomTest>,
}

/// One test of a runner's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClassroomTest {
    /// The check id, or `<exercise>.build`.
    pub name: String,
    /// `pass`, `fail` or `error` (a skipped check is `fail`: its service did not build).
    pub status: String,
    /// Points earned; the reporter sums these for Classroom.
    pub score: u32,
    /// The evidence (the compiler's errors for a build), possibly shortened.
    pub message: String,
    /// What the check does and what must hold (the reporter prints it as "Test code").
    pub test_code: String,
    /// Always empty: a check judges a running service, not a line of a file.
    pub filename: String,
    /// Always 0, which the reporter reads as "no line".
    pub line_no: u32,
    /// Milliseconds.
    pub duration: u64,
}

/// Renders `report` as the reporter's result JSON, at most [`MAX_JSON_BYTES`] unless the
/// names and descriptions alone exceed it.
pub fn render(report: &Report) -> String {
    let mut limit = FIRST_MESSAGE_CHARS;
    loop {
        let json = serde_json::to_string_pretty(&result(report, limit)).unwrap_or_default();
        if json.len() <= MAX_JSON_BYTES || limit == 0 {
            return json;
        }
        limit /= 2;
    }
}

/// The result with every message cut to `limit` characters.
pub fn result(report: &Report, limit: usize) -> ClassroomResult {
    let mut tests = Vec::new();
    for ex in &report.exercises {
        let built = ex.build.status == BuildStatus::Ok;
        tests.push(ClassroomTest {
            name: build_case_name(&ex.id),
            status: if built { "pass" } else { "fail" }.to_owned(),
            score: 0,
            message: shorten(
                if built {
                    "built"
                } else {
                    ex.build.log.as_deref().unwrap_or("did not build")
                },
                limit,
            ),
            test_code: format!("build the {} service", ex.id),
            filename: String::new(),
            line_no: 0,
            duration: ex.build.duration_ms,
        });
        for c in &ex.checks {
            tests.push(ClassroomTest {
                name: c.id.clone(),
                status: status(c.status).to_owned(),
                score: c.points,
                message: shorten(&c.evidence.join("\n"), limit),
                test_code: c.description.clone(),
                filename: String::new(),
                line_no: 0,
                duration: c.duration_ms,
            });
        }
    }
    let overall = match report.exit_code() {
        super::exit::PASSED => "pass",
        super::exit::CHECK_ERRORED => "error",
        _ => "fail",
    };
    ClassroomResult {
        version: VERSION,
        status: overall.to_owned(),
        max_score: report.max_points,
        tests,
    }
}

fn status(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "pass",
        CheckStatus::Error => "error",
        CheckStatus::Fail | CheckStatus::Skipped => "fail",
    }
}

/// `text` without control characters but line breaks and tabs (they would turn into
/// six-byte escapes and mean nothing in a log), cut to `limit` characters.
fn shorten(text: &str, limit: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect();
    if clean.chars().count() <= limit {
        return clean;
    }
    let mut out: String = clean.chars().take(limit).collect();
    out.push_str(CUT);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_on_characters_and_lose_control_characters() {
        assert_eq!(shorten("a\u{1b}[31mb\nc", 10), "a[31mb\nc");
        let cut = shorten("ééééé", 2);
        assert!(cut.starts_with("éé…"), "{cut}");
        assert_eq!(shorten("", 0), "");
    }
}
