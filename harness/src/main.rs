//! `harness` binary: see the library's crate docs for the code map.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread exists: a namespace change applies to the calling thread and
    // to what it starts afterwards, i.e. the runtime, the fakes, builds and services.
    // A live session is reached from the interviewer's own terminal and browser, so it
    // stays in the machine's network (still listening on 127.0.0.1 only).
    let live = matches!(std::env::args().nth(1).as_deref(), Some("serve" | "fault"));
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
