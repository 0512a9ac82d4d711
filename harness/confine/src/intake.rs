//! Intake: turns what a candidate handed in — a directory, a `.tar.gz` or `.zip`
//! archive, a git repository at a ref, or a patch against the pristine exercises — into
//! a directory laid out like this repository.
//!
//! Archives come from strangers, so they are read defensively: every entry is checked
//! before a byte is written, only regular files and directories are extracted, only
//! inside a fresh temp dir, and the whole archive is bounded in entries and bytes (which
//! also stops compression bombs, whose size only shows while inflating). Anything else
//! refuses the whole submission with a one-line reason; nothing is half-extracted into
//! a place that outlives the temp dir.
//!
//! A git repository is read without its configuration, hooks, attributes or filters
//! (see [`git`]'s docs): git never runs with the candidate's `.git` as its repository.
//!
//! Directory and patch submissions can hold links; [`refused_links`] names the first
//! one on the way to an exercise's candidate-owned files, so that exercise is refused
//! rather than graded on code that lives somewhere else.

mod git;
pub mod links;

pub use links::refused_links;

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use tempfile::TempDir;

/// Most entries an archive may hold.
pub const MAX_ENTRIES: usize = 20_000;
/// Most bytes all files of an archive may hold once extracted.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;
/// Most bytes one file may hold once extracted.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// What was handed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory laid out like this repository.
    Dir(PathBuf),
    /// A gzip-compressed tar archive.
    TarGz(PathBuf),
    /// A zip archive.
    Zip(PathBuf),
    /// A git repository and the ref to take (read without its config; see [`git`]).
    Git { repo: PathBuf, reference: String },
    /// A patch applied (with `git apply`) to a copy of the grader's pristine tree.
    Patch(PathBuf),
}

impl Source {
    /// Picks the kind from a path (and an optional git ref): `.tar.gz`/`.tgz`, `.zip`,
    /// a directory, or with `reference` a git repository.
    pub fn detect(path: &Path, reference: Option<&str>) -> Source {
        if let Some(reference) = reference {
            return Source::Git {
                repo: path.to_path_buf(),
                reference: reference.to_owned(),
            };
        }
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Source::TarGz(path.to_path_buf())
        } else if name.ends_with(".zip") {
            Source::Zip(path.to_path_buf())
        } else {
            Source::Dir(path.to_path_buf())
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Dir(p) => write!(f, "directory {}", p.display()),
            Source::TarGz(p) => write!(f, "tar.gz archive {}", p.display()),
            Source::Zip(p) => write!(f, "zip archive {}", p.display()),
            Source::Git { repo, reference } => {
                write!(f, "git repository {} at {reference}", repo.display())
            }
            Source::Patch(p) => write!(f, "patch {} on the pristine exercises", p.display()),
        }
    }
}

/// Why a submission was refused; the message is the one line a user sees.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The path does not exist or cannot be read.
    #[error("{0}: {1}")]
    Unreadable(PathBuf, std::io::Error),
    /// A plain path that is not a directory (nor an archive by its name).
    #[error("{0}: not a directory (nor a .tar.gz, .tgz or .zip archive)")]
    NotADirectory(PathBuf),
    /// The archive is unsafe or broken; nothing was kept.
    #[error("{path}: refused: {reason}")]
    Refused { path: PathBuf, reason: String },
    /// `git` failed.
    #[error("{0}: git: {1}")]
    Git(PathBuf, String),
    /// The patch does not apply to the pristine tree.
    #[error("{0}: the patch does not apply to the pristine exercises: {1}")]
    Patch(PathBuf, String),
    /// The temp dir could not be made.
    #[error("temporary directory: {0}")]
    TempDir(std::io::Error),
}

/// A submission laid out like this repository, and the temp dir it lives in (if any),
/// removed when this is dropped.
#[derive(Debug)]
pub struct Intake {
    /// The tree to grade.
    pub root: PathBuf,
    /// What was handed in, in words.
    pub source: String,
    _temp: Option<TempDir>,
}

