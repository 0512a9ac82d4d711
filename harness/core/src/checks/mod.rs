//! Checks: data (id, flaw, visibility, points, description) plus a run function.
//!
//! A check starts its own fakes and service instances through the helpers of its
//! exercise (its world, in the checks crates) and returns a [`Verdict`] with [`Evidence`] a
//! human reads: what was sent, what came back, what ground truth holds.

pub mod evidence;
pub mod http;
pub mod in_use;
pub mod journal;
pub mod key_reuse;
pub mod pauses;
pub mod property;
pub mod timeline;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::Serialize;

pub use evidence::{Evidence, Line};
pub use journal::Journal;
pub use timeline::Timeline;

/// Who may run a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Part of the candidate's kit: contract checks.
    Public,
    /// Grading only: flaw and property checks.
    Hidden,
}

/// The outcome of running a check.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The requirement holds.
    Pass(Evidence),
    /// The requirement is broken; the evidence says how.
    Fail(Evidence),
    /// The harness could not judge (its own fault, not the service's).
    Error(String),
}

/// What a check needs to run: the binary under test, a private directory, the seed.
#[derive(Debug, Clone)]
pub struct CheckEnv {
    /// The service binary built from the submission.
    pub binary: PathBuf,
    /// A fresh directory for this check's databases and logs.
    pub workdir: PathBuf,
    /// This check's seed (derived from the grade's seed and the check id).
    pub seed: u64,
    /// The command that re-runs exactly this check with the grade's seed.
    pub replay: String,
    /// The exercise as the grader ships it (its flaws included), built from the
    /// grader's own copy: what production runs today. `None` where no check needs it.
    pub pristine: Option<PathBuf>,
    /// The confinement every service of this check runs under, from the grade.
    pub policy: std::sync::Arc<crate::sandbox::Policy>,
    /// Where the check's worlds file their standing judges' findings when they end.
    pub journal: Journal,
}

/// Every check of one exercise, in report order (contract checks first). The checks
/// crates provide one: the grader's holds the hidden checks, the kit's only the public.
pub type Registry = fn(crate::catalog::Exercise) -> Vec<Check>;

/// A boxed check future.
pub type CheckFuture = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// One check of one exercise.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id, `exercise.what-it-checks`.
    pub id: &'static str,
    /// The planted flaw it targets; `None` for contract checks.
    pub flaw: Option<&'static str>,
    /// Public (candidate may run it) or hidden.
    pub visibility: Visibility,
    /// Points awarded on pass.
    pub points: u32,
    /// What the check does and what must hold, in plain words.
    pub description: &'static str,
    /// Mostly waits out wall-clock time (a long incident, a crashed request's lease
    /// running out) and is the longest of its exercise: the grade starts it first, so
    /// it runs beside the others instead of after them.
    pub soak: bool,
    /// Runs the check.
    pub run: fn(CheckEnv) -> CheckFuture,
}

/// Why a check stopped early.
#[derive(Debug)]
pub enum Problem {
    /// The service misbehaved in a way that fails the check (did not start, crashed).
    Service(Evidence),
    /// The harness itself failed.
    Harness(String),
}

impl From<std::io::Error> for Problem {
    fn from(e: std::io::Error) -> Self {
        Problem::Harness(format!("harness i/o error: {e}"))
    }
}

/// What a check body returns: a verdict, or a problem that ends it early.
pub type CheckResult = Result<Verdict, Problem>;

/// Turns a check body's result into its verdict.
pub fn settle(result: CheckResult) -> Verdict {
    match result {
        Ok(verdict) => verdict,
        Err(Problem::Service(evidence)) => Verdict::Fail(evidence),
        Err(Problem::Harness(reason)) => Verdict::Error(reason),
    }
}

/// Starts a service instance; one that does not start fails the check, with the end of
/// its log as evidence.
pub async fn start_service(
    spec: &crate::service::ServiceSpec,
) -> Result<crate::service::RunningService, Problem> {
    crate::service::RunningService::start(spec)
        .await
        .map_err(|e| {
            let mut ev = Evidence::new();
            // A service that does not start breaks the check: a violation, marked on
            // its timeline like any other.
            ev.violation(format!("The service did not start: {e}."));
            let tail = crate::service::log_tail(&spec.log, 15);
            if !tail.is_empty() {
                ev.say(format!("Its log ends with:\n{tail}"));
            }
            Problem::Service(ev)
        })
}

/// Kills `svc` with SIGKILL and restarts it on the same database; a service that does
/// not come back fails the check.
pub async fn restart_service(svc: &mut crate::service::RunningService) -> Result<(), Problem> {
    svc.restart_after_kill9().await.map_err(|e| {
        let mut ev = Evidence::new();
        ev.say(format!(
            "After SIGKILL the service did not restart on the same database: {e}."
        ));
        ev.say(format!("Its log ends with:\n{}", svc.log_tail(15)));
        Problem::Service(ev)
    })
}

/// Pass when nothing is broken; otherwise fail with the broken invariants first.
pub fn verdict(story: Evidence, broken: Vec<String>) -> Verdict {
    if broken.is_empty() {
        return Verdict::Pass(story);
    }
    let mut evidence = Evidence::new();
    for b in broken {
        evidence.violation(b);
    }
    for line in story.into_lines() {
        evidence.push(line);
    }
    Verdict::Fail(evidence)
}

/// The kit's statement accounting is intact: its canary route, which runs exactly
/// three statements (the kit's `CANARY_STATEMENTS`), reports that count, and the kit
/// reports its accounting `intact` (no trace hook replaced, no auto-extension removed).
pub async fn kit_canary(base_url: &str) -> Verdict {
    const CANARY_PATH: &str = "/__kit/canary";
    const CANARY_STATEMENTS: &str = "3";
    const INTACT: &str = "intact";
    let mut story = Evidence::new();
    let (count, accounting) = match reqwest::Client::new()
        .get(format!("{base_url}{CANARY_PATH}"))
        .timeout(http::REQUEST_TIMEOUT)
        .send()
        .await
    {
        Ok(response) => {
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (header("x-kit-sql-statements"), header("x-kit-accounting"))
        }
        Err(_) => (None, None),
    };
    story.say(format!(
        "GET {CANARY_PATH} → x-kit-sql-statements: {}",
        count.as_deref().unwrap_or("absent")
    ));
    let mut broken = Vec::new();
    if count.as_deref() != Some(CANARY_STATEMENTS) {
        broken.push(format!(
            "The canary must report {CANARY_STATEMENTS} statements; the kit's statement accounting was removed or bypassed."
        ));
    }
    match accounting.as_deref() {
        Some(INTACT) => {}
        Some(reported) => broken.push(format!(
            "Statement accounting was tampered with (the kit reports: {}).",
            reported.strip_prefix("tampered: ").unwrap_or(reported)
        )),
        None if broken.is_empty() => broken.push(
            "The canary's response lacks the kit's x-kit-accounting header: the kit's statement accounting was removed or bypassed.".to_owned(),
        ),
        None => {}
    }
    verdict(story, broken)
}
