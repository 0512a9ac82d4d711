//! Review notes: what the candidate *found*, graded apart from what they fixed.
//!
//! The candidate writes findings in `exercises/<id>/REVIEW.md`. The documented format
//! (see `docs/review-notes.md`) is one heading per finding with `file`, `lines` and
//! `category` fields and free text; the parser is lenient and also takes one-line
//! findings such as `- src/routes.rs:48-56 (concurrency): the lookup and insert race`,
//! because candidates write in a hurry and a grader that drops a real finding over
//! formatting is worse than useless. Findings are matched to the planted-flaw list by
//! file and overlapping lines (with a little slack); a finding that matches no planted
//! flaw is shown apart — it may be a real extra finding, worth an interviewer's read —
//! and one that points at a line listed as fine (a neutral line) costs a point.

use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Lines of slack when matching a finding's range to a planted flaw's.
const SLACK: usize = 3;

/// Most bytes of review notes read; notes are prose, and a larger file is refused
/// rather than read (a link to `/dev/zero` would otherwise exhaust memory).
pub const MAX_REVIEW_BYTES: u64 = 256 * 1024;

/// One finding the candidate wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The file named, as written (exercise-relative once normalised).
    pub file: String,
    /// First and last line named.
    pub lines: (usize, usize),
    /// The category named, if any.
    pub category: Option<String>,
    /// The candidate's own words.
    pub text: String,
}

/// A planted flaw (or a neutral line) from an exercise's `flaws.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Planted {
    pub id: String,
    #[serde(default)]
    pub category: String,
    pub file: String,
    pub lines: [usize; 2],
    #[serde(default)]
    pub explanation: String,
    /// Further places the same flaw shows (a flaw often spans a handler and a helper);
    /// a finding at any of them is credited to it.
    #[serde(default)]
    pub also: Vec<Place>,
}

/// A further place a planted flaw shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Place {
    pub file: String,
    pub lines: [usize; 2],
}

impl Planted {
    /// Every place the flaw shows: its main range first.
    fn places(&self) -> impl Iterator<Item = (&str, [usize; 2])> {
        std::iter::once((self.file.as_str(), self.lines))
            .chain(self.also.iter().map(|p| (p.file.as_str(), p.lines)))
    }
}

#[derive(Debug, Deserialize)]
struct FlawFile {
    #[serde(default)]
    flaw: Vec<Planted>,
    #[serde(default)]
    neutral: Vec<Planted>,
}

/// How a planted flaw fared in the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlawReview {
    /// Planted flaw id.
    pub flaw: String,
    /// Whether a finding pointed at it.
    pub found: bool,
    /// The candidate's words about it (every matching finding).
    pub words: Vec<String>,
}

/// The review-notes part of an exercise's grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    /// Whether a review file was handed in.
    pub submitted: bool,
    /// Why the review file was handed in but not read (a link, not a regular file, too
    /// large); its findings then count for nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Every planted flaw, found or missed, with the candidate's words.
    pub flaws: Vec<FlawReview>,
    /// Findings that match no planted flaw and no neutral line.
    pub extra: Vec<Finding>,
    /// Findings that flag a line the exercise lists as fine.
    pub neutral_flagged: Vec<Finding>,
    /// Points: one per planted flaw found, minus one per neutral line flagged.
    pub points: u32,
    /// One per planted flaw.
    pub max_points: u32,
}

