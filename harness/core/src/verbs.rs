//! The verbs both command-line tools share — the grader's `harness` and the kit's
//! `checks` — so a candidate's tool and the grader's run the same code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::catalog;
use crate::checks::Registry;
use crate::grade::{self, DEFAULT_SEED, GradeOptions};
use crate::report::{BuildReport, BuildStatus, CheckReport, CheckStatus, exit};
use crate::staging::Workspace;

/// `code` (one of [`exit`]'s) as the process's exit code.
pub fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

/// Colours only on a terminal, and never with `NO_COLOR` set.
pub fn paint_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `text` in the ANSI colour `code` when `on`.
pub fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Progress on stderr as a grade goes: each build, then each check as it ends.
pub struct StderrProgress {
    color: bool,
}

impl StderrProgress {
    /// Coloured only when stderr is a terminal and `NO_COLOR` is unset.
    pub fn new() -> StderrProgress {
        StderrProgress {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        StderrProgress::new()
    }
}

impl grade::Progress for StderrProgress {
    fn built(&self, exercise: &str, build: &BuildReport) {
        match build.status {
            BuildStatus::Ok => eprintln!("built {exercise} ({} ms)", build.duration_ms),
            BuildStatus::Failed => {
                eprintln!("{}", self.paint("31", &format!("{exercise}: build failed")))
            }
        }
    }

    fn checked(&self, check: &CheckReport) {
        let mark = match check.status {
            CheckStatus::Pass => self.paint("32", "✓"),
            CheckStatus::Fail => self.paint("31", "✗"),
            CheckStatus::Error => self.paint("33", "⚠"),
            CheckStatus::Skipped => "–".to_owned(),
        };
        eprintln!("{mark} {} ({} ms)", check.id, check.duration_ms);
    }
}

/// What a build is about to cost: the first one compiles every dependency.
fn building_note(ws: &Workspace, exercise: &str) -> String {
    if ws.cache.join("target").is_dir() {
        format!("building {exercise}…")
    } else {
        format!(
            "building {exercise}: the first build compiles every dependency, a few minutes on 2 cores (later ones take seconds)…"
        )
    }
}

/// `list`: the exercises this workspace holds, one per line (a kit holds only its own).
pub fn list(ws: &Workspace) -> ExitCode {
    for e in catalog::all()
        .into_iter()
        .filter(|e| ws.root.join(e.dir()).is_dir())
    {
        println!("{:<10} {}", e.id, e.summary);
    }
    ExitCode::SUCCESS
}

/// `fault`: sets a fault in the running live session of `exercise`.
pub async fn fault(ws: &Workspace, exercise: &str, target: &str, mode: &str) -> ExitCode {
    match crate::live::send_fault(&ws.cache, exercise, target, mode).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_code(exit::NOT_GRADED)
        }
    }
}

/// What must happen before the async runtime starts, for a tool run with `verb`: the
/// grader's crates fetched (while there is a network) for verbs that build, and the
/// network left for every verb but the live session's, which an interviewer reaches
/// from their own terminal and browser (it still listens on 127.0.0.1 only). A failure
/// is the grader's environment, never a candidate's: exit 2 with one line.
pub fn before_runtime(root: &Path, verb: Option<&str>) -> Result<(), ExitCode> {
    let live = matches!(verb, Some("serve" | "fault"));
    let builds = matches!(
        verb,
        Some("grade" | "grade-batch" | "check" | "demo" | "serve")
    );
    if (builds || live)
        && !wants_help()
        && let Some(problem) = null_device_problem()
    {
        eprintln!("error: {problem}");
        return Err(ExitCode::from(2));
    }
    if builds
        && !wants_help()
        && let Err(e) = crate::toolchain::fetch_dependencies(root)
    {
        eprintln!("error: {e}");
        return Err(ExitCode::from(2));
    }
    if !live {
        crate::sandbox::isolate_network();
    }
    Ok(())
}

