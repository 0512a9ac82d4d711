//! Staging a submission and building its services.
//!
//! Only candidate-owned paths ([`Exercise::CANDIDATE_FILES`], [`Exercise::CANDIDATE_DIRS`])
//! come from the submission; the workspace manifest, the lock file and the kit come
//! from the grader's own copy, so the trusted code linked into a service is always the
//! grader's. Each submission gets a stable staging directory and every build shares one
//! target directory, and files are rewritten only when their content changed, so a
//! re-grade is an incremental build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::catalog::Exercise;

pub mod manifest;

/// The niceness builds run at: below every grade's harness and services (0).
const BUILD_NICENESS: libc::c_int = 10;

/// Longest a build may take before it is killed, unless the operator sets
/// [`BUILD_TIMEOUT_VAR`].
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// The environment variable (whole seconds) that sets the build time limit: a slow
/// machine's first build compiles every dependency inside the limit too.
pub const BUILD_TIMEOUT_VAR: &str = "HARNESS_BUILD_TIMEOUT_SECS";

/// The build time limit: [`BUILD_TIMEOUT_VAR`] when it holds a positive number of
/// seconds, else [`BUILD_TIMEOUT`].
fn build_timeout() -> Duration {
    std::env::var(BUILD_TIMEOUT_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(BUILD_TIMEOUT, Duration::from_secs)
}
/// Largest single file taken from a submission.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most bytes taken from one exercise of a submission.
const MAX_TOTAL_BYTES: u64 = 16 * 1024 * 1024;

/// The grader's own repository and its build cache.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Root of the grader's repository (holds `Cargo.toml`, `Cargo.lock`, `exercises/kit`).
    pub root: PathBuf,
    /// Where staged submissions and the shared target directory live.
    pub cache: PathBuf,
}

impl Workspace {
    /// The repository this harness was built from; the cache defaults to
    /// `target/harness` inside it and can be moved with `HARNESS_CACHE_DIR`.
    pub fn grader() -> Workspace {
        Workspace::at(built_from())
    }

    /// A candidate's kit: the one the tool is run from, not the one it was built from —
    /// kits get copied, and two copies may share a target directory.
    pub fn kit() -> Workspace {
        Workspace::at(kit_root_from_cwd().unwrap_or_else(built_from))
    }

    fn at(root: PathBuf) -> Workspace {
        let cache = std::env::var_os("HARNESS_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target").join("harness"));
        Workspace { root, cache }
    }
}

