//! Every exercise is complete: a brief, a planted-flaw list that matches its code, and
//! checks that target only flaws on that list.

use std::collections::BTreeSet;

use harness::catalog;

#[derive(serde::Deserialize)]
struct FlawList {
    flaw: Vec<Flaw>,
    /// Lines that look wrong and are fine: a review flagging them costs a point.
    #[serde(default)]
    neutral: Vec<Flaw>,
}

#[derive(serde::Deserialize)]
struct Place {
    file: String,
    lines: [usize; 2],
}

#[derive(serde::Deserialize)]
struct Flaw {
    id: String,
    category: String,
    file: String,
    lines: [usize; 2],
    anchor: String,
    explanation: String,
    #[serde(default)]
    also: Vec<Place>,
}

/// The lines of `file` in the exercise `dir`, asserting `range` lies within them.
fn lines_of(dir: &std::path::Path, id: &str, file: &str, range: [usize; 2]) -> Vec<String> {
    let source =
        std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{id}: {file}: {e}"));
    let lines: Vec<String> = source.lines().map(str::to_owned).collect();
    let [first, last] = range;
    assert!(
        first >= 1 && first <= last && last <= lines.len(),
        "{id}: line range {first}-{last} outside {file}"
    );
    lines[first - 1..last].to_vec()
}

#[test]
fn every_exercise_has_a_brief_a_true_flaw_list_and_a_corpus() {
    let root = harness::staging::Workspace::grader().root;
    for exercise in catalog::all() {
        let dir = root.join(exercise.dir());
        let brief = std::fs::read_to_string(dir.join("BRIEF.md"))
            .unwrap_or_else(|e| panic!("{}: BRIEF.md: {e}", exercise.id));
        assert!(brief.len() > 500, "{}: BRIEF.md is too thin", exercise.id);

        let list: FlawList = toml::from_str(
            &std::fs::read_to_string(dir.join("flaws.toml"))
                .unwrap_or_else(|e| panic!("{}: flaws.toml: {e}", exercise.id)),
        )
        .unwrap_or_else(|e| panic!("{}: flaws.toml: {e}", exercise.id));
        let mut ids = BTreeSet::new();
        for flaw in &list.flaw {
            assert!(
                ids.insert(flaw.id.as_str()),
                "{}: duplicate flaw {}",
                exercise.id,
                flaw.id
            );
            // The brief must never name a planted flaw.
            assert!(
                !brief.contains(&flaw.id),
                "{}: BRIEF.md names flaw {}",
                exercise.id,
                flaw.id
            );
        }
        for flaw in list.flaw.iter().chain(&list.neutral) {
            assert!(!flaw.category.is_empty() && !flaw.explanation.is_empty());
            let span = lines_of(&dir, &flaw.id, &flaw.file, flaw.lines).join("\n");
            assert!(
                span.contains(&flaw.anchor),
                "{}: `{}` is not within {}:{:?}; update flaws.toml",
                flaw.id,
                flaw.anchor,
                flaw.file,
                flaw.lines
            );
            for place in &flaw.also {
                lines_of(&dir, &flaw.id, &place.file, place.lines);
            }
        }
        for neutral in &list.neutral {
            assert!(
                !ids.contains(neutral.id.as_str()),
                "{}: {} is both a flaw and a neutral line",
                exercise.id,
                neutral.id
            );
        }

        let checks = harness::registry(exercise);
        let mut check_ids = BTreeSet::new();
        for check in &checks {
            assert!(
                check_ids.insert(check.id),
                "duplicate check id {}",
                check.id
            );
            assert!(
                check.id.starts_with(&format!("{}.", exercise.id)),
                "{}: id must start with the exercise id",
                check.id
            );
            if let Some(flaw) = check.flaw {
                assert!(
                    ids.contains(flaw),
                    "{}: targets unknown flaw {flaw}",
                    check.id
                );
                assert_eq!(
                    check.visibility,
                    harness::checks::Visibility::Hidden,
                    "{}: flaw checks are hidden",
                    check.id
                );
            }
        }
        assert!(
            checks
                .iter()
                .any(|c| c.flaw.is_none() && c.visibility == harness::checks::Visibility::Public),
            "{}: no public contract check",
            exercise.id
        );
        assert!(
            root.join("tests/corpus").join(exercise.id).is_dir(),
            "{}: no corpus under tests/corpus/{}",
            exercise.id,
            exercise.id
        );
    }
}

