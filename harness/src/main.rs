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
