//! Reading a candidate's git repository without running anything of theirs.
//!
//! The harness runs as root, and a repository carries executable configuration: filter
//! drivers (`filter.<name>.smudge`/`process`) that `.gitattributes` switches on for any
//! path, `textconv`, `diff.external`, `core.fsmonitor`, hooks, pagers, aliases, and
//! `include.path` pulling in more of the same. Porcelain such as `git archive` applies
//! smudge filters and attributes, and any git command pointed at the candidate's
//! `.git` reads its `config`. No environment variable makes git ignore a repository's
//! own config, so the only sound choice is never to point git at it.
//!
//! Instead the harness makes a fresh bare repository of its own in a temp dir (empty
//! template, no config beyond what `git init` writes) and lets it borrow the candidate's
//! objects through `objects/info/alternates`. Refs are copied in as data (`HEAD`,
//! `packed-refs`, `refs/**`, regular files only, bounded), so the reference resolves as
//! it would in the candidate's repository. Then plumbing that never applies filters,
//! attributes or conversions reads the tree: `rev-parse` resolves the ref to a tree,
//! `ls-tree -r -l -z` lists it with sizes (checked against the intake bounds before a
//! byte is read), and one `cat-file --batch` streams the blobs. Every command runs with
//! a cleared environment: no system or global config, `HOME` and `XDG_CONFIG_HOME` in
//! the temp dir, replace refs ignored, no prompts.
//!
//! A repository that borrows objects itself (its own `objects/info/alternates`) is
//! refused: alternates chain, so it could name objects from any repository on the
//! machine, read with root's rights. So is an `objects` directory that is a link.
//! Repositories using SHA-256 objects or reftable refs are refused with a reason (the
//! harness does not read their config to learn how to read them). Links in the tree are
//! treated as in archives: one pointing outside the tree refuses the submission, others
//! are not kept.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Budget, MAX_ENTRIES, MAX_FILE_BYTES, MAX_TOTAL_BYTES, link_stays_inside};

/// Most bytes of `packed-refs` copied.
const MAX_PACKED_REFS: u64 = 32 << 20;
/// Most bytes of one loose ref, `HEAD`, a `.git` file or `commondir`.
const MAX_SMALL_FILE: u64 = 4096;
/// Most bytes of the candidate's `config` scanned for unsupported formats.
const MAX_CONFIG: u64 = 1 << 20;
/// Most loose refs copied.
const MAX_REFS: usize = 100_000;

/// Why a repository could not be read.
#[derive(Debug)]
pub(super) enum Failure {
    /// Git failed or the repository is unusable; one line.
    Git(String),
    /// The tree is unsafe or too large; one line.
    Refused(String),
}

