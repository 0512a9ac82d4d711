//! The Markdown report an interviewer reads: a summary table, then the evidence of
//! every check that did not pass.

use std::fmt::Write;

use super::{BuildStatus, CheckStatus, Report};
use crate::checks::Visibility;

/// Renders `report`. With `timings` false the output holds no durations and no
/// machine-specific isolation details, so it is stable across runs (snapshots).
pub fn render(report: &Report, timings: bool) -> String {
    let mut out = String::new();
    let (pass, fail, error, skipped) = report.tally();
    let _ = writeln!(out, "# Grade report\n");
    let _ = write!(
        out,
        "**{} / {} points** · {pass} passed · {fail} failed",
        report.points, report.max_points
    );
    if error > 0 {
        let _ = write!(out, " · {error} could not be judged");
    }
    if skipped > 0 {
        let _ = write!(out, " · {skipped} skipped");
    }
    let _ = writeln!(out, " · seed `{}`\n", report.seed);
    let sub = &report.submission;
    let _ = writeln!(out, "Submission: {}\n", sub.source);
    if sub.ignored_total > 0 {
        let _ = writeln!(
            out,
            "**{} submitted path(s) were ignored** (not candidate-owned, and not the grader's copy):\n",
            sub.ignored_total
        );
        for path in &sub.ignored {
            let _ = writeln!(out, "- `{path}`");
        }
        if sub.ignored_total > sub.ignored.len() {
            let _ = writeln!(
                out,
                "- … and {} more",
                sub.ignored_total - sub.ignored.len()
            );
        }
        let _ = writeln!(out);
    }
    if timings {
        let iso = &sub.isolation;
        let _ = writeln!(
            out,
            "Isolation: network — {}; files — {}; user — {}; limits — {}.\n",
            iso.network, iso.filesystem, iso.user, iso.limits
        );
    }

    for ex in &report.exercises {
        let _ = writeln!(
            out,
            "## `{}` — {} / {} points\n",
            ex.id, ex.points, ex.max_points
        );
        match ex.build.status {
            BuildStatus::Ok if timings => {
                let _ = writeln!(out, "Build: ok ({} ms)\n", ex.build.duration_ms);
            }
            BuildStatus::Ok => {
                let _ = writeln!(out, "Build: ok\n");
            }
            BuildStatus::Failed => {
                let _ = writeln!(out, "Build: **failed** — no check could run.\n");
                let _ = writeln!(
                    out,
                    "```text\n{}\n```\n",
                    ex.build.log.as_deref().unwrap_or("")
                );
            }
        }
        let _ = writeln!(out, "| check | targets | visibility | result | points |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in &ex.checks {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {}/{} |",
                c.id,
                c.flaw
                    .as_deref()
                    .map_or("contract".to_owned(), |f| format!("flaw `{f}`")),
                match c.visibility {
                    Visibility::Public => "public",
                    Visibility::Hidden => "hidden",
                },
                status_label(c.status),
                c.points,
                c.max_points
            );
        }
        let _ = writeln!(out);
        render_flaws(&mut out, &ex.flaws);
        if let Some(review) = &ex.review {
            render_review(&mut out, &ex.id, review);
        }
        for c in ex
            .checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
        {
            let _ = writeln!(out, "### {} `{}`\n", status_label(c.status), c.id);
            let _ = writeln!(out, "_{}_\n", c.description);
            for line in &c.evidence {
                let mut lines = line.lines();
                if let Some(first) = lines.next() {
                    let _ = writeln!(out, "- {first}");
                }
                for more in lines {
                    let _ = writeln!(out, "  {more}");
                }
            }
            let _ = writeln!(out);
        }
    }
    out
}

/// Per planted flaw: fixed only when every check targeting it passed — the partial
/// credit an interviewer reads first when an exercise carries several flaws.
fn render_flaws(out: &mut String, flaws: &[super::FlawVerdict]) {
    if flaws.is_empty() {
        return;
    }
    let fixed = flaws.iter().filter(|f| f.fixed).count();
    let _ = writeln!(
        out,
        "**Planted flaws fixed: {fixed} of {}** — {}\n",
        flaws.len(),
        flaws
            .iter()
            .map(|f| format!(
                "`{}` {} ({}/{} checks, {}/{} points)",
                f.flaw,
                if f.fixed {
                    "✓ fixed"
                } else {
                    "✗ not fixed"
                },
                f.checks_passed,
                f.checks,
                f.points,
                f.max_points
            ))
            .collect::<Vec<_>>()
            .join(" · ")
    );
}

/// The review-notes part: each planted flaw found or missed, in the candidate's words;
/// findings outside the planted list apart, neutral lines flagged apart.
fn render_review(out: &mut String, exercise: &str, review: &crate::review::ReviewReport) {
    let found = review.flaws.iter().filter(|f| f.found).count();
    let _ = writeln!(
        out,
        "**Review notes: {} / {} points** — found {found} of {} planted flaws{}.\n",
        review.points,
        review.max_points,
        review.flaws.len(),
        if review.neutral_flagged.is_empty() {
            String::new()
        } else {
            format!(
                ", flagged {} line(s) that are fine",
                review.neutral_flagged.len()
            )
        }
    );
    if !review.submitted {
        let _ = writeln!(
            out,
            "No review notes handed in (`exercises/{exercise}/REVIEW.md`).\n"
        );
        return;
    }
    let _ = writeln!(out, "| planted flaw | found | the candidate's words |");
    let _ = writeln!(out, "|---|---|---|");
    for f in &review.flaws {
        let words = f
            .words
            .iter()
            .map(|w| clip(&w.replace('\n', " ").replace('|', "\\|"), 200))
            .collect::<Vec<_>>()
            .join(" / ");
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            f.flaw,
            if f.found { "✓" } else { "✗" },
            if words.is_empty() {
                "—".to_owned()
            } else {
                words
            }
        );
    }
    let _ = writeln!(out);
    for (title, list) in [
        (
            "Findings outside the planted flaws (read them: some may be real)",
            &review.extra,
        ),
        (
            "Lines flagged that are fine (neutral lines)",
            &review.neutral_flagged,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:\n");
        for f in list {
            let _ = writeln!(
                out,
                "- `{}:{}-{}`: {}",
                f.file,
                f.lines.0,
                f.lines.1,
                clip(&f.text.replace('\n', " "), 200)
            );
        }
        let _ = writeln!(out);
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

fn status_label(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✓ pass",
        CheckStatus::Fail => "✗ fail",
        CheckStatus::Error => "⚠ error",
        CheckStatus::Skipped => "– skipped",
    }
}
