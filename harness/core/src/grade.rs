//! Grading: build each exercise from a submission, run its checks, build the report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::catalog::{self, Exercise};
use crate::checks::{Check, CheckEnv, Line, Verdict};
use crate::report::{
    BuildReport, BuildStatus, CheckReport, CheckStatus, ExerciseReport, FlawVerdict, Report,
    SCHEMA, SubmissionReport,
};
use crate::staging::{self, Build, StageError, Workspace};

/// Longest a single check may run before it is reported as an error.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// The id suffix of each exercise's upgrade-from-production check.
pub const UPGRADE_CHECK: &str = ".upgrade-from-production";

/// Id suffixes of the checks that start production's own build (the grader's pristine
/// exercise) before the fix: they get it in [`CheckEnv::pristine`].
pub const NEEDS_PRODUCTION_BUILD: &[&str] = &[
    UPGRADE_CHECK,
    ".retry-across-upgrade",
    ".key-reused-with-other-cart",
];

/// The seed used when `--seed` is not given: the same for every submission, so a
/// pipeline grades every candidate against the same histories.
pub const DEFAULT_SEED: u64 = 20_261_129;

/// What to grade.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// A directory laid out like this repository.
    pub submission: PathBuf,
    /// Exercise ids; empty means every exercise.
    pub exercises: Vec<String>,
    /// Check ids to run; empty means every check.
    pub checks: Vec<String>,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// What was handed in, in words, when it was not simply `submission`.
    pub source: Option<String>,
    /// Run only checks of this visibility (a candidate's `check` runs public ones).
    pub visibility: Option<crate::checks::Visibility>,
    /// Which checks each exercise has: the grader's (hidden included) or the kit's.
    pub registry: crate::checks::Registry,
    /// Exercises graded at once (at least one). Builds still take turns; one exercise's
    /// checks run while the next builds and while another's checks wait on held calls.
    pub parallel: usize,
}

/// Exercises graded at once when nobody says otherwise: a grade mostly waits (held
/// calls, timeouts, restarts), and three streams keep two cores busy without crowding
/// the time budgets the checks judge, which decide on the fastest of several trials.
pub const DEFAULT_PARALLEL: usize = 3;

/// Why a grade could not be produced at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The submission path is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    /// The submission has no `exercises/` directory.
    #[error("{0}: no exercises/ directory; expected a tree laid out like this repository")]
    NoExercises(PathBuf),
    /// An exercise id that the catalog does not know.
    #[error("unknown exercise `{0}` (known: {1})")]
    UnknownExercise(String, String),
    /// A check id that none of the selected exercises has.
    #[error("unknown check `{0}`")]
    UnknownCheck(String),
    /// Staging failed on the grader's side.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The grader's own copy of an exercise did not build (an environment fault).
    #[error("the grader's own {0} exercise does not build: {1}")]
    Pristine(String, String),
    /// The grader's own bank of follow-up questions could not be read.
    #[error("follow-up questions: {0}")]
    FollowUps(String),
    /// The grader's own list of a brief's standing requirements could not be read.
    #[error("requirements: {0}")]
    Requirements(String),
    /// A temp directory could not be created.
    #[error("temporary directory: {0}")]
    TempDir(std::io::Error),
}

/// Progress events, for a CLI to print as checks finish.
pub trait Progress: Sync {
    /// An exercise's build finished.
    fn built(&self, exercise: &str, build: &BuildReport);
    /// A check finished.
    fn checked(&self, check: &CheckReport);
}

/// A [`Progress`] that prints nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn built(&self, _: &str, _: &BuildReport) {}
    fn checked(&self, _: &CheckReport) {}
}

