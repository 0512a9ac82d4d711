//! `checks`: the candidate's tool. It runs the public checks only — it is built without
//! the grader's hidden checks, which live in a crate the kit does not hold.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness_core::report::exit;
use harness_core::staging::Workspace;
use harness_core::verbs;

/// Builds your fixed service and runs the public checks, or runs it by hand against its
/// fakes.
#[derive(Debug, Parser)]
#[command(name = "checks", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the exercises, one per line.
    List,
    /// Build your service and run the public checks against it.
    ///
    /// Example: `cargo run -p checks -- check charge`
    Check {
        /// The exercise to check.
        exercise: String,
        /// The tree holding your fixed exercise.
        #[arg(long, default_value = ".")]
        path: PathBuf,
    },
    /// Build and start an exercise with its fakes, print the URLs and ready-to-paste
    /// curl lines, stream one line per request; set faults with `fault` meanwhile.
    ///
    /// Example: `cargo run -p checks -- serve charge`
    Serve {
        /// The exercise to run.
        exercise: String,
        /// The tree holding the code to run.
        #[arg(long, default_value = ".")]
        submission: PathBuf,
    },
    /// Make a dependency of a running `serve` misbehave.
    ///
    /// Example: `cargo run -p checks -- fault charge provider lose-response`
    Fault {
        /// The exercise whose session to change.
        exercise: String,
        /// What to break: a downstream (provider, risk, pricing) or the database (db).
        target: String,
        /// How (see the list `serve` prints, e.g. hang, error, healthy).
        mode: String,
    },
}

fn main() -> ExitCode {
    // Before any thread exists: namespace changes apply to what the thread starts later.
    let verb = std::env::args().nth(1);
    let ws = Workspace::kit();
    if let Err(code) = verbs::before_runtime(&ws.root, verb.as_deref()) {
        return code;
    }
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
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            eprintln!("{} (see --help)", first.trim_end_matches('.'));
            return verbs::exit_code(exit::NOT_GRADED);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("checks: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::List => verbs::list(&ws),
            Command::Check { exercise, path } => {
                verbs::check(&ws, checks_public::registry, exercise, path).await
            }
            Command::Serve {
                exercise,
                submission,
            } => verbs::serve(&ws, exercise, submission).await,
            Command::Fault {
                exercise,
                target,
                mode,
            } => verbs::fault(&ws, &exercise, &target, &mode).await,
        }
    })
}
