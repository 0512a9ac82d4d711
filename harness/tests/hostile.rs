//! Hostile and broken submissions, graded through the command line as a pipeline
//! would: each must end in a clear graded result within its time limits, leave no
//! process and no temp dir behind, and never get out of its sandbox. Archive attacks
//! must be refused with a one-line reason and extract nothing.
//!
//! Each hostile service is one `main.rs` from `tests/hostile/`, dropped into a copy of
//! the `charge` exercise and graded on one contract check.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::hostile::{grade, grader_root, harness, hostile_source, hostile_submission, leftovers};
use harness::report::{BuildStatus, CheckStatus, Report};

fn only_check(report: &Report) -> &harness::report::CheckReport {
    &report.exercises[0].checks[0]
}

#[test]
fn hostile_services_get_a_clear_failing_grade_and_leave_nothing_behind() {
    let cases = [
        ("never-ready", "READY"),
        ("ready-never-answers", "no response (timed out"),
        ("panics-on-every-request", "no response (connection closed)"),
        ("spins-at-start", "READY"),
        ("fork-bomb", "READY"),
        ("allocates-until-killed", "did not start"),
        ("fills-the-disk", "READY"),
        ("fake-all-passed", "404"),
    ];
    let mut problems = Vec::new();
    for (name, evidence) in cases {
        let submission = hostile_submission(&hostile_source(name));
        let graded = grade(submission.path(), "charge.happy-path");
        let check = only_check(&graded.report);
        let story = check.evidence.join("\n");
        if graded.code != Some(1)
            || graded.report.exercises[0].build.status != BuildStatus::Ok
            || check.status != CheckStatus::Fail
            || !story.contains(evidence)
            || graded.report.points != 0
        {
            problems.push(format!(
                "{name}: exit {:?}, {:?}, expected evidence mentioning {evidence:?}:\n{story}",
                graded.code, check.status
            ));
        }
        // Bounded by the service's READY timeout and request timeouts, plus the build.
        assert!(
            graded.took < Duration::from_secs(240),
            "{name} took {:?}",
            graded.took
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_submission_that_does_not_compile_is_graded_as_a_build_failure() {
    let submission = hostile_submission(&hostile_source("does-not-compile"));
    let graded = grade(submission.path(), "charge.happy-path");
    assert_eq!(graded.code, Some(1));
    let ex = &graded.report.exercises[0];
    assert_eq!(ex.build.status, BuildStatus::Failed);
    assert!(
        ex.build
            .log
            .as_deref()
            .unwrap_or("")
            .contains("mismatched types")
    );
    assert_eq!(graded.report.points, 0);
}

#[test]
fn the_sandbox_shows_only_loopback_and_hides_and_seals_the_grader() {
    let submission = hostile_submission(&hostile_source("prober"));
    for place in ["/tmp", "/var/tmp", "/dev/shm"] {
        let _ = std::fs::remove_file(Path::new(place).join("hostile-escape"));
    }
    let graded = grade(submission.path(), "charge.happy-path");
    let story = only_check(&graded.report).evidence.join("\n");
    let isolation = &graded.report.submission.isolation;
    // What the sandbox can see, as the service itself reported it in its answer.
    if isolation.network.starts_with("own network namespace") {
        assert!(story.contains(r#""ifaces":"lo""#), "network view: {story}");
    } else {
        // Not isolated here (no privilege for namespaces): the report must say so.
        assert!(
            isolation.network.starts_with("not isolated"),
            "{isolation:?}"
        );
        assert!(story.contains(r#""ifaces":""#), "{story}");
    }
    if isolation.filesystem.contains("covered") {
        for (probe, verdict) in [
            ("flaws", "denied"),
            ("checks", "denied"),
            ("tmp", "denied"),
            ("vartmp", "denied"),
            ("shm", "denied"),
            ("grader", "denied"),
        ] {
            assert!(
                story.contains(&format!(r#""{probe}":"{verdict}""#)),
                "{probe} should be {verdict}: {story}"
            );
        }
        // Services run as this grade's own user, far from any system account.
        let uid: u64 = story
            .split(r#""uid":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|u| u.parse().ok())
            .unwrap_or(0);
        assert!(uid >= 2_000_000_000, "uid {uid}: {story}");
    }
    for place in ["/tmp", "/var/tmp", "/dev/shm"] {
        assert!(
            !Path::new(place).join("hostile-escape").exists(),
            "wrote into {place}"
        );
    }
    assert!(!grader_root().join("hostile-escape").exists());
}

/// A gzip-compressed tar archive built entry by entry, including entries the `tar`
/// crate's safe API would refuse to write.
fn tar_gz(
    path: &Path,
    build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>),
) {
    let file = std::fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    build(&mut builder);
    builder.into_inner().unwrap().finish().unwrap();
}

fn raw_entry(
    builder: &mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &mut dyn std::io::Read,
    size: u64,
) {
    let mut header = tar::Header::new_gnu();
    {
        let bytes = header.as_old_mut();
        bytes.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    if let Some(link) = link {
        let bytes = header.as_old_mut();
        bytes.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn unsafe_archives_are_refused_with_one_line_and_extract_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let escape = std::env::temp_dir().join("hostile-archive-escape");
    let _ = std::fs::remove_file(&escape);
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();

    let p = dir.path().join("dotdot.tar.gz");
    tar_gz(&p, |b| {
        let name = format!("../../../../../..{}", escape.display());
        raw_entry(b, &name, tar::EntryType::Regular, None, &mut &b"x"[..], 1)
    });
    cases.push((p, "climbs out"));

    let p = dir.path().join("symlink.tar.gz");
    tar_gz(&p, |b| {
        raw_entry(
            b,
            "exercises/etc",
            tar::EntryType::Symlink,
            Some("/etc"),
            &mut std::io::empty(),
            0,
        )
    });
    cases.push((p, "points outside"));

    let p = dir.path().join("huge.tar.gz");
    tar_gz(&p, |b| {
        let mut zeros = std::io::repeat(0).take(1 << 30);
        raw_entry(
            b,
            "exercises/charge/src/big.rs",
            tar::EntryType::Regular,
            None,
            &mut zeros,
            1 << 30,
        )
    });
    cases.push((p, "larger than"));

    let p = dir.path().join("device.tar.gz");
    tar_gz(&p, |b| {
        raw_entry(
            b,
            "exercises/null",
            tar::EntryType::Char,
            None,
            &mut std::io::empty(),
            0,
        )
    });
    cases.push((p, "character device"));

    let p = dir.path().join("garbage.tar.gz");
    let mut junk = std::fs::File::create(&p).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..4096 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        junk.write_all(&state.to_le_bytes()).unwrap();
    }
    cases.push((p, "not a readable tar archive"));

    let p = dir.path().join("dotdot.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        zip.start_file("../escape.rs", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
    }
    cases.push((p, "climbs out"));

    let tmp = tempfile::tempdir().unwrap();
    for (archive, reason) in cases {
        let out = harness()
            .arg("grade")
            .arg(&archive)
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {stderr}",
            archive.display()
        );
        assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", archive.display());
        assert!(stderr.contains(reason), "{}: {stderr}", archive.display());
    }
    assert!(!escape.exists(), "an entry escaped the temp dir");
    assert_eq!(
        leftovers(tmp.path()),
        Vec::<PathBuf>::new(),
        "intake temp dirs left behind"
    );
}