/// Parses review notes leniently.
pub fn parse(text: &str) -> Vec<Finding> {
    // Either "path:12-20" / "path:12" / "path lines 12-20" / "path L12-L20" on one line...
    let inline = Regex::new(
        r"(?i)(?P<file>[A-Za-z0-9_./-]+\.(?:rs|toml|sql))\s*(?:[:#]|,?\s*lines?\s*|\s+L)\s*L?(?P<a>\d+)(?:\s*(?:-|–|\.\.|to)\s*L?(?P<b>\d+))?",
    )
    .expect("a valid literal regex");
    // ...or fields under a heading: "file: ...", "lines: 12-20", "category: ...".
    let field = Regex::new(r"(?i)^\s*[-*]?\s*\**(file|lines?|category)\**\s*:\s*(.+?)\s*$")
        .expect("a valid literal regex");
    let range =
        Regex::new(r"L?(\d+)(?:\s*(?:-|–|\.\.|to)\s*L?(\d+))?").expect("a valid literal regex");
    let category_inline =
        Regex::new(r"[\(\[]\s*([A-Za-z][A-Za-z -]{2,30})\s*[\)\]]").expect("a valid literal regex");

    let mut findings = Vec::new();
    // Blocks: a heading starts one; a list item at top level starts one too.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let item = line.starts_with("- ")
            || line.starts_with("* ")
            || line.chars().next().is_some_and(|c| c.is_ascii_digit()) && line.contains(". ");
        // A field line ("- file: ...") belongs to the finding above it.
        let starts = line.starts_with('#') || item && !field.is_match(line);
        if starts || blocks.is_empty() {
            blocks.push(vec![line]);
        } else if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    for block in blocks {
        let joined = block.join("\n");
        let mut file = None;
        let mut lines = None;
        let mut category = None;
        for line in &block {
            if let Some(c) = field.captures(line) {
                let value = c[2].trim().trim_matches('`').to_owned();
                match c[1].to_ascii_lowercase().as_str() {
                    "file" => {
                        // "file: src/x.rs:10-20" carries the lines too.
                        if let Some(m) = inline.captures(&value) {
                            file = Some(m["file"].to_owned());
                            lines = Some(span(&m));
                        } else {
                            file = Some(value);
                        }
                    }
                    "category" => category = Some(value),
                    _ => {
                        if let Some(r) = range.captures(&value) {
                            let a: usize = r[1].parse().unwrap_or(0);
                            let b: usize =
                                r.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(a);
                            lines = Some((a.min(b), a.max(b)));
                        }
                    }
                }
            }
        }
        if (file.is_none() || lines.is_none())
            && let Some(m) = inline.captures(&joined)
        {
            file.get_or_insert_with(|| m["file"].to_owned());
            lines.get_or_insert_with(|| span(&m));
        }
        if category.is_none() {
            category = category_inline
                .captures(&joined)
                .map(|c| c[1].trim().to_owned());
        }
        if let (Some(file), Some(lines)) = (file, lines) {
            findings.push(Finding {
                file: normalise(&file),
                lines,
                category,
                text: joined.trim().to_owned(),
            });
        }
    }
    findings
}

/// The candidate's prose: the finding without its heading marks and field lines.
fn prose(text: &str) -> String {
    let fields = ["file:", "lines:", "line:", "category:"];
    text.lines()
        .map(|l| l.trim().trim_start_matches(['#', '-', '*']).trim())
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            !l.is_empty()
                && !fields
                    .iter()
                    .any(|f| lower.trim_start_matches('*').starts_with(f))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn span(m: &regex::Captures<'_>) -> (usize, usize) {
    let a: usize = m["a"].parse().unwrap_or(0);
    let b: usize = m
        .name("b")
        .and_then(|b| b.as_str().parse().ok())
        .unwrap_or(a);
    (a.min(b), a.max(b))
}

/// `exercises/charge/src/x.rs`, `charge/src/x.rs`, `./src/x.rs` → `src/x.rs`.
fn normalise(file: &str) -> String {
    let file = file.trim().trim_matches('`').trim_start_matches("./");
    match file.find("src/") {
        Some(i) => file[i..].to_owned(),
        None => file.rsplit('/').next().unwrap_or(file).to_owned(),
    }
}

/// How well a finding matches a planted flaw it overlaps: the share of lines in
/// common, plus the category named, plus words shared with the flaw's explanation.
/// Planted flaws often sit on neighbouring lines; each finding is credited to the one
/// it matches best, so one broad finding does not collect several flaws.
fn affinity(f: &Finding, p: &Planted) -> f64 {
    let (a, b) = f.lines;
    let share = p
        .places()
        .filter(|(file, lines)| overlaps_place(f, file, *lines))
        .map(|(_, lines)| {
            let common = (b.min(lines[1]) + 1).saturating_sub(a.max(lines[0])) as f64;
            let union = (b.max(lines[1]) + 1 - a.min(lines[0])) as f64;
            common / union
        })
        .fold(0.0, f64::max);
    let category = f
        .category
        .as_deref()
        .is_some_and(|c| !p.category.is_empty() && c.eq_ignore_ascii_case(&p.category));
    let words = |t: &str| -> std::collections::BTreeSet<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() >= 4)
            .map(str::to_lowercase)
            .collect()
    };
    let (mine, theirs) = (words(&f.text), words(&p.explanation));
    let shared = mine.intersection(&theirs).count() as f64;
    let jaccard = if mine.is_empty() {
        0.0
    } else {
        shared / (mine.len().min(theirs.len()).max(1)) as f64
    };
    share + if category { 0.5 } else { 0.0 } + jaccard
}