/// Opens a submission. `grader_root` is the pristine tree patches apply to.
pub fn open(source: &Source, grader_root: &Path) -> Result<Intake, IntakeError> {
    let described = source.to_string();
    match source {
        Source::Dir(path) => {
            if !path.is_dir() {
                return Err(IntakeError::NotADirectory(path.clone()));
            }
            Ok(Intake {
                root: path.clone(),
                source: described,
                _temp: None,
            })
        }
        Source::TarGz(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| IntakeError::Unreadable(path.clone(), e))?;
            let temp = temp_dir()?;
            extract_tar(flate2::read::GzDecoder::new(file), temp.path()).map_err(|reason| {
                IntakeError::Refused {
                    path: path.clone(),
                    reason,
                }
            })?;
            Ok(unwrapped(temp, described))
        }
        Source::Zip(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| IntakeError::Unreadable(path.clone(), e))?;
            let temp = temp_dir()?;
            extract_zip(file, temp.path()).map_err(|reason| IntakeError::Refused {
                path: path.clone(),
                reason,
            })?;
            Ok(unwrapped(temp, described))
        }
        Source::Git { repo, reference } => {
            let temp = temp_dir()?;
            let scratch = temp_dir()?;
            git::export(repo, reference, scratch.path(), temp.path()).map_err(|failure| {
                match failure {
                    git::Failure::Git(line) => IntakeError::Git(repo.clone(), line),
                    git::Failure::Refused(reason) => IntakeError::Refused {
                        path: repo.clone(),
                        reason,
                    },
                }
            })?;
            Ok(unwrapped(temp, described))
        }
        Source::Patch(patch) => {
            let patch_abs = std::fs::canonicalize(patch)
                .map_err(|e| IntakeError::Unreadable(patch.clone(), e))?;
            let temp = temp_dir()?;
            copy_pristine(grader_root, temp.path()).map_err(IntakeError::TempDir)?;
            let output = std::process::Command::new("git")
                .arg("apply")
                .arg(&patch_abs)
                .current_dir(temp.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                // No repository above the temp dir is discovered and used.
                .env(
                    "GIT_CEILING_DIRECTORIES",
                    temp.path().parent().unwrap_or(temp.path()),
                )
                .stdin(Stdio::null())
                .output()
                .map_err(|e| IntakeError::Patch(patch.clone(), e.to_string()))?;
            if !output.status.success() {
                let err = String::from_utf8_lossy(&output.stderr);
                let line = err.lines().next().unwrap_or("failed").trim().to_owned();
                return Err(IntakeError::Patch(patch.clone(), line));
            }
            Ok(Intake {
                root: temp.path().to_path_buf(),
                source: described,
                _temp: Some(temp),
            })
        }
    }
}

fn temp_dir() -> Result<TempDir, IntakeError> {
    tempfile::Builder::new()
        .prefix("harness-intake-")
        .tempdir()
        .map_err(IntakeError::TempDir)
}

/// Archives often wrap the tree in one folder: grade from inside it.
fn unwrapped(temp: TempDir, source: String) -> Intake {
    let mut root = temp.path().to_path_buf();
    if !root.join("exercises").is_dir()
        && let Ok(entries) = std::fs::read_dir(&root)
    {
        let dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        if let [only] = dirs.as_slice()
            && only.join("exercises").is_dir()
        {
            root = only.clone();
        }
    }
    Intake {
        root,
        source,
        _temp: Some(temp),
    }
}

/// A relative path that stays inside the tree, or why not.
fn safe_relative(name: &str) -> Result<PathBuf, String> {
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => clean.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("entry `{name}` climbs out with `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("entry `{name}` has an absolute path"));
            }
        }
    }
    Ok(clean)
}

/// Whether a link at `entry` pointing to `target` stays inside the tree.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = entry.components().count() as i64 - 1;
    for part in target.components() {
        match part {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Running totals that bound an extraction.
struct Budget {
    entries: usize,
    bytes: u64,
}

impl Budget {
    fn entry(&mut self) -> Result<(), String> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        Ok(())
    }

    /// Copies one file's bytes to `dest`, within the per-file and total bounds.
    fn write(&mut self, name: &str, mut from: impl Read, dest: &Path) -> Result<(), String> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot write `{name}`: {e}"))?;
        }
        let mut out =
            std::fs::File::create(dest).map_err(|e| format!("cannot write `{name}`: {e}"))?;
        let allowed = MAX_FILE_BYTES.min(MAX_TOTAL_BYTES - self.bytes);
        let copied = std::io::copy(&mut (&mut from).take(allowed + 1), &mut out)
            .map_err(|e| format!("cannot read `{name}`: {e}"))?;
        if copied > allowed {
            return Err(if allowed < MAX_FILE_BYTES {
                format!(
                    "more than {} MiB in all once extracted",
                    MAX_TOTAL_BYTES >> 20
                )
            } else {
                format!("`{name}` is larger than {} MiB", MAX_FILE_BYTES >> 20)
            });
        }
        self.bytes += copied;
        Ok(())
    }
}

