//! Red team: submissions built to escape the sandbox at build time or outlive their
//! grade, each graded through the CLI as a pipeline would. Every case must be refused
//! or fail, with the attack named in the evidence; nothing outside the sandbox read or
//! written (canary files the test plants); no process left (the shared `grade` helper
//! asserts that for every case).

mod common;

use std::path::Path;

use common::hostile::{Graded, grade, grader_root, hostile_source, hostile_submission_with};
use harness::report::{BuildStatus, CheckStatus};

const CHECK: &str = "charge.happy-path";

/// Whether builds ran confined (as root, with mount namespaces); not otherwise, and
/// then the report must say so.
fn builds_confined(graded: &Graded) -> bool {
    let files = &graded.report.submission.isolation.filesystem;
    let confined = files.contains("builds: own mount namespace");
    if !confined {
        eprintln!("builds not confined on this machine: {files}");
        assert!(files.contains("builds: not confined"), "{files}");
    }
    confined
}

fn build_log(graded: &Graded) -> String {
    graded.report.exercises[0]
        .build
        .log
        .clone()
        .unwrap_or_default()
}

/// A file the test plants where the harness's user can read it, with a secret inside.
struct Canary {
    path: std::path::PathBuf,
    secret: String,
}

impl Canary {
    fn plant(path: &Path, mode: u32) -> Canary {
        use std::os::unix::fs::PermissionsExt;
        let secret = format!(
            "CANARY-{}-{}",
            std::process::id(),
            path.display().to_string().len()
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &secret).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        Canary {
            path: path.to_path_buf(),
            secret,
        }
    }

    /// Untouched, and its secret nowhere in the report.
    fn assert_kept(&self, graded: &Graded) {
        assert_eq!(
            std::fs::read_to_string(&self.path).unwrap(),
            self.secret,
            "canary written"
        );
        let json = serde_json::to_string(&graded.report).unwrap();
        assert!(
            !json.contains(&self.secret),
            "canary leaked into the report"
        );
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn a_build_script_is_refused_before_anything_runs() {
    let escape = Path::new("/var/tmp/redteam-build-script");
    let _ = std::fs::remove_file(escape);
    let manifest = std::fs::read_to_string(grader_root().join("exercises/charge/Cargo.toml"))
        .unwrap()
        .replace("[package]\n", "[package]\nbuild = \"src/build.rs\"\n");
    let build_rs = format!(
        "fn main() {{ let s = std::fs::read_to_string(\"/etc/shadow\").unwrap_or_default(); std::fs::write({:?}, s).unwrap(); }}",
        escape.display().to_string()
    );
    let submission = hostile_submission_with(
        "fn main() {}",
        &[("Cargo.toml", &manifest), ("src/build.rs", &build_rs)],
    );
    let graded = grade(submission.path(), CHECK);
    assert_eq!(graded.report.exercises[0].build.status, BuildStatus::Failed);
    let log = build_log(&graded);
    assert!(
        log.contains("package.build") && log.contains("not allowed"),
        "{log}"
    );
    assert!(!escape.exists(), "the build script ran");
    assert_eq!(graded.code, Some(1));
}

#[test]
fn a_proc_macro_crate_among_the_sources_is_refused() {
    let manifest = std::fs::read_to_string(grader_root().join("exercises/charge/Cargo.toml"))
        .unwrap()
        .replace(
            "[dependencies]\n",
            "[dependencies]\nevil = { path = \"src/evil\" }\n",
        );
    let submission = hostile_submission_with(
        "fn main() {}",
        &[
            ("Cargo.toml", &manifest),
            (
                "src/evil/Cargo.toml",
                "[package]\nname = \"evil\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\nproc-macro = true\n",
            ),
            (
                "src/evil/src/lib.rs",
                "#[proc_macro]\npub fn evil(_: proc_macro::TokenStream) -> proc_macro::TokenStream { std::fs::write(\"/var/tmp/redteam-proc-macro\", \"x\").unwrap(); Default::default() }\n",
            ),
        ],
    );
    let graded = grade(submission.path(), CHECK);
    assert_eq!(graded.report.exercises[0].build.status, BuildStatus::Failed);
    let log = build_log(&graded);
    assert!(log.contains("`evil` is not allowed"), "{log}");
    assert!(!Path::new("/var/tmp/redteam-proc-macro").exists());

    // Without the dependency, the nested manifest alone is refused too.
    let submission = hostile_submission_with(
        "fn main() {}",
        &[("src/evil/Cargo.toml", "[package]\nname = \"evil\"\n")],
    );
    let graded = grade(submission.path(), CHECK);
    let log = build_log(&graded);
    assert!(log.contains("nested manifest"), "{log}");
}

#[test]
fn files_outside_the_stage_cannot_be_compiled_in() {
    let canary = Canary::plant(
        &grader_root().join(format!("target/redteam-canary-{}.txt", std::process::id())),
        0o644,
    );
    let source = hostile_source("includes-outside-files")
        .replace("@CANARY@", &canary.path.display().to_string());
    let submission = hostile_submission_with(&source, &[]);
    let graded = grade(submission.path(), CHECK);
    canary.assert_kept(&graded);
    if !builds_confined(&graded) {
        return;
    }
    assert_eq!(graded.report.exercises[0].build.status, BuildStatus::Failed);
    let log = build_log(&graded);
    assert!(log.contains("couldn't read"), "{log}");
    assert!(!log.contains("root:"), "/etc/shadow leaked: {log}");
}

#[test]
fn a_log_turned_into_a_link_is_neither_followed_nor_written() {
    let dir = tempfile::tempdir().unwrap();
    let canary = Canary::plant(&dir.path().join("secret.txt"), 0o600);
    let source =
        hostile_source("log-symlink").replace("@CANARY@", &canary.path.display().to_string());
    let submission = hostile_submission_with(&source, &[]);
    let graded = grade(submission.path(), CHECK);
    let check = &graded.report.exercises[0].checks[0];
    assert_ne!(check.status, CheckStatus::Pass);
    canary.assert_kept(&graded);
}

#[test]
fn a_detached_worker_dies_with_its_service() {
    // Without root there are no PID namespaces, the report says so, and a detached
    // worker would outlive the grade: nothing to test here but that honesty, which the
    // hostile tests cover.
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: PID namespaces need root");
        return;
    }
    // `grade` asserts that no process of the submission is left once it returns.
    let submission = hostile_submission_with(&hostile_source("setsid-worker"), &[]);
    let graded = grade(submission.path(), CHECK);
    let check = &graded.report.exercises[0].checks[0];
    assert_eq!(check.status, CheckStatus::Fail, "{:?}", check.evidence);
    // As root the services had a PID namespace, and the report says so.
    let files = &graded.report.submission.isolation.filesystem;
    let services = files.split("; builds:").next().unwrap_or_default();
    assert!(services.contains("own PID namespace"), "{files}");
}
