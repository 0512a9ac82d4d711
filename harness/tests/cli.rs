//! The `harness` command line as users meet it: exit codes and one-line errors.

mod common;

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

#[test]
fn a_batch_grades_each_submission_alone_resumes_and_shards() {
    let root = harness::staging::Workspace::grader().root;
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // A pristine submission (only what grading reads), and a broken archive.
    let good = input.path().join("alice/exercises/charge");
    copy_dir(&root.join("exercises/charge/src"), &good.join("src"));
    std::fs::copy(
        root.join("exercises/charge/Cargo.toml"),
        good.join("Cargo.toml"),
    )
    .unwrap();
    std::fs::write(input.path().join("bob.zip"), b"not a zip").unwrap();

    let batch = |extra: &[&str]| {
        let output = harness()
            .arg("grade-batch")
            .arg(input.path())
            .arg("--out")
            .arg(out.path())
            .args(["--exercise", "charge", "--check", "charge.happy-path"])
            .args(extra)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (code, stderr) = batch(&["--shard", "1/2"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("grading 1"), "{stderr}");
    assert!(out.path().join("bob/error.txt").is_file());
    assert!(!out.path().join("alice/report.json").exists());

    let (code, stderr) = batch(&["--jobs", "2", "--resume"]);
    assert_eq!(code, Some(0), "{stderr}");
    for file in ["report.json", "report.md", "report.xml", "report.html"] {
        assert!(
            out.path().join("alice").join(file).is_file(),
            "{file}: {stderr}"
        );
    }
    let summary = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 3, "{summary}");
    assert!(lines[1].starts_with("alice,graded,1,1"), "{summary}");
    assert!(lines[2].starts_with("bob,grading error: "), "{summary}");
    // The page: each graded candidate links their report; one that was not, does not.
    let page = std::fs::read_to_string(out.path().join("summary.html")).unwrap();
    assert!(
        page.contains("<a href=\"alice/report.html\">alice</a>"),
        "{page}"
    );
    assert!(
        page.contains("<tr><td>bob</td><td>grading error: "),
        "{page}"
    );
    if let Some(browser) = common::browser::chromium() {
        common::browser::assert_self_contained(&page);
        let shots = tempfile::tempdir().unwrap();
        for (page, words) in [
            ("summary.html", ["Batch summary", "alice", "1 / 1"]),
            (
                "alice/report.html",
                ["Grade report", "1 / 1 points", "charge.happy-path"],
            ),
        ] {
            let shown = common::browser::render(
                &browser,
                &out.path().join(page),
                &shots.path().join("shot.png"),
            );
            assert!(shown.console.is_empty(), "{page}: {:?}", shown.console);
            for w in words {
                assert!(shown.dom.contains(w), "{page} shows no {w:?}");
            }
            common::browser::assert_screenshot(&shown.screenshot);
        }
    }

    let (_, stderr) = batch(&["--resume"]);
    assert!(
        stderr.contains("grading 1"),
        "resume re-grades only the failed one: {stderr}"
    );

    let (code, stderr) = batch(&["--shard", "2/2"]);
    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// A report of one exercise whose checks have `statuses` and whose build is `built`.
fn report_with(built: bool, statuses: &[harness::report::CheckStatus]) -> harness::report::Report {
    use harness::report::*;
    let checks: Vec<CheckReport> = statuses
        .iter()
        .enumerate()
        .map(|(i, &status)| CheckReport {
            timeline: None,
            id: format!("charge.c{i}"),
            flaw: None,
            visibility: harness::checks::Visibility::Public,
            status,
            points: u32::from(status == CheckStatus::Pass),
            max_points: 1,
            duration_ms: 1,
            description: String::new(),
            requirement: false,
            evidence: Vec::new(),
        })
        .collect();
    Report {
        schema: SCHEMA.to_owned(),
        seed: 1,
        points: checks.iter().map(|c| c.points).sum(),
        max_points: checks.len() as u32,
        exercises: vec![ExerciseReport {
            id: "charge".to_owned(),
            build: BuildReport {
                status: if built {
                    BuildStatus::Ok
                } else {
                    BuildStatus::Failed
                },
                log: (!built).then(|| "error".to_owned()),
                duration_ms: 1,
            },
            flaws: FlawVerdict::of(&checks),
            followups: Vec::new(),
            designs: Vec::new(),
            checks,
            points: 0,
            max_points: 0,
            review: None,
        }],
        submission: SubmissionReport {
            source: "directory .".to_owned(),
            ignored: Vec::new(),
            ignored_total: 0,
            isolation: harness::sandbox::Isolation {
                network: String::new(),
                filesystem: String::new(),
                user: String::new(),
                limits: String::new(),
            },
        },
    }
}

#[test]
fn exit_codes_tell_failed_from_could_not_judge_from_could_not_grade() {
    use harness::report::CheckStatus::{Error, Fail, Pass, Skipped};
    use harness::report::exit;
    assert_eq!(
        (
            exit::PASSED,
            exit::FAILED,
            exit::NOT_GRADED,
            exit::CHECK_ERRORED
        ),
        (0, 1, 2, 3)
    );
    let cases = [
        (true, vec![Pass, Pass], exit::PASSED),
        (true, vec![], exit::PASSED),
        (true, vec![Pass, Fail], exit::FAILED),
        (false, vec![Skipped, Skipped], exit::FAILED),
        (false, vec![], exit::FAILED),
        (true, vec![Pass, Error], exit::CHECK_ERRORED),
        // Not final until the errored check is judged: 3 wins over 1.
        (true, vec![Fail, Error, Pass], exit::CHECK_ERRORED),
    ];
    for (built, statuses, expected) in cases {
        assert_eq!(
            report_with(built, &statuses).exit_code(),
            expected,
            "built {built}, {statuses:?}"
        );
    }
    // grade-batch takes a child's report only when the child says it graded.
    assert!(exit::graded(Some(0)) && exit::graded(Some(1)) && exit::graded(Some(3)));
    assert!(!exit::graded(Some(2)) && !exit::graded(None) && !exit::graded(Some(130)));
}

#[test]
fn exit_codes_are_documented_alike_in_help_and_readme() {
    let readme =
        std::fs::read_to_string(harness::staging::Workspace::grader().root.join("README.md"))
            .unwrap();
    for args in [vec!["--help"], vec!["grade", "--help"]] {
        let out = harness().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8(out.stdout).unwrap();
        for (code, words) in [
            (0, "graded: every check passed"),
            (1, "graded: some check failed"),
            (2, "not graded: bad input"),
            (3, "graded, but some check errored"),
        ] {
            assert!(
                help.contains(&format!("  {code}  {words}")),
                "{args:?} --help lacks exit {code}: {help}"
            );
            assert!(
                readme.contains(&format!("| **{code}** | {words}")),
                "README.md's exit-code table lacks {code}: {words}"
            );
        }
    }
    assert!(
        String::from_utf8(harness().args(["grade", "--help"]).output().unwrap().stdout)
            .unwrap()
            .contains("classroom"),
        "--format classroom is offered"
    );
}

#[test]
fn an_out_that_cannot_be_written_is_refused_before_grading_with_exit_2() {
    let root = harness::staging::Workspace::grader().root;
    let dir = tempfile::tempdir().unwrap();
    let out = harness()
        .args([
            "grade",
            ".",
            "--exercise",
            "charge",
            "--check",
            "charge.happy-path",
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.path().join("missing/report.json"))
        .current_dir(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "refused before grading: {stderr}"
    );
    assert!(stderr.starts_with("error: cannot write"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing half-written"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A build that runs out of time on a cold cache is first blamed on nobody: the grader
/// builds its own copy (the same dependencies). When that cannot build in time either,
/// the machine cannot grade: exit 2 and one line, never a candidate's failed build.
#[test]
fn a_machine_too_slow_to_build_in_time_is_exit_2_not_a_failed_build() {
    let root = harness::staging::Workspace::grader().root;
    let sub = tempfile::tempdir().unwrap();
    copy_dir(
        &root.join("exercises/orders"),
        &sub.path().join("exercises/orders"),
    );
    let cache = tempfile::tempdir().unwrap();
    let report_path = sub.path().join("report.json");
    let out = harness()
        .args(["grade", "--exercise", "orders", "--format", "json", "--out"])
        .arg(&report_path)
        .arg(sub.path())
        // A cold cache and one second: no build of the dependencies can finish.
        .env("HARNESS_CACHE_DIR", cache.path())
        .env(harness::staging::BUILD_TIMEOUT_VAR, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("too slow or too busy to grade"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!report_path.exists(), "a report was written: {stderr}");
}

/// The live session's page as an interviewer uses it on a shared screen, in a real
/// browser: a fault button changes the fault in force and the page says so; a request
/// sent from a terminal appears in the feed; the crash scenario kills the service
/// mid-request, restarts it, and the ground truth shows what the pristine service did
/// (a second charge for one key).
#[test]
fn the_live_page_sets_faults_shows_requests_and_plays_a_crash() {
    use std::io::{BufRead, Read, Write};
    use std::time::Duration;

    let Some(browser) = common::browser::chromium() else {
        return;
    };
    let mut serve = harness()
        .args(["serve", "charge"])
        .current_dir(common::repo_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // A cold machine builds the exercise first.
    let (mut service, mut control) = (None, None);
    while service.is_none() || control.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(900))
            .expect("serve printed its addresses");
        let url = |prefix: &str| {
            line.strip_prefix(prefix)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        };
        service = service.or_else(|| url("charge is running at "));
        control = control.or_else(|| url("control page: "));
    }
    let (service, control) = (service.unwrap(), control.unwrap());

    let mut tab = common::devtools::Tab::open(&browser, &control, 1280, 1500);
    let mode = "document.getElementById('in-force-provider')?.dataset.mode";
    assert!(
        tab.wait_for(&format!("{mode} === 'healthy'"), Duration::from_secs(20)),
        "the page never showed the provider healthy: {}",
        tab.eval("location.href + ' :: ' + document.documentElement.outerHTML.slice(0, 400)")
    );
    tab.eval("document.getElementById('fault-provider-error').click()");
    assert!(
        tab.wait_for(&format!("{mode} === 'error'"), Duration::from_secs(10)),
        "clicking `error` did not show the fault in force"
    );

    // What `curl http://…/charges/ch_from_a_terminal` sends.
    let host = service.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    write!(
        conn,
        "GET /charges/ch_from_a_terminal HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let feed = "document.getElementById('feed').textContent";
    assert!(
        tab.wait_for(
            &format!("{feed}.includes('GET /charges/ch_from_a_terminal')"),
            Duration::from_secs(10)
        ),
        "the terminal's request never reached the feed"
    );

    tab.eval("document.getElementById('fault-provider-healthy').click()");
    assert!(tab.wait_for(&format!("{mode} === 'healthy'"), Duration::from_secs(10)));
    tab.eval("document.getElementById('scenario-kill-mid-request').click()");
    assert!(
        tab.wait_for(
            &format!("{feed}.includes('restarted on the same database') && {feed}.includes('kill -9 mid-request, restart, retry done')"),
            Duration::from_secs(60)
        ),
        "the crash scenario did not finish: {}",
        tab.eval(feed)
    );
    // The pristine service charges again on the retry: the scenarios' table marks it.
    let alarm =
        "[...document.querySelectorAll('#truth tr.alarm')].map(r => r.textContent).join(' | ')";
    assert!(
        tab.wait_for(
            &format!("({alarm}).includes('2 provider charge(s)')"),
            Duration::from_secs(10)
        ),
        "no alarm for the second charge: {}",
        tab.eval("document.getElementById('truth').textContent")
    );
    // The scenario's timeline: the client's requests, the provider's charges, the kill.
    let timeline = "document.getElementById('timeline').textContent";
    assert!(
        tab.wait_for(
            &format!("{timeline}.includes('killed with SIGKILL') && {timeline}.includes('holding the answer for pch_') && {timeline}.includes('→ POST /charges')"),
            Duration::from_secs(10)
        ),
        "the scenario's timeline is not drawn: {}",
        tab.eval(timeline)
    );
    let shot = common::repo_root().join("target/html-report/live-charge.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    tab.screenshot(&shot);
    common::browser::assert_screenshot(&shot);
    assert!(tab.console.is_empty(), "console: {:?}", tab.console);
    drop(tab);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(
        serve.wait().unwrap().success(),
        "serve did not stop cleanly on Ctrl-C"
    );
}
