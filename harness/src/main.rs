//! `harness` binary: see the library's crate docs for the code map.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread exists: a namespace change applies to the calling thread and
    // to what it starts afterwards, i.e. the runtime, the fakes, builds and services.
    // A live session is reached from the interviewer's own terminal and browser, so it
    // stays in the machine's network (still listening on 127.0.0.1 only).
    let verb = std::env::args().nth(1);
    let live = matches!(verb.as_deref(), Some("serve" | "fault"));
    // Verbs that build services need every crate the grader's lock names on disk before
    // the network is gone; a failure is the grader's environment, never a candidate's.
    let builds = matches!(
        verb.as_deref(),
        Some("grade" | "grade-batch" | "check" | "demo" | "serve")
    );
    if builds && !wants_help() {
        let root = harness::staging::Workspace::grader().root;
        if let Err(e) = harness::toolchain::fetch_dependencies(&root) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if !live {
        harness::sandbox::isolate_network();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("harness: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(harness::cli::main())
}

/// `--help` / `-h` anywhere: print help without touching the network or the registry.
fn wants_help() -> bool {
    std::env::args().skip(1).any(|a| a == "--help" || a == "-h")
}