/// Grades a submission.
pub async fn grade(
    ws: &Workspace,
    opts: &GradeOptions,
    progress: &dyn Progress,
) -> Result<Report, GradeError> {
    if !opts.submission.is_dir() {
        return Err(GradeError::NotADirectory(opts.submission.clone()));
    }
    if !opts.submission.join("exercises").is_dir() {
        return Err(GradeError::NoExercises(opts.submission.clone()));
    }
    let exercises = select_exercises(&opts.exercises)?;
    for wanted in &opts.checks {
        let known = exercises
            .iter()
            .flat_map(|e| (opts.registry)(*e))
            .any(|c| c.id == wanted);
        if !known {
            return Err(GradeError::UnknownCheck(wanted.clone()));
        }
    }
    let scratch = tempfile::Builder::new()
        .prefix("harness-grade-")
        .tempdir()
        .map_err(GradeError::TempDir)?;
    crate::sandbox::open_path_for_services(&[scratch.path()]).map_err(GradeError::TempDir)?;

    // In catalog order, whichever finishes first. The futures are made up front (they
    // do nothing until polled): a closure inside the stream would make the grade's
    // future lose `Send` to a higher-ranked lifetime.
    let grades: Vec<_> = exercises
        .iter()
        .map(|exercise| grade_exercise(ws, opts, exercise, scratch.path(), progress))
        .collect();
    let reports: Vec<ExerciseReport> = futures_util::stream::iter(grades)
        .buffered(opts.parallel.max(1))
        .try_collect()
        .await?;
    let points = reports.iter().map(|e| e.points).sum();
    let max_points = reports.iter().map(|e| e.max_points).sum();
    let (ignored, ignored_total) = staging::ignored_paths(ws, &opts.submission);
    Ok(Report {
        schema: SCHEMA.to_owned(),
        seed: opts.seed,
        exercises: reports,
        points,
        max_points,
        submission: SubmissionReport {
            source: opts
                .source
                .clone()
                .unwrap_or_else(|| format!("directory {}", opts.submission.display())),
            ignored,
            ignored_total,
            isolation: crate::sandbox::isolation(&ws.root, &ws.cache.join("stage")),
        },
    })
}

fn select_exercises(ids: &[String]) -> Result<Vec<Exercise>, GradeError> {
    if ids.is_empty() {
        return Ok(catalog::all());
    }
    ids.iter()
        .map(|id| {
            catalog::find(id).ok_or_else(|| {
                let known: Vec<_> = catalog::all().iter().map(|e| e.id).collect();
                GradeError::UnknownExercise(id.clone(), known.join(", "))
            })
        })
        .collect()
}

