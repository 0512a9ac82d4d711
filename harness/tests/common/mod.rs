//! Shared helpers for the harness's own tests: corpus patches and grading.

#![allow(dead_code)]

pub mod browser;
pub mod devtools;
pub mod hostile;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::grade::{GradeOptions, Quiet, grade};
use harness::report::Report;
use harness::staging::Workspace;

/// The repository root (the grader's own copy).
pub fn repo_root() -> PathBuf {
    Workspace::grader().root
}

/// One entry of `tests/corpus/<exercise>/`: a patch and what it must fail.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    /// File stem, e.g. `decoy-process-mutex`.
    pub name: String,
    /// The patch file.
    pub patch: PathBuf,
    /// Exactly the checks this entry fails every time (empty for references).
    pub fails: Vec<String>,
    /// Checks it may also fail: where the entry's own flaw is a race it creates itself
    /// (an answer sent while its write goes on), a check that reads right after an
    /// answer sometimes sees it. Never the check that forces the flaw.
    pub may_fail: Vec<String>,
    /// Pull-request style description.
    pub summary: String,
    /// Exactly the designs the report recognises in it, by id (none when absent): each
    /// one read against the patch by hand, so the test holds the report to the truth.
    pub designs: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Meta {
    summary: String,
    fails: Vec<String>,
    #[serde(default)]
    may_fail: Vec<String>,
    #[serde(default)]
    designs: Vec<String>,
}

/// Every corpus entry of `exercise`, references first, sorted by name.
pub fn corpus(exercise: &str) -> Vec<CorpusEntry> {
    let dir = repo_root().join("tests/corpus").join(exercise);
    let mut entries = Vec::new();
    let Ok(listing) = std::fs::read_dir(&dir) else {
        return entries;
    };
    for entry in listing {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("patch") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let meta_path = path.with_extension("toml");
        let meta: Meta = toml::from_str(
            &std::fs::read_to_string(&meta_path)
                .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display()));
        assert!(
            ["reference-", "decoy-", "partial-"]
                .iter()
                .any(|p| name.starts_with(p)),
            "{name}: corpus patches are named reference-*, partial-* (fixes some flaws) or decoy-*"
        );
        assert!(
            meta.may_fail.iter().all(|c| !meta.fails.contains(c)),
            "{name}: a check is either failed every time or may fail, not both"
        );
        if name.starts_with("reference-") {
            assert!(
                meta.fails.is_empty() && meta.may_fail.is_empty(),
                "{name}: a reference must fail nothing"
            );
        } else {
            assert!(
                !meta.fails.is_empty(),
                "{name}: a decoy or partial fix must fail something"
            );
        }
        entries.push(CorpusEntry {
            name,
            patch: path,
            fails: meta.fails,
            may_fail: meta.may_fail,
            summary: meta.summary,
            designs: meta.designs,
        });
    }
    entries.sort_by(|a, b| {
        (!a.name.starts_with("reference-"), &a.name)
            .cmp(&(!b.name.starts_with("reference-"), &b.name))
    });
    entries
}

/// A submission directory holding the pristine exercise with `patch` applied.
///
/// The path is stable per entry (under `target/`), so re-runs are incremental builds.
pub fn patched_submission(exercise: &str, entry: &CorpusEntry) -> PathBuf {
    let root = Workspace::grader()
        .cache
        .join("corpus")
        .join(exercise)
        .join(&entry.name);
    if root.exists() {
        std::fs::remove_dir_all(&root).expect("clear corpus submission");
    }
    let rel = Path::new("exercises").join(exercise);
    copy_tree(&repo_root().join(&rel), &root.join(&rel));
    // The submission lives under this repository's target/; without a ceiling, git
    // would treat it as part of the repository and silently skip the patch's paths.
    // A fix that adds a dependency carries a Cargo.lock hunk; grading always uses the
    // grader's lock file (cargo resolves the new entry offline), so the hunk is left out.
    let out = Command::new("git")
        .args(["apply", "--whitespace=nowarn", "--exclude=Cargo.lock"])
        .arg(&entry.patch)
        .current_dir(&root)
        .env(
            "GIT_CEILING_DIRECTORIES",
            root.parent().expect("corpus dir has a parent"),
        )
        .output()
        .expect("run git apply");
    assert!(
        out.status.success(),
        "{}: git apply failed: {}",
        entry.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let pristine = repo_root().join(&rel);
    assert!(
        differs(&pristine, &root.join(&rel)),
        "{}: the patch changed nothing",
        entry.name
    );
    root
}

/// True if any file differs between the two trees (or exists in only one).
fn differs(a: &Path, b: &Path) -> bool {
    let list = |root: &Path| {
        let mut files = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path.strip_prefix(root).expect("prefix").to_path_buf());
                }
            }
        }
        files.sort();
        files
    };
    let (fa, fb) = (list(a), list(b));
    fa != fb
        || fa
            .iter()
            .any(|f| std::fs::read(a.join(f)).ok() != std::fs::read(b.join(f)).ok())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Fetches the crates the grader's lock names, once per test binary, as the CLI does
/// before it grades: a test binary run on its own on a fresh machine must not depend
/// on another binary having fetched them first (its builds run offline).
fn fetch_once() {
    static FETCHED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    FETCHED.get_or_init(|| {
        harness::toolchain::fetch_dependencies(&repo_root())
            .unwrap_or_else(|e| panic!("the grader's environment is not ready: {e}"));
    });
}

/// Grades `submission` for one exercise with `seed`.
pub async fn grade_exercise(submission: &Path, exercise: &str, seed: u64) -> Report {
    fetch_once();
    let opts = GradeOptions {
        submission: submission.to_path_buf(),
        exercises: vec![exercise.to_owned()],
        checks: Vec::new(),
        seed,
        source: None,
        visibility: None,
        registry: harness::registry,
        parallel: 1,
    };
    grade(&Workspace::grader(), &opts, &Quiet)
        .await
        .unwrap_or_else(|e| panic!("grading {} failed: {e}", submission.display()))
}

/// Ids of the checks that did not pass.
pub fn not_passed(report: &Report) -> Vec<String> {
    report
        .exercises
        .iter()
        .flat_map(|e| &e.checks)
        .filter(|c| c.status != harness::report::CheckStatus::Pass)
        .map(|c| c.id.clone())
        .collect()
}

/// The exercises a corpus test covers: all of them, or those named in `EXERCISES`
/// (comma-separated), for a quick run while working on one.
pub fn exercises_under_test() -> Vec<harness::catalog::Exercise> {
    let wanted: Option<Vec<String>> = std::env::var("EXERCISES")
        .ok()
        .map(|list| list.split(',').map(str::to_owned).collect());
    harness::catalog::all()
        .into_iter()
        .filter(|e| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|id| id == e.id))
        })
        .collect()
}
