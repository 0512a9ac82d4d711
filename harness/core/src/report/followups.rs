//! Follow-up questions for the interview after a take-home: a bank per exercise
//! (`exercises/<id>/followups.toml`, grading material that no kit carries) and the pick
//! for one grade, keyed to what the checks found. A flaw the fix holds gets the harder
//! question that probes past the fix; a flaw it misses gets the question that leads to
//! it; every submission gets the exercise's general questions.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::FlawVerdict;

/// Why a bank could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    /// The file exists but could not be read.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The file is not a bank of questions.
    #[error("{0}: {1}")]
    Format(PathBuf, String),
}

/// When a flaw's question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Every check of the flaw passed: probe past the fix.
    Fixed,
    /// A check of the flaw failed: lead the candidate to the failure.
    Missed,
}

/// One question of a bank.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The planted flaw it is about; none for a question every submission gets.
    #[serde(default)]
    pub flaw: Option<String>,
    /// When to ask it (with `flaw` only).
    #[serde(default)]
    pub when: Option<When>,
    /// The recognised design it is about ([`super::designs`]): asked when the checks
    /// recognised it. Not with `flaw`.
    #[serde(default)]
    pub design: Option<String>,
    /// The question, as the interviewer says it.
    pub ask: String,
    /// What a strong answer mentions.
    pub strong: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bank {
    #[serde(default)]
    question: Vec<Question>,
}

/// A question picked for one grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The planted flaw it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaw: Option<String>,
    /// Whether that flaw's checks held (the reason it was picked), with `flaw` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<bool>,
    /// The recognised design it was picked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
    /// The question.
    pub ask: String,
    /// What a strong answer mentions.
    pub strong: String,
}

/// Questions about flaws picked per exercise, at most: a debrief has room for a few,
/// so the flaws with the most points at stake come first, missed ones before fixed.
const ABOUT_FLAWS: usize = 3;
/// General questions picked per exercise, at most.
const GENERAL: usize = 1;
/// Questions about the candidate's recognised design, at most.
const ABOUT_DESIGNS: usize = 1;

/// The bank at `path`; empty when there is none (a kit, or an exercise without one).
pub fn load(path: &Path) -> Result<Vec<Question>, FollowUpError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FollowUpError::Io(path.to_path_buf(), e)),
    };
    let bank: Bank = toml::from_str(&text)
        .map_err(|e| FollowUpError::Format(path.to_path_buf(), e.to_string()))?;
    for q in &bank.question {
        if q.flaw.is_some() != q.when.is_some() {
            return Err(FollowUpError::Format(
                path.to_path_buf(),
                format!("`flaw` and `when` go together: {:?}", q.ask),
            ));
        }
        if q.design.is_some() && q.flaw.is_some() {
            return Err(FollowUpError::Format(
                path.to_path_buf(),
                format!(
                    "a question is about a flaw or a design, not both: {:?}",
                    q.ask
                ),
            ));
        }
    }
    Ok(bank.question)
}

