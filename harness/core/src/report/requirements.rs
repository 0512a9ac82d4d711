//! The brief's standing requirements, each judged on every check's history.
//!
//! `exercises/<id>/requirements.toml` lists them in the brief's own words (a test
//! keeps each sentence verbatim in `BRIEF.md`). Every world files its standing judges'
//! findings in its check's [`Journal`](crate::checks::Journal) when the check ends;
//! here those findings become one report row per requirement: held when every history
//! that judged it kept it, broken — with the first history that broke it as evidence —
//! when any did. A fix that fails next to a planted flaw, in a scenario no flaw check
//! was written for, still breaks the requirement the flaw was about, and loses its
//! points.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CheckReport, CheckStatus};
use crate::checks::journal::Judged;
use crate::checks::timeline::Recorded;
use crate::checks::{Evidence, Visibility};

/// One check's history as the requirements see it: what its worlds filed, and its
/// timeline, which a broken requirement's row shows.
#[derive(Debug, Clone)]
pub struct History {
    /// The check that recorded it.
    pub check: String,
    /// Each requirement's judgement of it.
    pub judged: Vec<Judged>,
    /// What happened, as the check recorded it (its judges' findings marked).
    pub timeline: Recorded,
}

/// One standing requirement of a brief.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Short id, unique in the exercise; the report's row is `<exercise>.requirement.<id>`.
    pub id: String,
    /// The brief's own sentence.
    pub text: String,
    /// Points a grade earns while every history keeps it.
    pub points: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    requirement: Vec<Requirement>,
}

/// Why `requirements.toml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// The file is there but unreadable.
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The file does not parse or repeats an id.
    #[error("{0} is not a valid requirements file: {1}")]
    Format(PathBuf, String),
}

/// The requirements at `path`; none when there is no file (a kit, or an exercise
/// whose requirements are all judged by its checks alone).
pub fn load(path: &Path) -> Result<Vec<Requirement>, RequirementsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RequirementsError::Io(path.to_path_buf(), e)),
    };
    let file: File = toml::from_str(&text)
        .map_err(|e| RequirementsError::Format(path.to_path_buf(), e.to_string()))?;
    for (i, r) in file.requirement.iter().enumerate() {
        if file.requirement[..i].iter().any(|o| o.id == r.id) {
            return Err(RequirementsError::Format(
                path.to_path_buf(),
                format!("the id `{}` is used twice", r.id),
            ));
        }
    }
    Ok(file.requirement)
}

/// The report row id of requirement `id` of `exercise`.
pub fn row_id(exercise: &str, id: &str) -> String {
    format!("{exercise}.requirement.{id}")
}

/// What a requirement row's description adds to the brief's sentence.
const NOTE: &str =
    " (A requirement of the brief, judged on the history of every check this grade ran.)";

/// The brief's own sentence of a requirement row's description.
pub fn sentence(description: &str) -> &str {
    description.strip_suffix(NOTE).unwrap_or(description)
}

/// How many lines of the first breaking history a row shows.
const SHOWN: usize = 6;