/// Builds, services and git take their stdin from `/dev/null` and throw output into
/// it. Where it is a regular file (seen on a container image), one program's output
/// becomes the next one's input: a rustc probe fails on junk, git reads junk config.
/// A grade on such a machine would judge the machine, so it is refused.
fn null_device_problem() -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata("/dev/null") {
        Ok(meta) if meta.file_type().is_char_device() => None,
        Ok(_) => Some(
            "/dev/null is a regular file, not the null device: programs would read each \
             other's output (as root: rm /dev/null && mknod -m 666 /dev/null c 1 3)"
                .to_string(),
        ),
        Err(e) => Some(format!("cannot read /dev/null: {e}")),
    }
}

/// `--help` / `-h` anywhere: print help without touching the network or the registry.
fn wants_help() -> bool {
    std::env::args().skip(1).any(|a| a == "--help" || a == "-h")
}

/// `check`: builds the candidate's exercise and runs `registry`'s public checks on it.
pub async fn check(
    ws: &Workspace,
    registry: Registry,
    exercise: String,
    path: PathBuf,
) -> ExitCode {
    if catalog::find(&exercise).is_none() {
        let known: Vec<_> = catalog::all().iter().map(|e| e.id).collect();
        eprintln!(
            "error: unknown exercise `{exercise}` (known: {})",
            known.join(", ")
        );
        return exit_code(exit::NOT_GRADED);
    }
    let opts = GradeOptions {
        submission: path,
        exercises: vec![exercise.clone()],
        checks: Vec::new(),
        seed: DEFAULT_SEED,
        source: None,
        visibility: Some(crate::checks::Visibility::Public),
        registry,
        parallel: 1,
    };
    eprintln!("{}", building_note(ws, &exercise));
    eprintln!("then its public checks, one line each as they end.");
    let report = match grade::grade(ws, &opts, &StderrProgress::new()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    let color = paint_enabled();
    for ex in &report.exercises {
        if ex.build.status == BuildStatus::Failed {
            println!("{} {} does not build:", paint(color, "31", "✗"), ex.id);
            println!("{}", ex.build.log.as_deref().unwrap_or(""));
            continue;
        }
        for c in &ex.checks {
            match c.status {
                CheckStatus::Pass => println!("{} {}", paint(color, "32", "✓"), c.id),
                _ => {
                    println!("{} {} — {}", paint(color, "31", "✗"), c.id, c.description);
                    for line in c.evidence.iter().take(12) {
                        println!("    {line}");
                    }
                }
            }
        }
    }
    let (pass, fail, error, _) = report.tally();
    println!("{pass} passed, {} failed", fail + error);
    println!("(these are the public checks only; the graders run more)");
    exit_code(report.exit_code())
}

/// `serve`: builds an exercise and runs it by hand against its fakes (the live session).
pub async fn serve(ws: &Workspace, exercise: String, submission: PathBuf) -> ExitCode {
    let Some(ex) = catalog::find(&exercise) else {
        let known: Vec<_> = catalog::all().iter().map(|e| e.id).collect();
        eprintln!(
            "error: unknown exercise `{exercise}` (known: {})",
            known.join(", ")
        );
        return exit_code(exit::NOT_GRADED);
    };
    if !submission.join(ex.dir()).is_dir() {
        eprintln!("error: {}: no {} in it", submission.display(), ex.dir());
        return exit_code(exit::NOT_GRADED);
    }
    let work = match tempfile::Builder::new().prefix("harness-serve-").tempdir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: temporary directory: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    let _ = crate::sandbox::open_path_for_services(&[work.path()]);
    eprintln!("{}", building_note(ws, &exercise));
    let binary = match crate::staging::build_exercise(
        ws,
        &submission,
        &ex,
        &work.path().join("bin"),
    )
    .await
    {
        Ok(crate::staging::Build::Ok { binary, .. }) => binary,
        Ok(crate::staging::Build::TimedOut { log }) => {
            eprintln!(
                "error: {exercise} did not build in time ({log}); a first build compiles every dependency, and what it compiled is kept: run the command again"
            );
            return exit_code(exit::NOT_GRADED);
        }
        Ok(crate::staging::Build::Failed { log }) => {
            eprintln!("error: {exercise} does not build:\n{log}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    let run = work.path().join("run");
    if let Err(e) = std::fs::create_dir_all(&run) {
        eprintln!("error: {e}");
        return exit_code(exit::NOT_GRADED);
    }
    match crate::live::serve(&ex, &binary, &run, ws).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
