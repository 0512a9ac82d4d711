//! Logging setup: everything goes to stderr so stdout carries only the READY line.

use tracing_subscriber::EnvFilter;

/// Installs a stderr tracing subscriber honouring `RUST_LOG` (default `info`).
///
/// Safe to call more than once; later calls are ignored.
pub fn init() {
    // Every exercise calls this first: start the accounting here too, should the
    // before-`main` constructor not have run.
    crate::hook::ensure_started();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