fn utf8_name(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw).map_err(|_| {
        format!(
            "an entry name is not UTF-8 ({})",
            String::from_utf8_lossy(raw)
        )
    })
}

/// Extracts a tar stream into `into`, refusing anything unsafe.
pub fn extract_tar(stream: impl Read, into: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(stream);
    let mut budget = Budget {
        entries: 0,
        bytes: 0,
    };
    let entries = archive
        .entries()
        .map_err(|e| format!("not a readable tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a readable tar archive: {e}"))?;
        budget.entry()?;
        let raw = entry.path_bytes().into_owned();
        let name = utf8_name(&raw)?;
        let rel = safe_relative(name)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(into.join(&rel))
                .map_err(|e| format!("cannot create `{name}`: {e}"))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let dest = into.join(&rel);
            budget.write(name, &mut entry, &dest)?;
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| format!("entry `{name}`: {e}"))?
                .unwrap_or_default();
            let what = if kind.is_symlink() {
                "symlink"
            } else {
                "hard link"
            };
            let inside = if kind.is_hard_link() {
                safe_relative(&target.to_string_lossy()).is_ok()
            } else {
                link_stays_inside(&rel, &target)
            };
            if !inside {
                return Err(format!(
                    "{what} `{name}` points outside the tree (to `{}`)",
                    target.display()
                ));
            }
            // Links inside the tree are not followed or kept: staging takes regular
            // files only.
        } else {
            return Err(format!(
                "entry `{name}` is a {} (only files and directories are accepted)",
                kind_name(kind)
            ));
        }
    }
    Ok(())
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    if kind.is_character_special() {
        "character device"
    } else if kind.is_block_special() {
        "block device"
    } else if kind.is_fifo() {
        "FIFO"
    } else {
        "special entry"
    }
}

/// Extracts a zip archive into `into`, refusing anything unsafe.
pub fn extract_zip(file: std::fs::File, into: &Path) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let mut budget = Budget {
        entries: 0,
        bytes: 0,
    };
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("not a readable zip archive: {e}"))?;
        budget.entry()?;
        let raw = entry.name_raw().to_vec();
        let name = utf8_name(&raw)?.to_owned();
        let rel = safe_relative(&name)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let mode = entry.unix_mode().unwrap_or(0);
        let file_type = mode & 0o170000;
        if file_type == 0o120000 {
            let mut target = String::new();
            (&mut entry)
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| format!("entry `{name}`: {e}"))?;
            if !link_stays_inside(&rel, Path::new(&target)) {
                return Err(format!(
                    "symlink `{name}` points outside the tree (to `{target}`)"
                ));
            }
            continue;
        }
        if file_type != 0 && file_type != 0o100000 && file_type != 0o040000 {
            return Err(format!(
                "entry `{name}` is a special file (only files and directories are accepted)"
            ));
        }
        if entry.is_dir() {
            std::fs::create_dir_all(into.join(&rel))
                .map_err(|e| format!("cannot create `{name}`: {e}"))?;
        } else {
            budget.write(&name, &mut entry, &into.join(&rel))?;
        }
    }
    Ok(())
}

/// Copies the grader's tree (without build output and history) for a patch to apply to.
fn copy_pristine(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let kind = entry.file_type()?;
        let dest = to.join(&name);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_pristine(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside() {
        assert!(safe_relative("exercises/charge/src/main.rs").is_ok());
        assert!(safe_relative("./a/b").is_ok());
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("a/../../b").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(link_stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("../../etc")
        ));
        assert!(!link_stays_inside(Path::new("link"), Path::new("/etc")));
    }
}
