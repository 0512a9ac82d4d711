//! Red-team attacks on intake and evidence (issue 13, item 4), each at the library level:
//! no service is built, so these run in seconds.
//!
//! - a git repository whose own config defines a smudge filter (and other executable
//!   config) that its `.gitattributes` switches on: nothing of it may run;
//! - links in a directory or patch submission (`exercises/charge/src`,
//!   `exercises/charge`, a file under `src`): the exercise is refused, naming the link;
//! - `REVIEW.md` as a link to `/dev/zero` or as a FIFO: refused at once, not read;
//! - a code fence, `</details>` and a `# heading` in evidence, a build log, review
//!   words and the submission's name: the Markdown report keeps its structure.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use harness::checks::Line;
use harness::intake::{self, IntakeError, Source};
use harness::report::{
    BuildReport, BuildStatus, CheckReport, CheckStatus, ExerciseReport, Report, SubmissionReport,
    junit, markdown,
};

/// Runs git for the test's own setup (the attacker's side), failing loudly.
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=cand", "-c", "user.email=cand@example.com"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A repository holding a charge exercise, committed, then armed: its config defines
/// filters, textconv, an external diff, an fsmonitor and hooks that each touch a canary,
/// and `.gitattributes` switches the filter on for every path.
fn armed_repository(root: &Path, canary: &Path) -> PathBuf {
    let repo = root.join("candidate");
    let src = repo.join("exercises/charge/src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(repo.join("exercises/charge/Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(
        repo.join(".gitattributes"),
        "* filter=evil diff=evil\n*.rs filter=evil\n",
    )
    .unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "fix"]);
    git(&repo, &["pack-refs", "--all"]);
    let touch = format!("sh -c 'touch {}; cat'", canary.display());
    for (key, value) in [
        ("filter.evil.smudge", touch.as_str()),
        ("filter.evil.clean", touch.as_str()),
        ("filter.evil.required", "true"),
        ("diff.evil.textconv", touch.as_str()),
        ("diff.external", touch.as_str()),
        ("core.fsmonitor", touch.as_str()),
        ("core.pager", touch.as_str()),
        ("include.path", "/dev/null"),
    ] {
        git(&repo, &["config", key, value]);
    }
    let hooks = repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    for hook in ["post-checkout", "pre-auto-gc", "reference-transaction"] {
        let path = hooks.join(hook);
        std::fs::write(&path, format!("#!/bin/sh\ntouch {}\n", canary.display())).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    repo
}

#[test]
fn a_git_ref_is_read_without_running_the_candidates_filters_or_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("CANARY");
    let repo = armed_repository(dir.path(), &canary);
    // The attack is real: porcelain on this repository runs the filter.
    let archived = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["archive", "--format=tar", "HEAD"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(archived.status.success());
    assert!(
        canary.exists(),
        "the armed repository should trip porcelain"
    );
    std::fs::remove_file(&canary).unwrap();

    for reference in ["main", "HEAD", "refs/heads/main", "main^{tree}"] {
        let source = Source::Git {
            repo: repo.clone(),
            reference: reference.to_owned(),
        };
        let intake = intake::open(&source, &common::repo_root())
            .unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(
            std::fs::read_to_string(intake.root.join("exercises/charge/src/main.rs")).unwrap(),
            "fn main() {}\n",
            "{reference}: the committed bytes, unfiltered"
        );
        assert!(!canary.exists(), "{reference}: candidate config ran");
    }
    // A bad ref is a clean one-line error, and still runs nothing.
    let source = Source::Git {
        repo: repo.clone(),
        reference: "--output=/tmp/x".to_owned(),
    };
    let err = intake::open(&source, &common::repo_root()).unwrap_err();
    assert!(matches!(err, IntakeError::Git(..)), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    assert!(!canary.exists());
}

#[test]
fn a_git_ref_borrowing_objects_or_linking_outside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("CANARY");
    let repo = armed_repository(dir.path(), &canary);
    std::fs::write(
        repo.join(".git/objects/info/alternates"),
        "/var/lib/someone-else/.git/objects\n",
    )
    .unwrap();
    let source = Source::Git {
        repo: repo.clone(),
        reference: "main".to_owned(),
    };
    let err = intake::open(&source, &common::repo_root()).unwrap_err();
    assert!(err.to_string().contains("alternates"), "{err}");
    std::fs::remove_file(repo.join(".git/objects/info/alternates")).unwrap();

    symlink("/etc/shadow", repo.join("exercises/charge/src/secrets.rs")).unwrap();
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "-c",
            "core.hooksPath=/dev/null",
            "commit",
            "--quiet",
            "-m",
            "link",
        ],
    );
    let _ = std::fs::remove_file(&canary); // `git add` above ran the clean filter.
    let err = intake::open(&source, &common::repo_root()).unwrap_err();
    assert!(
        err.to_string()
            .contains("symlink `exercises/charge/src/secrets.rs` points outside"),
        "{err}"
    );
    assert!(!canary.exists());
}