/// Extracts the tree `reference` names in the repository at `repo` into `into`, using
/// `scratch` (an empty directory) for the harness's own borrowing repository.
pub(super) fn export(
    repo: &Path,
    reference: &str,
    scratch: &Path,
    into: &Path,
) -> Result<(), Failure> {
    let (git_dir, common_dir) = locate(repo).map_err(Failure::Git)?;
    let objects = common_dir.join("objects");
    match std::fs::symlink_metadata(&objects) {
        Ok(meta) if meta.file_type().is_dir() => {}
        Ok(_) => {
            return Err(Failure::Refused(
                "the repository's `objects` is not a directory (a link?)".into(),
            ));
        }
        Err(e) => return Err(Failure::Git(format!("no objects directory: {e}"))),
    }
    if std::fs::symlink_metadata(objects.join("info/alternates")).is_ok() {
        return Err(Failure::Refused(
            "the repository borrows objects from elsewhere (objects/info/alternates); hand in a self-contained clone".into(),
        ));
    }
    unsupported_format(&common_dir).map_err(Failure::Git)?;
    let objects = std::fs::canonicalize(&objects).map_err(|e| Failure::Git(e.to_string()))?;
    let objects_line = objects.to_string_lossy().into_owned();
    if objects_line.contains('\n') || objects_line.starts_with('"') {
        return Err(Failure::Git(
            "the repository's path cannot be written to an alternates file".into(),
        ));
    }

    let mirror = scratch.join("mirror.git");
    let out = run(
        scratch,
        Command::new("git")
            .args(["init", "--quiet", "--bare", "--template="])
            .arg(&mirror),
    )?;
    drop(out);
    let info = mirror.join("objects/info");
    std::fs::create_dir_all(&info).map_err(|e| Failure::Git(e.to_string()))?;
    std::fs::write(info.join("alternates"), format!("{objects_line}\n"))
        .map_err(|e| Failure::Git(e.to_string()))?;
    copy_refs(&git_dir, &common_dir, &mirror).map_err(Failure::Git)?;

    let tree = run(
        scratch,
        git_in(&mirror).args([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{reference}^{{tree}}"),
        ]),
    )
    .map_err(|_| Failure::Git(format!("`{reference}` names no commit or tree here")))?;
    let tree = String::from_utf8_lossy(&tree).trim().to_owned();
    if tree.is_empty() || !tree.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::Git(format!(
            "`{reference}` names no commit or tree here"
        )));
    }

    let listing = run(
        scratch,
        git_in(&mirror).args(["ls-tree", "-r", "-l", "-z", "--full-tree", &tree]),
    )?;
    let entries = parse_listing(&listing).map_err(Failure::Refused)?;
    read_blobs(&mirror, scratch, &entries, into)
}

/// One entry of `ls-tree -r -l -z`.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    mode: String,
    object: String,
    size: Option<u64>,
    path: String,
}

/// What to do with an entry, by its mode.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    File,
    Link,
    Skip,
}

impl Entry {
    fn kind(&self) -> Kind {
        match self.mode.as_str() {
            "100644" | "100755" | "100664" => Kind::File,
            "120000" => Kind::Link,
            // Submodules (160000) are not part of the tree's content.
            _ => Kind::Skip,
        }
    }
}

