//! Reports: derived from check results and nothing else.
//!
//! [`Report`] is the versioned JSON machine contract (its JSON Schema is
//! `docs/schema/report-v6.schema.json`); [`markdown`] renders it for an interviewer,
//! [`junit`] for CI systems and [`classroom`] for GitHub Classroom's autograding
//! reporter. The other formats are views of the JSON report and never change it.

pub mod classroom;
pub mod designs;
pub mod followups;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod requirements;

use serde::{Deserialize, Serialize};

use crate::checks::Visibility;

/// Schema id of the JSON report; bump on any incompatible change.
pub const SCHEMA: &str = "harness.report/v6";

/// A whole grade.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The seed every random choice derived from.
    pub seed: u64,
    /// One entry per graded exercise.
    pub exercises: Vec<ExerciseReport>,
    /// Points earned.
    pub points: u32,
    /// Points available.
    pub max_points: u32,
    /// What was graded and under which isolation.
    pub submission: SubmissionReport,
}

/// What was handed in, what of it was ignored, and the sandbox it ran in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubmissionReport {
    /// The submission in words: a directory, an archive, a git ref or a patch.
    pub source: String,
    /// Submitted paths outside the candidate-owned ones that are missing from, or
    /// differ from, the grader's copy: they were not used (at most
    /// [`crate::staging::MAX_IGNORED_LISTED`]).
    pub ignored: Vec<String>,
    /// How many such paths there were in all.
    pub ignored_total: usize,
    /// The isolation candidate code ran under.
    pub isolation: crate::sandbox::Isolation,
}

/// Whether an exercise built.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Built.
    Ok,
    /// Did not build; checks were skipped.
    Failed,
}

/// Build outcome of one exercise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildReport {
    /// ok or failed.
    pub status: BuildStatus,
    /// The compiler's errors when the build failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Staging plus build time.
    pub duration_ms: u64,
}

/// The grade of one exercise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExerciseReport {
    /// Exercise id.
    pub id: String,
    /// Build outcome.
    pub build: BuildReport,
    /// One entry per check, in catalog order.
    pub checks: Vec<CheckReport>,
    /// Points earned.
    pub points: u32,
    /// Points available.
    pub max_points: u32,
    /// What the candidate's review notes found, scored apart from the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<crate::review::ReviewReport>,
    /// Per planted flaw, whether the fix holds: every check targeting it passed.
    #[serde(default)]
    pub flaws: Vec<FlawVerdict>,
    /// Questions for the interview that follows, picked by the flaws' verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followups: Vec<followups::FollowUp>,
    /// What the fix does, recognised from what the checks observed (never from the
    /// code); left out when the observations say nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub designs: Vec<designs::RecognisedDesign>,
}

/// Whether one planted flaw is fixed, from the checks that target it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlawVerdict {
    /// Planted flaw id.
    pub flaw: String,
    /// Every check targeting the flaw passed.
    pub fixed: bool,
    /// Checks targeting it that passed.
    pub checks_passed: usize,
    /// Checks targeting it.
    pub checks: usize,
    /// Points earned on its checks.
    pub points: u32,
    /// Points its checks carry.
    pub max_points: u32,
}