/// The questions for a grade whose flaws came out as `flaws`: for the [`ABOUT_FLAWS`]
/// flaws that matter most (missed before fixed, then by points at stake, then in the
/// report's order), each one's first question for its outcome; then, for the first
/// recognised design that has one, its first question ([`ABOUT_DESIGNS`]): the
/// candidate's own design, put to them; then the first [`GENERAL`] general ones.
pub fn pick(
    bank: &[Question],
    flaws: &[FlawVerdict],
    designs: &[super::designs::RecognisedDesign],
) -> Vec<FollowUp> {
    let mut ranked: Vec<&FlawVerdict> = flaws.iter().collect();
    ranked.sort_by_key(|v| (v.fixed, std::cmp::Reverse(v.max_points)));
    let mut out = Vec::new();
    for v in ranked {
        if out.len() == ABOUT_FLAWS {
            break;
        }
        let when = if v.fixed { When::Fixed } else { When::Missed };
        if let Some(q) = bank
            .iter()
            .find(|q| q.flaw.as_deref() == Some(v.flaw.as_str()) && q.when == Some(when))
        {
            out.push(FollowUp {
                flaw: Some(v.flaw.clone()),
                fixed: Some(v.fixed),
                design: None,
                ask: q.ask.clone(),
                strong: q.strong.clone(),
            });
        }
    }
    out.extend(
        designs
            .iter()
            .filter_map(|d| {
                bank.iter()
                    .find(|q| q.design.as_deref() == Some(d.id.as_str()))
            })
            .take(ABOUT_DESIGNS)
            .map(|q| FollowUp {
                flaw: None,
                fixed: None,
                design: q.design.clone(),
                ask: q.ask.clone(),
                strong: q.strong.clone(),
            }),
    );
    out.extend(
        bank.iter()
            .filter(|q| q.flaw.is_none() && q.design.is_none())
            .take(GENERAL)
            .map(|q| FollowUp {
                flaw: None,
                fixed: None,
                design: None,
                ask: q.ask.clone(),
                strong: q.strong.clone(),
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(flaw: &str, fixed: bool) -> FlawVerdict {
        FlawVerdict {
            flaw: flaw.to_owned(),
            fixed,
            checks_passed: usize::from(fixed),
            checks: 1,
            points: 0,
            max_points: 1,
        }
    }

    fn q(flaw: Option<&str>, when: Option<When>, ask: &str) -> Question {
        Question {
            flaw: flaw.map(str::to_owned),
            when,
            design: None,
            ask: ask.to_owned(),
            strong: format!("strong {ask}"),
        }
    }

    #[test]
    fn a_fixed_flaw_gets_its_fixed_question_and_a_missed_one_its_missed_question() {
        let bank = vec![
            q(Some("a"), Some(When::Missed), "a missed"),
            q(Some("a"), Some(When::Fixed), "a fixed"),
            q(Some("b"), Some(When::Fixed), "b fixed"),
            q(Some("b"), Some(When::Missed), "b missed"),
            q(Some("b"), Some(When::Missed), "b missed, second"),
            q(None, None, "general 1"),
            q(None, None, "general 2"),
            q(None, None, "general 3"),
        ];
        let picked = pick(&bank, &[verdict("a", true), verdict("b", false)], &[]);
        let asks: Vec<&str> = picked.iter().map(|f| f.ask.as_str()).collect();
        // The missed flaw first, then the fixed one, then one general question.
        assert_eq!(asks, ["b missed", "a fixed", "general 1"]);
        assert_eq!(picked[0].fixed, Some(false));
        assert_eq!(picked[1].flaw.as_deref(), Some("a"));
        assert_eq!(picked[2].flaw, None);
    }

    #[test]
    fn at_most_three_flaws_are_asked_about_the_most_points_first() {
        let mut bank = Vec::new();
        let mut flaws = Vec::new();
        for (n, points) in [1, 5, 2, 4].into_iter().enumerate() {
            let id = format!("f{n}");
            bank.push(q(Some(&id), Some(When::Missed), &format!("{id} missed")));
            let mut v = verdict(&id, false);
            v.max_points = points;
            flaws.push(v);
        }
        let asks: Vec<String> = pick(&bank, &flaws, &[])
            .into_iter()
            .map(|f| f.ask)
            .collect();
        assert_eq!(asks, ["f1 missed", "f3 missed", "f2 missed"]);
    }

    #[test]
    fn a_flaw_without_a_question_for_its_outcome_is_skipped() {
        let bank = vec![q(Some("a"), Some(When::Missed), "a missed")];
        assert!(pick(&bank, &[verdict("a", true)], &[]).is_empty());
    }

    #[test]
    fn the_recognised_design_gets_its_question_before_the_general_one() {
        let mut about_own = q(None, None, "own key: where is it stored?");
        about_own.design = Some("provider-key-own".to_owned());
        let mut about_none = q(None, None, "no key: what does a retry do?");
        about_none.design = Some("provider-key-none".to_owned());
        let bank = vec![
            about_none,
            q(Some("a"), Some(When::Missed), "a missed"),
            about_own,
            q(None, None, "general"),
        ];
        let design = |id: &str| crate::report::designs::RecognisedDesign {
            id: id.to_owned(),
            text: String::new(),
            evidence: Vec::new(),
        };
        let picked = pick(&bank, &[verdict("a", false)], &[design("provider-key-own")]);
        let asks: Vec<&str> = picked.iter().map(|f| f.ask.as_str()).collect();
        assert_eq!(
            asks,
            ["a missed", "own key: where is it stored?", "general"]
        );
        assert_eq!(picked[1].design.as_deref(), Some("provider-key-own"));
        // No design recognised: no design question, and design questions are not general.
        let asks: Vec<String> = pick(&bank, &[], &[]).into_iter().map(|f| f.ask).collect();
        assert_eq!(asks, ["general"]);
    }

    #[test]
    fn a_missing_bank_is_empty_and_a_half_keyed_question_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&dir.path().join("none.toml")).unwrap().is_empty());
        let path = dir.path().join("followups.toml");
        std::fs::write(
            &path,
            "[[question]]\nflaw = \"a\"\nask = \"?\"\nstrong = \"!\"\n",
        )
        .unwrap();
        assert!(matches!(load(&path), Err(FollowUpError::Format(..))));
        std::fs::write(
            &path,
            "[[question]]\nask = \"?\"\nstrong = \"!\"\nextra = 1\n",
        )
        .unwrap();
        assert!(matches!(load(&path), Err(FollowUpError::Format(..))));
    }
}
