//! `harness` binary: see the library's crate docs for the code map.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    harness::cli::main().await
}
