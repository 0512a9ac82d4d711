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
    /// The kit's own lock file could not be derived from the grader's.
    #[error("the kit's Cargo.lock: {0}")]
    Lock(String),
}

/// The harness crates a kit holds (workspace-relative): its `checks` tool and what
/// that builds on. Not `harness/checks-hidden` and not the grader's `harness`.
pub const KIT_CRATES: &[&str] = &[
    "harness/confine",
    "harness/core",
    "harness/checks-public",
    "harness/checks-tool",
];

/// Core's files that only some exercises compile (behind their features, see
/// `harness/core/Cargo.toml`): a kit carries one only when an exercise it holds needs it.
/// Besides these, each exercise's live wiring is `harness/core/src/live/<id>.rs`.
pub const CORE_FILES_BY_EXERCISE: &[(&str, &[&str])] = &[
    (
        "harness/core/src/fakes/payment_provider.rs",
        &["charge", "checkout"],
    ),
    ("harness/core/src/fakes/pricing_service.rs", &["quote"]),
    ("harness/core/src/fakes/risk_service.rs", &["transfer"]),
    ("harness/core/src/fakes/shipping_rates.rs", &["checkout"]),
    (
        "harness/core/src/fakes/write_faults.rs",
        &["transfer", "checkout"],
    ),
    ("harness/core/src/live/db.rs", &["transfer", "checkout"]),
];

/// Whether a kit holding `ids` needs core's file `path` (workspace-relative).
fn core_file_needed(path: &Path, ids: &[&str]) -> bool {
    if let Some((_, owners)) = CORE_FILES_BY_EXERCISE
        .iter()
        .find(|(file, _)| path == Path::new(file))
    {
        return owners.iter().any(|o| ids.contains(o));
    }
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem)
            if path.parent() == Some(Path::new("harness/core/src/live"))
                && crate::catalog::find(stem).is_some() =>
        {
            ids.contains(&stem)
        }
        _ => true,
    }
}

/// Relative path in the kit → contents.
pub type KitFiles = BTreeMap<PathBuf, Vec<u8>>;

