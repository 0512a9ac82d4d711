//! The command line: parse arguments, call the library, print, choose the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog;
use crate::grade::{self, DEFAULT_SEED, GradeOptions};
use crate::intake::{self, Source};
use crate::report::{BuildStatus, CheckStatus, classroom, exit, junit, markdown};
use crate::staging::Workspace;
use crate::verbs::{self, exit_code, paint, paint_enabled};

/// The grader's checks: every exercise's public and hidden ones.
const REGISTRY: crate::checks::Registry = checks_hidden::registry;

/// The exit codes, for `--help`; README.md has the same table.
const EXIT_CODES: &str = "\
Exit codes of grade and check:
  0  graded: every check passed
  1  graded: some check failed, or a service did not build
  2  not graded: bad input or the grader's environment; one line on stderr, no report
  3  graded, but some check errored: the harness could not judge it (re-run it)
grade-batch: 0 every submission has a report or error.txt (see the summary),
  2 the batch could not run, 130 interrupted (finished results are kept)";

/// Grades fixes of AI-written backend exercises by running them under faults.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the exercises, one per line.
    List,
    /// Build a submission's services and grade them.
    ///
    /// Example: `harness grade submission.tar.gz --exercise charge --format json --out r.json`
    #[command(after_help = EXIT_CODES)]
    Grade {
        /// The submission: a directory laid out like this repository (`.` grades the
        /// working tree), a `.tar.gz`/`.tgz` or `.zip` archive of one, or with `--ref`
        /// a git repository.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Grade this commit, branch or tag of the git repository at PATH.
        #[arg(long = "ref", value_name = "REF", conflicts_with = "patch")]
        reference: Option<String>,
        /// Grade this patch (`git diff` at the repository root) applied to the pristine
        /// exercises instead of PATH.
        #[arg(long, value_name = "FILE")]
        patch: Option<PathBuf>,
        /// Grade only this exercise (repeatable); default: all.
        #[arg(long = "exercise", value_name = "ID")]
        exercises: Vec<String>,
        /// Run only this check (repeatable); default: all.
        #[arg(long = "check", value_name = "ID")]
        checks: Vec<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// Write the report here instead of stdout: to a new temp file beside it, synced
        /// and renamed into place, so a reader sees the old report or the whole new one.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Seed for every random choice (histories, names, amounts).
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Exercises graded at once; builds take turns. Verdicts do not depend on it.
        #[arg(long, value_name = "N", default_value_t = grade::DEFAULT_PARALLEL)]
        parallel: usize,
    },
    /// For candidates: build your service and run the public checks against it.
    ///
    /// Example: `harness check charge` (from the repository root)
    Check {
        /// The exercise to check.
        exercise: String,
        /// The tree holding your fixed exercise.
        #[arg(long, default_value = ".")]
        path: PathBuf,
    },
    /// For interviewers: reproduce each planted flaw's symptom against the current
    /// code, one narrated scenario per flaw; exits 0 when none reproduces.
    ///
    /// Example: `harness demo charge --path submissions/alice`
    Demo {
        /// The exercise to demonstrate.
        exercise: String,
        /// The tree holding the code to run (default: this repository).
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Seed for every random choice.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Also show every request and what came back.
        #[arg(long)]
        verbose: bool,
    },
    /// Pack the candidate's kit: exercises with briefs, the kit crate, a harness with
    /// only the public checks, a README; audited for grading material before writing.
    ///
    /// Example: `harness pack --exercise charge --exercise transfer --out kit.tar.gz`
    Pack {
        /// An exercise to include (repeatable).
        #[arg(long = "exercise", value_name = "ID", required = true)]
        exercises: Vec<String>,
        /// The archive to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The kit's time box in minutes; by default the sum of the briefs' own, and
        /// when set, the briefs point at it (one number everywhere).
        #[arg(long)]
        minutes: Option<u32>,
    },
    /// For a live session: build and start an exercise with its fakes, print the URLs
    /// and ready-to-paste curl lines, stream one line per request; faults are set
    /// while it runs with `fault` or its control page.
    ///
    /// Example: `harness serve charge --submission submissions/alice`
    Serve {
        /// The exercise to run.
        exercise: String,
        /// The tree holding the code to run (default: this repository).
        #[arg(long, default_value = ".")]
        submission: PathBuf,
    },
    /// Set a fault in the running live session of an exercise.
    ///
    /// Example: `harness fault charge provider lose-response`
    Fault {
        /// The exercise whose session to change.
        exercise: String,
        /// What to break: a downstream (provider, risk, pricing) or the database (db).
        target: String,
        /// How (see the list `serve` prints, e.g. hang, error, healthy).
        mode: String,
    },
    /// Grade many submissions, each in its own grader process, with a summary.
    ///
    /// Example: `harness grade-batch submissions/ --out results/ --jobs 2 --resume`
    GradeBatch(BatchArgs),
}