/// Whether two paths name the same directory.
fn same_tree(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

async fn grade_exercise(
    ws: &Workspace,
    opts: &GradeOptions,
    exercise: &Exercise,
    scratch: &Path,
    progress: &dyn Progress,
) -> Result<ExerciseReport, GradeError> {
    let started = Instant::now();
    let dir = scratch.join(exercise.id);
    let mut build =
        staging::build_exercise(ws, &opts.submission, exercise, &dir.join("bin")).await?;
    if matches!(build, Build::TimedOut { .. }) {
        // A first build compiles every dependency as well, which a slow or busy machine
        // may not finish in the limit: the grader's environment, not the fix. The
        // grader's own copy has the same dependencies; once it builds, so do they, and
        // the fix gets the limit for itself. If the grader's copy cannot build in time
        // either, the machine cannot grade. (In a kit the two are the same tree: the
        // second try goes on from the dependencies the first one compiled.)
        if !same_tree(&ws.root, &opts.submission) {
            match staging::build_exercise(ws, &ws.root, exercise, &dir.join("pristine")).await? {
                Build::Ok { .. } => {}
                Build::Failed { log } | Build::TimedOut { log } => {
                    return Err(GradeError::Pristine(
                        exercise.id.to_owned(),
                        format!(
                            "{} (after the submission's own build ran out of time: this machine is too slow or too busy to grade)",
                            log.lines().next().unwrap_or("no log")
                        ),
                    ));
                }
            }
        }
        build = staging::build_exercise(ws, &opts.submission, exercise, &dir.join("bin")).await?;
    }
    let build_ms = started.elapsed().as_millis() as u64;
    let checks: Vec<_> = (opts.registry)(*exercise)
        .into_iter()
        .filter(|c| opts.checks.is_empty() || opts.checks.iter().any(|w| w == c.id))
        .filter(|c| opts.visibility.is_none_or(|v| c.visibility == v))
        .collect();
    // The upgrade check starts production's database with the grader's own build.
    let pristine = if matches!(build, Build::Ok { .. })
        && checks
            .iter()
            .any(|c| NEEDS_PRODUCTION_BUILD.iter().any(|s| c.id.ends_with(s)))
    {
        match staging::build_exercise(ws, &ws.root, exercise, &dir.join("pristine")).await? {
            Build::Ok { binary, .. } => Some(binary),
            Build::Failed { log } | Build::TimedOut { log } => {
                let first = log
                    .lines()
                    .find(|l| l.starts_with("error"))
                    .unwrap_or("see its build log")
                    .to_owned();
                return Err(GradeError::Pristine(exercise.id.to_owned(), first));
            }
        }
    } else {
        None
    };
    let (build_report, binary) = match build {
        Build::Ok { binary, .. } => (
            BuildReport {
                status: BuildStatus::Ok,
                log: None,
                duration_ms: build_ms,
            },
            Some(binary),
        ),
        Build::Failed { log } | Build::TimedOut { log } => (
            BuildReport {
                status: BuildStatus::Failed,
                log: Some(log),
                duration_ms: build_ms,
            },
            None,
        ),
    };
    progress.built(exercise.id, &build_report);

    // One confinement for every service of this grade, from the grader's own tree.
    let policy = std::sync::Arc::new(crate::sandbox::Policy::service(&ws.root));
    // The standing requirements are judged on every check's history, so only a grade
    // that runs every check can say whether they hold.
    let requirements = if opts.checks.is_empty() && opts.visibility.is_none() {
        crate::report::requirements::load(&ws.root.join(exercise.dir()).join("requirements.toml"))
            .map_err(|e| GradeError::Requirements(e.to_string()))?
    } else {
        Vec::new()
    };
    // Two checks at a time, soaks first: a grade mostly waits (held calls, timeouts,
    // restarts), so a soak of wall-clock time runs beside the short checks instead of
    // after them. Results keep the registry's order, whatever finished first.
    let mut order: Vec<usize> = (0..checks.len()).collect();
    order.sort_by_key(|&i| !checks[i].soak);
    let runs: Vec<_> = order
        .into_iter()
        .map(|i| {
            let run = CheckRun {
                binary: &binary,
                dir: &dir,
                pristine: &pristine,
                policy: &policy,
                opts,
                exercise: exercise.id,
            };
            let check = &checks[i];
            async move { (i, run.run(check, progress).await) }
        })
        .collect();
    let mut finished: Vec<(usize, Result<Ran, GradeError>)> = futures_util::stream::iter(runs)
        .buffer_unordered(CHECKS_AT_ONCE)
        .collect()
        .await;
    finished.sort_by_key(|(i, _)| *i);
    let mut histories = Vec::new();
    let mut observed = Vec::new();
    let mut results = Vec::new();
    for (_, ran) in finished {
        let ran = ran?;
        results.push(ran.report);
        histories.extend(ran.history);
        observed.extend(ran.observed);
    }
    if binary.is_some() {
        for row in crate::report::requirements::judge(exercise.id, &requirements, &histories) {
            progress.checked(&row);
            results.push(row);
        }
    } else {
        results.extend(requirements.iter().map(|r| CheckReport {
            timeline: None,
            id: crate::report::requirements::row_id(exercise.id, &r.id),
            flaw: None,
            visibility: crate::checks::Visibility::Hidden,
            status: CheckStatus::Skipped,
            points: 0,
            max_points: r.points,
            duration_ms: 0,
            description: r.text.clone(),
            requirement: true,
            evidence: vec![Line::said("Not judged: the service did not build.")],
        }));
    }
    let review = crate::review::grade(
        &opts.submission.join(exercise.dir()),
        &ws.root.join(exercise.dir()).join("flaws.toml"),
    );
    let bank_path = ws.root.join(exercise.dir()).join("followups.toml");
    let bank = crate::report::followups::load(&bank_path)
        .map_err(|e| GradeError::FollowUps(e.to_string()))?;
    let flaws = FlawVerdict::of(&results);
    let designs = crate::report::designs::recognise(exercise.id, &observed);
    Ok(ExerciseReport {
        id: exercise.id.to_owned(),
        build: build_report,
        points: results.iter().map(|c| c.points).sum(),
        max_points: results.iter().map(|c| c.max_points).sum(),
        followups: crate::report::followups::pick(&bank, &flaws, &designs),
        designs,
        flaws,
        checks: results,
        review,
    })
}

/// Checks of one exercise run at once: two, so a soak runs beside the short checks.
/// More would crowd the time budgets the short checks judge on a two-core machine
/// where three exercises (or corpus entries) are graded at once.
const CHECKS_AT_ONCE: usize = 2;

/// What every check of one exercise's grade runs with.
struct CheckRun<'a> {
    /// The candidate's service, if it built.
    binary: &'a Option<PathBuf>,
    /// The exercise's scratch directory; each check works in a directory of its own.
    dir: &'a Path,
    /// Production's build, for the checks that start it first.
    pristine: &'a Option<PathBuf>,
    /// The confinement every service of the grade runs under.
    policy: &'a std::sync::Arc<crate::sandbox::Policy>,
    opts: &'a GradeOptions,
    exercise: &'static str,
}

