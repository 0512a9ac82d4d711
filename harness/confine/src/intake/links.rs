//! Links in a submission: one on the way to a candidate-owned file makes that
//! exercise's grade describe code that lives somewhere else.
//!
//! A directory or patch submission can make `exercises/<id>`, its `src`, or a file in
//! it a symbolic link — to another candidate's submission, or to the grader's reference
//! fixes — and anything that follows links would grade that code as the candidate's.
//! Archives never produce links (extraction does not keep them), so this matters for
//! directories and patches; it is checked per exercise, because one linked exercise
//! says nothing about the others.
//!
//! Hard links are not refused: making one needs the target's bytes on the same file
//! system at submission time, which is no more than copying them, and grading reads
//! what the file held then.

use std::path::{Path, PathBuf};

use crate::catalog::Exercise;

/// Most entries looked at under one candidate-owned directory; staging's own byte
/// budget refuses anything larger anyway.
const MAX_WALK: usize = 100_000;

/// Why the exercise at `exercise_dir` (relative to `submission`, e.g.
/// `exercises/charge`) cannot be graded from `submission` because of a link: the first
/// symbolic link among the directories leading to it, its candidate-owned files
/// (`Cargo.toml`, `REVIEW.md`), its candidate-owned directories (`src`) and everything
/// under them — one line naming the link. `None` when there is none (or the paths are
/// missing: staging says what is missing).
///
/// Staging calls this before it reads a candidate file, and refuses the exercise with
/// the reason as its build log.
pub fn refused_links(submission: &Path, exercise_dir: &str) -> Option<String> {
    let mut rel = PathBuf::new();
    for part in Path::new(exercise_dir).components() {
        rel.push(part);
        if let Some(reason) = link_at(submission, &rel) {
            return Some(reason);
        }
    }
    for name in Exercise::CANDIDATE_FILES {
        if let Some(reason) = link_at(submission, &rel.join(name)) {
            return Some(reason);
        }
    }
    for name in Exercise::CANDIDATE_DIRS {
        let dir = rel.join(name);
        if let Some(reason) = link_at(submission, &dir) {
            return Some(reason);
        }
        if let Some(reason) = link_under(submission, &dir) {
            return Some(reason);
        }
    }
    None
}

/// The refusal when `submission/rel` is itself a symbolic link.
fn link_at(submission: &Path, rel: &Path) -> Option<String> {
    let path = submission.join(rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    meta.file_type().is_symlink().then(|| describe(&path, rel))
}

/// The first symbolic link anywhere under the directory `submission/rel` (not followed).
fn link_under(submission: &Path, rel: &Path) -> Option<String> {
    let mut stack = vec![rel.to_path_buf()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let Ok(listing) = std::fs::read_dir(submission.join(&dir)) else {
            continue;
        };
        let mut names: Vec<_> = listing.filter_map(Result::ok).collect();
        names.sort_by_key(std::fs::DirEntry::file_name);
        for entry in names {
            seen += 1;
            if seen > MAX_WALK {
                return None;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let child = dir.join(entry.file_name());
            if kind.is_symlink() {
                return Some(describe(&entry.path(), &child));
            }
            if kind.is_dir() {
                stack.push(child);
            }
        }
    }
    None
}

/// `exercises/charge/src is a symbolic link (to `/elsewhere`): …` on one line.
fn describe(path: &Path, rel: &Path) -> String {
    let target = std::fs::read_link(path)
        .map(|t| t.to_string_lossy().escape_debug().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "`{}` is a symbolic link (to `{target}`): links in a submission are refused, hand in the files themselves",
        rel.to_string_lossy().escape_debug()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let ex = dir.path().join("exercises/charge");
        std::fs::create_dir_all(ex.join("src/nested")).expect("mkdir");
        std::fs::write(ex.join("Cargo.toml"), "[package]\n").expect("write");
        std::fs::write(ex.join("src/main.rs"), "fn main() {}\n").expect("write");
        dir
    }

    #[test]
    fn a_plain_tree_has_no_links() {
        let dir = tree();
        assert_eq!(refused_links(dir.path(), "exercises/charge"), None);
        assert_eq!(refused_links(dir.path(), "exercises/missing"), None);
    }

    #[test]
    fn links_on_the_way_in_or_deep_inside_are_named() {
        let dir = tree();
        let ex = dir.path().join("exercises/charge");
        symlink("/etc/passwd", ex.join("src/nested/routes.rs")).expect("symlink");
        let reason = refused_links(dir.path(), "exercises/charge").expect("refused");
        assert!(
            reason.starts_with(
                "`exercises/charge/src/nested/routes.rs` is a symbolic link (to `/etc/passwd`)"
            ),
            "{reason}"
        );
        std::fs::remove_file(ex.join("src/nested/routes.rs")).expect("rm");
        symlink("../../README.md", ex.join("REVIEW.md")).expect("symlink");
        let reason = refused_links(dir.path(), "exercises/charge").expect("refused");
        assert!(reason.contains("`exercises/charge/REVIEW.md`"), "{reason}");
        assert!(!reason.contains('\n'));
    }
}
