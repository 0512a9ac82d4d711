//! Review notes: what the candidate *found*, graded apart from what they fixed.
//!
//! The candidate writes findings in `exercises/<id>/REVIEW.md`. The documented format
//! (see `docs/review-notes.md`) is one heading per finding with `file`, `lines` and
//! `category` fields and free text; the parser is lenient and also takes one-line
//! findings such as `- src/routes.rs:48-56 (concurrency): the lookup and insert race`,
//! because candidates write in a hurry and a grader that drops a real finding over
//! formatting is worse than useless.
//!
//! A finding is credited for what it *finds*, not for what it covers. It is credited to
//! a planted flaw only when both hold:
//!
//! - **it points at the flaw's place**: the same file, lines overlapping the flaw's (or
//!   one of its further places, with a little slack), and a span about the place's own
//!   size ([`allowed_span`]) — a whole file overlaps every flaw in it and finds none;
//! - **it says something specific to the flaw**: its own words name at least one of the
//!   concepts the flaw's list gives (`concepts` in `flaws.toml`: what a real finding
//!   about it names, synonyms included), compared word by word after lowercasing and
//!   stemming. The category tag and file names do not count, and a concept made only of
//!   words that fit any flaw ([`GENERIC_WORDS`]) is ignored.
//!
//! Findings are assigned so that as many planted flaws as possible are credited, each
//! finding to one flaw at most (one broad finding never collects several). A finding
//! that points at a line listed as fine (a neutral line) and is credited to no flaw costs
//! a point. Over-flagging costs too: findings credited to nothing are free up to one per
//! planted flaw plus [`FREE_EXTRA_FINDINGS`], and every one beyond costs a point — so a
//! finding for every category on every file scores nothing. Every finding carries its
//! verdict (credited or not, and why) so an interviewer can see how the score came about.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Lines of slack when matching a finding's range to a planted flaw's: line numbers
/// written while editing the code drift by a line or two.
const SLACK: usize = 3;

/// Findings credited to nothing that a review may hold, beyond one per planted flaw,
/// before each costs a point: a few real extra findings are worth an interviewer's read
/// (the code has more than the planted flaws wrong with it, and a candidate does not know
/// how many were planted), a finding for every category on every file is not a review.
pub const FREE_EXTRA_FINDINGS: usize = 3;

/// Most bytes of review notes read; notes are prose, and a larger file is refused
/// rather than read (a link to `/dev/zero` would otherwise exhaust memory).
pub const MAX_REVIEW_BYTES: u64 = 256 * 1024;

/// Words that fit any flaw: a concept made only of these (and [`STOP_WORDS`]) names
/// nothing in particular, so it is never what makes a finding specific. "Races under
/// concurrent requests" or "constraints are missing" could be said of any code.
pub const GENERIC_WORDS: &[&str] = &[
    "race",
    "racy",
    "concurrency",
    "concurrent",
    "concurrently",
    "parallel",
    "thread",
    "safe",
    "unsafe",
    "safety",
    "bug",
    "issue",
    "problem",
    "problematic",
    "error",
    "handling",
    "handle",
    "missing",
    "broken",
    "wrong",
    "incorrect",
    "bad",
    "poor",
    "improve",
    "improvement",
    "better",
    "should",
    "could",
    "might",
    "may",
    "consider",
    "constraint",
    "integrity",
    "consistency",
    "consistent",
    "inconsistent",
    "inconsistency",
    "robust",
    "robustness",
    "reliable",
    "reliability",
    "resilience",
    "resilient",
    "performance",
    "slow",
    "scale",
    "scalable",
    "scalability",
    "security",
    "secure",
    "vulnerable",
    "vulnerability",
    "validation",
    "validate",
    "check",
    "code",
    "logic",
    "request",
    "data",
    "state",
    "failure",
    "fail",
    "edge",
    "case",
    "load",
    "production",
    "correct",
    "correctly",
    "proper",
    "properly",
    "sanitize",
    "sanitise",
    "input",
    "optimise",
    "optimize",
    "optimal",
    "efficient",
    "inefficient",
    "careful",
    "carefully",
    "risk",
    "risky",
    "possible",
    "possibly",
    "potential",
    "potentially",
    "flaw",
    "smell",
    "fix",
    "harden",
    "hardening",
    "function",
    "file",
    "line",
    "here",
    "something",
    "things",
    "properly",
    "ideal",
    "work",
    "works",
];

/// Words too common to name anything on their own.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "to", "is", "are", "be", "been", "was", "no", "not",
    "and", "or", "for", "with", "by", "it", "its", "this", "that", "as", "per", "if", "so", "we",
    "our", "there", "then", "any", "all", "every", "each", "can",
];

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
    /// What a real finding about the flaw names, synonyms included: a finding must name
    /// at least one to be credited. Each is a word or a phrase; a phrase is named when
    /// all its words appear in the finding (stemmed, in any order), and a word ending in
    /// `*` matches as a prefix (`overdr*`: overdraw, overdrawn, overdraft).
    #[serde(default)]
    pub concepts: Vec<String>,
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
    /// Whether a finding was credited to it.
    pub found: bool,
    /// The candidate's words about it (every finding credited to it).
    pub words: Vec<String>,
}

