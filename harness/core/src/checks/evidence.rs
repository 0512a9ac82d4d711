//! Evidence: the short story a failed (or passed) check tells an interviewer.
//!
//! A story is told in lines of a few hundred characters at most: a check that gathers a
//! long list (every gap between a fake's calls, every row of a table) says what decides
//! — how many, the first, the worst — and leaves the list itself to a line of its own.
//! Whatever still runs over [`MAX_LINE_CHARS`] is cut by [`cut`] wherever a report shows
//! evidence (the JSON report's `evidence`, the Markdown), and the JSON report keeps the
//! whole text beside it, so nothing a check observed is lost on the way to a reader.

use serde::{Deserialize, Serialize};

use super::http::Exchange;

/// The longest evidence line a report shows, in characters: a request and its answer
/// with their bodies clipped as an [`Exchange`] clips them (160 and 240 characters) fit
/// whole, with a few words before them; a list of thousands of numbers does not.
pub const MAX_LINE_CHARS: usize = 500;

/// How far back from [`MAX_LINE_CHARS`] a cut looks for a space, so a number or a word
/// is not shown half (a gap of `12` ms cut to `1`).
const WORD_SLACK: usize = 60;

/// How a report writes a broken requirement in its text form (JSON, Markdown, the
/// terminal): the detail after this mark. Only [`Line`] writes and reads it.
pub const VIOLATION_MARK: &str = "✗ ";

/// One line of a check's story: something that happened (a request and its answer,
/// what ground truth holds), or a requirement of the brief found broken. Which one it is
/// travels with the line, so no reader has to tell them apart by their words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line as a report shows it: a violation carries [`VIOLATION_MARK`] first.
    shown: String,
    violation: bool,
}

impl Line {
    /// Something that happened.
    pub fn said(text: impl Into<String>) -> Line {
        Line {
            shown: text.into(),
            violation: false,
        }
    }

    /// A requirement found broken, in words.
    pub fn violation(detail: impl AsRef<str>) -> Line {
        Line {
            shown: format!("{VIOLATION_MARK}{}", detail.as_ref()),
            violation: true,
        }
    }

    /// Reads a line back from a report's text form, where a violation is marked.
    pub fn read(shown: String) -> Line {
        let violation = shown.starts_with(VIOLATION_MARK);
        Line { shown, violation }
    }

    /// Whether this line is a broken requirement.
    pub fn is_violation(&self) -> bool {
        self.violation
    }

    /// What the line says, without the violation mark.
    pub fn detail(&self) -> &str {
        if self.violation {
            &self.shown[VIOLATION_MARK.len()..]
        } else {
            &self.shown
        }
    }

    /// The line as a report shows it (a violation marked).
    pub fn as_str(&self) -> &str {
        &self.shown
    }
}

impl std::ops::Deref for Line {
    type Target = str;

    fn deref(&self) -> &str {
        &self.shown
    }
}

impl std::borrow::Borrow<str> for Line {
    fn borrow(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PartialEq<&str> for Line {
    fn eq(&self, other: &&str) -> bool {
        self.shown == *other
    }
}

impl Serialize for Line {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.shown)
    }
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Line, D::Error> {
        String::deserialize(d).map(Line::read)
    }
}

/// Lines of evidence in the order things happened.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Evidence(Vec<Line>);

impl Evidence {
    /// An empty story.
    pub fn new() -> Evidence {
        Evidence::default()
    }

    /// Adds one line, whole: a line over [`MAX_LINE_CHARS`] is cut only where a report
    /// shows it ([`cut`]), so the JSON report can still carry its full text.
    pub fn say(&mut self, line: impl Into<String>) {
        self.0.push(Line::said(line));
    }

    /// Adds a requirement found broken.
    pub fn violation(&mut self, detail: impl AsRef<str>) {
        self.0.push(Line::violation(detail));
    }

    /// Adds a line as it is (a violation stays one).
    pub fn push(&mut self, line: Line) {
        self.0.push(line);
    }