/// Every planted flaw has a follow-up question for when the fix holds and one for when
/// it does not, every question names a real flaw, and each exercise has general ones.
#[test]
fn every_flaw_has_follow_up_questions_both_ways() {
    use harness::report::followups::{When, load};
    let root = harness::staging::Workspace::grader().root;
    for exercise in catalog::all() {
        let dir = root.join(exercise.dir());
        let list: FlawList =
            toml::from_str(&std::fs::read_to_string(dir.join("flaws.toml")).unwrap()).unwrap();
        let bank =
            load(&dir.join("followups.toml")).unwrap_or_else(|e| panic!("{}: {e}", exercise.id));
        let ids: BTreeSet<&str> = list.flaw.iter().map(|f| f.id.as_str()).collect();
        for q in &bank {
            if let Some(flaw) = &q.flaw {
                assert!(
                    ids.contains(flaw.as_str()),
                    "{}: followups.toml names no flaw `{flaw}`",
                    exercise.id
                );
            }
            assert!(!q.ask.trim().is_empty() && !q.strong.trim().is_empty());
        }
        for id in &ids {
            for when in [When::Fixed, When::Missed] {
                assert!(
                    bank.iter()
                        .any(|q| q.flaw.as_deref() == Some(*id) && q.when == Some(when)),
                    "{}: no {when:?} follow-up question for `{id}`",
                    exercise.id
                );
            }
        }
        assert!(
            bank.iter()
                .filter(|q| q.flaw.is_none() && q.design.is_none())
                .count()
                >= 2,
            "{}: fewer than two general follow-up questions",
            exercise.id
        );
        // A design question names a design the report can recognise for this exercise,
        // and every such design has one.
        let designs: BTreeSet<&str> = harness::report::designs::DESIGNS
            .iter()
            .filter(|d| d.exercise == exercise.id)
            .map(|d| d.id)
            .collect();
        for q in &bank {
            if let Some(d) = &q.design {
                assert!(
                    designs.contains(d.as_str()),
                    "{}: followups.toml names no design `{d}`",
                    exercise.id
                );
            }
        }
        for d in &designs {
            assert!(
                bank.iter().any(|q| q.design.as_deref() == Some(*d)),
                "{}: no follow-up question for the design `{d}`",
                exercise.id
            );
        }
    }
}

/// Every standing requirement is the brief's own sentence, and the requirements an
/// exercise lists are exactly those its world judges on every check's history: a
/// requirement with no judge would be reported as never judged, and a judge with no
/// requirement would find what no report shows.
#[test]
fn standing_requirements_are_the_briefs_words_and_each_has_its_judge() {
    let root = harness::staging::Workspace::grader().root;
    let plain = |s: &str| {
        s.replace("**", "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    for exercise in catalog::all() {
        let dir = root.join(exercise.dir());
        let listed = harness::report::requirements::load(&dir.join("requirements.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", exercise.id));
        let brief = plain(&std::fs::read_to_string(dir.join("BRIEF.md")).unwrap());
        for r in &listed {
            assert!(
                brief.contains(&plain(&r.text)),
                "{}: requirement `{}` is not the brief's own words: {:?}",
                exercise.id,
                r.id,
                r.text
            );
            assert!(
                r.points > 0,
                "{}: `{}` carries no points",
                exercise.id,
                r.id
            );
        }
        let ids: BTreeSet<&str> = listed.iter().map(|r| r.id.as_str()).collect();
        let judged: BTreeSet<&str> = checks_public::standing(exercise).iter().copied().collect();
        assert_eq!(
            ids, judged,
            "{}: requirements.toml vs the world's judges",
            exercise.id
        );
    }
}