/// What became of one finding, and why: so an interviewer can see how the score came
/// about, finding by finding, instead of trusting a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingVerdict {
    /// The file named, exercise-relative.
    pub file: String,
    /// First and last line named.
    pub lines: (usize, usize),
    /// The planted flaw it was credited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credited: Option<String>,
    /// The neutral line (code that looks wrong and is fine) it flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutral: Option<String>,
    /// Points it cost: a neutral line flagged, or over-flagging.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost: u32,
    /// Why it was or was not credited, in a sentence.
    pub verdict: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
    /// Findings credited to no planted flaw that flag no neutral line: some may be real
    /// extra findings, worth an interviewer's read.
    pub extra: Vec<Finding>,
    /// Findings that flag a line the exercise lists as fine.
    pub neutral_flagged: Vec<Finding>,
    /// Points: one per planted flaw found, minus what findings cost (a neutral line
    /// flagged, over-flagging).
    pub points: u32,
    /// One per planted flaw.
    pub max_points: u32,
    /// Every finding read, in the order written, with its verdict. Added to
    /// `harness.report/v6` as an optional field: absent when there are no findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingVerdict>,
}

/// A file name with `.rs`/`.toml`/`.sql` and the lines after it, in the forms candidates
/// write: `path:12-20`, `path:12`, `path lines 12-20`, `path L12-L20`, `` `path` 12–20 ``.
static INLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?P<file>[A-Za-z0-9_./-]+\.(?:rs|toml|sql))\s*(?:[:#]|,?\s*lines?\s*|\s+L|`\s+(?:lines?\s*)?)\s*L?(?P<a>\d+)(?:\s*(?:-|–|—|\.\.|to)\s*L?(?P<b>\d+))?",
    )
    .expect("a valid literal regex")
});