/// One check's outcome: its report row, the history its worlds recorded (none for a
/// check that ran out of time) and what its worlds observed of the fix's design.
struct Ran {
    report: CheckReport,
    history: Option<crate::report::requirements::History>,
    observed: Vec<crate::checks::journal::Observed>,
}

impl CheckRun<'_> {
    /// Runs `check` in a task of its own, under its own pause watch and time limit.
    async fn run(&self, check: &Check, progress: &dyn Progress) -> Result<Ran, GradeError> {
        let started = Instant::now();
        let journal = crate::checks::Journal::default();
        let (status, evidence) = match self.binary {
            None => (
                CheckStatus::Skipped,
                vec![Line::said("Not run: the service did not build.")],
            ),
            Some(binary) => {
                let workdir = self.dir.join(check.id);
                std::fs::create_dir_all(&workdir).map_err(GradeError::TempDir)?;
                let env = CheckEnv {
                    binary: binary.clone(),
                    workdir,
                    seed: crate::seed::for_check(self.opts.seed, check.id),
                    pristine: self.pristine.clone(),
                    policy: self.policy.clone(),
                    journal: journal.clone(),
                    replay: replay_command(
                        self.opts.source.as_deref(),
                        &self.opts.submission,
                        self.exercise,
                        check.id,
                        self.opts.seed,
                    ),
                };
                // Each check runs in its own task so a panic is contained and reported;
                // the guard aborts it if this grade is dropped (another exercise's
                // grade failed), as the timeout does.
                // Judges leave out what the harness measured while it was paused.
                let _watch = crate::checks::pauses::Watch::start(journal.timeline().clone());
                let mut task = AbortOnDrop(tokio::spawn((check.run)(env)));
                match tokio::time::timeout(CHECK_TIMEOUT, &mut task.0).await {
                    Err(_) => {
                        // Dropping the check's future kills its services and fakes.
                        task.0.abort();
                        (
                            CheckStatus::Error,
                            vec![Line::said(format!(
                                "The check did not finish within {}s.",
                                CHECK_TIMEOUT.as_secs()
                            ))],
                        )
                    }
                    Ok(Err(e)) => (
                        CheckStatus::Error,
                        vec![Line::said(format!("The check panicked: {e}"))],
                    ),
                    Ok(Ok(Verdict::Pass(ev))) => (CheckStatus::Pass, ev.into_lines()),
                    Ok(Ok(Verdict::Fail(ev))) => (CheckStatus::Fail, ev.into_lines()),
                    Ok(Ok(Verdict::Error(reason))) => {
                        (CheckStatus::Error, vec![Line::said(reason)])
                    }
                }
            }
        };
        let timeline = journal.timeline();
        let (status, evidence) = starved(status, evidence, &timeline.pauses(), started.elapsed());
        if status == CheckStatus::Fail {
            // The check's own verdict: where its judge saw the requirement broken is in
            // its evidence; the timeline marks when the check concluded it.
            for line in evidence.iter().filter(|l| l.is_violation()) {
                timeline.violation("judge", line.detail());
            }
        }
        let recorded = timeline.take();
        let report = CheckReport {
            timeline: (matches!(status, CheckStatus::Fail | CheckStatus::Error)
                && !recorded.is_empty())
            .then(|| recorded.clone()),
            id: check.id.to_owned(),
            flaw: check.flaw.map(str::to_owned),
            visibility: check.visibility,
            status,
            points: if status == CheckStatus::Pass {
                check.points
            } else {
                0
            },
            max_points: check.points,
            duration_ms: started.elapsed().as_millis() as u64,
            description: check.description.to_owned(),
            requirement: false,
            evidence,
        };
        progress.checked(&report);
        // A check that ran out of time is aborted, not finished: its worlds may not
        // have judged their history yet, and a half-judged history proves nothing.
        let (history, observed) = if status != CheckStatus::Error {
            let history = crate::report::requirements::History {
                check: check.id.to_owned(),
                judged: journal.take(),
                timeline: recorded,
            };
            (Some(history), journal.take_observed())
        } else {
            (None, Vec::new())
        };
        Ok(Ran {
            report,
            history,
            observed,
        })
    }
}

