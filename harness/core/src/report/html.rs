//! The report as one self-contained HTML page: what an interviewer opens in a browser
//! or attaches to a hiring packet. No script, no font, no image, no link leaves the
//! file, so it reads the same offline and years later; every text that came from a
//! submission (evidence, review notes) is escaped, so a candidate's output cannot
//! become markup. A view of the JSON report, like the Markdown.

use std::fmt::Write as _;

use super::{BuildStatus, CheckReport, CheckStatus, ExerciseReport, Report};
use crate::checks::evidence::{Line, cut};

/// The page's whole stylesheet: print-friendly, readable on a shared screen.
const STYLE: &str = "
:root{--ok:#137333;--bad:#b3261e;--err:#8a5a00;--mute:#5f6368;--line:#dadce0;--bg:#f8f9fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#202124;background:#fff}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 8px;font-size:26px}h2{margin:32px 0 8px;font-size:21px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin:0 0 8px;font-size:16px}
.score{font-size:18px}.mute{color:var(--mute)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--bg)}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--mute)}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}.error{color:var(--err);font-weight:600}.skipped{color:var(--mute)}
.bar{height:8px;border-radius:4px;background:var(--line);overflow:hidden;margin:4px 0 12px}.bar>span{display:block;height:100%;background:var(--ok)}
details.check{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:6px;margin:10px 0;padding:6px 10px}
details.check.error{border-left-color:var(--err)}
details.check>summary{cursor:pointer;font-weight:600}
.evidence{list-style:none;padding:0;margin:8px 0;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
.evidence li{white-space:pre-wrap;word-break:break-word;padding:2px 0}
.evidence li.broken{color:var(--bad)}
.req{font-style:italic}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef0f2;padding:0 3px;border-radius:3px}
ol.followups li{margin:0 0 10px}
nav a{margin-right:14px}
table.tl{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,monospace;table-layout:fixed;margin:6px 0}
table.tl th:first-child,table.tl td:first-child{width:5.5em;text-align:right;color:var(--mute)}
table.tl td{word-break:break-word;border-left:1px solid var(--line);color:#202124;font-weight:400}
table.tl th{color:var(--mute)}
table.tl tr.vio td{background:#fce8e6;color:var(--bad);font-weight:600}
table.tl tr.gap td{color:var(--mute);font-style:italic;text-align:center}
@media print{details.check{break-inside:avoid}}
";

/// The whole report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let (pass, fail, error, skipped) = report.tally();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Grade report — {} / {} points</title><style>{STYLE}</style></head><body><main>\n",
        report.points, report.max_points
    );
    let _ = writeln!(out, "<h1>Grade report</h1>");
    let _ = write!(
        out,
        "<p class=\"score\"><strong id=\"total\">{} / {} points</strong> · {pass} passed · {fail} failed",
        report.points, report.max_points
    );
    if error > 0 {
        let _ = write!(
            out,
            " · <span class=\"error\">{error} could not be judged</span>"
        );
    }
    if skipped > 0 {
        let _ = write!(out, " · {skipped} skipped");
    }
    let _ = writeln!(out, " · seed <code>{}</code></p>", report.seed);
    let sub = &report.submission;
    let _ = writeln!(out, "<p>Submission: {}</p>", esc(&sub.source));
    if sub.ignored_total > 0 {
        let _ = writeln!(
            out,
            "<p class=\"fail\">{} submitted path(s) were ignored (not candidate-owned, and not the grader's copy): {}{}</p>",
            sub.ignored_total,
            sub.ignored
                .iter()
                .map(|p| format!("<code>{}</code>", esc(p)))
                .collect::<Vec<_>>()
                .join(", "),
            if sub.ignored_total > sub.ignored.len() {
                format!(" and {} more", sub.ignored_total - sub.ignored.len())
            } else {
                String::new()
            }
        );
    }
    let iso = &sub.isolation;
    let _ = writeln!(
        out,
        "<p class=\"mute\">Isolation: network — {}; files — {}; user — {}; limits — {}.</p>",
        esc(&iso.network),
        esc(&iso.filesystem),
        esc(&iso.user),
        esc(&iso.limits)
    );
    if report.exercises.len() > 1 {
        let _ = writeln!(
            out,
            "<nav>{}</nav>",
            report
                .exercises
                .iter()
                .map(|e| format!(
                    "<a href=\"#ex-{0}\">{0}</a> {1}/{2}",
                    esc(&e.id),
                    e.points,
                    e.max_points
                ))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for ex in &report.exercises {
        render_exercise(&mut out, ex);
    }
    out.push_str("</main></body></html>\n");
    out
}

fn render_exercise(out: &mut String, ex: &ExerciseReport) {
    let _ = writeln!(
        out,
        "<section class=\"exercise\" id=\"ex-{0}\"><h2><code>{0}</code> — {1} / {2} points</h2>",
        esc(&ex.id),
        ex.points,
        ex.max_points
    );
    let share = (ex.points * 100).checked_div(ex.max_points).unwrap_or(0);
    let _ = writeln!(
        out,
        "<div class=\"bar\" title=\"{share}%\"><span style=\"width:{share}%\"></span></div>"
    );
    if ex.build.status == BuildStatus::Failed {
        let _ = writeln!(
            out,
            "<p class=\"fail\">The build failed: no check could run.</p><ul class=\"evidence\">{}</ul>",
            lines(ex.build.log.as_deref().unwrap_or("").lines().take(40))
        );
    }
    let _ = writeln!(out, "<div class=\"grid\">");
    render_flaws(out, ex);
    render_review(out, ex);
    let _ = writeln!(out, "</div>");
    render_designs(out, ex);
    render_requirements(out, ex);
    render_checks_table(out, ex);
    for c in ex
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
    {
        render_failed(out, c);
    }
    render_followups(out, ex);
    let _ = writeln!(out, "</section>");
}

fn render_flaws(out: &mut String, ex: &ExerciseReport) {
    if ex.flaws.is_empty() {
        return;
    }
    let fixed = ex.flaws.iter().filter(|f| f.fixed).count();
    let _ = writeln!(
        out,
        "<div class=\"card flaws\"><h3>Planted flaws fixed: {fixed} of {}</h3><table>\
         <tr><th>planted flaw</th><th>verdict</th><th>checks</th><th>points</th></tr>",
        ex.flaws.len()
    );
    for f in &ex.flaws {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}/{}</td><td>{}/{}</td></tr>",
            esc(&f.flaw),
            if f.fixed { "pass" } else { "fail" },
            if f.fixed {
                "✓ fixed"
            } else {
                "✗ not fixed"
            },
            f.checks_passed,
            f.checks,
            f.points,
            f.max_points
        );
    }
    let _ = writeln!(out, "</table></div>");
}