/// One row per requirement, judged on `histories`. A requirement no history judged is
/// an error: the grade cannot say. A broken one carries the timeline of the first
/// history that broke it, where its judge's finding is marked.
pub fn judge(
    exercise: &str,
    requirements: &[Requirement],
    histories: &[History],
) -> Vec<CheckReport> {
    requirements
        .iter()
        .map(|r| {
            let judged: Vec<(&str, &Judged)> = histories
                .iter()
                .flat_map(|h| {
                    h.judged
                        .iter()
                        .filter(|j| j.requirement == r.id)
                        .map(move |j| (h.check.as_str(), j))
                })
                .collect();
            let mut broken_in: Vec<&str> = judged
                .iter()
                .filter(|(_, j)| !j.broken.is_empty())
                .map(|(check, _)| *check)
                .collect();
            broken_in.dedup();
            let mut evidence = Evidence::new();
            let timeline = broken_in.first().and_then(|first| {
                histories
                    .iter()
                    .find(|h| h.check == *first && !h.timeline.is_empty())
                    .map(|h| h.timeline.clone())
            });
            let status = if judged.is_empty() {
                evidence.say(
                    "No check's history judged this requirement: the grade cannot say whether it holds.",
                );
                CheckStatus::Error
            } else if let Some(first) = broken_in.first() {
                let lines: Vec<&String> = judged
                    .iter()
                    .filter(|(check, _)| check == first)
                    .flat_map(|(_, j)| &j.broken)
                    .collect();
                for line in lines.iter().take(SHOWN) {
                    evidence.violation(line);
                }
                if lines.len() > SHOWN {
                    evidence.say(format!("… and {} more.", lines.len() - SHOWN));
                }
                evidence.say(format!(
                    "Broken in the history of `{first}` (replay that check to see it).",
                ));
                if broken_in.len() > 1 {
                    evidence.say(format!(
                        "Also broken in the histories of: {}.",
                        broken_in[1..]
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                CheckStatus::Fail
            } else {
                evidence.say(format!(
                    "Held in every history that judged it: {} check(s).",
                    count_checks(&judged)
                ));
                CheckStatus::Pass
            };
            CheckReport {
                timeline,
                id: row_id(exercise, &r.id),
                flaw: None,
                visibility: Visibility::Hidden,
                status,
                points: if status == CheckStatus::Pass {
                    r.points
                } else {
                    0
                },
                max_points: r.points,
                duration_ms: 0,
                description: format!("{}{NOTE}", r.text),
                requirement: true,
                evidence: evidence.into_lines(),
            }
        })
        .collect()
}

fn count_checks(judged: &[(&str, &Judged)]) -> usize {
    let mut checks: Vec<&str> = judged.iter().map(|(c, _)| *c).collect();
    checks.sort_unstable();
    checks.dedup();
    checks.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str) -> Requirement {
        Requirement {
            id: id.to_owned(),
            text: format!("The {id} sentence."),
            points: 2,
        }
    }

    fn history(check: &str, judged: Vec<Judged>) -> History {
        History {
            check: check.to_owned(),
            judged,
            timeline: Recorded::default(),
        }
    }

    fn filed(requirement: &'static str, broken: &[&str]) -> Judged {
        Judged {
            requirement,
            broken: broken.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_requirement_kept_by_every_history_holds_with_its_points() {
        let rows = judge(
            "charge",
            &[req("once")],
            &[
                history("charge.a", vec![filed("once", &[])]),
                history("charge.b", vec![filed("once", &[])]),
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, "charge.requirement.once");
        assert_eq!(rows[0].status, CheckStatus::Pass);
        assert_eq!((rows[0].points, rows[0].max_points), (2, 2));
        assert!(rows[0].requirement);
        assert_eq!(
            rows[0].evidence,
            ["Held in every history that judged it: 2 check(s)."]
        );
    }

    #[test]
    fn one_breaking_history_breaks_it_and_is_shown_first() {
        let b = crate::checks::timeline::Timeline::new();
        b.record("client", "→ POST /charges");
        b.violation("judge", "once: cus_1 charged twice");
        let b_timeline = b.take();
        let rows = judge(
            "charge",
            &[req("once"), req("agrees")],
            &[
                history("charge.a", vec![filed("once", &[])]),
                History {
                    timeline: b_timeline.clone(),
                    ..history(
                        "charge.b",
                        vec![
                            filed("once", &["cus_1 charged twice"]),
                            filed("agrees", &[]),
                        ],
                    )
                },
                history("charge.c", vec![filed("once", &["cus_2 charged twice"])]),
            ],
        );
        // The row shows the story of the history it names; a kept one shows none.
        assert_eq!(rows[0].timeline.as_ref(), Some(&b_timeline));
        assert_eq!(rows[1].timeline, None);
        assert_eq!(rows[0].status, CheckStatus::Fail);
        assert_eq!(rows[0].points, 0);
        assert_eq!(rows[0].evidence[0], "✗ cus_1 charged twice");
        assert!(
            rows[0].evidence[1].contains("`charge.b`"),
            "{:?}",
            rows[0].evidence
        );
        assert_eq!(
            rows[0].evidence[2],
            "Also broken in the histories of: `charge.c`."
        );
        assert_eq!(rows[1].status, CheckStatus::Pass);
    }

    #[test]
    fn a_requirement_no_history_judged_cannot_be_said_to_hold() {
        let rows = judge("charge", &[req("once")], &[history("charge.a", vec![])]);
        assert_eq!(rows[0].status, CheckStatus::Error);
        assert_eq!(rows[0].points, 0);
    }

    #[test]
    fn a_long_story_is_cut_and_counted() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let rows = judge("t", &[req("r")], &[history("t.a", vec![filed("r", &refs)])]);
        assert_eq!(rows[0].evidence.len(), SHOWN + 2);
        assert_eq!(rows[0].evidence[SHOWN], "… and 4 more.");
    }

    #[test]
    fn a_repeated_id_is_refused() {
        let dir = std::env::temp_dir().join(format!("req-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("requirements.toml");
        let one = "[[requirement]]\nid = \"a\"\ntext = \"x\"\npoints = 1\n";
        std::fs::write(&path, format!("{one}{one}")).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("`a` is used twice"), "{err}");
        assert!(load(&dir.join("absent.toml")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
