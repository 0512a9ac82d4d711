//! The command line: parse arguments, call the library, print, choose the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog;
use crate::grade::{self, DEFAULT_SEED, GradeOptions, Progress};
use crate::intake::{self, Source};
use crate::report::{BuildReport, BuildStatus, CheckReport, CheckStatus, junit, markdown};
use crate::staging::Workspace;

/// Grades fixes of AI-written backend exercises by running them under faults.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about)]
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
        /// Write the report here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Seed for every random choice (histories, names, amounts).
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Markdown,
    Junit,
}

/// Runs the CLI; returns the process exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for e in catalog::all() {
                println!("{:<10} {}", e.id, e.summary);
            }
            ExitCode::SUCCESS
        }
        Command::Grade {
            path,
            reference,
            patch,
            exercises,
            checks,
            format,
            out,
            seed,
        } => {
            let ws = Workspace::grader();
            let source = match patch {
                Some(patch) => Source::Patch(patch),
                None => Source::detect(&path, reference.as_deref()),
            };
            let intake = match intake::open(&source, &ws.root) {
                Ok(intake) => intake,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = GradeOptions {
                submission: intake.root.clone(),
                exercises,
                checks,
                seed,
                source: Some(intake.source.clone()),
            };
            let progress = StderrProgress {
                color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let report = match grade::grade(&ws, &opts, &progress).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let text = match format {
                Format::Json => report.to_json(),
                Format::Markdown => markdown::render(&report, true),
                Format::Junit => junit::render(&report),
            };
            match &out {
                Some(file) => {
                    if let Err(e) = std::fs::write(file, &text) {
                        eprintln!("error: cannot write {}: {e}", file.display());
                        return ExitCode::from(2);
                    }
                }
                None => println!("{text}"),
            }
            let (pass, fail, error, skipped) = report.tally();
            eprintln!(
                "{} / {} points: {pass} passed, {fail} failed, {error} errors, {skipped} skipped",
                report.points, report.max_points
            );
            ExitCode::from(report.exit_code() as u8)
        }
    }
}

struct StderrProgress {
    color: bool,
}

impl StderrProgress {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl Progress for StderrProgress {
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