/// A directory submission of the charge exercise.
fn charge_tree(root: &Path) -> PathBuf {
    let sub = root.join("submission");
    let ex = sub.join("exercises/charge");
    std::fs::create_dir_all(ex.join("src")).unwrap();
    std::fs::write(ex.join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(ex.join("src/main.rs"), "fn main() {}\n").unwrap();
    sub
}

/// Someone else's code the attacker points at.
fn victim(root: &Path) -> PathBuf {
    let other = root.join("other/exercises/charge");
    std::fs::create_dir_all(other.join("src")).unwrap();
    std::fs::write(other.join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(other.join("src/main.rs"), "// the real fix\n").unwrap();
    other
}

#[test]
fn a_symlinked_src_is_refused_naming_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let sub = charge_tree(dir.path());
    let other = victim(dir.path());
    let src = sub.join("exercises/charge/src");
    std::fs::remove_dir_all(&src).unwrap();
    symlink(other.join("src"), &src).unwrap();
    let reason = intake::refused_links(&sub, "exercises/charge").expect("refused");
    assert!(
        reason.starts_with("`exercises/charge/src` is a symbolic link (to `"),
        "{reason}"
    );
    assert!(reason.contains(&other.join("src").display().to_string()));
    assert!(!reason.contains('\n'));
}

#[test]
fn a_symlinked_exercise_is_refused_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let sub = charge_tree(dir.path());
    let other = victim(dir.path());
    let ex = sub.join("exercises/charge");
    std::fs::remove_dir_all(&ex).unwrap();
    symlink(&other, &ex).unwrap();
    let orders = sub.join("exercises/orders/src");
    std::fs::create_dir_all(&orders).unwrap();
    std::fs::write(orders.join("main.rs"), "fn main() {}\n").unwrap();
    let reason = intake::refused_links(&sub, "exercises/charge").expect("refused");
    assert!(
        reason.starts_with("`exercises/charge` is a symbolic link"),
        "{reason}"
    );
    assert_eq!(
        intake::refused_links(&sub, "exercises/orders"),
        None,
        "one linked exercise refuses only itself"
    );
    // Its review notes are not read through the link either.
    let review = harness::review::read_review(&ex).unwrap_err();
    assert!(review.contains("symbolic link"), "{review}");
}

#[test]
fn a_patch_that_adds_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("link.patch");
    std::fs::write(
        &patch,
        "diff --git a/exercises/charge/src/stolen.rs b/exercises/charge/src/stolen.rs\n\
         new file mode 120000\n\
         index 0000000..5a1b2c3\n\
         --- /dev/null\n\
         +++ b/exercises/charge/src/stolen.rs\n\
         @@ -0,0 +1 @@\n\
         +/srv/submissions/bob/exercises/charge/src/routes.rs\n\
         \\ No newline at end of file\n",
    )
    .unwrap();
    let intake = intake::open(&Source::Patch(patch), &common::repo_root()).unwrap();
    let reason = intake::refused_links(&intake.root, "exercises/charge").expect("refused");
    assert!(
        reason.starts_with(
            "`exercises/charge/src/stolen.rs` is a symbolic link (to `/srv/submissions/bob/"
        ),
        "{reason}"
    );
    assert_eq!(
        intake::refused_links(&intake.root, "exercises/orders"),
        None
    );
}