/// The repository root this crate was compiled in (it lives at `harness/confine`).
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The nearest directory at or above the current one that holds a kit workspace.
fn kit_root_from_cwd() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join("exercises/kit/Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// Why staging could not happen at all (as opposed to a build that failed).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Reading the grader's copy or writing the stage failed.
    #[error("staging {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The grader's workspace manifest is not what the harness expects.
    #[error("grader manifest {0}: {1}")]
    Manifest(PathBuf, String),
    /// The grader's toolchain or fetched crates are not usable.
    #[error(transparent)]
    Environment(#[from] crate::toolchain::EnvError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StageError + '_ {
    move |source| StageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The result of building one exercise from a submission.
#[derive(Debug, Clone)]
pub enum Build {
    /// Built; the binary was copied out of the shared target directory.
    Ok {
        /// The service binary.
        binary: PathBuf,
        /// How long staging and building took.
        elapsed: Duration,
    },
    /// The submission does not build (or is not a valid submission for this exercise).
    Failed {
        /// The compiler's errors, or why the submission was refused.
        log: String,
    },
    /// The build was killed at the time limit. On a cold cache that may be the
    /// dependencies' build on a slow machine, so callers decide whose fault it is.
    TimedOut {
        /// What was said, and the limit.
        log: String,
    },
}

/// Stages `exercise` from `submission` and builds it; the binary lands in `out_dir`.
pub async fn build_exercise(
    ws: &Workspace,
    submission: &Path,
    exercise: &Exercise,
    out_dir: &Path,
) -> Result<Build, StageError> {
    let started = Instant::now();
    let files = match collect_files(ws, submission, exercise)? {
        Ok(files) => files,
        Err(refusal) => return Ok(Build::Failed { log: refusal }),
    };
    let toolchain = crate::toolchain::locate()?;
    // The same staged files with the same toolchain build the same binary: a re-grade,
    // or the grader's own copy built for the upgrade check, takes it from the cache.
    let cached = ws.cache.join("binaries").join(format!(
        "{}-{}",
        exercise.id,
        content_key(&files, &toolchain)
    ));
    if cached.is_file() {
        std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
        let binary = out_dir.join(exercise.binary);
        std::fs::copy(&cached, &binary).map_err(io_err(&cached))?;
        return Ok(Build::Ok {
            binary,
            elapsed: started.elapsed(),
        });
    }
    let stage = ws.cache.join("stage").join(stage_key(submission, exercise));
    sync_tree(&stage, &files)?;
    if let Err(log) = settle_lock(ws, &stage, &files, exercise, &toolchain)? {
        return Ok(Build::Failed { log });
    }

    std::fs::create_dir_all(&ws.cache).map_err(io_err(&ws.cache))?;
    let lock_path = ws.cache.join("build.lock");
    let lock = std::fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
    // One build at a time: builds share the target directory and the uplifted binary.
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| StageError::Io {
            path: lock_path.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(io_err(&lock_path))?;

    // Cargo names a workspace member's artifacts by its path *within* the workspace,
    // so every stage's copy of this exercise shares one unit in the shared target dir,
    // judged fresh by file times. When the previous build of this exercise came from
    // another stage, make this stage's candidate files newer than that build, or cargo
    // would hand back the other submission's binary.
    let last_path = ws.cache.join(format!("last-stage-{}", exercise.id));
    let key = stage_key(submission, exercise);
    if std::fs::read_to_string(&last_path).ok().as_deref() != Some(key.as_str()) {
        touch_tree(&stage.join(exercise.dir())).map_err(io_err(&stage))?;
    }

    let target = ws.cache.join("target");
    let scratch = ws.cache.join("build-tmp");
    for dir in [&target, &scratch] {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let policy = crate::sandbox::Policy::build(&ws.root, &ws.cache.join("stage"));
    if let Some(user) = policy.user() {
        // Only the build output and the scratch directory are the build user's.
        crate::sandbox::hand_over_tree(&target, user).map_err(io_err(&target))?;
        crate::sandbox::hand_over_tree(&scratch, user).map_err(io_err(&scratch))?;
    }
    let registry = toolchain.cargo_home.join("registry");
    let policy = policy
        .exposing(&[&stage, &target, &scratch])
        .exposing_read_only(&[&toolchain.sysroot, &registry]);
    let path = format!("{}:/usr/bin:/bin", toolchain.sysroot.join("bin").display());
    let mut cmd = tokio::process::Command::new(&toolchain.cargo);
    cmd.current_dir(&stage)
        .args([
            "build",
            "--offline",
            "--locked",
            "--message-format",
            "short",
            "-p",
        ])
        .arg(exercise.package)
        .args(["--bin", exercise.binary, "--target-dir"])
        .arg(&target)
        // Nothing of the harness's environment (a `RUSTC_WRAPPER`, tokens) reaches
        // the build: only what a build needs.
        .env_clear()
        .env("PATH", path)
        .env("CARGO_HOME", &toolchain.cargo_home)
        .env("RUSTC", &toolchain.rustc)
        .env("HOME", &scratch)
        .env("TMPDIR", &scratch)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    policy.apply(&mut cmd);
    // A build is background work beside other grades' checks, whose judges read time:
    // at a lower priority it takes only the CPU the harness and the services leave,
    // instead of stalling the harness for seconds on a two-core machine.
    // SAFETY: runs in the forked child before exec; setpriority is async-signal-safe
    // and touches nothing of the parent's. Its failure leaves the priority as it was.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, BUILD_NICENESS);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(io_err(&stage))?;
    let group = child.id();
    let limit = build_timeout();
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Err(_) => {
            // Build scripts and rustc run in cargo's process group: take them all.
            if let Some(pid) = group {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return Ok(Build::TimedOut {
                log: format!("build did not finish within {}s", limit.as_secs()),
            });
        }
        Ok(result) => result.map_err(io_err(&stage))?,
    };
    std::fs::write(&last_path, &key).map_err(io_err(&last_path))?;
    if !output.status.success() {
        let raw = String::from_utf8_lossy(&output.stderr);
        return Ok(Build::Failed {
            log: clean_build_log(&raw, &stage),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let built = target.join("debug").join(exercise.binary);
    let binary = out_dir.join(exercise.binary);
    std::fs::copy(&built, &binary).map_err(io_err(&built))?;
    drop(lock);
    // Into the cache from the harness's own copy, under a temporary name, then renamed:
    // a reader never sees half a binary.
    if let Some(dir) = cached.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let partial = cached.with_extension(format!("partial-{}", std::process::id()));
        std::fs::copy(&binary, &partial).map_err(io_err(&partial))?;
        std::fs::rename(&partial, &cached).map_err(io_err(&cached))?;
    }
    Ok(Build::Ok {
        binary,
        elapsed: started.elapsed(),
    })
}

/// When the submission declares other dependencies than the grader's own copy of the
/// exercise, records them in the stage's lock file — as trusted code, offline, before
/// the sandboxed build, which runs `--locked` and could not write it. Only workspace
/// members are re-resolved; every other version stays the grader's. Resolution reads
/// only manifests the grader wrote; nothing of the candidate's runs. A choice the
/// grader's lock cannot satisfy (a feature that needs a crate it does not hold) is the
/// candidate's build failure.
fn settle_lock(
    ws: &Workspace,
    stage: &Path,
    files: &FileSet,
    exercise: &Exercise,
    toolchain: &crate::toolchain::Toolchain,
) -> Result<Result<(), String>, StageError> {
    let rel = PathBuf::from(exercise.dir()).join("Cargo.toml");
    let ours_path = ws.root.join(&rel);
    let ours = std::fs::read_to_string(&ours_path).map_err(io_err(&ours_path))?;
    let ours = manifest::rebuild(&ours, exercise)
        .map_err(|e| StageError::Manifest(ours_path.clone(), e.0))?;
    if files.get(&rel).map(Vec::as_slice) == Some(ours.as_bytes()) {
        return Ok(Ok(()));
    }
    let out = std::process::Command::new(&toolchain.cargo)
        .current_dir(stage)
        .args(["update", "--workspace", "--offline"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("CARGO_HOME", &toolchain.cargo_home)
        .env("RUSTC", &toolchain.rustc)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(io_err(stage))?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let reason = text
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("cargo could not resolve them");
    Ok(Err(format!(
        "the dependencies in {} cannot be met from the grader's lock file: {}",
        rel.display(),
        reason.trim_start_matches("error: ")
    )))
}

/// Relative path → contents of every file the stage must hold.
type FileSet = BTreeMap<PathBuf, Vec<u8>>;

fn collect_files(
    ws: &Workspace,
    submission: &Path,
    exercise: &Exercise,
) -> Result<Result<FileSet, String>, StageError> {
    let mut files = FileSet::new();
    let manifest_path = ws.root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(io_err(&manifest_path))?;
    // The grader's workspace as it is, so the resolve is exactly the grader's lock and
    // the build can run `--locked`; members other than the kit and this exercise are
    // stubs (their manifest and an empty library), never built.
    let others = other_members(&manifest, exercise)
        .map_err(|e| StageError::Manifest(manifest_path.clone(), e))?;
    files.insert("Cargo.toml".into(), manifest.into_bytes());
    for member in others {
        let member_manifest = ws.root.join(&member).join("Cargo.toml");
        files.insert(
            PathBuf::from(&member).join("Cargo.toml"),
            std::fs::read(&member_manifest).map_err(io_err(&member_manifest))?,
        );
        files.insert(
            PathBuf::from(&member).join("src/lib.rs"),
            b"//! A stub: this member is not built when grading another.\n".to_vec(),
        );
    }
    let lock_path = ws.root.join("Cargo.lock");
    files.insert(
        "Cargo.lock".into(),
        std::fs::read(&lock_path).map_err(io_err(&lock_path))?,
    );
    // The kit always comes from the grader.
    let kit = ws.root.join("exercises/kit");
    let kit_manifest = kit.join("Cargo.toml");
    files.insert(
        "exercises/kit/Cargo.toml".into(),
        std::fs::read(&kit_manifest).map_err(io_err(&kit_manifest))?,
    );
    let mut budget = u64::MAX;
    walk_into(
        &kit.join("src"),
        Path::new("exercises/kit/src"),
        &mut files,
        &mut budget,
    )
    .map_err(io_err(&kit))?;

    // Candidate-owned paths come from the submission, and never through a link: a
    // linked `src` would grade someone else's code as this candidate's.
    if let Some(reason) = crate::intake::refused_links(submission, &exercise.dir()) {
        return Ok(Err(format!("refused: {reason}")));
    }
    let ex_rel = PathBuf::from(exercise.dir());
    let ex_dir = submission.join(&ex_rel);
    let manifest = ex_dir.join("Cargo.toml");
    if !manifest.is_file() || !ex_dir.join("src").is_dir() {
        return Ok(Err(format!(
            "the submission has no {}/Cargo.toml and {}/src",
            ex_rel.display(),
            ex_rel.display()
        )));
    }
    let mut budget = MAX_TOTAL_BYTES;
    for rel in Exercise::CANDIDATE_FILES {
        let p = ex_dir.join(rel);
        if let Ok(meta) = std::fs::symlink_metadata(&p)
            && meta.is_file()
        {
            if meta.len() > MAX_FILE_BYTES {
                return Ok(Err(format!(
                    "{} is larger than {MAX_FILE_BYTES} bytes",
                    p.display()
                )));
            }
            files.insert(ex_rel.join(rel), std::fs::read(&p).map_err(io_err(&p))?);
        }
    }
    // The manifest is rebuilt by the grader: only the dependency choice is read.
    let manifest_rel = ex_rel.join("Cargo.toml");
    let Some(candidate) = files.get(&manifest_rel) else {
        return Ok(Err(format!(
            "{} is not a regular file",
            manifest_rel.display()
        )));
    };
    let candidate = String::from_utf8_lossy(candidate).into_owned();
    match manifest::rebuild(&candidate, exercise) {
        Ok(rebuilt) => {
            files.insert(manifest_rel, rebuilt.into_bytes());
        }
        Err(refusal) => return Ok(Err(format!("refused: {refusal}"))),
    }
    for rel in Exercise::CANDIDATE_DIRS {
        if let Err(e) = walk_into(
            &ex_dir.join(rel),
            &ex_rel.join(rel),
            &mut files,
            &mut budget,
        ) {
            return Ok(Err(format!("cannot take {}/{rel}: {e}", ex_rel.display())));
        }
    }
    // A manifest among the sources would make a crate of its own (a proc macro, a
    // build script) as soon as anything pointed at it: nothing may, so none is taken.
    if let Some(nested) = files.keys().find(|p| {
        p.starts_with(&ex_rel)
            && p != &&ex_rel.join("Cargo.toml")
            && p.file_name().is_some_and(|n| n == "Cargo.toml")
    }) {
        return Ok(Err(format!(
            "refused: {} is a nested manifest; a submission is one crate, built as the grader defines it",
            nested.display()
        )));
    }
    Ok(Ok(files))
}

/// Adds regular files under `dir` (no symlinks followed) to `files` as `rel/...`.
fn walk_into(dir: &Path, rel: &Path, files: &mut FileSet, budget: &mut u64) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_dir() {
            walk_into(&entry.path(), &rel.join(&name), files, budget)?;
        } else if kind.is_file() {
            let len = entry.metadata()?.len();
            if len > MAX_FILE_BYTES || len > *budget {
                return Err(std::io::Error::other(format!(
                    "{} is too large",
                    rel.join(&name).display()
                )));
            }
            *budget -= len;
            files.insert(rel.join(&name), std::fs::read(entry.path())?);
        }
        // Symlinks and special files are never staged.
    }
    Ok(())
}

/// The members of the grader's workspace other than the kit and `exercise`.
fn other_members(manifest: &str, exercise: &Exercise) -> Result<Vec<String>, String> {
    let doc: toml::Table = manifest.parse().map_err(|e| format!("{e}"))?;
    let members = doc
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .ok_or("no [workspace] members")?;
    Ok(members
        .iter()
        .filter_map(toml::Value::as_str)
        .filter(|m| *m != "exercises/kit" && *m != exercise.dir())
        .map(str::to_owned)
        .collect())
}

/// Makes `stage` hold exactly `files`, touching only files whose content changed so
/// cargo's fingerprints stay valid.
fn sync_tree(stage: &Path, files: &FileSet) -> Result<(), StageError> {
    for (rel, content) in files {
        let path = stage.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, content).map_err(io_err(&path))?;
    }
    remove_stale(stage, Path::new(""), files)
}

fn remove_stale(stage: &Path, rel: &Path, files: &FileSet) -> Result<(), StageError> {
    let dir = stage.join(rel);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let child = rel.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            remove_stale(stage, &child, files)?;
        } else if !files.contains_key(&child) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Sets every file under `dir` to the current time.
fn touch_tree(dir: &Path) -> std::io::Result<()> {
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            touch_tree(&entry.path())?;
        } else {
            std::fs::File::options()
                .write(true)
                .open(entry.path())?
                .set_modified(now)?;
        }
    }
    Ok(())
}

/// A digest of everything a build's output depends on: the staged files and the
/// toolchain (its path names its version; its `rustc`'s size and time catch an update
/// in place).
fn content_key(files: &FileSet, toolchain: &crate::toolchain::Toolchain) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    for (path, content) in files {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((content.len() as u64).to_le_bytes());
        h.update(content);
    }
    h.update(toolchain.sysroot.to_string_lossy().as_bytes());
    if let Ok(meta) = std::fs::metadata(&toolchain.rustc) {
        h.update(meta.size().to_le_bytes());
        h.update(meta.mtime().to_le_bytes());
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stage_key(submission: &Path, exercise: &Exercise) -> String {
    let canonical = submission
        .canonicalize()
        .unwrap_or_else(|_| submission.to_path_buf());
    let mut h = Sha256::new();
    h.update(canonical.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(exercise.id.as_bytes());
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The compiler's output with staging paths removed and progress noise dropped.
fn clean_build_log(raw: &str, stage: &Path) -> String {
    let stage = format!("{}/", stage.display());
    let lines: Vec<String> = raw
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("Compiling ")
                || t.starts_with("Blocking ")
                || t.starts_with("Locking ")
                || t.starts_with("Updating "))
        })
        .map(|l| l.replace(&stage, ""))
        .collect();
    let keep = 150;
    lines[lines.len().saturating_sub(keep)..].join("\n")
}

/// Most ignored paths a report lists by name.
pub const MAX_IGNORED_LISTED: usize = 100;
/// Most submission entries looked at when listing ignored paths.
const MAX_IGNORED_WALK: usize = 50_000;

/// The submitted paths grading did not use although they are not the grader's own
/// copy: files outside every exercise's candidate-owned paths that are missing from,
/// or differ from, the grader's tree. Build output and git history are skipped. Returns
/// at most [`MAX_IGNORED_LISTED`] paths and the total count, so tampering (an edited
/// harness, a check, the kit) is visible in the report.
pub fn ignored_paths(ws: &Workspace, submission: &Path) -> (Vec<String>, usize) {
    let owned: Vec<PathBuf> = crate::catalog::all()
        .iter()
        .flat_map(|e| {
            let dir = PathBuf::from(e.dir());
            Exercise::CANDIDATE_FILES
                .iter()
                .chain(Exercise::CANDIDATE_DIRS)
                .map(move |p| dir.join(p))
        })
        .collect();
    let mut listed = Vec::new();
    let mut total = 0;
    let mut seen = 0;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(submission.join(&rel)) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            seen += 1;
            if seen > MAX_IGNORED_WALK {
                return (listed, total);
            }
            let child = rel.join(entry.file_name());
            if owned.iter().any(|o| child.starts_with(o)) {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if rel.as_os_str().is_empty()
                    && (entry.file_name() == "target" || entry.file_name() == ".git")
                {
                    continue;
                }
                stack.push(child);
                continue;
            }
            let differs = if kind.is_file() {
                let ours = std::fs::read(ws.root.join(&child)).ok();
                let theirs = std::fs::metadata(entry.path())
                    .ok()
                    .filter(|m| m.len() <= MAX_FILE_BYTES)
                    .and_then(|_| std::fs::read(entry.path()).ok());
                ours.is_none() || theirs.is_none() || ours != theirs
            } else {
                true
            };
            if differs {
                total += 1;
                if listed.len() < MAX_IGNORED_LISTED {
                    listed.push(format!(
                        "{}{}",
                        child.display(),
                        if kind.is_symlink() { " (link)" } else { "" }
                    ));
                }
            }
        }
    }
    listed.sort();
    (listed, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_members_are_everything_but_kit_and_exercise() {
        let m = "[workspace]\nmembers = [\"exercises/kit\", \"exercises/charge\", \"exercises/orders\", \"harness\"]\n";
        let ex = crate::catalog::find("charge").unwrap();
        assert_eq!(
            other_members(m, &ex).unwrap(),
            ["exercises/orders", "harness"]
        );
    }

    #[test]
    fn build_logs_lose_stage_paths_and_progress() {
        let log = "   Compiling kit v0.1.0\nerror[E0425]: x\n --> /cache/stage/ab/exercises/charge/src/main.rs:1:1\n";
        let out = clean_build_log(log, Path::new("/cache/stage/ab"));
        assert!(!out.contains("Compiling"));
        assert!(out.contains("--> exercises/charge/src/main.rs:1:1"));
    }
}