impl FlawVerdict {
    /// One verdict per flaw the checks target, in the order the checks first name them.
    pub fn of(checks: &[CheckReport]) -> Vec<FlawVerdict> {
        let mut out: Vec<FlawVerdict> = Vec::new();
        for c in checks {
            let Some(flaw) = &c.flaw else { continue };
            let i = match out.iter().position(|v| &v.flaw == flaw) {
                Some(i) => i,
                None => {
                    out.push(FlawVerdict {
                        flaw: flaw.clone(),
                        fixed: true,
                        checks_passed: 0,
                        checks: 0,
                        points: 0,
                        max_points: 0,
                    });
                    out.len() - 1
                }
            };
            let v = &mut out[i];
            v.checks += 1;
            v.points += c.points;
            v.max_points += c.max_points;
            if c.status == CheckStatus::Pass {
                v.checks_passed += 1;
            } else {
                v.fixed = false;
            }
        }
        out
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The requirement holds.
    Pass,
    /// The requirement is broken.
    Fail,
    /// The harness could not judge.
    Error,
    /// Not run (build failed).
    Skipped,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    /// Check id.
    pub id: String,
    /// Planted flaw targeted; null for contract checks.
    pub flaw: Option<String>,
    /// public or hidden.
    pub visibility: Visibility,
    /// pass, fail, error or skipped.
    pub status: CheckStatus,
    /// Points earned.
    pub points: u32,
    /// Points available.
    pub max_points: u32,
    /// Wall-clock time of the check.
    pub duration_ms: u64,
    /// What the check does and what must hold.
    pub description: String,
    /// This row is a standing requirement of the brief judged on the history of every
    /// check ([`requirements`]), not a check of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requirement: bool,
    /// The story: what was sent, what came back, what ground truth holds. Whole here;
    /// in the JSON a line over [`crate::checks::evidence::MAX_LINE_CHARS`] is cut in
    /// `evidence` and kept whole in `full_evidence` ([`evidence_json`]).
    #[serde(flatten, with = "evidence_json")]
    pub evidence: Vec<crate::checks::Line>,
    /// What happened during a check that did not pass, on one clock, one lane per
    /// actor, with each broken requirement marked; absent for passing checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<crate::checks::timeline::Recorded>,
}

/// A check's evidence in the JSON report: `evidence`, the story as a reader is shown it
/// (every line at most [`crate::checks::evidence::MAX_LINE_CHARS`] characters, a cut
/// line saying so), and `full_evidence`, the whole text of each cut line by its index —
/// left out when nothing was cut. A pipeline that shows `evidence` stays readable and
/// one that needs the data still has all of it; reading a report back restores the
/// whole lines, so a report survives the round trip unchanged.
mod evidence_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::checks::evidence::{Line, cut};

    /// The whole text of one evidence line that `evidence` shows cut.
    #[derive(Serialize, Deserialize)]
    struct FullLine {
        /// Its index in `evidence`.
        index: usize,
        /// Its whole text.
        text: String,
    }

    #[derive(Serialize)]
    struct Shown<'a> {
        evidence: Vec<std::borrow::Cow<'a, str>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        full_evidence: Vec<FullLineRef<'a>>,
    }

    #[derive(Serialize)]
    struct FullLineRef<'a> {
        index: usize,
        text: &'a str,
    }

    #[derive(Deserialize)]
    struct Read {
        evidence: Vec<String>,
        #[serde(default)]
        full_evidence: Vec<FullLine>,
    }

    pub fn serialize<S: Serializer>(lines: &[Line], s: S) -> Result<S::Ok, S::Error> {
        let mut shown = Shown {
            evidence: Vec::with_capacity(lines.len()),
            full_evidence: Vec::new(),
        };
        for (index, line) in lines.iter().enumerate() {
            match cut(line) {
                Some(short) => {
                    shown.evidence.push(short.into());
                    shown.full_evidence.push(FullLineRef {
                        index,
                        text: line.as_str(),
                    });
                }
                None => shown.evidence.push(line.as_str().into()),
            }
        }
        shown.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Line>, D::Error> {
        let Read {
            mut evidence,
            full_evidence,
        } = Read::deserialize(d)?;
        for full in full_evidence {
            if let Some(line) = evidence.get_mut(full.index) {
                *line = full.text;
            }
        }
        Ok(evidence.into_iter().map(Line::read).collect())
    }
}