/// Builds the kit's files for `exercises` from the grader at `root`.
pub fn kit_files(
    root: &Path,
    exercises: &[Exercise],
    minutes: Option<u32>,
) -> Result<KitFiles, PackError> {
    let boxes: Vec<u32> = exercises
        .iter()
        .map(|e| {
            brief_minutes(&String::from_utf8_lossy(
                &std::fs::read(root.join(e.dir()).join("BRIEF.md")).unwrap_or_default(),
            ))
            .unwrap_or(90)
        })
        .collect();
    let total = minutes.unwrap_or_else(|| boxes.iter().sum());
    let mut files = KitFiles::new();
    let read =
        |rel: &str| std::fs::read(root.join(rel)).map_err(|e| PackError::Io(root.join(rel), e));

    let mut manifest: toml::Table = String::from_utf8_lossy(&read("Cargo.toml")?)
        .parse()
        .map_err(|e| PackError::Manifest(format!("{e}")))?;
    let mut members = vec![toml::Value::from("exercises/kit")];
    members.extend(exercises.iter().map(|e| toml::Value::from(e.dir())));
    members.extend(KIT_CRATES.iter().map(|c| toml::Value::from(*c)));
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
        let path = format!("{}/Cargo.toml", e.dir());
        files.insert(path.clone().into(), read(&path)?);
        // One time box everywhere: the brief's own, unless the interviewer set the
        // kit's, and then the brief points at the README.
        let path = format!("{}/BRIEF.md", e.dir());
        let brief = String::from_utf8_lossy(&read(&path)?).into_owned();
        let brief = match minutes {
            Some(m) if Some(m) != brief_minutes(&brief) || exercises.len() > 1 => {
                restate_time_box(&brief, m)
            }
            _ => brief,
        };
        files.insert(path.into(), brief.into_bytes());
        add_tree(root, &Path::new(&e.dir()).join("src"), &mut files, &|_| {
            true
        })?;
    }

    // The kit's tool is a choice of crates: the public checks and what they build on,
    // never the hidden checks' crate nor the grader's verbs — the compiler, not a
    // filter over source, keeps them out (nothing in these crates can name them).
    // Of the public checks, only the chosen exercises' modules, and the checks tool
    // builds only their features (the registry stays exhaustive; the rest is empty).
    let ids: Vec<&str> = exercises.iter().map(|e| e.id).collect();
    let public_checks = Path::new("harness/checks-public/src/checks");
    for krate in KIT_CRATES {
        let dir = Path::new(krate);
        files.insert(
            dir.join("Cargo.toml"),
            read(&format!("{krate}/Cargo.toml"))?,
        );
        add_tree(root, &dir.join("src"), &mut files, &|p| {
            core_file_needed(p, &ids)
                && p.strip_prefix(public_checks)
                    .ok()
                    .and_then(|rest| rest.components().next())
                    .is_none_or(|first| ids.iter().any(|id| first.as_os_str() == *id))
        })?;
    }
    let tool = "harness/checks-tool/Cargo.toml";
    let mut manifest: toml::Table = String::from_utf8_lossy(&read(tool)?)
        .parse()
        .map_err(|e| PackError::Manifest(format!("{tool}: {e}")))?;
    let dependency = manifest
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
        .and_then(|d| d.get_mut("checks-public"))
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| PackError::Manifest(format!("{tool}: no checks-public dependency")))?;
    dependency.insert("default-features".into(), false.into());
    dependency.insert(
        "features".into(),
        toml::Value::Array(ids.iter().map(|id| toml::Value::from(*id)).collect()),
    );
    let manifest = toml::to_string(&manifest).map_err(|e| PackError::Manifest(e.to_string()))?;
    files.insert(tool.into(), manifest.into_bytes());
    // The public checks and core, as members of the kit's workspace, build only the
    // kit's exercises by default too (a plain `cargo build` builds every member, and
    // core's other exercises' files are not in the kit).
    for krate in [
        "harness/checks-public/Cargo.toml",
        "harness/core/Cargo.toml",
    ] {
        let mut manifest: toml::Table = String::from_utf8_lossy(&read(krate)?)
            .parse()
            .map_err(|e| PackError::Manifest(format!("{krate}: {e}")))?;
        manifest
            .get_mut("features")
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| PackError::Manifest(format!("{krate}: no [features]")))?
            .insert(
                "default".into(),
                toml::Value::Array(ids.iter().map(|id| toml::Value::from(*id)).collect()),
            );
        let manifest =
            toml::to_string(&manifest).map_err(|e| PackError::Manifest(e.to_string()))?;
        files.insert(krate.into(), manifest.into_bytes());
    }
    files.insert("docs/review-notes.md".into(), read("docs/review-notes.md")?);
    files.insert(".gitignore".into(), b"/target\n".to_vec());
    files.insert(
        "README.md".into(),
        candidate_readme(exercises, total, &boxes).into_bytes(),
    );
    Ok(files)
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
        for c in checks_hidden::registry(e) {
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
/// corpus or the grader's tests, the hidden checks' crate or the grader's own), or a
/// secret in any file's text.
pub fn audit(files: &KitFiles, secrets: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, bytes) in files {
        let name = path.display().to_string();
        if path
            .file_name()
            .is_some_and(|f| f == "flaws.toml" || f == "followups.toml" || f == "requirements.toml")
            || path.starts_with("tests")
            || path.starts_with("harness/tests")
            || path.starts_with("harness/checks-hidden")
            || path.starts_with("harness/src")
        {
            hits.push(format!("{name} is grading material"));
        }
        let text = String::from_utf8_lossy(bytes);
        for s in secrets {
            if text.contains(s.as_str()) {
                hits.push(format!("{name} contains {s}"));
            }
        }
        if text.contains("checks-hidden") || text.contains("checks_hidden") {
            hits.push(format!("{name} names the hidden checks' crate"));
        }
    }
    hits
}

