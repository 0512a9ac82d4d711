//! JUnit XML, for CI systems that show test results natively: one `<testsuite>` per
//! exercise, one `<testcase>` per check, the evidence in the failure body.

use std::fmt::Write;

use super::{BuildStatus, CheckStatus, Report};

/// Renders `report` as JUnit XML.
pub fn render(report: &Report) -> String {
    let (pass, fail, error, skipped) = report.tally();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"harness\" tests=\"{}\" failures=\"{fail}\" errors=\"{error}\" skipped=\"{skipped}\">",
        pass + fail + error + skipped
    );
    for ex in &report.exercises {
        let count = |s: CheckStatus| ex.checks.iter().filter(|c| c.status == s).count();
        let secs: u64 = ex.checks.iter().map(|c| c.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&ex.id),
            ex.checks.len(),
            count(CheckStatus::Fail),
            count(CheckStatus::Error),
            count(CheckStatus::Skipped),
            secs as f64 / 1000.0
        );
        if ex.build.status == BuildStatus::Failed {
            let _ = writeln!(
                out,
                "    <system-err>{}</system-err>",
                escape(ex.build.log.as_deref().unwrap_or(""))
            );
        }
        for c in &ex.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&ex.id),
                escape(&c.id),
                c.duration_ms as f64 / 1000.0
            );
            let body = escape(&c.evidence.join("\n"));
            let first = escape(c.evidence.first().map_or("", String::as_str));
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
