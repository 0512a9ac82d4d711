//! The Markdown report an interviewer reads: a summary table, then the evidence of
//! every check that did not pass.
//!
//! Much of what the report shows comes from the submission: evidence quotes response
//! bodies and log tails, build logs quote the candidate's code, review findings are the
//! candidate's words, and paths and the submission's name are theirs too. None of it
//! may change the report's structure — open a code fence, start a heading, a table or
//! an HTML element such as `<details>`, or redraw a terminal — or a submission could
//! hide or rewrite what the interviewer reads about it. So every such string passes
//! through one of three helpers: [`text`] for a line of prose (Markdown's block
//! openers escaped at line start, raw HTML, links and table pipes escaped anywhere),
//! [`code_span`] for a name shown as code, [`fenced`] for a block of raw text (a fence
//! longer than any backtick run inside). All three replace control characters (ANSI
//! escapes) and bidirectional overrides with U+FFFD. The harness's own words (check
//! descriptions, ids, flaw names) are written as Markdown.

use std::fmt::Write;

use super::{BuildStatus, CheckStatus, Report};
use crate::checks::Visibility;
use crate::checks::evidence::{Line, cut};

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
    let _ = writeln!(out, "Submission: {}\n", text(&sub.source));
    if sub.ignored_total > 0 {
        let _ = writeln!(
            out,
            "**{} submitted path(s) were ignored** (not candidate-owned, and not the grader's copy):\n",
            sub.ignored_total
        );
        for path in &sub.ignored {
            let _ = writeln!(out, "- {}", code_span(path));
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
                    "{}\n",
                    fenced(ex.build.log.as_deref().unwrap_or(""), "text")
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
                match c.flaw.as_deref() {
                    _ if c.requirement => "requirement of the brief".to_owned(),
                    Some(f) => format!("flaw `{f}`"),
                    None => "contract".to_owned(),
                },
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
        render_designs(&mut out, &ex.designs);
        render_followups(&mut out, &ex.followups);
        for c in ex
            .checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
        {
            let _ = writeln!(out, "### {} `{}`\n", status_label(c.status), c.id);
            if c.requirement {
                let _ = writeln!(
                    out,
                    "_The brief: “{}” — judged on the history of every check._\n",
                    text(super::requirements::sentence(&c.description))
                );
            } else {
                let _ = writeln!(out, "_{}_\n", first_sentence(&c.description));
            }
            render_check_evidence(&mut out, &c.evidence);
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

/// The questions for the interview that follows, each with why it was picked and what
/// a strong answer mentions.
fn render_designs(out: &mut String, designs: &[crate::report::designs::RecognisedDesign]) {
    if designs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "**What the fix does** — recognised from what the checks observed, not from the code:\n"
    );
    for d in designs {
        let _ = writeln!(
            out,
            "- {} _({})_",
            escape_line(&d.text),
            escape_line(d.evidence.first().map_or("", String::as_str))
        );
    }
    let _ = writeln!(out);
}

fn render_followups(out: &mut String, followups: &[crate::report::followups::FollowUp]) {
    if followups.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "**Follow-up questions** — for the interviewer, picked by what the checks found:\n"
    );
    for (n, f) in followups.iter().enumerate() {
        let why = match (&f.flaw, f.fixed) {
            (Some(flaw), Some(true)) => format!("`{flaw}` holds: past the fix"),
            (Some(flaw), _) => format!("`{flaw}` missed: toward the failure"),
            (None, _) => f.design.as_ref().map_or_else(
                || "general".to_owned(),
                |d| format!("their design, `{}`", escape_line(d)),
            ),
        };
        let _ = writeln!(
            out,
            "{}. ({why}) {}\n   — a strong answer mentions: {}",
            n + 1,
            escape_line(&f.ask),
            escape_line(&f.strong)
        );
    }
    let _ = writeln!(out);
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
    if let Some(reason) = &review.refused {
        let _ = writeln!(out, "Review notes refused: {}\n", text(reason));
        return;
    }
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
            .map(|w| text(&clip(w, 200)))
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
                "- {}: {}",
                code_span(&format!("{}:{}-{}", f.file, f.lines.0, f.lines.1)),
                text(&clip(&f.text, 200))
            );
        }
        let _ = writeln!(out);
    }
}

