//! Grading hostile submissions through the CLI, as a pipeline would: a copy of the
//! `charge` exercise with a hostile `main.rs` (and any other files), a private
//! `TMPDIR`, and the assertion that nothing — no process, no temp file — is left.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::report::Report;

pub fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harness"))
}

pub fn grader_root() -> PathBuf {
    harness::staging::Workspace::grader().root
}

/// What a private temp dir holds: the harness was pointed at it with `TMPDIR`, so
/// anything left there is its own leftover.
pub fn leftovers(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Processes whose command line mentions `tmp` (services run from copies there).
pub fn leftover_processes(tmp: &Path) -> Vec<String> {
    let needle = tmp.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// A copy of the grader's tree (without build output) with `main` as the charge
/// service's `main.rs`.
pub fn hostile_submission(main: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for rel in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(grader_root().join(rel), dir.path().join(rel)).unwrap();
    }
    let charge = dir.path().join("exercises/charge");
    std::fs::create_dir_all(charge.join("src")).unwrap();
    std::fs::copy(
        grader_root().join("exercises/charge/Cargo.toml"),
        charge.join("Cargo.toml"),
    )
    .unwrap();
    std::fs::write(charge.join("src/main.rs"), main).unwrap();
    dir
}

/// [`hostile_submission`] plus `files` (paths relative to `exercises/charge`, which
/// may replace its `Cargo.toml`).
pub fn hostile_submission_with(main: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = hostile_submission(main);
    let charge = dir.path().join("exercises/charge");
    for (rel, content) in files {
        let path = charge.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// A hostile service's source from `harness/tests/hostile/`, with `@GRADER_ROOT@`
/// replaced by the grader's repository.
pub fn hostile_source(name: &str) -> String {
    let path = grader_root().join(format!("harness/tests/hostile/{name}.rs"));
    std::fs::read_to_string(&path)
        .unwrap()
        .replace("@GRADER_ROOT@", &grader_root().display().to_string())
}

pub struct Graded {
    /// The CLI's exit code.
    pub code: Option<i32>,
    /// The JSON report it wrote.
    pub report: Report,
    /// Wall-clock time of the whole grade.
    pub took: Duration,
}

/// Grades `submission` on one charge check through the CLI, with a private `TMPDIR`;
/// asserts nothing is left behind.
pub fn grade(submission: &Path, check: &str) -> Graded {
    let tmp = tempfile::tempdir().unwrap();
    let out = submission.join("report.json");
    let started = Instant::now();
    let output = harness()
        .arg("grade")
        .arg(submission)
        .args([
            "--exercise",
            "charge",
            "--check",
            check,
            "--format",
            "json",
            "--out",
        ])
        .arg(&out)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Report = serde_json::from_str(
        &std::fs::read_to_string(&out)
            .unwrap_or_else(|e| panic!("no report ({e}); stderr:\n{stderr}")),
    )
    .unwrap();
    // The harness kills whole process groups when a check ends; give the kernel a
    // moment to reap, bounded, then nothing may be left.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftover_processes(tmp.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        leftover_processes(tmp.path()),
        Vec::<String>::new(),
        "processes left behind"
    );
    assert_eq!(
        leftovers(tmp.path()),
        Vec::<PathBuf>::new(),
        "temp files left behind"
    );
    Graded {
        code: output.status.code(),
        report,
        took,
    }
}