/// Parses `ls-tree -r -l -z` output, checking names and the intake's bounds before any
/// blob is read.
fn parse_listing(raw: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    for record in raw.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        if entries.len() >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let tab = record
            .iter()
            .position(|b| *b == b'\t')
            .ok_or("unreadable tree listing")?;
        let (meta, path) = (&record[..tab], &record[tab + 1..]);
        let path = super::utf8_name(path)?.to_owned();
        super::safe_relative(&path)?;
        let meta = String::from_utf8_lossy(meta);
        let mut fields = meta.split_whitespace();
        let (Some(mode), Some(_kind), Some(object), Some(size)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err("unreadable tree listing".into());
        };
        let size = size.parse::<u64>().ok();
        let entry = Entry {
            mode: mode.to_owned(),
            object: object.to_owned(),
            size,
            path,
        };
        if entry.kind() == Kind::File {
            let size = size.ok_or("unreadable tree listing")?;
            if size > MAX_FILE_BYTES {
                return Err(format!(
                    "`{}` is larger than {} MiB",
                    entry.path,
                    MAX_FILE_BYTES >> 20
                ));
            }
            total += size;
            if total > MAX_TOTAL_BYTES {
                return Err(format!(
                    "more than {} MiB in all once extracted",
                    MAX_TOTAL_BYTES >> 20
                ));
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Streams every file's blob through one `cat-file --batch` into `into`.
fn read_blobs(
    mirror: &Path,
    scratch: &Path,
    entries: &[Entry],
    into: &Path,
) -> Result<(), Failure> {
    let mut child = git_in(mirror)
        .current_dir(scratch)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Failure::Git(e.to_string()))?;
    let result = (|| {
        let mut input = child
            .stdin
            .take()
            .ok_or_else(|| Failure::Git("no pipe to git".into()))?;
        let mut output = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| Failure::Git("no pipe from git".into()))?,
        );
        let mut budget = Budget {
            entries: 0,
            bytes: 0,
        };
        for entry in entries {
            let kind = entry.kind();
            if kind == Kind::Skip {
                continue;
            }
            budget.entry().map_err(Failure::Refused)?;
            writeln!(input, "{}", entry.object)
                .and_then(|()| input.flush())
                .map_err(|e| Failure::Git(e.to_string()))?;
            let size = blob_header(&mut output, entry).map_err(Failure::Git)?;
            let rel = super::safe_relative(&entry.path).map_err(Failure::Refused)?;
            if kind == Kind::File {
                budget
                    .write(&entry.path, (&mut output).take(size), &into.join(&rel))
                    .map_err(Failure::Refused)?;
            } else {
                if size > MAX_SMALL_FILE {
                    return Err(Failure::Refused(format!(
                        "symlink `{}` has an overlong target",
                        entry.path
                    )));
                }
                let mut target = Vec::new();
                (&mut output)
                    .take(size)
                    .read_to_end(&mut target)
                    .map_err(|e| Failure::Git(e.to_string()))?;
                let target = String::from_utf8_lossy(&target).into_owned();
                if !link_stays_inside(&rel, Path::new(&target)) {
                    return Err(Failure::Refused(format!(
                        "symlink `{}` points outside the tree (to `{}`)",
                        entry.path,
                        target.escape_debug()
                    )));
                }
                // Links inside the tree are not kept: staging takes regular files only.
            }
            let mut newline = [0u8; 1];
            output
                .read_exact(&mut newline)
                .map_err(|e| Failure::Git(e.to_string()))?;
        }
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Reads `<object> blob <size>` for `entry`; the size must be what the listing said.
fn blob_header(output: &mut impl BufRead, entry: &Entry) -> Result<u64, String> {
    let mut header = Vec::new();
    output
        .take(256)
        .read_until(b'\n', &mut header)
        .map_err(|e| e.to_string())?;
    let header = String::from_utf8_lossy(&header);
    let mut fields = header.split_whitespace();
    let (Some(_), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("`{}`: object missing", entry.path));
    };
    let size: u64 = size
        .parse()
        .map_err(|_| format!("`{}`: unreadable object", entry.path))?;
    if kind != "blob" || entry.size.is_some_and(|s| s != size) {
        return Err(format!("`{}`: unexpected object", entry.path));
    }
    Ok(size)
}

/// A git command on the harness's own repository, with no configuration but its own.
fn git_in(mirror: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir").arg(mirror);
    cmd
}

/// Runs `cmd` in a cleared environment rooted at `scratch`; its stdout, or the first
/// line of its stderr as the failure.
fn run(scratch: &Path, cmd: &mut Command) -> Result<Vec<u8>, Failure> {
    let output = cleared(cmd, scratch)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::Git(e.to_string()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let err = String::from_utf8_lossy(&output.stderr);
        Err(Failure::Git(
            err.lines().next().unwrap_or("failed").trim().to_owned(),
        ))
    }
}

/// No inherited `GIT_*` variables, no system or global config, nothing from `$HOME`.
fn cleared<'a>(cmd: &'a mut Command, scratch: &Path) -> &'a mut Command {
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("HOME", scratch)
        .env("XDG_CONFIG_HOME", scratch)
        .env("LC_ALL", "C")
        .current_dir(scratch)
}

