//! The `harness` command line as users meet it: exit codes and one-line errors.

use std::process::Command;

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harness"))
}

#[test]
fn list_prints_one_line_per_exercise() {
    let out = harness().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), harness::catalog::all().len());
    assert!(text.starts_with("charge "));
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["grade".into(), "/definitely/not/here".into()],
            "not a directory",
        ),
        (
            vec!["grade".into(), dir.path().display().to_string()],
            "no exercises/ directory",
        ),
        (
            vec![
                "grade".into(),
                ".".into(),
                "--exercise".into(),
                "nope".into(),
            ],
            "unknown exercise `nope`",
        ),
        (
            vec![
                "grade".into(),
                ".".into(),
                "--check".into(),
                "charge.nope".into(),
            ],
            "unknown check `charge.nope`",
        ),
    ];
    for (args, expected) in cases {
        let out = harness()
            .args(&args)
            .current_dir(harness::staging::Workspace::grader().root)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: no report on a usage error"
        );
    }
}

#[test]
fn a_submission_that_does_not_build_is_a_graded_result() {
    let root = harness::staging::Workspace::grader().root;
    let sub = tempfile::tempdir().unwrap();
    let ex = sub.path().join("exercises/charge");
    std::fs::create_dir_all(ex.join("src")).unwrap();
    std::fs::copy(
        root.join("exercises/charge/Cargo.toml"),
        ex.join("Cargo.toml"),
    )
    .unwrap();
    for f in [
        "main.rs",
        "error.rs",
        "model.rs",
        "provider.rs",
        "store.rs",
        "routes.rs",
    ] {
        std::fs::copy(
            root.join("exercises/charge/src").join(f),
            ex.join("src").join(f),
        )
        .unwrap();
    }
    std::fs::write(ex.join("src/model.rs"), "this is not rust\n").unwrap();
    let report_path = sub.path().join("report.json");
    let out = harness()
        .args(["grade", "--format", "json", "--out"])
        .arg(&report_path)
        .arg(sub.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: harness::report::Report =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let ex = &report.exercises[0];
    assert_eq!(ex.build.status, harness::report::BuildStatus::Failed);
    let log = ex.build.log.as_deref().unwrap();
    assert!(log.contains("exercises/charge/src/model.rs"), "{log}");
    assert!(
        !log.contains("/stage/"),
        "staging paths leak into the log: {log}"
    );
    assert!(
        ex.checks
            .iter()
            .all(|c| c.status == harness::report::CheckStatus::Skipped)
    );
    assert_eq!(report.points, 0);
}
