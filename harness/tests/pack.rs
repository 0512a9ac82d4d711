//! The candidate's kit: packed, audited, unpacked into a temp dir and used as a
//! candidate would — offline, building the service and running the public checks.

use std::path::Path;
use std::process::Command;

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harness"))
}

fn grader_root() -> std::path::PathBuf {
    harness::staging::Workspace::grader().root
}

/// Every file under `dir` with its text (lossy).
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn a_kit_carries_no_grading_material_and_its_public_checks_run_offline() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("kit.tar.gz");
    let out = harness()
        .args([
            "pack",
            "--exercise",
            "charge",
            "--exercise",
            "transfer",
            "--out",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&archive).unwrap());
    tar::Archive::new(gz).unpack(work.path()).unwrap();
    let kit = work.path().join("kit");

    // Searched independently of the pack's own audit: no planted-flaw list, no hidden
    // check id, no flaw id, no corpus, no grader tests.
    let mut all = Vec::new();
    files(&kit, &mut all);
    let mut secrets: Vec<String> = Vec::new();
    for e in harness::catalog::all() {
        for c in harness::registry(e) {
            if c.visibility == harness::checks::Visibility::Hidden {
                secrets.push(c.id.to_owned());
            }
        }
        let flaws =
            std::fs::read_to_string(grader_root().join(e.dir()).join("flaws.toml")).unwrap();
        for line in flaws.lines() {
            if let Some(id) = line.strip_prefix("id = ") {
                secrets.push(id.to_owned());
            }
        }
    }
    for (path, text) in &all {
        assert!(
            !path.ends_with("flaws.toml") && !path.contains("/tests/"),
            "{path} shipped"
        );
        assert!(
            !path.contains("corpus") && !path.ends_with("hidden.rs"),
            "{path} shipped"
        );
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{path} mentions {s}");
        }
    }
    assert!(kit.join("exercises/charge/BRIEF.md").is_file());
    assert!(kit.join("README.md").is_file());
    assert!(!kit.join("exercises/orders").exists());

    // As a candidate: offline, from the kit's root. The build cache is shared with the
    // grader's staged builds so the dependencies are not compiled again.
    let cache = grader_root().join("target/harness");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "run",
            "--offline",
            "-q",
            "-p",
            "checks",
            "--",
            "check",
            "charge",
        ])
        .current_dir(&kit)
        .env("CARGO_TARGET_DIR", cache.join("target"))
        .env("HARNESS_CACHE_DIR", &cache)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("✓ charge.happy-path"), "{stdout}");
    let public = harness::registry(harness::catalog::find("charge").unwrap())
        .iter()
        .filter(|c| c.visibility == harness::checks::Visibility::Public)
        .count();
    assert!(
        stdout.contains(&format!("{public} passed, 0 failed")),
        "{stdout}"
    );
    assert!(!stdout.contains("charge.concurrent-duplicates"), "{stdout}");

    // The README's commands, as written, leave the candidate's tree as it was: the lock
    // file is the kit's own (`--locked` holds), nothing is written beside the sources.
    let readme = std::fs::read_to_string(kit.join("README.md")).unwrap();
    for command in [
        "cargo fetch",
        "cargo build --locked --offline",
        "cargo run -p checks -- serve charge",
        "cargo run -p checks -- check charge",
    ] {
        assert!(readme.contains(command), "README lacks `{command}`");
    }
    assert!(readme.contains("**Time box: 180 minutes**"), "{readme}");
    let brief = std::fs::read_to_string(kit.join("exercises/charge/BRIEF.md")).unwrap();
    assert!(brief.contains("**Time box:** 90 minutes"), "{brief}");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=c@x", "-c", "user.name=c"])
            .args(args)
            .current_dir(&kit)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "kit"]);
    let cargo = |args: &[&str]| {
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(args)
            .current_dir(&kit)
            .env("CARGO_TARGET_DIR", cache.join("target"))
            .env("HARNESS_CACHE_DIR", &cache)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let built = cargo(&["build", "--locked", "--offline", "-q"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    // `serve` starts the service with its fakes and prints where; it runs until Ctrl-C.
    // The binary `cargo run -p checks` runs, started directly so Ctrl-C reaches it.
    let mut serve = Command::new(cache.join("target/debug/checks"))
        .args(["serve", "charge"])
        .current_dir(&kit)
        .env("CARGO_TARGET_DIR", cache.join("target"))
        .env("HARNESS_CACHE_DIR", &cache)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(serve.stdout.take().unwrap()));
    let started = lines
        .by_ref()
        .take(40)
        .map_while(Result::ok)
        .any(|l| l.contains("curl"));
    // Ctrl-C, as the candidate would stop it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let stopped = serve.wait().unwrap();
    assert!(
        stopped.code().is_some(),
        "serve did not stop on Ctrl-C: {stopped:?}"
    );
    assert!(started, "serve printed no curl line");
    assert_eq!(
        git(&["status", "--porcelain"]),
        "",
        "the kit's tree changed"
    );
}