/// Flags of `grade-batch`.
#[derive(Debug, clap::Args)]
struct BatchArgs {
    /// A directory of submissions (directories, .tar.gz/.tgz, .zip), or a file listing
    /// one submission path per line.
    input: PathBuf,
    /// Where each submission's reports (`ID/report.{json,md,xml}`) and the summary
    /// (`summary.csv`, `summary.md`) go.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Submissions graded at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Skip submissions that already have a report in --out.
    #[arg(long)]
    resume: bool,
    /// Grade only every N-th submission starting at I (0-based), in name order, e.g.
    /// `--shard 0/4` … `--shard 3/4` on four machines.
    #[arg(long, value_name = "I/N")]
    shard: Option<crate::batch::Shard>,
    /// Grade only this exercise (repeatable); default: all.
    #[arg(long = "exercise", value_name = "ID")]
    exercises: Vec<String>,
    /// Run only this check (repeatable); default: all.
    #[arg(long = "check", value_name = "ID")]
    checks: Vec<String>,
    /// Seed for every random choice, the same for every submission.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Longest one submission may take, in minutes, before it is reported as an error.
    #[arg(long, default_value_t = 30)]
    timeout_mins: u64,
}

/// Report formats of `grade`; every one is a view of the JSON report.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// The versioned machine contract (`harness.report/v6`).
    Json,
    /// For an interviewer.
    Markdown,
    /// JUnit XML for CI: a test case per check and per build.
    Junit,
    /// One self-contained HTML page for an interviewer (no script, nothing fetched).
    Html,
    /// The result JSON GitHub Classroom's autograding reporter reads (base64 it into
    /// `<RUNNER>_RESULTS`; see docs/pipelines.md).
    Classroom,
}

/// Runs the CLI; returns the process exit code.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line, as for every other bad input; `--help` has the rest.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            eprintln!("{} (see --help)", first.trim_end_matches('.'));
            return exit_code(exit::NOT_GRADED);
        }
    };
    match cli.command {
        Command::GradeBatch(args) => grade_batch(args).await,
        Command::Check { exercise, path } => {
            verbs::check(&Workspace::grader(), REGISTRY, exercise, path).await
        }
        Command::Serve {
            exercise,
            submission,
        } => verbs::serve(&Workspace::grader(), exercise, submission).await,
        Command::Fault {
            exercise,
            target,
            mode,
        } => verbs::fault(&Workspace::grader(), &exercise, &target, &mode).await,
        Command::Pack {
            exercises,
            out,
            minutes,
        } => {
            let mut chosen = Vec::new();
            for id in &exercises {
                match catalog::find(id) {
                    Some(e) => chosen.push(e),
                    None => {
                        eprintln!("error: unknown exercise `{id}`");
                        return exit_code(exit::NOT_GRADED);
                    }
                }
            }
            match crate::pack::pack(&Workspace::grader().root, &chosen, minutes, &out) {
                Ok(n) => {
                    eprintln!("wrote {} ({n} files; audit clean)", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_code(exit::NOT_GRADED)
                }
            }
        }
        Command::Demo {
            exercise,
            path,
            seed,
            verbose,
        } => demo(exercise, path, seed, verbose).await,
        Command::List => verbs::list(&Workspace::grader()),
        Command::Grade {
            path,
            reference,
            patch,
            exercises,
            checks,
            format,
            out,
            seed,
            parallel,
        } => {
            if let Some(file) = &out
                && let Err(e) = writable_destination(file)
            {
                // Before grading, not after minutes of it.
                eprintln!("error: cannot write {}: {e}", file.display());
                return exit_code(exit::NOT_GRADED);
            }
            let ws = Workspace::grader();
            let source = match patch {
                Some(patch) => Source::Patch(patch),
                None => Source::detect(&path, reference.as_deref()),
            };
            let intake = match intake::open(&source, &ws.root) {
                Ok(intake) => intake,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit_code(exit::NOT_GRADED);
                }
            };
            let opts = GradeOptions {
                submission: intake.root.clone(),
                exercises,
                checks,
                seed,
                source: Some(intake.source.clone()),
                visibility: None,
                registry: REGISTRY,
                parallel,
            };
            let progress = verbs::StderrProgress::new();
            let report = match grade::grade(&ws, &opts, &progress).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit_code(exit::NOT_GRADED);
                }
            };
            let text = match format {
                Format::Json => report.to_json(),
                Format::Markdown => markdown::render(&report, true),
                Format::Junit => junit::render(&report),
                Format::Html => crate::report::html::render(&report),
                Format::Classroom => classroom::render(&report),
            };
            match &out {
                Some(file) => {
                    if let Err(e) = write_atomically(file, text.as_bytes()) {
                        eprintln!("error: cannot write {}: {e}", file.display());
                        return exit_code(exit::NOT_GRADED);
                    }
                }
                None => println!("{text}"),
            }
            let (pass, fail, error, skipped) = report.tally();
            eprintln!(
                "{} / {} points: {pass} passed, {fail} failed, {error} errors, {skipped} skipped",
                report.points, report.max_points
            );
            exit_code(report.exit_code())
        }
    }
}

