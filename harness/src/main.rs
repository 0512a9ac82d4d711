//! `harness` binary: see the library's crate docs for the code map.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread exists: a namespace change applies to the calling thread and
    // to what it starts afterwards, i.e. the runtime, the fakes, builds and services.
    let verb = std::env::args().nth(1);
    let root = harness::staging::Workspace::grader().root;
    if let Err(code) = harness::verbs::before_runtime(&root, verb.as_deref()) {
        return code;
    }
    // More workers than cores: a grade runs up to six checks at once (three exercises,
    // two checks each), and a judge's SQLite read or a fake's file write blocks its
    // worker for a moment; it must not hold up another check's clients and clock.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(6)
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
