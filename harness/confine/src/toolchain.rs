//! The grader's own build environment: the crates its lock file names, fetched as
//! trusted code before any sandboxed build, and the real toolchain binaries a build
//! runs (not rustup's proxies, which need a writable rustup home).
//!
//! Staged builds run `--offline --locked` inside a network namespace, so anything the
//! grader's lock needs must be on disk first. A fresh machine that ran only
//! `cargo run -p harness` has fetched the harness's crates, not the exercises' (`uuid`,
//! say): without this step every such exercise would read "build failed" — the grader's
//! environment blamed on the candidate. Every failure here is the grader's, so the CLI
//! turns it into exit 2 with one line, never into a graded build failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why the grader's own environment is not ready to build submissions.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// `cargo fetch` could not get what the grader's lock file names.
    #[error("the grader could not fetch the crates its Cargo.lock names ({0})")]
    Fetch(String),
    /// The Rust toolchain could not be found or run.
    #[error("the grader's Rust toolchain is not usable ({0})")]
    Toolchain(String),
}

/// The toolchain a staged build runs with.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// `cargo` of the active toolchain itself, not a rustup proxy.
    pub cargo: PathBuf,
    /// `rustc` of the active toolchain.
    pub rustc: PathBuf,
    /// The toolchain's root (`rustc --print sysroot`).
    pub sysroot: PathBuf,
    /// The cargo home holding the registry the grader fetched into.
    pub cargo_home: PathBuf,
}

/// The cargo the harness was started with (`$CARGO` under `cargo run`), else `cargo`.
fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Makes sure every crate the grader's `Cargo.lock` names for this host is on disk:
/// an offline probe first (a fraction of a second when all is there), then a real
/// fetch from the registry.
pub fn fetch_dependencies(root: &Path) -> Result<(), EnvError> {
    let manifest = root.join("Cargo.toml");
    let target = host_triple()?;
    let run = |offline: bool| {
        let mut cmd = cargo_command();
        cmd.arg("fetch")
            .arg("--locked")
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target")
            .arg(&target)
            .env("CARGO_TERM_COLOR", "never")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
    };
    match run(true) {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(_) => {}
        Err(e) => return Err(EnvError::Toolchain(format!("cannot run cargo: {e}"))),
    }
    eprintln!("harness: fetching the crates the exercises need (first run on this machine)");
    let out = run(false).map_err(|e| EnvError::Toolchain(format!("cannot run cargo: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(EnvError::Fetch(last_error_line(&out.stderr)))
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String, EnvError> {
    let out = Command::new(rustc_command())
        .arg("-vV")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EnvError::Toolchain(format!("cannot run rustc: {e}")))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .ok_or_else(|| EnvError::Toolchain("rustc -vV names no host".to_owned()))
}

fn rustc_command() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// Finds the active toolchain's own `cargo` and `rustc`, and the cargo home.
pub fn locate() -> Result<Toolchain, EnvError> {
    let out = Command::new(rustc_command())
        .args(["--print", "sysroot"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EnvError::Toolchain(format!("cannot run rustc: {e}")))?;
    if !out.status.success() {
        return Err(EnvError::Toolchain(last_error_line(&out.stderr)));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let cargo = sysroot.join("bin/cargo");
    let rustc = sysroot.join("bin/rustc");
    for bin in [&cargo, &rustc] {
        if !bin.is_file() {
            return Err(EnvError::Toolchain(format!("{} is missing", bin.display())));
        }
    }
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(home) => PathBuf::from(home),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cargo"))
            .ok_or_else(|| EnvError::Toolchain("neither CARGO_HOME nor HOME is set".into()))?,
    };
    Ok(Toolchain {
        cargo,
        rustc,
        sysroot,
        cargo_home,
    })
}

/// The last non-empty line of a tool's stderr, trimmed of cargo's `error: ` prefix.
fn last_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .find(|l| l.starts_with("error"))
        .or_else(|| text.lines().map(str::trim).rfind(|l| !l.is_empty()))
        .unwrap_or("no output");
    line.trim_start_matches("error: ")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_one_line_without_cargo_prefix() {
        let err = b"    Updating crates.io index\nerror: failed to download `uuid v1.18.1`\n\nCaused by:\n  network down\n";
        assert_eq!(last_error_line(err), "failed to download `uuid v1.18.1`");
        assert_eq!(last_error_line(b"\n  odd thing\n"), "odd thing");
        assert_eq!(last_error_line(b""), "no output");
    }
}