/// A file name anywhere in prose, with or without lines after it: never a concept.
static FILE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[A-Za-z0-9_./-]+\.(?:rs|toml|sql)`?(?:\s*(?:[:#]|,?\s*lines?\s*|\s+L)?\s*L?\d+(?:\s*(?:-|–|—|\.\.|to)\s*L?\d+)?)?",
    )
    .expect("a valid literal regex")
});

/// A field under a heading: `file: ...`, `lines: 12-20`, `category: ...`.
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*[-*]?\s*\**(file|lines?|category)\**\s*:\s*(.+?)\s*$")
        .expect("a valid literal regex")
});

/// A line range as written in a `lines:` field.
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"L?(\d+)(?:\s*(?:-|–|—|\.\.|to)\s*L?(\d+))?").expect("a valid literal regex")
});

/// A category in brackets: `(concurrency)`, `[schema]`.
static CATEGORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\(\[]\s*([A-Za-z][A-Za-z -]{2,30})\s*[\)\]]").expect("a valid literal regex")
});

/// Parses review notes leniently.
pub fn parse(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Blocks: a heading starts one; a list item at top level starts one too.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let item = line.starts_with("- ")
            || line.starts_with("* ")
            || line.chars().next().is_some_and(|c| c.is_ascii_digit()) && line.contains(". ");
        // A field line ("- file: ...") belongs to the finding above it.
        let starts = line.starts_with('#') || item && !FIELD.is_match(line);
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
            if let Some(c) = FIELD.captures(line) {
                let value = c[2].trim().trim_matches('`').to_owned();
                match c[1].to_ascii_lowercase().as_str() {
                    "file" => {
                        // "file: src/x.rs:10-20" carries the lines too.
                        if let Some(m) = INLINE.captures(&value) {
                            file = Some(m["file"].to_owned());
                            lines = Some(span(&m));
                        } else {
                            file = Some(value);
                        }
                    }
                    "category" => category = Some(value),
                    _ => {
                        if let Some(r) = RANGE.captures(&value) {
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
            && let Some(m) = INLINE.captures(&joined)
        {
            file.get_or_insert_with(|| m["file"].to_owned());
            lines.get_or_insert_with(|| span(&m));
        }
        if category.is_none() {
            category = CATEGORY.captures(&joined).map(|c| c[1].trim().to_owned());
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

/// What a finding says in its own words: its prose without file names, line numbers
/// after them, or its category tag. Naming a file or a category is not finding a flaw.
fn own_words(f: &Finding) -> String {
    let text = FILE_REF.replace_all(&prose(&f.text), " ").into_owned();
    match &f.category {
        Some(c) => text
            .replace(&format!("({c})"), " ")
            .replace(&format!("[{c}]"), " "),
        None => text,
    }
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

// ---------------------------------------------------------------------------------
// Specificity: the words a finding names.
// ---------------------------------------------------------------------------------

/// `text` split into lowercase words: at anything but letters, digits and `+` (so
/// `N+1` stays one word) and at camelCase humps (`createCharge` → create, charge).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '+' {
            if c.is_uppercase() && prev_lower && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            word.extend(c.to_lowercase());
        } else {
            prev_lower = false;
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A light stemmer, so a concept matches its inflections: retry, retries, retried and
/// retrying are one word; so are charge, charged, charges and charging. Applied the same
/// way to concepts and findings, it only has to be consistent, not linguistically right.
pub fn stem(word: &str) -> String {
    let mut w = word.to_lowercase();
    if !w.chars().all(|c| c.is_ascii_alphabetic()) {
        return w; // numbers, `n+1`, `5xx`: as written
    }
    let n = w.len();
    if n > 5 && w.ends_with("ally") {
        w.truncate(n - 4);
        return w;
    }
    if n > 4 && (w.ends_with("ies") || w.ends_with("ied")) {
        w.truncate(n - 3);
        w.push('y');
        return w;
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if !w.ends_with(suffix) || n - suffix.len() < 3 {
            continue;
        }
        if suffix == "s" && (w.ends_with("ss") || w.ends_with("us") || w.ends_with("is")) {
            break; // status, process, analysis
        }
        w.truncate(n - suffix.len());
        if matches!(suffix, "ing" | "ed") {
            // stopped → stop, committed → commit; stalled stays stall.
            let b = w.as_bytes();
            let len = b.len();
            if len >= 2 && b[len - 1] == b[len - 2] && !b"aeiouylsz".contains(&b[len - 1]) {
                w.pop();
            }
        }
        break;
    }
    if w.len() > 3 && w.ends_with('e') {
        w.pop();
    }
    w
}

/// Words around each other that still name one concept: a phrase's words must all
/// appear within its own length plus this many words ("the same idempotency key" names
/// "same key"; "same" in one sentence and "key" three sentences on does not).
const PHRASE_SLACK: usize = 4;

/// The words of a finding in order, raw and stemmed, to look concepts up in.
struct Words {
    words: Vec<(String, String)>,
}

impl Words {
    fn of(text: &str) -> Self {
        let words = split_words(text)
            .into_iter()
            .map(|w| {
                let s = stem(&w);
                (w, s)
            })
            .collect();
        Words { words }
    }

    /// Whether the words of `term` are all here, close together: stemmed, or as a
    /// prefix when a word ends in `*`.
    fn name(&self, term: &str) -> bool {
        let wanted = term_words(term);
        if wanted.is_empty() {
            return false;
        }
        let matches = |(raw, stemmed): &(String, String), (w, prefix): &(String, bool)| {
            if *prefix {
                raw.starts_with(w.as_str()) || stemmed.starts_with(w.as_str())
            } else {
                stemmed == w
            }
        };
        let window = wanted.len() + PHRASE_SLACK;
        (0..self.words.len()).any(|start| {
            let near = &self.words[start..self.words.len().min(start + window)];
            wanted.iter().all(|w| near.iter().any(|x| matches(x, w)))
        })
    }
}

/// A concept's words: stemmed, or (ending in `*`) a prefix as written.
fn term_words(term: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for piece in term.split_whitespace() {
        let prefix = piece.ends_with('*');
        let words = split_words(piece.trim_end_matches('*'));
        let last = words.len().saturating_sub(1);
        for (i, w) in words.into_iter().enumerate() {
            if prefix && i == last {
                out.push((w, true));
            } else {
                out.push((stem(&w), false));
            }
        }
    }
    out
}

static NAMES_NOTHING: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    GENERIC_WORDS
        .iter()
        .chain(STOP_WORDS)
        .map(|w| stem(w))
        .collect()
});

/// Whether a concept names something in particular: at least one of its words is not
/// a word that fits any flaw ([`GENERIC_WORDS`]) or a stop word. The grader ignores a
/// concept that is not specific, and the flaw lists are tested to hold none.
pub fn is_specific(term: &str) -> bool {
    term_words(term).iter().any(|(w, prefix)| {
        if *prefix {
            // A prefix of a generic word (`concurren*`) would match it.
            w.len() >= 3
                && !GENERIC_WORDS
                    .iter()
                    .chain(STOP_WORDS)
                    .any(|g| g.starts_with(w.as_str()))
        } else {
            !w.is_empty() && !NAMES_NOTHING.contains(w)
        }
    })
}

/// The concepts of `p` that the finding's own words name.
fn concepts_named(words: &Words, p: &Planted) -> Vec<String> {
    p.concepts
        .iter()
        .filter(|t| is_specific(t) && words.name(t))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------
// Place: where a finding points.
// ---------------------------------------------------------------------------------

/// Most lines a finding may span and still point at a place of `span` lines, in a file
/// of `file_len` lines when known.
///
/// Three times the place, so a finding may cite the block around a flaw; at least the
/// place plus 15 lines, so a one- or two-line flaw may be cited as the function holding
/// it (a screenful). Never more than half the file (unless the place itself is larger):
/// a span over most of a file points at the file, not at a flaw in it, and three times
/// a large flaw would otherwise cover a short file whole.
pub fn allowed_span(span: usize, file_len: Option<usize>) -> usize {
    let around = (3 * span).max(span + 15);
    match file_len {
        Some(len) => around.min(span.max(len / 2)),
        None => around,
    }
}

/// How a finding stands to a planted flaw's (or neutral line's) places.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fit {
    /// It points at this place: overlapping, and no wider than allowed.
    At { file: String, lines: [usize; 2] },
    /// It overlaps this place but spans more lines than allowed.
    TooWide {
        file: String,
        lines: [usize; 2],
        allowed: usize,
    },
    /// It overlaps none of the places.
    Away,
}

/// The line counts of the grader's own exercise files, by exercise-relative path.
type FileLengths = BTreeMap<String, usize>;

fn same_file(finding: &str, place: &str) -> bool {
    finding == place || !finding.is_empty() && place.ends_with(finding)
}

fn overlaps_place(f: &Finding, file: &str, lines: [usize; 2]) -> bool {
    let (a, b) = f.lines;
    same_file(&f.file, file) && a <= lines[1] + SLACK && lines[0] <= b + SLACK
}

fn width(f: &Finding) -> usize {
    f.lines.1 + 1 - f.lines.0
}

/// Where `f` stands to `p`: at one of its places if any, else too wide at one, else away.
fn fit(f: &Finding, p: &Planted, lengths: &FileLengths) -> Fit {
    let mut wide = Fit::Away;
    for (file, lines) in p.places() {
        if !overlaps_place(f, file, lines) {
            continue;
        }
        let allowed = allowed_span(lines[1] + 1 - lines[0], lengths.get(file).copied());
        if width(f) <= allowed {
            return Fit::At {
                file: file.to_owned(),
                lines,
            };
        }
        if wide == Fit::Away {
            wide = Fit::TooWide {
                file: file.to_owned(),
                lines,
                allowed,
            };
        }
    }
    wide
}

/// How well a finding matches a flaw it may be credited to: the share of lines in
/// common with the place it points at, plus the category named, plus words shared with
/// the flaw's explanation, plus the concepts named. Only breaks ties between flaws on
/// neighbouring lines; whether a finding may be credited at all is [`fit`] and
/// [`concepts_named`].
fn affinity(f: &Finding, p: &Planted, at: &Fit, named: usize) -> f64 {
    let share = match at {
        Fit::At { lines, .. } => {
            let (a, b) = f.lines;
            let common = (b.min(lines[1]) + 1).saturating_sub(a.max(lines[0])) as f64;
            let union = (b.max(lines[1]) + 1 - a.min(lines[0])) as f64;
            common / union
        }
        _ => 0.0,
    };
    let category = f
        .category
        .as_deref()
        .is_some_and(|c| !p.category.is_empty() && c.eq_ignore_ascii_case(&p.category));
    let words = |t: &str| -> BTreeSet<String> {
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
    share + if category { 0.5 } else { 0.0 } + jaccard + 0.2 * named.min(5) as f64
}

/// Most planted flaws an exercise may list for [`assign`] to search every assignment;
/// past it, augmenting paths give as many flaws credited, with less care for which
/// finding goes where.
const MAX_FLAWS_SEARCHED: usize = 12;

/// Findings to flaws: as many flaws credited as possible, each finding to one flaw at
/// most (one broad finding never collects several), and among those assignments the one
/// whose findings match their flaws best; a finding left over that may still be credited
/// goes to its best flaw beside the finding already there. `options[i]`: the flaws
/// finding `i` may be credited to, with its affinity to each, best first.
fn assign(options: &[Vec<(usize, f64)>], flaws: usize) -> Vec<Option<usize>> {
    let mut to: Vec<Option<usize>> = vec![None; options.len()];
    let eligible: Vec<usize> = (0..options.len())
        .filter(|&i| !options[i].is_empty())
        .collect();
    if flaws <= MAX_FLAWS_SEARCHED {
        // Over the findings in order, the best (count, affinity) for each set of flaws
        // credited so far, with the step that reached it.
        let states = 1usize << flaws;
        let better = |a: (u32, f64), b: Option<(u32, f64)>| {
            b.is_none_or(|b| a.0 > b.0 || a.0 == b.0 && a.1 > b.1 + 1e-9)
        };
        let mut value: Vec<Option<(u32, f64)>> = vec![None; states];
        value[0] = Some((0, 0.0));
        let mut steps: Vec<Vec<(usize, Option<usize>)>> = Vec::with_capacity(eligible.len());
        for &i in &eligible {
            let mut next = value.clone();
            let mut step: Vec<(usize, Option<usize>)> = (0..states).map(|m| (m, None)).collect();
            for (mask, v) in value.iter().enumerate() {
                let Some((count, weight)) = *v else { continue };
                for &(j, a) in &options[i] {
                    let bit = 1usize << j;
                    if mask & bit != 0 {
                        continue;
                    }
                    let reached = (count + 1, weight + a);
                    if better(reached, next[mask | bit]) {
                        next[mask | bit] = Some(reached);
                        step[mask | bit] = (mask, Some(j));
                    }
                }
            }
            value = next;
            steps.push(step);
        }
        let mut mask = 0;
        for (m, v) in value.iter().enumerate() {
            if let Some(v) = *v
                && better(v, value[mask])
            {
                mask = m;
            }
        }
        for (k, &i) in eligible.iter().enumerate().rev() {
            let (before, choice) = steps[k][mask];
            to[i] = choice;
            mask = before;
        }
    } else {
        fn augment(
            i: usize,
            options: &[Vec<(usize, f64)>],
            seen: &mut [bool],
            owner: &mut [Option<usize>],
            to: &mut [Option<usize>],
        ) -> bool {
            for &(j, _) in &options[i] {
                if seen[j] {
                    continue;
                }
                seen[j] = true;
                let free = match owner[j] {
                    None => true,
                    Some(k) => augment(k, options, seen, owner, to),
                };
                if free {
                    owner[j] = Some(i);
                    to[i] = Some(j);
                    return true;
                }
            }
            false
        }
        let mut owner = vec![None; flaws];
        for &i in &eligible {
            let mut seen = vec![false; flaws];
            augment(i, options, &mut seen, &mut owner, &mut to);
        }
    }
    for &i in &eligible {
        if to[i].is_none() {
            to[i] = options[i].first().map(|&(j, _)| j);
        }
    }
    to
}

fn place_name(file: &str, lines: [usize; 2]) -> String {
    if lines[0] == lines[1] {
        format!("{file}:{}", lines[0])
    } else {
        format!("{file}:{}-{}", lines[0], lines[1])
    }
}

/// The first `n` of `terms` that are not the same words as an earlier one
/// (`idempotency key` and `Idempotency-Key` are one).
fn distinct(terms: &[String], n: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    terms
        .iter()
        .filter(|t| seen.insert(term_words(t)))
        .take(n)
        .cloned()
        .collect()
}

fn quoted(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.trim_end_matches('*')))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Scores `findings` against the flaw list: the review report without `submitted` and
/// `refused`, which only the caller knows.
fn score(findings: &[Finding], list: &FlawFile, lengths: &FileLengths) -> ReviewReport {
    // Per finding and flaw: where it points and which of the flaw's concepts it names.
    let fits: Vec<Vec<(Fit, Vec<String>)>> = findings
        .iter()
        .map(|f| {
            let words = Words::of(&own_words(f));
            list.flaw
                .iter()
                .map(|p| (fit(f, p, lengths), concepts_named(&words, p)))
                .collect()
        })
        .collect();
    let options: Vec<Vec<(usize, f64)>> = findings
        .iter()
        .zip(&fits)
        .map(|(f, row)| {
            let mut o: Vec<(usize, f64)> = row
                .iter()
                .enumerate()
                .filter(|(_, (at, named))| matches!(at, Fit::At { .. }) && !named.is_empty())
                .map(|(j, (at, named))| (j, affinity(f, &list.flaw[j], at, named.len())))
                .collect();
            o.sort_by(|x, y| y.1.total_cmp(&x.1));
            o
        })
        .collect();
    let to = assign(&options, list.flaw.len());

    let mut verdicts = Vec::new();
    let mut uncredited = Vec::new();
    let mut extra = Vec::new();
    let mut neutral_flagged = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let mut v = FindingVerdict {
            file: f.file.clone(),
            lines: f.lines,
            credited: None,
            neutral: None,
            cost: 0,
            verdict: String::new(),
        };
        if let Some(j) = to[i] {
            let (at, named) = &fits[i][j];
            let place = match at {
                Fit::At { file, lines } => place_name(file, *lines),
                _ => String::new(),
            };
            v.credited = Some(list.flaw[j].id.clone());
            v.verdict = format!(
                "credited to `{}`: points at {place} ({} line(s)) and names {}",
                list.flaw[j].id,
                width(f),
                quoted(&distinct(named, 4))
            );
        } else if let Some((n, Fit::At { file, lines })) = list
            .neutral
            .iter()
            .map(|n| (n, fit(f, n, lengths)))
            .find(|(_, at)| matches!(at, Fit::At { .. }))
        {
            v.neutral = Some(n.id.clone());
            v.cost = 1;
            v.verdict = format!(
                "flags `{}` at {}, a line that is fine: costs a point",
                n.id,
                place_name(&file, lines)
            );
            neutral_flagged.push(f.clone());
        } else {
            let mut why = Vec::new();
            let mut wide = Vec::new();
            for (j, (at, named)) in fits[i].iter().enumerate() {
                let p = &list.flaw[j];
                match at {
                    Fit::At { file, lines } if named.is_empty() => {
                        let specific: Vec<String> = p
                            .concepts
                            .iter()
                            .filter(|t| is_specific(t))
                            .cloned()
                            .collect();
                        let hint = distinct(&specific, 3);
                        why.push(format!(
                            "at `{}` ({}) but names nothing specific to it (a finding about it names e.g. {})",
                            p.id,
                            place_name(file, *lines),
                            quoted(&hint)
                        ));
                    }
                    Fit::TooWide {
                        file,
                        lines,
                        allowed,
                    } => wide.push(format!(
                        "{allowed} for `{}` at {}",
                        p.id,
                        place_name(file, *lines)
                    )),
                    _ => {}
                }
            }
            if !wide.is_empty() {
                why.push(format!(
                    "spans {} lines, more than allowed for the flaws it overlaps ({})",
                    width(f),
                    wide.join(", ")
                ));
            }
            if why.is_empty() {
                why.push("points at no planted flaw's lines".to_owned());
            }
            v.verdict = format!("not credited: {}", why.join("; "));
            uncredited.push(i);
            extra.push(f.clone());
        }
        verdicts.push(v);
    }

    // Over-flagging: findings credited to nothing past the allowance cost a point each
    // (neutral lines flagged have cost theirs); the cost is written against the last.
    let allowance = list.flaw.len() + FREE_EXTRA_FINDINGS;
    let over = uncredited.len().saturating_sub(allowance);
    for &i in uncredited.iter().rev().take(over) {
        let v = &mut verdicts[i];
        v.cost = 1;
        v.verdict.push_str(&format!(
            "; over-flagging ({} findings credited to nothing, {allowance} allowed: one per \
             planted flaw and {FREE_EXTRA_FINDINGS}): costs a point",
            uncredited.len()
        ));
    }

    let flaws: Vec<FlawReview> = list
        .flaw
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let words: Vec<String> = findings
                .iter()
                .zip(&to)
                .filter(|(_, t)| **t == Some(j))
                .map(|(f, _)| prose(&f.text))
                .collect();
            FlawReview {
                flaw: p.id.clone(),
                found: !words.is_empty(),
                words,
            }
        })
        .collect();
    let found = flaws.iter().filter(|f| f.found).count() as u32;
    let cost: u32 = verdicts.iter().map(|v| v.cost).sum();
    ReviewReport {
        submitted: false,
        refused: None,
        points: found.saturating_sub(cost),
        max_points: list.flaw.len() as u32,
        flaws,
        extra,
        neutral_flagged,
        findings: verdicts,
    }
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
/// the planted-flaw list at `flaws_toml` (the grader's copy; the exercise's files beside
/// it give the file lengths the span rule needs).
pub fn grade(submission_exercise_dir: &Path, flaws_toml: &Path) -> Option<ReviewReport> {
    let list: FlawFile = toml::from_str(&std::fs::read_to_string(flaws_toml).ok()?).ok()?;
    let mut lengths = FileLengths::new();
    if let Some(dir) = flaws_toml.parent() {
        for p in list.flaw.iter().chain(&list.neutral) {
            for (file, _) in p.places() {
                if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                    lengths.insert(file.to_owned(), text.lines().count());
                }
            }
        }
    }
    let (review, refused) = match read_review(submission_exercise_dir) {
        Ok(review) => (review, None),
        Err(reason) => (None, Some(reason)),
    };
    let findings = review.as_deref().map(parse).unwrap_or_default();
    let mut report = score(&findings, &list, &lengths);
    report.submitted = review.is_some() || refused.is_some();
    report.refused = refused;
    Some(report)
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

3. **Lookup and insert race** — `src/routes.rs` 48–56 (`find_by_key` then `insert`).
   Two requests both miss.
";
        let found = parse(notes);
        assert_eq!(found.len(), 4, "{found:#?}");
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
        assert_eq!(
            (found[3].file.as_str(), found[3].lines),
            ("src/routes.rs", (48, 56)),
            "a backticked file followed by its lines"
        );
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

    fn planted(id: &str, file: &str, lines: [usize; 2], concepts: &[&str]) -> Planted {
        Planted {
            id: id.into(),
            category: "concurrency".into(),
            file: file.into(),
            lines,
            explanation: String::new(),
            also: Vec::new(),
            concepts: concepts.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn finding(file: &str, lines: (usize, usize), text: &str) -> Finding {
        Finding {
            file: file.into(),
            lines,
            category: None,
            text: text.into(),
        }
    }

    fn list(flaw: Vec<Planted>, neutral: Vec<Planted>) -> FlawFile {
        FlawFile { flaw, neutral }
    }

    #[test]
    fn a_finding_points_at_a_place_only_with_a_span_of_about_its_size() {
        // Short places: the place and 15 lines around it; longer ones: three times.
        assert_eq!(allowed_span(1, None), 16);
        assert_eq!(allowed_span(3, None), 18);
        assert_eq!(allowed_span(9, None), 27);
        assert_eq!(allowed_span(20, None), 60);
        // Never more than half the file, unless the place itself is larger.
        assert_eq!(allowed_span(20, Some(80)), 40);
        assert_eq!(allowed_span(37, Some(60)), 37);

        let mut p = planted("x", "src/routes.rs", [48, 56], &["lookup"]);
        p.also.push(Place {
            file: "src/store.rs".into(),
            lines: [20, 22],
        });
        let lengths: FileLengths = [("src/routes.rs".to_owned(), 87)].into();
        let at = |file: &str, a, b| fit(&finding(file, (a, b), ""), &p, &lengths);
        assert!(matches!(at("src/routes.rs", 50, 50), Fit::At { .. }));
        assert!(
            matches!(at("src/routes.rs", 57, 60), Fit::At { .. }),
            "slack"
        );
        assert!(
            matches!(at("src/routes.rs", 40, 66), Fit::At { .. }),
            "27 lines"
        );
        assert_eq!(
            at("src/routes.rs", 40, 67),
            Fit::TooWide {
                file: "src/routes.rs".into(),
                lines: [48, 56],
                allowed: 27
            },
            "28 lines around a 9-line place"
        );
        assert!(matches!(at("src/routes.rs", 1, 200), Fit::TooWide { .. }));
        assert_eq!(at("src/routes.rs", 70, 80), Fit::Away);
        assert_eq!(at("src/store.rs", 48, 56), Fit::Away);
        assert!(
            matches!(at("src/store.rs", 21, 21), Fit::At { .. }),
            "a further place counts"
        );
        assert!(
            matches!(at("src/store.rs", 1, 132), Fit::TooWide { .. }),
            "and is no wider"
        );

        // A whole file names every flaw in it and is credited with none.
        let flaws = list(vec![p.clone()], Vec::new());
        let whole = score(
            &[finding(
                "src/routes.rs",
                (1, 87),
                "the lookup races the insert",
            )],
            &flaws,
            &lengths,
        );
        assert_eq!(whole.points, 0);
        assert!(
            whole.findings[0]
                .verdict
                .contains("spans 87 lines, more than allowed for the flaws it overlaps (27 for `x` at src/routes.rs:48-56)"),
            "{:?}",
            whole.findings[0]
        );
        let exact = score(
            &[finding(
                "src/routes.rs",
                (48, 56),
                "the lookup races the insert",
            )],
            &flaws,
            &lengths,
        );
        assert_eq!(exact.points, 1);
        assert_eq!(exact.findings[0].credited.as_deref(), Some("x"));
    }

    #[test]
    fn a_finding_must_name_something_specific_to_the_flaw() {
        // Inflections are one word; the stemmer only has to be consistent.
        for (a, b) in [
            ("retries", "retry"),
            ("retried", "retrying"),
            ("charged", "charges"),
            ("charging", "charge"),
            ("locked", "locks"),
            ("scanned", "scan"),
            ("committed", "commit"),
            ("timeouts", "timeout"),
            ("indexes", "index"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_eq!(stem("status"), "status");

        let words = Words::of(
            "Two requests with the same `Idempotency-Key` both get CHARGED twice; N+1 queries",
        );
        assert!(
            words.name("idempotency key"),
            "a header name splits into words"
        );
        assert!(words.name("charge twice"), "stemmed, in any order");
        assert!(words.name("idempoten*"), "a prefix");
        assert!(words.name("n+1"));
        let far =
            Words::of("the same thing happens in many places, as noted above; the key is fine");
        assert!(
            !far.name("same key"),
            "a phrase's words must be close together"
        );
        assert!(!words.name("charge three times"));
        assert!(!words.name("idempotent"), "no prefix without `*`");

        // Words that fit any flaw name nothing.
        assert!(!is_specific("race"));
        assert!(!is_specific("concurrent requests"));
        assert!(!is_specific("missing constraint"));
        assert!(!is_specific("concurren*"));
        assert!(is_specific("lookup"));
        assert!(is_specific("check-then-insert"), "`insert` is specific");
        assert!(is_specific("fail fast"));

        // The category tag and the file name are not the finding's own words.
        let mut f = finding(
            "src/provider.rs",
            (59, 70),
            "- src/provider.rs:59-70 (retry): it is not robust",
        );
        f.category = Some("retry".into());
        assert_eq!(split_words(&own_words(&f)), ["it", "is", "not", "robust"]);

        let p = planted(
            "x",
            "src/provider.rs",
            [59, 70],
            &["retry", "provider", "race"],
        );
        let flaws = list(vec![p], Vec::new());
        let generic = score(&[f], &flaws, &FileLengths::new());
        assert_eq!(generic.points, 0);
        assert!(
            generic.findings[0]
                .verdict
                .contains("names nothing specific to it (a finding about it names e.g. \"retry\", \"provider\")"),
            "{:?}",
            generic.findings[0]
        );
        assert_eq!(generic.extra.len(), 1, "listed for the interviewer");
        let racy = finding(
            "src/provider.rs",
            (59, 70),
            "races under concurrent requests",
        );
        assert_eq!(
            score(&[racy], &flaws, &FileLengths::new()).points,
            0,
            "a generic concept is ignored"
        );
        let specific = finding(
            "src/provider.rs",
            (60, 60),
            "a lost response means the client retries and pays again",
        );
        let report = score(&[specific], &flaws, &FileLengths::new());
        assert_eq!(report.points, 1);
        assert_eq!(
            report.findings[0].verdict,
            "credited to `x`: points at src/provider.rs:59-70 (1 line(s)) and names \"retry\""
        );
    }

    #[test]
    fn each_finding_is_credited_once_and_as_many_flaws_as_possible() {
        let flaws = list(
            vec![
                planted("x", "src/routes.rs", [48, 56], &["lookup", "same key"]),
                planted("y", "src/routes.rs", [48, 52], &["different amount", "422"]),
            ],
            Vec::new(),
        );
        let none = FileLengths::new();
        // One finding naming both is credited to one of them only.
        let broad = finding(
            "src/routes.rs",
            (48, 56),
            "lookup races, and the same key with a different amount gets 200",
        );
        let one = score(std::slice::from_ref(&broad), &flaws, &none);
        assert_eq!(one.points, 1);
        // Two hurried findings at the same lines, one per flaw: both credited, even
        // though the first matches the first flaw best as well.
        let other = finding(
            "src/routes.rs",
            (48, 56),
            "the lookup does not compare: 422",
        );
        let two = score(&[broad, other], &flaws, &none);
        assert_eq!(two.points, 2, "{:#?}", two.findings);
        assert_eq!(two.findings[0].credited.as_deref(), Some("x"));
        assert_eq!(two.findings[1].credited.as_deref(), Some("y"));
    }

    #[test]
    fn neutral_lines_and_over_flagging_cost_points() {
        let flaws = list(
            vec![
                planted("x", "src/a.rs", [10, 12], &["lookup"]),
                planted("y", "src/a.rs", [40, 42], &["unique"]),
                planted("z", "src/b.rs", [5, 8], &["timeout"]),
            ],
            vec![planted("fine", "src/b.rs", [30, 34], &[])],
        );
        let none = FileLengths::new();
        let good = [
            finding("src/a.rs", (10, 12), "the lookup is not atomic"),
            finding("src/a.rs", (41, 41), "not unique"),
            finding("src/b.rs", (6, 6), "no timeout"),
        ];
        let junk = |n: usize| -> Vec<Finding> {
            (0..n)
                .map(|k| finding("src/c.rs", (k * 10 + 1, k * 10 + 5), "this could be better"))
                .collect()
        };
        let with =
            |extra: Vec<Finding>| -> Vec<Finding> { good.iter().cloned().chain(extra).collect() };

        // The allowance: findings credited to nothing, one per planted flaw and three
        // more, are free.
        let free = score(&with(junk(6)), &flaws, &none);
        assert_eq!(free.points, 3);
        assert_eq!(free.extra.len(), 6);
        assert!(free.findings.iter().all(|v| v.cost == 0));

        // Past it, each costs a point.
        let over = score(&with(junk(8)), &flaws, &none);
        assert_eq!(
            over.points, 1,
            "8 credited to nothing, 6 allowed: two points"
        );
        assert_eq!(over.findings.iter().map(|v| v.cost).sum::<u32>(), 2);
        assert!(
            over.findings[10]
                .verdict
                .contains("over-flagging (8 findings credited to nothing, 6 allowed")
        );
        assert_eq!(
            over.findings[3].cost, 0,
            "the cost is written against the last ones"
        );
        // Whatever order they come in.
        let mut reversed = with(junk(8));
        reversed.reverse();
        assert_eq!(score(&reversed, &flaws, &none).points, 1);

        // Duplicates of credited findings are credited, never charged.
        let dup = score(
            &good
                .iter()
                .chain(&good)
                .chain(&good)
                .cloned()
                .collect::<Vec<_>>(),
            &flaws,
            &none,
        );
        assert_eq!(dup.points, 3);

        // One finding per category on every file: nothing left.
        let mut shotgun = Vec::new();
        for file in ["src/a.rs", "src/b.rs", "src/c.rs"] {
            for category in ["concurrency", "idempotency", "resilience"] {
                let mut f = finding(
                    file,
                    (1, 200),
                    &format!("- {file}:1-200 ({category}): possible {category} problem"),
                );
                f.category = Some(category.into());
                shotgun.push(f);
            }
        }
        assert_eq!(score(&shotgun, &flaws, &none).points, 0);
        // Not even with one real finding among them.
        shotgun.push(good[0].clone());
        assert_eq!(score(&shotgun, &flaws, &none).points, 0);

        // A neutral line flagged costs a point, whatever it says; a span over the whole
        // file does not point at it (it is over-flagging's business).
        let neutral = score(
            &[
                good[0].clone(),
                good[1].clone(),
                finding("src/b.rs", (31, 33), "format! builds SQL: injection"),
                finding("src/b.rs", (1, 300), "injection somewhere"),
            ],
            &flaws,
            &none,
        );
        assert_eq!(neutral.points, 1);
        assert_eq!(neutral.neutral_flagged.len(), 1);
        assert_eq!(neutral.findings[2].neutral.as_deref(), Some("fine"));
        assert!(neutral.findings[3].neutral.is_none());
        assert!(
            neutral.findings[3]
                .verdict
                .starts_with("not credited: spans 300 lines")
        );
    }
}