fn overlaps(f: &Finding, p: &Planted) -> bool {
    p.places()
        .any(|(file, lines)| overlaps_place(f, file, lines))
}

fn overlaps_place(f: &Finding, file: &str, lines: [usize; 2]) -> bool {
    let same_file = f.file == file || file.ends_with(&f.file) && !f.file.is_empty();
    let (a, b) = f.lines;
    same_file && a <= lines[1] + SLACK && lines[0] <= b + SLACK
}

/// The review notes in `exercise_dir`, read only when `REVIEW.md` is a regular file no
/// larger than [`MAX_REVIEW_BYTES`] and neither it nor the two directories above it
/// (`exercises/<id>`) is a link: `Ok(None)` when there is none, `Err` with a one-line
/// reason when there is one that is refused.
///
/// The file is looked at with `lstat`, opened with `O_NOFOLLOW | O_NONBLOCK` (a link
/// swapped in fails, a FIFO does not block), checked again with `fstat` on the open
/// file, and read through a bound, so a file that grows meanwhile is still refused.
pub fn read_review(exercise_dir: &Path) -> Result<Option<String>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let path = exercise_dir.join("REVIEW.md");
    for dir in [Some(exercise_dir), exercise_dir.parent()]
        .into_iter()
        .flatten()
    {
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            let name = dir.file_name().unwrap_or(dir.as_os_str()).to_string_lossy();
            return Err(format!(
                "`{}` is a symbolic link: review notes are read only from the submission itself",
                name.escape_debug()
            ));
        }
    }
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("REVIEW.md cannot be read: {e}")),
    };
    let not_regular = |kind: std::fs::FileType| {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        format!("REVIEW.md is {what}: only a regular file is read")
    };
    if !meta.file_type().is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let too_large = |len: u64| {
        format!(
            "REVIEW.md is {len} bytes, over the {} KiB read for review notes",
            MAX_REVIEW_BYTES / 1024
        )
    };
    if meta.len() > MAX_REVIEW_BYTES {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| format!("REVIEW.md cannot be opened: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("REVIEW.md cannot be read: {e}"))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(meta.file_type()));
    }
    if meta.len() > MAX_REVIEW_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_REVIEW_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("REVIEW.md cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_REVIEW_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Grades the review notes of the exercise at `exercise_dir` in a submission against
/// the planted-flaw list at `flaws_toml` (the grader's copy).
pub fn grade(submission_exercise_dir: &Path, flaws_toml: &Path) -> Option<ReviewReport> {
    let list: FlawFile = toml::from_str(&std::fs::read_to_string(flaws_toml).ok()?).ok()?;
    let (review, refused) = match read_review(submission_exercise_dir) {
        Ok(review) => (review, None),
        Err(reason) => (None, Some(reason)),
    };
    let findings = review.as_deref().map(parse).unwrap_or_default();
    // Each finding goes to the planted flaw it matches best.
    let best: Vec<Option<usize>> = findings
        .iter()
        .map(|f| {
            list.flaw
                .iter()
                .enumerate()
                .filter(|(_, p)| overlaps(f, p))
                .max_by(|(_, x), (_, y)| affinity(f, x).total_cmp(&affinity(f, y)))
                .map(|(i, _)| i)
        })
        .collect();
    let mut flaws = Vec::new();
    for (i, p) in list.flaw.iter().enumerate() {
        let words: Vec<String> = findings
            .iter()
            .zip(&best)
            .filter(|(_, b)| **b == Some(i))
            .map(|(f, _)| prose(&f.text))
            .collect();
        flaws.push(FlawReview {
            flaw: p.id.clone(),
            found: !words.is_empty(),
            words,
        });
    }
    let mut extra = Vec::new();
    let mut neutral_flagged = Vec::new();
    for f in &findings {
        if list.flaw.iter().any(|p| overlaps(f, p)) {
            continue;
        }
        if list.neutral.iter().any(|p| overlaps(f, p)) {
            neutral_flagged.push(f.clone());
        } else {
            extra.push(f.clone());
        }
    }
    let found = flaws.iter().filter(|f| f.found).count() as u32;
    Some(ReviewReport {
        submitted: review.is_some() || refused.is_some(),
        refused,
        points: found.saturating_sub(neutral_flagged.len() as u32),
        max_points: list.flaw.len() as u32,
        flaws,
        extra,
        neutral_flagged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_and_hurried_formats_both_parse() {
        let notes = "\
# Review of charge

## Finding 1: duplicate charges
- file: `exercises/charge/src/routes.rs`
- lines: 48-56
- category: concurrency

The lookup and the insert are separate.

## Finding 2
File: src/provider.rs:59–70 (idempotency) no key is sent to the provider.

- src/store.rs:12 [schema] the index is not unique
- Looks good otherwise.
";
        let found = parse(notes);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(found[0].file, "src/routes.rs");
        assert_eq!(found[0].lines, (48, 56));
        assert_eq!(found[0].category.as_deref(), Some("concurrency"));
        assert!(found[0].text.contains("separate"));
        assert_eq!(
            (found[1].file.as_str(), found[1].lines),
            ("src/provider.rs", (59, 70))
        );
        assert_eq!(found[2].lines, (12, 12));
        assert_eq!(found[2].category.as_deref(), Some("schema"));
    }

    #[test]
    fn only_a_small_regular_review_file_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ex = dir.path().join("exercises/charge");
        std::fs::create_dir_all(&ex).expect("mkdir");
        assert_eq!(read_review(&ex), Ok(None));
        std::fs::write(ex.join("REVIEW.md"), "- src/routes.rs:48 race\n").expect("write");
        assert_eq!(
            read_review(&ex),
            Ok(Some("- src/routes.rs:48 race\n".to_owned()))
        );
        std::fs::write(
            ex.join("REVIEW.md"),
            vec![b'x'; MAX_REVIEW_BYTES as usize + 1],
        )
        .expect("write");
        let reason = read_review(&ex).expect_err("too large");
        assert!(reason.contains("over the 256 KiB"), "{reason}");

        std::fs::remove_file(ex.join("REVIEW.md")).expect("rm");
        std::os::unix::fs::symlink("/dev/zero", ex.join("REVIEW.md")).expect("symlink");
        let reason = read_review(&ex).expect_err("a link");
        assert!(reason.contains("symbolic link"), "{reason}");

        std::fs::remove_file(ex.join("REVIEW.md")).expect("rm");
        nix::unistd::mkfifo(&ex.join("REVIEW.md"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let reason = read_review(&ex).expect_err("a FIFO");
        assert!(reason.contains("FIFO"), "{reason}");
    }

    #[test]
    fn findings_match_planted_flaws_by_file_and_overlap() {
        let p = Planted {
            id: "x".into(),
            category: String::new(),
            file: "src/routes.rs".into(),
            lines: [48, 56],
            explanation: String::new(),
            also: vec![Place {
                file: "src/store.rs".into(),
                lines: [20, 22],
            }],
        };
        let f = |file: &str, a, b| Finding {
            file: file.into(),
            lines: (a, b),
            category: None,
            text: String::new(),
        };
        assert!(overlaps(&f("src/routes.rs", 50, 50), &p));
        assert!(overlaps(&f("src/routes.rs", 57, 60), &p));
        assert!(!overlaps(&f("src/routes.rs", 70, 80), &p));
        assert!(!overlaps(&f("src/store.rs", 48, 56), &p));
        assert!(
            overlaps(&f("src/store.rs", 21, 21), &p),
            "a further place counts"
        );
    }
}