    /// Adds a request and what came back.
    pub fn exchange(&mut self, exchange: &Exchange) {
        self.0.push(Line::said(exchange.to_string()));
    }

    /// The lines so far.
    pub fn lines(&self) -> &[Line] {
        &self.0
    }

    /// Consumes the story into its lines.
    pub fn into_lines(self) -> Vec<Line> {
        self.0
    }
}

/// `entry` as a report shows it: each of its lines over [`MAX_LINE_CHARS`] cut there
/// (at a space when one is near) and ended with how much was left out and where to find
/// it; `None` when no line is over, so a caller knows whether to keep the full text.
pub fn cut(entry: &str) -> Option<String> {
    if !entry.split('\n').any(over) {
        return None;
    }
    let lines: Vec<String> = entry
        .split('\n')
        .map(|line| {
            if !over(line) {
                return line.to_owned();
            }
            let end = line
                .char_indices()
                .nth(MAX_LINE_CHARS)
                .map_or(line.len(), |(i, _)| i);
            let kept = &line[..end];
            let kept = match kept.rfind(' ') {
                Some(space) if kept[space..].chars().count() <= WORD_SLACK => &kept[..space],
                _ => kept,
            };
            let left = line.chars().count() - kept.chars().count();
            format!(
                "{} … ({left} more characters; full text in the JSON report)",
                kept.trim_end()
            )
        })
        .collect();
    Some(lines.join("\n"))
}

fn over(line: &str) -> bool {
    line.len() > MAX_LINE_CHARS && line.chars().count() > MAX_LINE_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_is_known_as_one_and_survives_its_text_form() {
        let mut ev = Evidence::new();
        ev.say("POST /charges → 201");
        ev.violation("cus_1 charged twice");
        let lines = ev.into_lines();
        assert!(!lines[0].is_violation());
        assert!(lines[1].is_violation());
        assert_eq!(lines[1].detail(), "cus_1 charged twice");
        assert_eq!(lines[1], "✗ cus_1 charged twice");
        let json = serde_json::to_string(&lines).expect("serialises");
        assert_eq!(json, r#"["POST /charges → 201","✗ cus_1 charged twice"]"#);
        let back: Vec<Line> = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, lines);
    }

    #[test]
    fn said_text_is_never_a_violation_whatever_it_starts_with() {
        let line = Line::said("✗ copied from a service's log");
        assert!(!line.is_violation());
        assert_eq!(line.detail(), "✗ copied from a service's log");
    }

    #[test]
    fn short_lines_are_left_alone() {
        assert_eq!(cut("GET /health → 200"), None);
        assert_eq!(cut(&"é".repeat(MAX_LINE_CHARS)), None);
        assert_eq!(cut(&format!("a\n{}", "b".repeat(MAX_LINE_CHARS))), None);
    }

    #[test]
    fn long_lines_are_cut_at_a_space_and_say_how_much_is_left() {
        let gaps = (0..2_000).map(|i| (i % 13).to_string()).collect::<Vec<_>>();
        let line = format!("gaps in ms: {}", gaps.join(" / "));
        let shown = cut(&line).expect("over the cap");
        let (kept, note) = shown.split_once(" … (").expect("a note");
        assert!(kept.chars().count() <= MAX_LINE_CHARS, "{kept}");
        assert!(line.starts_with(kept), "{kept}");
        assert!(
            line[kept.len()..].starts_with(' '),
            "cut at a space: {kept}"
        );
        let left = line.chars().count() - kept.chars().count();
        assert_eq!(
            note,
            format!("{left} more characters; full text in the JSON report)")
        );
    }

    #[test]
    fn each_line_of_an_entry_is_cut_on_its_own() {
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        let shown = cut(&format!("Its log ends with:\n{long}\nshort")).expect("over");
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "Its log ends with:");
        assert_eq!(
            lines[1],
            format!(
                "{} … (10 more characters; full text in the JSON report)",
                "x".repeat(MAX_LINE_CHARS)
            )
        );
        assert_eq!(lines[2], "short");
    }
}