/// The repository's own directory and its common directory (where objects and refs
/// live): a work tree's `.git` directory or `gitdir:` file, or a bare repository.
fn locate(repo: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dot_git = repo.join(".git");
    let git_dir = match std::fs::symlink_metadata(&dot_git) {
        Ok(meta) if meta.is_dir() => dot_git,
        Ok(meta) if meta.is_file() => {
            let text = small_file(&dot_git)?;
            let target = text
                .trim()
                .strip_prefix("gitdir:")
                .ok_or("`.git` is a file without `gitdir:`")?
                .trim();
            repo.join(target)
        }
        Ok(_) => return Err("`.git` is neither a directory nor a file".into()),
        Err(_) if repo.join("objects").is_dir() && repo.join("HEAD").is_file() => {
            repo.to_path_buf()
        }
        Err(_) => return Err("not a git repository".into()),
    };
    let common = match small_file(&git_dir.join("commondir")) {
        Ok(text) => git_dir.join(text.trim()),
        Err(_) => git_dir.clone(),
    };
    Ok((git_dir, common))
}

/// Refuses formats the harness cannot read without trusting the candidate's config.
fn unsupported_format(common: &Path) -> Result<(), String> {
    let Ok(file) = std::fs::File::open(common.join("config")) else {
        return Ok(());
    };
    let mut text = String::new();
    let _ = file.take(MAX_CONFIG).read_to_string(&mut text);
    for line in text.lines() {
        let line = line.trim().to_ascii_lowercase();
        if line.starts_with("objectformat") && line.contains("sha256") {
            return Err("SHA-256 repositories are not supported; hand in an archive".into());
        }
        if line.starts_with("refstorage") && line.contains("reftable") {
            return Err("reftable repositories are not supported; hand in an archive".into());
        }
    }
    Ok(())
}

/// A small regular file (not a link), as text.
fn small_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() || meta.len() > MAX_SMALL_FILE {
        return Err(format!("{}: not a small regular file", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Copies `HEAD` (from the repository's own dir), `packed-refs` and `refs/**` (from the
/// common dir) into the mirror: regular files only, as data.
fn copy_refs(git_dir: &Path, common: &Path, mirror: &Path) -> Result<(), String> {
    if let Ok(head) = small_file(&git_dir.join("HEAD")) {
        std::fs::write(mirror.join("HEAD"), head).map_err(|e| e.to_string())?;
    }
    let packed = common.join("packed-refs");
    if let Ok(meta) = std::fs::symlink_metadata(&packed)
        && meta.is_file()
    {
        if meta.len() > MAX_PACKED_REFS {
            return Err("packed-refs is too large".into());
        }
        std::fs::copy(&packed, mirror.join("packed-refs")).map_err(|e| e.to_string())?;
    }
    let mut copied = 0;
    let refs_is_dir =
        std::fs::symlink_metadata(common.join("refs")).is_ok_and(|m| m.file_type().is_dir());
    let mut stack = if refs_is_dir {
        vec![PathBuf::from("refs")]
    } else {
        Vec::new()
    };
    while let Some(rel) = stack.pop() {
        let Ok(listing) = std::fs::read_dir(common.join(&rel)) else {
            continue;
        };
        std::fs::create_dir_all(mirror.join(&rel)).map_err(|e| e.to_string())?;
        for entry in listing.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() {
                copied += 1;
                if copied > MAX_REFS {
                    return Err(format!("more than {MAX_REFS} refs"));
                }
                if let Ok(text) = small_file(&entry.path()) {
                    std::fs::write(mirror.join(&child), text).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_bounded_and_names_checked() {
        let ok = b"100644 blob 0123abcd     12\texercises/charge/src/main.rs\x00\
                   120000 blob 89ab       5\tlink\x00\
                   160000 commit 77aa       -\tsub\x00";
        let entries = parse_listing(ok).expect("a valid listing");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].size, Some(12));
        assert_eq!(
            entries.iter().map(Entry::kind).collect::<Vec<_>>(),
            [Kind::File, Kind::Link, Kind::Skip]
        );
        assert!(parse_listing(b"100644 blob 01 3\t../escape\0").is_err());
        let big = format!("100644 blob 01 {}\tbig\0", MAX_FILE_BYTES + 1);
        assert!(
            parse_listing(big.as_bytes())
                .unwrap_err()
                .contains("larger than")
        );
    }
}