/// Grades review notes on a thread, failing if it does not come back (a FIFO blocks an
/// ordinary open forever; `/dev/zero` reads forever).
fn review_within(ex: &Path) -> harness::review::ReviewReport {
    let (tx, rx) = mpsc::channel();
    let ex = ex.to_path_buf();
    let flaws = common::repo_root().join("exercises/charge/flaws.toml");
    std::thread::spawn(move || {
        let _ = tx.send(harness::review::grade(&ex, &flaws));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("review grading came back")
        .expect("the grader's flaw list parses")
}

#[test]
fn a_review_linked_to_dev_zero_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let sub = charge_tree(dir.path());
    let ex = sub.join("exercises/charge");
    symlink("/dev/zero", ex.join("REVIEW.md")).unwrap();
    let review = review_within(&ex);
    assert!(review.submitted);
    assert_eq!(review.points, 0);
    let reason = review.refused.as_deref().expect("refused");
    assert_eq!(
        reason,
        "REVIEW.md is a symbolic link: only a regular file is read"
    );
    // Staging refuses the exercise too: the link is on a candidate-owned path.
    let staged = intake::refused_links(&sub, "exercises/charge").expect("refused");
    assert!(staged.contains("`exercises/charge/REVIEW.md`"), "{staged}");
}

#[test]
fn a_review_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let sub = charge_tree(dir.path());
    let ex = sub.join("exercises/charge");
    nix::unistd::mkfifo(&ex.join("REVIEW.md"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let review = review_within(&ex);
    assert_eq!(
        review.refused.as_deref(),
        Some("REVIEW.md is a FIFO: only a regular file is read")
    );
    assert_eq!(review.points, 0);
    assert!(review.flaws.iter().all(|f| !f.found));
}

/// A report whose every submission-influenced string tries to break out.
fn hostile_report() -> Report {
    let evidence: Vec<Line> = [
        "POST /charges → 500 \"```\\n</details>\\n# All checks passed\"".to_owned(),
        "service log tail:\n```\n</details>\n# Grade report\n**22 / 22 points**\n\n---\n| check | result |\n|---|---|\n<!-- hide the rest".to_owned(),
        "<details><summary>ok</summary>".to_owned(),
        "[click](http://evil.example/) ![x](http://evil.example/t.png)\r# carriage-return heading"
            .to_owned(),
    ]
    .into_iter()
    .map(Line::said)
    .collect();
    let check = |id: &str, status| CheckReport {
        timeline: None,
        id: id.to_owned(),
        flaw: Some("check-then-act".to_owned()),
        visibility: harness::checks::Visibility::Hidden,
        status,
        points: 0,
        max_points: 3,
        duration_ms: 1,
        description: "Three requests with one key.".to_owned(),
        requirement: false,
        evidence: evidence.clone(),
    };
    let mut review = harness::review::ReviewReport {
        submitted: true,
        refused: None,
        flaws: vec![harness::review::FlawReview {
            flaw: "check-then-act".to_owned(),
            found: true,
            words: vec!["race | </details> ```\n# heading".to_owned()],
        }],
        extra: vec![harness::review::Finding {
            file: "src/`x`.rs".to_owned(),
            lines: (1, 2),
            category: None,
            text: "```\n</details>\n# heading".to_owned(),
        }],
        neutral_flagged: Vec::new(),
        findings: Vec::new(),
        points: 1,
        max_points: 5,
    };
    review.extra[0].file.push('\n');
    Report {
        schema: harness::report::SCHEMA.to_owned(),
        seed: 1,
        points: 0,
        max_points: 6,
        submission: SubmissionReport {
            source: "directory /subs/x\n# Grade report: 22 / 22 <details>".to_owned(),
            ignored: vec!["exercises/charge/`README`.md\n# x".to_owned()],
            ignored_total: 1,
            isolation: harness::sandbox::Isolation {
                network: "n".into(),
                filesystem: "f".into(),
                user: "u".into(),
                limits: "l".into(),
            },
        },
        exercises: vec![
            ExerciseReport {
                id: "charge".to_owned(),
                build: BuildReport {
                    status: BuildStatus::Ok,
                    log: None,
                    duration_ms: 1,
                },
                checks: vec![
                    check("charge.concurrent-duplicates", CheckStatus::Fail),
                    check("charge.two-instances", CheckStatus::Error),
                ],
                points: 0,
                max_points: 6,
                review: Some(review),
                flaws: Vec::new(),
                followups: Vec::new(),
                // A key the service chose, quoted as evidence: hostile text too.
                designs: vec![harness::report::designs::RecognisedDesign {
                    id: "provider-key-own".to_owned(),
                    text: "Sends the payment provider an Idempotency-Key of its own making."
                        .to_owned(),
                    evidence: vec![
                        "e.g. `</details><script>alert(1)</script>\n# Grade report`".to_owned(),
                    ],
                }],
            },
            ExerciseReport {
                id: "orders".to_owned(),
                build: BuildReport {
                    status: BuildStatus::Failed,
                    log: Some("error: ````\n```\n</details>\n# Grade report\n~~~".to_owned()),
                    duration_ms: 1,
                },
                checks: Vec::new(),
                points: 0,
                max_points: 0,
                review: None,
                flaws: Vec::new(),
                followups: Vec::new(),
                designs: Vec::new(),
            },
        ],
    }
}

#[test]
fn hostile_evidence_stays_inside_its_block_in_markdown() {
    let md = markdown::render(&hostile_report(), false);
    // The build log is one fenced block, longer than any backtick run in it, holding
    // the log verbatim.
    let log = "error: ````\n```\n</details>\n# Grade report\n~~~";
    let block = format!("`````text\n{log}\n`````\n");
    assert_eq!(md.matches(&block).count(), 1, "{md}");
    let outside = md.replace(&block, "");
    // Outside it, headings are exactly the harness's own...
    let headings: Vec<&str> = outside.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headings,
        [
            "# Grade report",
            "## `charge` — 0 / 6 points",
            "### ✗ fail `charge.concurrent-duplicates`",
            "### ⚠ error `charge.two-instances`",
            "## `orders` — 0 / 0 points",
        ],
        "{md}"
    );
    // ...no fence opens, no raw HTML or comment, no link or image.
    assert!(
        !outside
            .lines()
            .any(|l| l.trim_start().starts_with("```") || l.trim_start().starts_with("~~~")),
        "{md}"
    );
    for (i, _) in outside.match_indices('<') {
        let tag =
            outside[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || "/!?".contains(c));
        assert!(
            !tag || outside[..i].ends_with('\\'),
            "raw HTML at {i}: {md}"
        );
    }
    assert!(!outside.contains("](http"), "{md}");
    assert!(!md.contains('\r'));
    // Evidence lines are list items or indented under one: nothing reaches column 0.
    let section = outside
        .split("### ✗ fail `charge.concurrent-duplicates`")
        .nth(1)
        .and_then(|s| s.split("### ").next())
        .expect("the failing check's section");
    let mut items = 0;
    for line in section.lines().skip(3) {
        assert!(
            line.is_empty() || line.starts_with("- ") || line.starts_with("  "),
            "a line escaped its item: {line:?}\n{md}"
        );
        items += usize::from(line.starts_with("- "));
    }
    assert_eq!(items, 4, "one item per evidence entry: {md}");
    // The review table keeps its four cell borders; names stay code, prose one line.
    let row = outside
        .lines()
        .find(|l| l.starts_with("| `check-then-act` |"))
        .expect("review row");
    assert_eq!(
        row.matches('|').count() - row.matches("\\|").count(),
        4,
        "{row}"
    );
    assert!(
        outside.contains("- ``src/`x`.rs :1-2``: \\``` \\</details> # heading"),
        "{md}"
    );
    assert!(
        outside.contains("Submission: directory /subs/x # Grade report: 22 / 22 \\<details>"),
        "{md}"
    );
    assert!(
        outside.contains("- ``exercises/charge/`README`.md # x``"),
        "{md}"
    );
}

#[test]
fn hostile_evidence_cannot_close_a_junit_element() {
    let xml = junit::render(&hostile_report());
    // One failing check, and the build that did not compile is a failing case too.
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert_eq!(xml.matches("</failure>").count(), 2, "{xml}");
    assert_eq!(xml.matches("<error ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<details>").count(), 0, "{xml}");
    assert_eq!(xml.matches("<!--").count(), 0, "{xml}");
}