fn render_review(out: &mut String, ex: &ExerciseReport) {
    let Some(review) = &ex.review else { return };
    let found = review.flaws.iter().filter(|f| f.found).count();
    let _ = writeln!(
        out,
        "<div class=\"card review\"><h3>Review notes: {} / {} points</h3>\
         <p class=\"mute\">Found {found} of {} planted flaws{}.</p>",
        review.points,
        review.max_points,
        review.flaws.len(),
        if review.neutral_flagged.is_empty() {
            String::new()
        } else {
            format!(
                "; flagged {} line(s) that are fine",
                review.neutral_flagged.len()
            )
        }
    );
    if let Some(reason) = &review.refused {
        let _ = writeln!(out, "<p class=\"fail\">Refused: {}</p></div>", esc(reason));
        return;
    }
    if !review.submitted {
        let _ = writeln!(
            out,
            "<p>No review notes handed in (<code>exercises/{}/REVIEW.md</code>).</p></div>",
            esc(&ex.id)
        );
        return;
    }
    let _ = writeln!(
        out,
        "<table><tr><th>planted flaw</th><th>found</th><th>the candidate's words</th></tr>"
    );
    for f in &review.flaws {
        let words = f
            .words
            .iter()
            .map(|w| esc(&clip(w, 200)))
            .collect::<Vec<_>>()
            .join(" / ");
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&f.flaw),
            if f.found { "pass" } else { "fail" },
            if f.found { "✓" } else { "✗" },
            if words.is_empty() {
                "—".to_owned()
            } else {
                words
            }
        );
    }
    let _ = writeln!(out, "</table>");
    for (title, list) in [
        ("Findings outside the planted flaws", &review.extra),
        ("Lines flagged that are fine", &review.neutral_flagged),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<p class=\"mute\">{title}:</p><ul>");
        for f in list {
            let _ = writeln!(
                out,
                "<li><code>{}:{}-{}</code> {}</li>",
                esc(&f.file),
                f.lines.0,
                f.lines.1,
                esc(&clip(&f.text, 200))
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</div>");
}

fn render_requirements(out: &mut String, ex: &ExerciseReport) {
    let rows: Vec<&CheckReport> = ex.checks.iter().filter(|c| c.requirement).collect();
    if rows.is_empty() {
        return;
    }
    let held = rows
        .iter()
        .filter(|c| c.status == CheckStatus::Pass)
        .count();
    let _ = writeln!(
        out,
        "<div class=\"card requirements\"><h3>Requirements of the brief: {held} of {} held on every history</h3>\
         <table><tr><th>the brief says</th><th>verdict</th><th>points</th></tr>",
        rows.len()
    );
    for c in rows {
        let _ = writeln!(
            out,
            "<tr><td class=\"req\">{}</td><td class=\"{}\">{}</td><td>{}/{}</td></tr>",
            esc(super::requirements::sentence(&c.description)),
            status_class(c.status),
            status_label(c.status),
            c.points,
            c.max_points
        );
    }
    let _ = writeln!(out, "</table></div>");
}

fn render_checks_table(out: &mut String, ex: &ExerciseReport) {
    let _ = writeln!(
        out,
        "<details class=\"all-checks\"><summary>Every check ({})</summary><table>\
         <tr><th>check</th><th>targets</th><th>visibility</th><th>result</th><th>points</th></tr>",
        ex.checks.len()
    );
    for c in &ex.checks {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}/{}</td></tr>",
            esc(&c.id),
            match c.flaw.as_deref() {
                _ if c.requirement => "requirement of the brief".to_owned(),
                Some(f) => format!("flaw <code>{}</code>", esc(f)),
                None => "contract".to_owned(),
            },
            match c.visibility {
                crate::checks::Visibility::Public => "public",
                crate::checks::Visibility::Hidden => "hidden",
            },
            status_class(c.status),
            status_label(c.status),
            c.points,
            c.max_points
        );
    }
    let _ = writeln!(out, "</table></details>");
}

