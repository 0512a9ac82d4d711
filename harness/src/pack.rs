//! `pack`: the candidate's kit — the chosen exercises with their briefs, the kit crate,
//! a harness that carries only the public checks, and a README — as one `.tar.gz`.
//!
//! What a candidate must never see stays out by construction (the planted-flaw lists,
//! hidden checks, the corpus, the grader's tests, design notes that name the flaws), and
//! an audit then searches every packed file for anything that identifies a hidden check
//! or a planted flaw; a hit fails the pack and writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::Exercise;

/// Why a kit could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the grader's tree or writing the archive failed.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The grader's manifest could not be rewritten.
    #[error("Cargo.toml: {0}")]
    Manifest(String),
    /// The audit found grading material in the kit; nothing was written.
    #[error("audit failed, nothing written: {0}")]
    Leak(String),
}

/// Relative path in the kit → contents.
pub type KitFiles = BTreeMap<PathBuf, Vec<u8>>;

/// Builds the kit's files for `exercises` from the grader at `root`.
pub fn kit_files(root: &Path, exercises: &[Exercise], minutes: u32) -> Result<KitFiles, PackError> {
    let mut files = KitFiles::new();
    let read =
        |rel: &str| std::fs::read(root.join(rel)).map_err(|e| PackError::Io(root.join(rel), e));

    let mut manifest: toml::Table = String::from_utf8_lossy(&read("Cargo.toml")?)
        .parse()
        .map_err(|e| PackError::Manifest(format!("{e}")))?;
    let mut members = vec![toml::Value::from("exercises/kit")];
    members.extend(exercises.iter().map(|e| toml::Value::from(e.dir())));
    members.push("harness".into());
    manifest
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| PackError::Manifest("no [workspace]".into()))?
        .insert("members".into(), toml::Value::Array(members));
    let manifest = toml::to_string(&manifest).map_err(|e| PackError::Manifest(e.to_string()))?;
    files.insert("Cargo.toml".into(), manifest.into_bytes());
    files.insert("Cargo.lock".into(), read("Cargo.lock")?);

    // The kit's own tests describe how tampering is detected: grading material.
    add_tree(root, Path::new("exercises/kit"), &mut files, &|p| {
        !p.starts_with("exercises/kit/tests")
    })?;
    for e in exercises {
        for rel in ["Cargo.toml", "BRIEF.md"] {
            let path = format!("{}/{rel}", e.dir());
            files.insert(path.clone().into(), read(&path)?);
        }
        add_tree(root, &Path::new(&e.dir()).join("src"), &mut files, &|_| {
            true
        })?;
    }

    // The harness without its hidden checks: the modules it gates behind the
    // `hidden-checks` feature are left out, and the feature is off by default.
    let hidden = hidden_modules(root)?;
    add_tree(root, Path::new("harness/src"), &mut files, &|p| {
        !hidden.contains(&p.to_path_buf())
    })?;
    // Renamed to `checks` (library still `harness`): the candidate runs
    // `cargo run -p checks -- check ID`, and its artifacts never collide with a grader's.
    let harness_manifest = String::from_utf8_lossy(&read("harness/Cargo.toml")?)
        .replace("default = [\"hidden-checks\"]", "default = []")
        .replacen("name = \"harness\"", "name = \"checks\"", 1)
        .replacen(
            "[features]",
            "[lib]\nname = \"harness\"\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"checks\"\npath = \"src/main.rs\"\n\n[features]",
            1,
        );
    files.insert("harness/Cargo.toml".into(), harness_manifest.into_bytes());
    files.insert("docs/review-notes.md".into(), read("docs/review-notes.md")?);
    files.insert(
        "README.md".into(),
        candidate_readme(exercises, minutes).into_bytes(),
    );
    Ok(files)
}

/// `harness/src/checks/<id>/X.rs` for every module declared under
/// `#[cfg(feature = "hidden-checks")]` in a checks module.
fn hidden_modules(root: &Path) -> Result<Vec<PathBuf>, PackError> {
    let checks = root.join("harness/src/checks");
    let mut hidden = Vec::new();
    let entries = std::fs::read_dir(&checks).map_err(|e| PackError::Io(checks.clone(), e))?;
    for entry in entries.flatten() {
        let module = entry.path().join("mod.rs");
        let Ok(text) = std::fs::read_to_string(&module) else {
            continue;
        };
        let mut gated = false;
        for line in text.lines() {
            let line = line.trim();
            if line == "#[cfg(feature = \"hidden-checks\")]" {
                gated = true;
                continue;
            }
            if gated
                && let Some(name) = line
                    .trim_start_matches("pub ")
                    .strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';'))
            {
                let rel = Path::new("harness/src/checks")
                    .join(entry.file_name())
                    .join(format!("{name}.rs"));
                hidden.push(rel);
            }
            gated = false;
        }
    }
    Ok(hidden)
}

fn add_tree(
    root: &Path,
    rel: &Path,
    files: &mut KitFiles,
    keep: &dyn Fn(&Path) -> bool,
) -> Result<(), PackError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| PackError::Io(dir.clone(), e))?;
    for entry in entries.flatten() {
        let child = rel.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            add_tree(root, &child, files, keep)?;
        } else if kind.is_file() && keep(&child) {
            let bytes = std::fs::read(entry.path()).map_err(|e| PackError::Io(entry.path(), e))?;
            files.insert(child, bytes);
        }
    }
    Ok(())
}