/// The share of a check's time the harness may spend paused before its verdict is
/// void: judges leave out what overlaps a pause, and a check mostly left out has
/// judged too little to pass — nor to fail, on a machine merely busy.
const MOST_PAUSED: f64 = 0.25;
/// ...once the pauses add up to this much: a busy machine pauses the harness for a
/// second or several now and then (a short check must not lose its verdict to one),
/// a service starving the harness to hide from its judges does it for long...
const PAUSED_AT_LEAST: std::time::Duration = std::time::Duration::from_secs(10);
/// ...and in this many pauses at least: starving the harness of CPU pauses it again and
/// again, while one hiccup of the machine (seen once: a single 10 s pause in a 14 s
/// check on a loaded machine) is a stretch its judges already leave out.
const PAUSES_AT_LEAST: usize = 3;

/// The check's verdict, or none (an error saying why) when the harness was paused for
/// more than [`MOST_PAUSED`] of its `elapsed` time, [`PAUSED_AT_LEAST`] in all and in
/// [`PAUSES_AT_LEAST`] pauses: a machine far too busy, or a service starving the
/// harness so that its judges see little.
fn starved(
    status: CheckStatus,
    mut evidence: Vec<Line>,
    pauses: &[crate::checks::pauses::Pause],
    elapsed: std::time::Duration,
) -> (CheckStatus, Vec<Line>) {
    let paused: std::time::Duration = pauses.iter().map(|p| p.length()).sum();
    if !matches!(status, CheckStatus::Pass | CheckStatus::Fail)
        || paused < PAUSED_AT_LEAST
        || pauses.len() < PAUSES_AT_LEAST
        || paused.as_secs_f64() <= MOST_PAUSED * elapsed.as_secs_f64()
    {
        return (status, evidence);
    }
    evidence.push(Line::said(format!(
        "No verdict: the harness itself was paused for {:.1} s of the check's {:.1} s ({} pauses; the machine too busy, or the service starving it of CPU), so too little was measured to judge.",
        paused.as_secs_f64(),
        elapsed.as_secs_f64(),
        pauses.len()
    )));
    (CheckStatus::Error, evidence)
}