/// Whether `--out` can be written at all: its directory exists and it is not one.
fn writable_destination(path: &std::path::Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !std::fs::metadata(dir)?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a reader (a CI step, a batch resuming) sees the old
/// file or the whole new one, never a torn one: a new temp file in the same directory
/// (same file system, so the rename is atomic), synced, renamed over `path`, and the
/// directory synced so the rename survives a crash. The temp file is created
/// exclusively (`O_EXCL`), so a file or link already at its name is never written
/// through or removed; another name is tried instead. A link at `path` itself is
/// replaced, not followed.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(
            ".{}.{}-{attempt}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(&dir)?.sync_all()
}

async fn grade_batch(args: BatchArgs) -> ExitCode {
    use crate::batch::{self, BatchOptions};
    let all = match batch::discover(&args.input) {
        Ok(all) => all,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    for id in &args.exercises {
        if catalog::find(id).is_none() {
            eprintln!("error: unknown exercise `{id}`");
            return exit_code(exit::NOT_GRADED);
        }
    }
    let opts = BatchOptions {
        out: args.out.clone(),
        jobs: args.jobs.max(1),
        resume: args.resume,
        shard: args.shard,
        exercises: args.exercises,
        checks: args.checks,
        seed: args.seed,
        timeout: std::time::Duration::from_secs(args.timeout_mins.max(1) * 60),
    };
    let todo = batch::plan(&all, &opts);
    let skipped = all.len() - todo.len();
    eprintln!(
        "{} submission(s){}; grading {} with {} job(s){}",
        all.len(),
        args.shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        )),
        todo.len(),
        opts.jobs,
        if args.resume && skipped > 0 {
            format!(" (resume: {skipped} already done or in other shards)")
        } else {
            String::new()
        }
    );
    let progress = std::sync::Arc::new(BatchBar::new(todo.len(), opts.jobs));
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let finished = match batch::run(todo, &opts, progress.clone(), stop).await {
        Ok(finished) => finished,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    progress.end();
    if let Err(e) = batch::write_summary(&all, &opts.out) {
        eprintln!("error: {e}");
        return exit_code(exit::NOT_GRADED);
    }
    eprintln!(
        "summary: {} and {}",
        opts.out.join("summary.md").display(),
        opts.out.join("summary.csv").display()
    );
    if finished {
        ExitCode::SUCCESS
    } else {
        eprintln!("interrupted: finished results are kept; run again with --resume");
        ExitCode::from(130)
    }
}

/// Batch progress: a redrawn bar with an ETA on a terminal, plain lines otherwise.
struct BatchBar {
    total: usize,
    jobs: usize,
    started: std::time::Instant,
    tty: bool,
}