/// A failed check: what it judges, the broken requirements first, then the story.
fn render_failed(out: &mut String, c: &CheckReport) {
    let _ = writeln!(
        out,
        "<details class=\"check {}\" open id=\"check-{}\"><summary>{} <code>{}</code></summary>",
        status_class(c.status),
        esc(&c.id),
        status_label(c.status),
        esc(&c.id)
    );
    if c.requirement {
        let _ = writeln!(
            out,
            "<p class=\"req\">The brief: “{}” — judged on the history of every check.</p>",
            esc(super::requirements::sentence(&c.description))
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"mute\">{}</p>",
            esc(&super::markdown::first_sentence(&c.description))
        );
    }
    let (broken, story): (Vec<&Line>, Vec<&Line>) =
        c.evidence.iter().partition(|l| l.is_violation());
    if !broken.is_empty() {
        let _ = writeln!(
            out,
            "<ul class=\"evidence\">{}</ul>",
            broken
                .iter()
                .map(|l| format!("<li class=\"broken\">{}</li>", esc(&shown(l))))
                .collect::<String>()
        );
    }
    if !story.is_empty() {
        let _ = writeln!(
            out,
            "<details{}><summary>What happened ({} line(s))</summary><ul class=\"evidence\">{}</ul></details>",
            if broken.is_empty() { " open" } else { "" },
            story.len(),
            lines(story.iter().map(|l| l.as_str()))
        );
    }
    if let Some(timeline) = &c.timeline {
        render_timeline(out, timeline);
    }
    let _ = writeln!(out, "</details>");
}

/// Moments shown from the start of a timeline: the scene the failure happens in.
const SCENE: usize = 24;
/// Moments shown before each violation: what led to it.
const LEAD_UP: usize = 6;