/// Longest description a failed check's section shows: its first sentence, which says
/// what the check does; the rest is in the JSON report and `harness list`.
const DESCRIPTION_SHOWN: usize = 200;

/// The first sentence of `text` (to its first `. `), cut at [`DESCRIPTION_SHOWN`]
/// characters on a space, with `…` where anything was left out.
pub(crate) fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    let sentence = &text[..end];
    let cut_at = sentence
        .char_indices()
        .nth(DESCRIPTION_SHOWN)
        .map(|(i, _)| sentence[..i].rfind(' ').unwrap_or(i));
    match cut_at {
        Some(i) => format!("{} …", &sentence[..i]),
        None if end < text.len() => format!("{sentence} …"),
        None => sentence.to_owned(),
    }
}

/// At most this many broken requirements (`✗` lines, told once each) are shown per check.
const BROKEN_SHOWN: usize = 3;

/// Characters of evidence shown per check, its broken requirements included: the story
/// is shown from its start until the next line would not fit.
const EVIDENCE_BUDGET: usize = 600;

/// A failed check's evidence as an interviewer needs it: the broken requirements first
/// (a repeated one told once), then the story from its start (less the lines a shown
/// requirement already quotes, such as the exchange that broke it), within
/// [`EVIDENCE_BUDGET`], each line cut at
/// [`MAX_LINE_CHARS`](crate::checks::evidence::MAX_LINE_CHARS); what is left out is
/// counted and left to the JSON report, which holds every line whole. A check that
/// names no broken requirement (its service did not start, the harness could not judge)
/// shows at least the first line of its story.
fn render_check_evidence(out: &mut String, evidence: &[Line]) {
    let shown = |line: &Line| cut(line).unwrap_or_else(|| line.to_string());
    let mut broken: Vec<&Line> = Vec::new();
    for line in evidence.iter().filter(|l| l.is_violation()) {
        if !broken.contains(&line) {
            broken.push(line);
        }
    }
    let broken_shown: Vec<String> = broken.iter().take(BROKEN_SHOWN).map(|l| shown(l)).collect();
    let mut used = 0;
    for line in &broken_shown {
        used += line.chars().count();
        render_evidence(out, line);
    }
    // A story line a shown broken requirement already quotes whole is not told twice.
    let quoted = |line: &Line| {
        broken_shown
            .iter()
            .any(|b| b.len() > line.len() && b.contains(line.as_str()))
    };
    let story: Vec<&Line> = evidence
        .iter()
        .filter(|l| !l.is_violation() && !quoted(l))
        .collect();
    let mut told = 0;
    for line in &story {
        let line = shown(line);
        let size = line.chars().count();
        if (told > 0 || !broken.is_empty()) && used + size > EVIDENCE_BUDGET {
            break;
        }
        used += size;
        told += 1;
        render_evidence(out, &line);
    }
    let more_broken = broken.len().saturating_sub(BROKEN_SHOWN);
    let more_story = story.len() - told;
    let left_out = match (more_broken, more_story) {
        (0, 0) => return,
        (0, s) => format!("{s} more line(s) of evidence"),
        (b, 0) => format!("{b} more broken requirement(s)"),
        (b, s) => format!("{b} more broken requirement(s) and {s} more line(s) of evidence"),
    };
    let _ = writeln!(out, "- … and {left_out} in the JSON report.");
}

/// One evidence entry as a list item: its first line after the marker, further lines
/// indented under it, so nothing in it can leave the item.
fn render_evidence(out: &mut String, entry: &str) {
    let mut lines = split_lines(entry);
    if let Some(first) = lines.next() {
        let _ = writeln!(out, "- {}", escape_line(first));
    }
    for more in lines {
        let _ = writeln!(out, "  {}", escape_line(more));
    }
}

/// Text a submission can influence, as one line of Markdown prose that renders as the
/// text itself: line breaks become spaces, and nothing in it opens a block, raw HTML, a
/// link or image, or a table cell.
pub fn text(s: &str) -> String {
    escape_line(&split_lines(s).collect::<Vec<_>>().join(" "))
}

