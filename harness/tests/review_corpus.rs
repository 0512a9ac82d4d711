//! Review notes in the corpus, graded with each exercise's real flaw list.
//!
//! `tests/corpus/<exercise>/review-*.md` are review notes with their expected score
//! beside them (`review-*.toml`: `min_score`, `max_score`, `found`): generic notes
//! (whole-file spans, sentences that fit any flaw), shotgun notes (a finding per
//! category on every file) and tiled notes (every few lines of every file, stuffed with
//! the exercise's vocabulary) must earn at most a point; good, hurried notes in a
//! candidate's own words must earn full marks, so the rules are not tightened past a
//! real reviewer. The hand-written `REVIEW.md` a reference patch adds must earn full
//! marks too. Only the review grader runs here: nothing is built or started.
//! `REVIEW_VERDICTS=1` prints every finding's verdict.

use std::path::PathBuf;

use harness::catalog;
use harness::review::ReviewReport;

/// What a review file must score, written beside it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// What the notes are, for the failure message.
    summary: String,
    /// At least this many points; omitted: no lower bound.
    #[serde(default)]
    min_score: Option<u32>,
    /// At most this many points; omitted: no upper bound.
    #[serde(default)]
    max_score: Option<u32>,
    /// Exactly these planted flaws credited, when given.
    #[serde(default)]
    found: Option<Vec<String>>,
}

/// One set of review notes to grade.
struct Case {
    exercise: &'static str,
    name: String,
    notes: String,
    expect: Expect,
}

fn root() -> PathBuf {
    harness::staging::Workspace::grader().root
}

/// The `REVIEW.md` a patch adds for `exercise`, if it adds one.
fn review_in_patch(patch: &str, exercise: &str) -> Option<String> {
    let header = format!("+++ b/exercises/{exercise}/REVIEW.md");
    let mut lines = patch.lines().skip_while(|l| *l != header);
    lines.next()?;
    let mut notes = String::new();
    for line in lines.take_while(|l| !l.starts_with("diff --git ")) {
        if let Some(added) = line.strip_prefix('+') {
            notes.push_str(added);
            notes.push('\n');
        }
    }
    Some(notes)
}