/// Packs the kit for `exercises` into `out` (a `.tar.gz`) after auditing it.
pub fn pack(
    root: &Path,
    exercises: &[Exercise],
    minutes: Option<u32>,
    out: &Path,
) -> Result<usize, PackError> {
    let mut files = kit_files(root, exercises, minutes)?;
    exact_lock(&mut files)?;
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

/// The time box a brief states (`**Time box:** N minutes`).
fn brief_minutes(brief: &str) -> Option<u32> {
    let rest = &brief[brief.find("**Time box:**")? + "**Time box:**".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `brief` with its time box replaced by a pointer to the kit's, so a kit says one
/// number.
fn restate_time_box(brief: &str, minutes: u32) -> String {
    let Some(at) = brief.find("**Time box:**") else {
        return brief.to_owned();
    };
    let end = brief[at..]
        .find(" minutes")
        .map_or(brief.len(), |i| at + i + " minutes".len());
    format!(
        "{}**Time box:** this kit's {minutes} minutes (see README.md){}",
        &brief[..at],
        &brief[end..]
    )
}

/// Replaces the grader's lock file with the kit's own: the grader's, narrowed to the
/// kit's members by an offline `cargo update --workspace` (no version changes), so a
/// candidate's first build does not rewrite it and `--locked` works.
fn exact_lock(files: &mut KitFiles) -> Result<(), PackError> {
    let dir = tempfile::tempdir().map_err(|e| PackError::Io(std::env::temp_dir(), e))?;
    for (rel, bytes) in files.iter() {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| PackError::Io(parent.to_path_buf(), e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| PackError::Io(path.clone(), e))?;
    }
    let toolchain = crate::toolchain::locate().map_err(|e| PackError::Lock(e.to_string()))?;
    let out = std::process::Command::new(&toolchain.cargo)
        .current_dir(dir.path())
        .args(["update", "--workspace", "--offline"])
        .env("CARGO_HOME", &toolchain.cargo_home)
        .env("RUSTC", &toolchain.rustc)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| PackError::Io(toolchain.cargo.clone(), e))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        return Err(PackError::Lock(
            text.lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or("cargo update failed")
                .to_owned(),
        ));
    }
    let lock = dir.path().join("Cargo.lock");
    let bytes = std::fs::read(&lock).map_err(|e| PackError::Io(lock.clone(), e))?;
    files.insert("Cargo.lock".into(), bytes);
    Ok(())
}

fn candidate_readme(exercises: &[Exercise], minutes: u32, boxes: &[u32]) -> String {
    let mut s = format!(
        "# Take-home: review and fix AI-written backend code\n\n\
         **Time box: {minutes} minutes** in all. Stop when the time is up; unfinished is fine —\n\
         say in your notes what you would do next.\n\n\
         Each exercise below is a small service an AI assistant wrote. It works on the happy\n\
         path. Read its `BRIEF.md` (the ticket), review the code, fix what would break in\n\
         production, and write down what you found.\n\n## Exercises\n\n"
    );
    let _ = boxes;
    for (e, b) in exercises.iter().zip(boxes) {
        s.push_str(&format!(
            "- `{}`: `exercises/{}/BRIEF.md` (about {b} minutes)\n",
            e.id, e.id
        ));
    }
    s.push_str(
        "\n## Set up (once)\n\n\
         Needs the Rust toolchain (1.89+); SQLite is bundled. Fetch the crates once — the only\n\
         step that needs the network — then everything builds offline and the lock file stays\n\
         as it is:\n\n```sh\ncargo fetch\ncargo build --locked --offline\n```\n\n\
         ## Run a service by hand\n\n\
         `serve` builds the service, starts it on a fresh database with demo data, plays its\n\
         downstream dependencies (payment provider, pricing…) itself, and prints the URLs,\n\
         ready-to-paste `curl` lines and one line per request. From a second terminal,\n\
         `fault` makes a dependency misbehave (`cargo run -p checks -- fault --help`).\n\n```sh\n",
    );
    for e in exercises {
        s.push_str(&format!("cargo run -p checks -- serve {}\n", e.id));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the harness lives in the workspace")
            .to_path_buf()
    }

    #[test]
    fn every_exercise_only_file_of_core_exists() {
        for (file, owners) in CORE_FILES_BY_EXERCISE {
            assert!(root().join(file).is_file(), "{file} is listed but absent");
            for o in *owners {
                assert!(crate::catalog::find(o).is_some(), "{file}: no exercise {o}");
            }
        }
        for e in crate::catalog::all() {
            let live = root().join(format!("harness/core/src/live/{}.rs", e.id));
            assert!(live.is_file(), "{} has no live wiring", e.id);
        }
    }

    #[test]
    fn a_kit_carries_only_its_own_exercises_fakes_and_live_wiring() {
        for e in crate::catalog::all() {
            let files = kit_files(&root(), &[e], None).unwrap();
            for other in crate::catalog::all().iter().filter(|o| o.id != e.id) {
                let live = PathBuf::from(format!("harness/core/src/live/{}.rs", other.id));
                assert!(
                    !files.contains_key(&live),
                    "{}'s kit carries {live:?}",
                    e.id
                );
            }
            for (file, owners) in CORE_FILES_BY_EXERCISE {
                assert_eq!(
                    files.contains_key(Path::new(file)),
                    owners.contains(&e.id),
                    "{}'s kit and {file}",
                    e.id
                );
            }
            let core =
                String::from_utf8_lossy(&files[Path::new("harness/core/Cargo.toml")]).into_owned();
            assert!(
                core.contains(&format!("default = [\"{}\"]", e.id)),
                "{core}"
            );
        }
    }
}