/// Exit codes of `grade` and `check`, so a pipeline can tell "the candidate's code
/// failed" from "the harness could not decide" without parsing a report: a failing
/// check is a result to record, an errored one asks for a re-run or a look at the
/// grader, and no report at all is the pipeline's own problem. README.md has the table.
pub mod exit {
    /// Graded: every check passed and every exercise built.
    pub const PASSED: i32 = 0;
    /// Graded: some check failed, or an exercise did not build (a graded result).
    pub const FAILED: i32 = 1;
    /// Not graded: bad input (path, archive, exercise or check id, arguments) or the
    /// grader's environment (toolchain, temp space, writing `--out`); one line on
    /// stderr and no report.
    pub const NOT_GRADED: i32 = 2;
    /// Graded, but the harness could not judge some check (a check timed out,
    /// panicked, its fixture failed, or the harness spent much of it paused): the
    /// report is complete, its verdict is not.
    /// Wins over [`FAILED`], since the grade is not final until that check is judged.
    pub const CHECK_ERRORED: i32 = 3;

    /// Whether a `grade` child that exited with `code` produced a report: 0, 1 or 3.
    pub fn graded(code: Option<i32>) -> bool {
        matches!(code, Some(PASSED | FAILED | CHECK_ERRORED))
    }
}

impl Report {
    /// Exit code for `grade` (see [`exit`]): [`exit::CHECK_ERRORED`] when some check
    /// could not be judged, else [`exit::PASSED`] when every check passed and every
    /// exercise built, else [`exit::FAILED`].
    pub fn exit_code(&self) -> i32 {
        let statuses = || {
            self.exercises
                .iter()
                .flat_map(|e| &e.checks)
                .map(|c| c.status)
        };
        if statuses().any(|s| s == CheckStatus::Error) {
            exit::CHECK_ERRORED
        } else if statuses().all(|s| s == CheckStatus::Pass)
            && self
                .exercises
                .iter()
                .all(|e| e.build.status == BuildStatus::Ok)
        {
            exit::PASSED
        } else {
            exit::FAILED
        }
    }

    /// Counts of (passed, failed, errored, skipped) checks.
    pub fn tally(&self) -> (usize, usize, usize, usize) {
        let mut t = (0, 0, 0, 0);
        for c in self.exercises.iter().flat_map(|e| &e.checks) {
            match c.status {
                CheckStatus::Pass => t.0 += 1,
                CheckStatus::Fail => t.1 += 1,
                CheckStatus::Error => t.2 += 1,
                CheckStatus::Skipped => t.3 += 1,
            }
        }
        t
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data structs cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::evidence::{Line, MAX_LINE_CHARS};

    fn check(evidence: Vec<Line>) -> CheckReport {
        CheckReport {
            timeline: None,
            id: "example.long-evidence".to_owned(),
            flaw: Some("example-flaw".to_owned()),
            visibility: Visibility::Hidden,
            status: CheckStatus::Fail,
            points: 0,
            max_points: 2,
            duration_ms: 1,
            description: "At most 3 attempts per quote.".to_owned(),
            requirement: false,
            evidence,
        }
    }

    #[test]
    fn long_evidence_lines_are_cut_in_evidence_and_kept_whole_in_full_evidence() {
        let long = format!("gaps in ms: {}", "1 / ".repeat(5_000));
        let c = check(vec![
            Line::violation("5001 calls for one quote."),
            Line::said(long.clone()),
        ]);
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        let shown = json["evidence"].as_array().unwrap();
        assert_eq!(shown[0], "✗ 5001 calls for one quote.");
        let cut = shown[1].as_str().unwrap();
        assert!(cut.chars().count() < MAX_LINE_CHARS + 80, "{cut}");
        assert!(cut.ends_with("full text in the JSON report)"), "{cut}");
        assert_eq!(
            json["full_evidence"],
            serde_json::json!([{ "index": 1, "text": long }])
        );
        let back: CheckReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn short_evidence_has_no_full_evidence_member() {
        let c = check(vec![Line::said("GET /health → 200")]);
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("full_evidence").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<CheckReport>(json).unwrap(), c);
    }
}