/// A spawned check that is aborted, with its services and fakes, when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Verdict>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The command that grades `check` again, from what was handed in: `source` is the
/// submission in words as intake described it ([`crate::intake::Source`]'s `Display`),
/// `submission` the tree graded. An archive, git ref or patch was unpacked into a temp
/// directory that is gone once the grade ends, so the command names the original:
/// the archive, `--ref REF REPO`, `--patch FILE`, each as an absolute path (the grade
/// may have been started elsewhere). Without a source, or one in other words, the
/// tree graded is named, as it is a directory the caller chose.
fn replay_command(
    source: Option<&str>,
    submission: &Path,
    exercise: &str,
    check: &str,
    seed: u64,
) -> String {
    // Lexically, not canonicalised: the path as the user spelled it, made absolute, so
    // the command reads like theirs and an absolute path is kept as it was.
    let absolute = |p: &str| {
        let p = Path::new(p);
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        shell_quote(&abs.display().to_string())
    };
    let what = source
        .and_then(|s| {
            if let Some(p) = s.strip_prefix("directory ") {
                Some(absolute(p))
            } else if let Some(p) = s
                .strip_prefix("tar.gz archive ")
                .or_else(|| s.strip_prefix("zip archive "))
            {
                Some(absolute(p))
            } else if let Some(p) = s
                .strip_prefix("patch ")
                .and_then(|s| s.strip_suffix(" on the pristine exercises"))
            {
                Some(format!("--patch {}", absolute(p)))
            } else {
                // A ref has no spaces (git check-ref-format), a path may: split at the last.
                let (repo, reference) = s.strip_prefix("git repository ")?.rsplit_once(" at ")?;
                Some(format!(
                    "{} --ref {}",
                    absolute(repo),
                    shell_quote(reference)
                ))
            }
        })
        .unwrap_or_else(|| absolute(&submission.display().to_string()));
    format!(
        "cargo run -p harness -- grade {what} --exercise {exercise} --check {check} --seed {seed}"
    )
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::Source;

    fn replay(source: &Source) -> String {
        replay_command(
            Some(&source.to_string()),
            Path::new("/tmp/harness-intake-gone"),
            "charge",
            "charge.property",
            7,
        )
    }

    #[test]
    fn a_check_the_harness_spent_mostly_paused_has_no_verdict() {
        use crate::checks::pauses::Pause;
        use std::time::Duration;
        let t0 = Instant::now();
        let pause = |from: u64, len: u64| Pause {
            from: t0 + Duration::from_millis(from),
            until: t0 + Duration::from_millis(from + len),
        };
        let elapsed = Duration::from_secs(40);
        // 8 s of 40 paused: judged as it stands, pass or fail.
        let few = [pause(1_000, 6_000), pause(9_000, 2_000)];
        assert_eq!(
            starved(CheckStatus::Pass, Vec::new(), &few, elapsed).0,
            CheckStatus::Pass
        );
        assert_eq!(
            starved(CheckStatus::Fail, Vec::new(), &few, elapsed).0,
            CheckStatus::Fail
        );
        // 6 s of a 10 s check: one long pause of a busy machine, judged as it stands.
        let long = [pause(1_000, 6_000)];
        let short = Duration::from_secs(10);
        assert_eq!(
            starved(CheckStatus::Pass, Vec::new(), &long, short).0,
            CheckStatus::Pass
        );
        // One pause of 10 s in a 14 s check: a hiccup of the machine, left to the judges.
        let hiccup = [pause(2_000, 10_000)];
        let check = Duration::from_secs(14);
        assert_eq!(
            starved(CheckStatus::Pass, Vec::new(), &hiccup, check).0,
            CheckStatus::Pass
        );
        // 12 s of 40 in three pauses: neither a pass nor a fail, and the evidence says why.
        let many = [
            pause(1_000, 4_000),
            pause(9_000, 4_000),
            pause(20_000, 4_000),
        ];
        let (status, evidence) = starved(CheckStatus::Pass, Vec::new(), &many, elapsed);
        assert_eq!(status, CheckStatus::Error);
        assert!(
            evidence[0].detail().contains("paused for 12.0 s"),
            "{evidence:?}"
        );
        assert_eq!(
            starved(CheckStatus::Fail, Vec::new(), &many, elapsed).0,
            CheckStatus::Error
        );
        // A skipped check stays skipped.
        assert_eq!(
            starved(CheckStatus::Skipped, Vec::new(), &many, elapsed).0,
            CheckStatus::Skipped
        );
    }

    #[test]
    fn replay_names_the_original_submission_not_the_temp_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let abs = std::fs::canonicalize(dir.path()).expect("canonical");
        let tail = "--exercise charge --check charge.property --seed 7";
        let cmd = "cargo run -p harness -- grade";
        let cases = [
            (
                Source::Patch(abs.join("alice.patch")),
                format!("{cmd} --patch {}/alice.patch {tail}", abs.display()),
            ),
            (
                Source::TarGz(abs.join("bob.tar.gz")),
                format!("{cmd} {}/bob.tar.gz {tail}", abs.display()),
            ),
            (
                Source::Zip(abs.join("carol.zip")),
                format!("{cmd} {}/carol.zip {tail}", abs.display()),
            ),
            (
                Source::Git {
                    repo: abs.join("repo at work"),
                    reference: "candidate/dave".into(),
                },
                format!(
                    "{cmd} '{}/repo at work' --ref candidate/dave {tail}",
                    abs.display()
                ),
            ),
            (
                Source::Dir(abs.join("erin")),
                format!("{cmd} {}/erin {tail}", abs.display()),
            ),
        ];
        for (source, expected) in cases {
            let got = replay(&source);
            assert_eq!(got, expected, "{source:?}");
            assert!(!got.contains("harness-intake-gone"), "{got}");
        }
    }

    #[test]
    fn relative_sources_become_absolute() {
        let cwd = std::env::current_dir().expect("cwd");
        let got = replay(&Source::Patch(PathBuf::from("no-such-dir/alice.patch")));
        assert!(
            got.contains(&format!(
                "--patch {}/no-such-dir/alice.patch ",
                cwd.display()
            )),
            "{got}"
        );
        let got = replay(&Source::Git {
            repo: PathBuf::from("."),
            reference: "HEAD".into(),
        });
        assert!(
            got.contains(&format!("grade {} --ref HEAD ", cwd.display())),
            "{got}"
        );
    }

    #[test]
    fn without_a_source_the_tree_graded_is_named() {
        let got = replay_command(None, Path::new("/subs/x y"), "orders", "orders.p", 1);
        assert_eq!(
            got,
            "cargo run -p harness -- grade '/subs/x y' --exercise orders --check orders.p --seed 1"
        );
    }
}