/// A check's timeline as a sequence table: a column per actor, a row per moment, the
/// violations red. Long timelines show their start and what led to each violation,
/// with the moments between counted.
fn render_timeline(out: &mut String, t: &crate::checks::timeline::Recorded) {
    const ORDER: [&str; 9] = [
        "client", "service", "database", "provider", "risk", "pricing", "shipping", "harness",
        "judge",
    ];
    let mut lanes: Vec<&str> = ORDER
        .iter()
        .copied()
        .filter(|a| t.moments.iter().any(|m| m.actor == *a))
        .collect();
    for m in &t.moments {
        if !lanes.contains(&m.actor.as_str()) {
            lanes.push(&m.actor);
        }
    }
    let mut keep = vec![false; t.moments.len()];
    for (i, m) in t.moments.iter().enumerate() {
        if i < SCENE {
            keep[i] = true;
        }
        if m.violation {
            for k in keep.iter_mut().take(i + 1).skip(i.saturating_sub(LEAD_UP)) {
                *k = true;
            }
        }
    }
    let violations = t.moments.iter().filter(|m| m.violation).count();
    let _ = write!(
        out,
        "<details class=\"timeline\" open><summary>Timeline: {} moment(s){}, {} violation(s)</summary><table class=\"tl\"><tr><th>ms</th>{}</tr>",
        t.moments.len(),
        if t.left_out > 0 {
            format!(" (and {} more left out)", t.left_out)
        } else {
            String::new()
        },
        violations,
        lanes
            .iter()
            .map(|l| format!("<th>{}</th>", esc(l)))
            .collect::<String>()
    );
    let mut skipped = 0usize;
    for (m, kept) in t.moments.iter().zip(&keep) {
        if !kept {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            let _ = write!(
                out,
                "<tr class=\"gap\"><td></td><td colspan=\"{}\">… {skipped} moment(s) …</td></tr>",
                lanes.len()
            );
            skipped = 0;
        }
        let _ = write!(
            out,
            "<tr{}><td>{}</td>{}</tr>",
            if m.violation { " class=\"vio\"" } else { "" },
            m.at_ms,
            lanes
                .iter()
                .map(|l| if *l == m.actor {
                    format!(
                        "<td>{}{}</td>",
                        if m.violation { "✗ " } else { "" },
                        esc(&m.what)
                    )
                } else {
                    "<td></td>".to_owned()
                })
                .collect::<String>()
        );
    }
    if skipped > 0 {
        let _ = write!(
            out,
            "<tr class=\"gap\"><td></td><td colspan=\"{}\">… {skipped} moment(s) …</td></tr>",
            lanes.len()
        );
    }
    let _ = writeln!(out, "</table></details>");
}

fn render_designs(out: &mut String, ex: &ExerciseReport) {
    if ex.designs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<div class=\"card designs\"><h3>What the fix does</h3><p class=\"mute\">Recognised from what the checks observed, not from the code.</p><ul>"
    );
    for d in &ex.designs {
        let _ = writeln!(
            out,
            "<li>{}<ul class=\"evidence\">{}</ul></li>",
            esc(&d.text),
            lines(d.evidence.iter().map(String::as_str))
        );
    }
    let _ = writeln!(out, "</ul></div>");
}

fn render_followups(out: &mut String, ex: &ExerciseReport) {
    if ex.followups.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Follow-up questions</h3><p class=\"mute\">For the interviewer, picked by what the checks found.</p><ol class=\"followups\">"
    );
    for f in &ex.followups {
        let why = match (&f.flaw, f.fixed) {
            (Some(flaw), Some(true)) => format!("<code>{}</code> holds: past the fix", esc(flaw)),
            (Some(flaw), _) => format!("<code>{}</code> missed: toward the failure", esc(flaw)),
            (None, _) => f.design.as_ref().map_or_else(
                || "general".to_owned(),
                |d| format!("their design, <code>{}</code>", esc(d)),
            ),
        };
        let _ = writeln!(
            out,
            "<li><span class=\"mute\">({why})</span> {}<br><span class=\"mute\">A strong answer mentions:</span> {}</li>",
            esc(&f.ask),
            esc(&f.strong)
        );
    }
    let _ = writeln!(out, "</ol>");
}

/// Evidence lines as list items, each cut as every report cuts a long line.
fn lines<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    lines
        .map(|l| format!("<li>{}</li>", esc(&shown(l))))
        .collect()
}

fn shown(line: &str) -> String {
    cut(line).unwrap_or_else(|| line.to_owned())
}

fn status_class(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "fail",
        CheckStatus::Error => "error",
        CheckStatus::Skipped => "skipped",
    }
}

fn status_label(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✓ pass",
        CheckStatus::Fail => "✗ fail",
        CheckStatus::Error => "⚠ could not judge",
        CheckStatus::Skipped => "– skipped",
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// `s` as HTML text: every character that could open markup or end an attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than newline and tab have no place in text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_text_cannot_become_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{FFFD}b\nc");
    }
}