/// `s` as inline code, whatever backticks it holds (the delimiter is longer than any
/// run inside; inside a code span nothing is markup).
pub fn code_span(s: &str) -> String {
    let s = split_lines(s).collect::<Vec<_>>().join(" ");
    let s = sanitise(&s);
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// `s` as a fenced code block with info string `info`: the fence is longer than any
/// backtick run in `s`, so no line of it can close the block early.
pub fn fenced(s: &str, info: &str) -> String {
    let s = sanitise_block(s);
    let fence = "`".repeat((longest_run(&s, '`') + 1).max(3));
    format!("{fence}{info}\n{s}\n{fence}")
}

/// Lines split like [`str::lines`], and also at a lone `\r` (CommonMark ends a line
/// there too).
fn split_lines(s: &str) -> impl Iterator<Item = &str> {
    s.lines().flat_map(|l| l.split('\r'))
}

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// Control characters (ANSI escapes would redraw a terminal showing the raw report)
/// and bidirectional overrides (which reorder what is shown) become U+FFFD; tabs stay.
fn sanitise(s: &str) -> String {
    s.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if (c.is_control() && c != '\t') || bidi {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// [`sanitise`] for a block: line breaks normalised to `\n` and kept.
fn sanitise_block(s: &str) -> String {
    split_lines(s).map(sanitise).collect::<Vec<_>>().join("\n")
}

/// One line of prose made inert: backslashes doubled (so none can undo an escape), a
/// block opener at the start escaped (`#`, `>`, bullets, `=`/`-` underlines and
/// breaks, fences, the `[` of a link definition), and anywhere `<` before a tag, comment
/// or autolink, `](` of a link or image, and `|`.
fn escape_line(line: &str) -> String {
    let line = sanitise(line);
    let mut out = String::with_capacity(line.len() + 8);
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let (lead, rest) = line.split_at(indent);
    out.push_str(lead);
    let mut chars = rest.chars().peekable();
    // A block opener at the start of the line. (`|` and `\` are escaped wherever they
    // stand, below. An ordered-list number is left alone: a list nested in an item stays
    // in it, and the harness numbers its own histories that way.)
    if let Some(&first) = chars.peek() {
        let definition = first == '[' && rest.contains("]:");
        if "#>-+*=_~`".contains(first) || definition {
            out.push('\\');
        }
    }
    let mut previous = None;
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '<' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || "/!?".contains(*n)) =>
            {
                out.push_str("\\<");
            }
            '(' if previous == Some(']') => out.push_str("\\("),
            _ => out.push(c),
        }
        previous = Some(c);
    }
    out
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

#[cfg(test)]
mod tests {

    #[test]
    fn a_description_is_cut_to_its_first_sentence() {
        assert_eq!(
            first_sentence("Sends two requests. Then a third."),
            "Sends two requests. …"
        );
        assert_eq!(
            first_sentence("Seeded schedules: every quote in time"),
            "Seeded schedules: every quote in time"
        );
        assert_eq!(first_sentence("One sentence only."), "One sentence only.");
        let long = "word ".repeat(100);
        let shown = first_sentence(&long);
        assert!(shown.chars().count() <= DESCRIPTION_SHOWN + 2, "{shown}");
        assert!(shown.ends_with(" …"), "{shown}");
    }

    use super::*;

    #[test]
    fn prose_cannot_open_blocks_html_links_or_cells() {
        assert_eq!(escape_line("# heading"), "\\# heading");
        assert_eq!(escape_line("   ```rust"), "   \\```rust");
        assert_eq!(escape_line("~~~"), "\\~~~");
        assert_eq!(escape_line("> quote"), "\\> quote");
        assert_eq!(escape_line("---"), "\\---");
        assert_eq!(escape_line("  1. step"), "  1. step");
        assert_eq!(escape_line("[x]: http://evil"), "\\[x]: http://evil");
        assert_eq!(escape_line("[note] plain"), "[note] plain");
        assert_eq!(
            escape_line("a </details><img src=x> b"),
            "a \\</details>\\<img src=x> b"
        );
        assert_eq!(
            escape_line("![t](http://x/t.png)"),
            "![t]\\(http://x/t.png)"
        );
        assert_eq!(escape_line("a | b"), "a \\| b");
        assert_eq!(escape_line("\\<b>"), "\\\\\\<b>");
        assert_eq!(escape_line("x < y && y > z"), "x < y && y > z");
        assert_eq!(escape_line("\u{1b}[2J\u{202E}x"), "\u{FFFD}[2J\u{FFFD}x");
        assert_eq!(text("one\r# two\nthree"), "one # two three");
    }

    #[test]
    fn code_spans_and_fences_outlast_backticks_inside() {
        assert_eq!(code_span("src/a.rs"), "`src/a.rs`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
        let block = fenced("fine\n```\n# not a heading\n````", "text");
        assert!(block.starts_with("`````text\n"), "{block}");
        assert!(block.ends_with("\n`````"), "{block}");
    }

    /// Evidence as a report's text form writes it: a violation marked.
    fn read(lines: Vec<String>) -> Vec<Line> {
        lines.into_iter().map(Line::read).collect()
    }

    #[test]
    fn broken_requirements_come_first_once_each_and_the_rest_is_counted() {
        let mut evidence: Vec<String> = vec!["Pricing answers 503 to every call.".to_owned()];
        for i in 0..5 {
            evidence.push(format!("✗ Requirement {i} is broken."));
            evidence.push("✗ Requirement 0 is broken.".to_owned());
        }
        evidence.push("GET /quotes/SKU-1 → 503".to_owned());
        evidence.extend((0..20).map(|i| format!("Pricing call {i}: {}", "x".repeat(150))));
        let mut out = String::new();
        render_check_evidence(&mut out, &read(evidence));
        let items: Vec<&str> = out.lines().collect();
        assert_eq!(
            items[..5],
            [
                "- ✗ Requirement 0 is broken.",
                "- ✗ Requirement 1 is broken.",
                "- ✗ Requirement 2 is broken.",
                "- Pricing answers 503 to every call.",
                "- GET /quotes/SKU-1 → 503",
            ],
            "{out}"
        );
        let story_shown = items.len() - 3 - 1;
        assert!((2..22).contains(&story_shown), "{out}");
        let shown: usize = items[..items.len() - 1]
            .iter()
            .map(|l| l.chars().count() - 2)
            .sum();
        assert!(shown <= EVIDENCE_BUDGET, "{shown}: {out}");
        assert_eq!(
            items[items.len() - 1],
            format!(
                "- … and 2 more broken requirement(s) and {} more line(s) of evidence in the JSON report.",
                22 - story_shown
            ),
            "{out}"
        );
    }

    #[test]
    fn an_exchange_a_broken_requirement_quotes_is_not_told_again() {
        let x = "GET /quotes/SKU-1?qty=2 → no response (timed out after 4.0s) (4000 ms)";
        let evidence = vec![
            format!("✗ A quote must be answered within 2 s: {x}"),
            "Pricing hangs.".to_owned(),
            x.to_owned(),
        ];
        let mut out = String::new();
        render_check_evidence(&mut out, &read(evidence));
        assert_eq!(
            out,
            format!("- ✗ A quote must be answered within 2 s: {x}\n- Pricing hangs.\n")
        );
    }

    #[test]
    fn a_story_without_broken_requirements_shows_at_least_its_first_line_cut() {
        let log = format!(
            "Its log ends with:\n{}\npanicked at src/main.rs",
            "y".repeat(3_000)
        );
        let evidence = vec![log, "The service did not start.".to_owned()];
        let mut out = String::new();
        render_check_evidence(&mut out, &read(evidence));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "- Its log ends with:");
        assert!(
            lines[1].ends_with(" … (2500 more characters; full text in the JSON report)"),
            "{out}"
        );
        assert_eq!(lines[2], "  panicked at src/main.rs");
        assert_eq!(
            lines[3],
            "- … and 1 more line(s) of evidence in the JSON report."
        );
    }

    #[test]
    fn evidence_lines_stay_inside_their_item() {
        let mut out = String::new();
        render_evidence(
            &mut out,
            "body: ```\n</details>\n# Grade report\n\n- 10 / 10 points",
        );
        assert_eq!(
            out,
            "- body: ```\n  \\</details>\n  \\# Grade report\n  \n  \\- 10 / 10 points\n"
        );
    }
}