/// Every review case of `exercise`: `review-*.md` with its expectation, and the review
/// notes every reference patch adds (full marks expected).
fn cases(exercise: &'static str) -> Vec<Case> {
    let dir = root().join("tests/corpus").join(exercise);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    names.sort();
    let mut cases = Vec::new();
    for path in names {
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with("review-") && name.ends_with(".md") {
            let meta = path.with_extension("toml");
            let expect: Expect = toml::from_str(
                &std::fs::read_to_string(&meta)
                    .unwrap_or_else(|e| panic!("{}: {e}", meta.display())),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", meta.display()));
            cases.push(Case {
                exercise,
                name,
                notes: std::fs::read_to_string(&path).expect("read review notes"),
                expect,
            });
        } else if name.starts_with("reference-") && name.ends_with(".patch") {
            let patch = std::fs::read_to_string(&path).expect("read patch");
            if let Some(notes) = review_in_patch(&patch, exercise) {
                cases.push(Case {
                    exercise,
                    name,
                    notes,
                    expect: Expect {
                        summary: "the reference's hand-written review".to_owned(),
                        min_score: None,
                        max_score: None,
                        found: None,
                    },
                });
            }
        }
    }
    cases
}

/// The notes graded as the grader grades a submission: `REVIEW.md` in an exercise
/// directory, against the grader's own flaw list.
fn grade(exercise: &str, notes: &str) -> ReviewReport {
    let dir = tempfile::tempdir().expect("temp dir");
    let ex = dir.path().join("exercises").join(exercise);
    std::fs::create_dir_all(&ex).expect("mkdir");
    std::fs::write(ex.join("REVIEW.md"), notes).expect("write REVIEW.md");
    let flaws = root().join("exercises").join(exercise).join("flaws.toml");
    harness::review::grade(&ex, &flaws).expect("the flaw list parses")
}

fn credited(report: &ReviewReport) -> Vec<String> {
    report
        .flaws
        .iter()
        .filter(|f| f.found)
        .map(|f| f.flaw.clone())
        .collect()
}

/// Why each finding was or was not credited, for a failure message.
fn verdicts(report: &ReviewReport) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("    {}:{}-{}: {}", f.file, f.lines.0, f.lines.1, f.verdict))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn corpus_reviews_score_what_is_written_beside_them() {
    let mut table = Vec::new();
    let mut mismatches = Vec::new();
    for exercise in catalog::all() {
        for case in cases(exercise.id) {
            let report = grade(case.exercise, &case.notes);
            let (points, max) = (report.points, report.max_points);
            if std::env::var_os("REVIEW_VERDICTS").is_some() {
                eprintln!(
                    "{}/{}: {points}/{max}\n{}",
                    case.exercise,
                    case.name,
                    verdicts(&report)
                );
            }
            table.push(format!(
                "{:<9} {:<40} {points}/{max}",
                case.exercise, case.name
            ));
            let min = if case.name.starts_with("reference-") {
                Some(max)
            } else {
                case.expect.min_score
            };
            let mut wrong = Vec::new();
            if let Some(min) = min
                && points < min
            {
                wrong.push(format!("scored {points}/{max}, expected at least {min}"));
            }
            if let Some(most) = case.expect.max_score
                && points > most
            {
                wrong.push(format!("scored {points}/{max}, expected at most {most}"));
            }
            if let Some(found) = &case.expect.found
                && credited(&report) != *found
            {
                wrong.push(format!(
                    "credited {:?}, expected {found:?}",
                    credited(&report)
                ));
            }
            if !wrong.is_empty() {
                mismatches.push(format!(
                    "{}/{} ({}): {}\n{}",
                    case.exercise,
                    case.name,
                    case.expect.summary,
                    wrong.join("; "),
                    verdicts(&report)
                ));
            }
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(
        mismatches.is_empty(),
        "review corpus mismatches:\n{}",
        mismatches.join("\n\n")
    );
}

/// Every exercise has generic, shotgun and good notes, so no rule is proved on one
/// exercise alone; the good ones expect full marks.
#[test]
fn every_exercise_has_generic_shotgun_and_good_notes() {
    for exercise in catalog::all() {
        let cases = cases(exercise.id);
        let max = grade(exercise.id, "").max_points;
        for kind in ["review-generic.md", "review-shotgun.md", "review-vague.md"] {
            let case = cases
                .iter()
                .find(|c| c.name == kind)
                .unwrap_or_else(|| panic!("{}: no {kind}", exercise.id));
            assert!(
                case.expect.max_score.is_some_and(|m| m <= 1),
                "{}/{kind}: expected to score at most a point",
                exercise.id
            );
        }
        assert!(
            cases
                .iter()
                .any(|c| c.name.starts_with("review-good") && c.expect.min_score == Some(max)),
            "{}: no good review expected at full marks ({max})",
            exercise.id
        );
    }
}

#[derive(serde::Deserialize)]
struct FlawList {
    flaw: Vec<Flaw>,
}

#[derive(serde::Deserialize)]
struct Flaw {
    id: String,
    #[serde(default)]
    concepts: Vec<String>,
}

/// Every planted flaw names the concepts a real finding about it would name, and none
/// of them is made only of words that fit any flaw (the grader would ignore it).
#[test]
fn every_planted_flaw_lists_specific_concepts() {
    let mut wrong = Vec::new();
    for exercise in catalog::all() {
        let path = root().join(exercise.dir()).join("flaws.toml");
        let list: FlawList =
            toml::from_str(&std::fs::read_to_string(&path).expect("read flaws.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for flaw in &list.flaw {
            if flaw.concepts.len() < 5 {
                wrong.push(format!(
                    "{}/{}: list at least five concepts a finding would name",
                    exercise.id, flaw.id
                ));
            }
            for term in &flaw.concepts {
                if !harness::review::is_specific(term) {
                    wrong.push(format!(
                        "{}/{}: concept {term:?} fits any flaw",
                        exercise.id, flaw.id
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_patch_review_is_extracted_whole() {
    let patch = "\
diff --git a/exercises/x/REVIEW.md b/exercises/x/REVIEW.md
new file mode 100644
--- /dev/null
+++ b/exercises/x/REVIEW.md
@@ -0,0 +1,2 @@
+# Notes
+- src/a.rs:1 thing
diff --git a/exercises/x/src/a.rs b/exercises/x/src/a.rs
+not notes
";
    assert_eq!(
        review_in_patch(patch, "x").as_deref(),
        Some("# Notes\n- src/a.rs:1 thing\n")
    );
    assert_eq!(review_in_patch(patch, "y"), None);
}
