//! JUnit XML, for CI systems that show test results natively: one `<testsuite>` per
//! exercise, one `<testcase>` per check, the evidence in the failure body.
//!
//! Each suite opens with a `<exercise>.build` test case: a service that does not build
//! is a failing test with the compiler's errors in its body (a CI system counts it and
//! shows it where it shows failures), and its checks stay `<skipped>`, since nothing
//! ran. Were the build only a suite-level log, a submission that does not compile would
//! read as "0 failures" in CI.

use std::fmt::Write;

use super::{BuildStatus, CheckStatus, ExerciseReport, Report};
use crate::checks::Line;

/// Name of an exercise's build test case: `<exercise>.build`. No check id ends in
/// `.build` (a test keeps it so), so the name never collides with a check's.
pub fn build_case_name(exercise: &str) -> String {
    format!("{exercise}.build")
}

/// Renders `report` as JUnit XML.
pub fn render(report: &Report) -> String {
    let (pass, fail, error, skipped) = report.tally();
    let builds = report.exercises.len();
    let failed_builds = report
        .exercises
        .iter()
        .filter(|e| e.build.status == BuildStatus::Failed)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"harness\" tests=\"{}\" failures=\"{}\" errors=\"{error}\" skipped=\"{skipped}\">",
        pass + fail + error + skipped + builds,
        fail + failed_builds
    );
    for ex in &report.exercises {
        let count = |s: CheckStatus| ex.checks.iter().filter(|c| c.status == s).count();
        let build_failed = ex.build.status == BuildStatus::Failed;
        let ms: u64 = ex.build.duration_ms + ex.checks.iter().map(|c| c.duration_ms).sum::<u64>();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            escape(&ex.id),
            ex.checks.len() + 1,
            count(CheckStatus::Fail) + usize::from(build_failed),
            count(CheckStatus::Error),
            count(CheckStatus::Skipped),
            seconds(ms)
        );
        build_case(&mut out, ex);
        for c in &ex.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape(&ex.id),
                escape(&c.id),
                seconds(c.duration_ms)
            );
            let body = escape(&c.evidence.join("\n"));
            let first = escape(c.evidence.first().map_or("", Line::as_str));
            match c.status {
                CheckStatus::Pass => out.push_str("/>\n"),
                CheckStatus::Fail => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{first}\">{body}</failure>\n    </testcase>"
                    );
                }
                CheckStatus::Error => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{first}\">{body}</error>\n    </testcase>"
                    );
                }
                CheckStatus::Skipped => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{first}\"/>\n    </testcase>"
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The exercise's build as a test case: passing, or failing with the compiler's log.
fn build_case(out: &mut String, ex: &ExerciseReport) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        escape(&ex.id),
        escape(&build_case_name(&ex.id)),
        seconds(ex.build.duration_ms)
    );
    match ex.build.status {
        BuildStatus::Ok => out.push_str("/>\n"),
        BuildStatus::Failed => {
            let _ = writeln!(
                out,
                ">\n      <failure type=\"build\" message=\"{} does not build: its checks were skipped\">{}</failure>\n    </testcase>",
                escape(&ex.id),
                escape(ex.build.log.as_deref().unwrap_or(""))
            );
        }
    }
}

/// Milliseconds as JUnit's seconds.
fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0 forbids
/// (C0 controls but tab and line breaks, U+FFFE, U+FFFF): evidence, build logs and ids
/// quote what a submission produced, and must neither close an element nor make the
/// file unparseable for the CI system reading it.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
        assert_eq!(
            escape("]]></failure><x a=\"1\">\u{FFFF}"),
            "]]&gt;&lt;/failure&gt;&lt;x a=&quot;1&quot;&gt;"
        );
    }
}