/// Text that identifies grading material: every hidden check id, and every planted-flaw
/// and neutral-line id of the packed exercises (quoted, as the grader writes them).
pub fn secrets(root: &Path, exercises: &[Exercise]) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    for e in crate::catalog::all() {
        for c in (e.checks)() {
            if c.visibility == crate::checks::Visibility::Hidden {
                secrets.push(c.id.to_owned());
            }
        }
    }
    for e in exercises {
        let Ok(text) = std::fs::read_to_string(root.join(e.dir()).join("flaws.toml")) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        for key in ["flaw", "neutral"] {
            for item in doc
                .get(key)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(id) = item.get("id").and_then(|v| v.as_str()) {
                    secrets.push(format!("\"{id}\""));
                }
            }
        }
    }
    secrets
}

/// Every leak found in `files`: a grading file by name (a planted-flaw list, the
/// corpus or the grader's tests, a hidden-check module), a secret in any file's text,
/// or a harness that would build its hidden checks by default.
pub fn audit(files: &KitFiles, secrets: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, bytes) in files {
        let name = path.display().to_string();
        if path
            .file_name()
            .is_some_and(|f| f == "flaws.toml" || f == "hidden.rs")
            || path.starts_with("tests")
            || path.starts_with("harness/tests")
        {
            hits.push(format!("{name} is grading material"));
        }
        let text = String::from_utf8_lossy(bytes);
        for s in secrets {
            if text.contains(s.as_str()) {
                hits.push(format!("{name} contains {s}"));
            }
        }
        if name == "harness/Cargo.toml" && text.contains("default = [\"hidden-checks\"]") {
            hits.push(format!("{name} builds the hidden checks by default"));
        }
    }
    hits
}

/// Packs the kit for `exercises` into `out` (a `.tar.gz`) after auditing it.
pub fn pack(
    root: &Path,
    exercises: &[Exercise],
    minutes: u32,
    out: &Path,
) -> Result<usize, PackError> {
    let files = kit_files(root, exercises, minutes)?;
    let hits = audit(&files, &secrets(root, exercises));
    if !hits.is_empty() {
        return Err(PackError::Leak(hits.join("; ")));
    }
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(|e| PackError::Io(tmp.clone(), e))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    // Packing time as every file's time: a kit unpacked over an older build is newer
    // than it, so cargo rebuilds instead of reusing another copy's artifacts.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for (rel, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(now);
        header.set_cksum();
        tar.append_data(&mut header, Path::new("kit").join(rel), bytes.as_slice())
            .map_err(|e| PackError::Io(tmp.clone(), e))?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| PackError::Io(tmp.clone(), e))?;
    gz.finish().map_err(|e| PackError::Io(tmp.clone(), e))?;
    std::fs::rename(&tmp, out).map_err(|e| PackError::Io(out.to_path_buf(), e))?;
    Ok(files.len())
}

fn candidate_readme(exercises: &[Exercise], minutes: u32) -> String {
    let mut s = format!(
        "# Take-home: review and fix AI-written backend code\n\n\
         **Time box: {minutes} minutes.** Stop when the time is up; unfinished is fine — say in\n\
         your notes what you would do next.\n\n\
         Each exercise below is a small service an AI assistant wrote. It works on the happy\n\
         path. Read its `BRIEF.md` (the ticket), review the code, fix what would break in\n\
         production, and write down what you found.\n\n## Exercises\n\n"
    );
    for e in exercises {
        s.push_str(&format!("- `{}`: `exercises/{}/BRIEF.md`\n", e.id, e.id));
    }
    s.push_str(
        "\n## Build and run (offline)\n\n\
         Needs the Rust toolchain (1.89+). SQLite is bundled.\n\n```sh\n",
    );
    for e in exercises {
        s.push_str(&format!(
            "cargo run -p {} -- --listen 127.0.0.1:8080 --db /tmp/{}.db --seed-demo 5   # see the brief for --downstream\n",
            e.package, e.id
        ));
    }
    s.push_str("```\n\n## Check your work\n\n```sh\n");
    for e in exercises {
        s.push_str(&format!("cargo run -p checks -- check {}\n", e.id));
    }
    s.push_str(
        "```\n\n`check` builds your service and runs the **public** checks: the API contract from\n\
         the brief. They are deliberately basic — passing them says the service still does its\n\
         job, not that it is ready for production. Your submission is graded with more checks\n\
         that exercise the production requirements in the brief.\n\n\
         ## What to hand in\n\n\
         1. Your fixed code (`exercises/<id>/src/`, and `exercises/<id>/Cargo.toml` if you\n   \
         changed it; other files are not used). From `Cargo.toml` only the `[dependencies]`\n   \
         are read, and each must be one of the workspace's own (`name.workspace = true`,\n   \
         features allowed): ",
    );
    s.push_str(&crate::staging::manifest::ALLOWED_DEPENDENCIES.join(", "));
    s.push_str(
        ".\n   \
         The grader writes the rest of the manifest itself: no build script, no other\n   \
         crates or targets, and `unsafe` code is not allowed.\n\
         2. Review notes in `exercises/<id>/REVIEW.md`: each problem you found — file, lines,\n   \
         a category, and why it breaks in production. The format is in\n   \
         `docs/review-notes.md`.\n\n\
         Hand in this folder as a `.tar.gz` or `.zip` (e.g. `tar czf submission.tar.gz\n\
         exercises/`), or a git repository.\n",
    );
    s
}