impl BatchBar {
    fn new(total: usize, jobs: usize) -> BatchBar {
        BatchBar {
            total,
            jobs,
            started: std::time::Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn end(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

impl crate::batch::BatchProgress for BatchBar {
    fn finished(
        &self,
        sub: &crate::batch::Submission,
        outcome: &crate::batch::Outcome,
        took: std::time::Duration,
        done: usize,
        total: usize,
    ) {
        let result = match outcome {
            crate::batch::Outcome::Graded(r) => format!("{} / {} points", r.points, r.max_points),
            crate::batch::Outcome::Error(e) => format!("error: {e}"),
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if done == 0 {
            0.0
        } else {
            elapsed / done as f64 * (total - done) as f64
        };
        if self.tty {
            let width = 30;
            let filled = width * done / total.max(1);
            eprint!(
                "\r\x1b[2K{} {}: {result}\n\r[{}{}] {done}/{} · ETA {:.0} s · {} job(s)",
                if matches!(outcome, crate::batch::Outcome::Graded(_)) {
                    "✓"
                } else {
                    "⚠"
                },
                sub.id,
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.total,
                eta,
                self.jobs
            );
        } else {
            eprintln!(
                "[{done}/{total}] {}: {result} ({:.0} s; ETA {:.0} s)",
                sub.id,
                took.as_secs_f64(),
                eta
            );
        }
    }

    fn skipped(&self, sub: &crate::batch::Submission) {
        if !self.tty {
            eprintln!("skip {} (already graded)", sub.id);
        }
    }
}

async fn demo(exercise: String, path: PathBuf, seed: u64, verbose: bool) -> ExitCode {
    let Some(ex) = catalog::find(&exercise) else {
        let known: Vec<_> = catalog::all().iter().map(|e| e.id).collect();
        eprintln!(
            "error: unknown exercise `{exercise}` (known: {})",
            known.join(", ")
        );
        return exit_code(exit::NOT_GRADED);
    };
    // One scenario per planted flaw: the first hidden check that targets it.
    let mut seen = Vec::new();
    let checks: Vec<String> = REGISTRY(ex)
        .into_iter()
        .filter(|c| {
            c.flaw.is_some_and(|f| {
                !seen.contains(&f) && {
                    seen.push(f);
                    true
                }
            })
        })
        .map(|c| c.id.to_owned())
        .collect();
    let opts = GradeOptions {
        submission: path,
        exercises: vec![exercise.clone()],
        checks,
        seed,
        source: None,
        visibility: None,
        registry: REGISTRY,
        parallel: 1,
    };
    eprintln!("building {exercise}; one scenario per planted flaw…");
    let report = match grade::grade(&Workspace::grader(), &opts, &grade::Quiet).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code(exit::NOT_GRADED);
        }
    };
    let color = paint_enabled();
    let mut reproduced = 0;
    for ex in &report.exercises {
        if ex.build.status == BuildStatus::Failed {
            println!("{} {exercise} does not build", paint(color, "31", "✗"));
            return exit_code(exit::NOT_GRADED);
        }
        for c in &ex.checks {
            let flaw = c.flaw.as_deref().unwrap_or("?");
            println!();
            println!("▶ {flaw}: {}", c.description);
            if verbose {
                for line in c.evidence.iter().filter(|l| !l.is_violation()) {
                    println!("    {line}");
                }
            }
            match c.status {
                CheckStatus::Pass => println!(
                    "  {} not reproduced: the requirement holds",
                    paint(color, "32", "✓")
                ),
                CheckStatus::Fail => {
                    reproduced += 1;
                    for line in c.evidence.iter().filter(|l| l.is_violation()) {
                        println!("  {}", paint(color, "31", line));
                    }
                }
                _ => println!(
                    "  {} could not run: {}",
                    paint(color, "33", "⚠"),
                    c.evidence.join(" ")
                ),
            }
        }
    }
    println!();
    println!("{reproduced} of {} planted flaw(s) reproduced", seen.len());
    if reproduced == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_is_replaced_whole_and_never_written_through_a_planted_link() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("report.json");
        std::fs::write(&out, "old").expect("write");
        // A link waiting at the first temp name this process would pick.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let planted = dir
            .path()
            .join(format!(".report.json.{}-0.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).expect("symlink");

        write_atomically(&out, b"{\"new\": true}").expect("written");
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "{\"new\": true}"
        );
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(
            planted.symlink_metadata().is_ok(),
            "someone else's file is left alone"
        );
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let expected_link = format!(".report.json.{}-0.tmp", std::process::id());
        assert_eq!(names, [expected_link.as_str(), "report.json", "victim"]);
    }

    #[test]
    fn a_link_at_out_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let out = dir.path().join("r.xml");
        std::os::unix::fs::symlink(&victim, &out).expect("symlink");
        write_atomically(&out, b"<x/>").expect("written");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(!out.symlink_metadata().expect("meta").is_symlink());
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "<x/>");
    }

    #[test]
    fn out_in_a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("missing/r.json");
        assert!(write_atomically(&out, b"{}").is_err());
        assert!(write_atomically(dir.path(), b"{}").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
