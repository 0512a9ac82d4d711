//! Batch grading: many submissions, each graded in its own child process, results
//! written atomically, a summary at the end.
//!
//! Each submission is graded by a child `harness grade` process, so a submission that
//! crashes, hangs or exhausts the grader's own process cannot stop the batch; the
//! children share the parent's sandbox (its network namespace) and build cache, so each
//! submission after the first builds only what it changed. The child hands its report
//! back on its stdout — a pipe only the harness holds — never through a file, since a
//! file is a place candidate code or a leftover link could reach; the child's output is
//! read up to a bound. A submission's reports are written to fresh temp names (never
//! through an existing file or link) and renamed into place, so an interrupted batch
//! leaves either a whole result or none, and `--resume` skips the whole ones. `--shard I/N`
//! takes every N-th submission in name order, so a CI matrix or an indexed job can
//! spread one batch over many machines without coordinating.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::report::{BuildStatus, CheckStatus, Report, exit, junit, markdown};

/// Most bytes of a grader child's stdout (its JSON report) read.
const MAX_REPORT_BYTES: usize = 64 << 20;
/// Most bytes of a grader child's stderr (progress lines and its error) kept.
const MAX_STDERR_BYTES: usize = 1 << 20;
/// How long the child's pipes may stay open after it exited.
const PIPE_GRACE: Duration = Duration::from_secs(10);

/// One submission of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Its name in the output directory and the summary (file stem, sanitised).
    pub id: String,
    /// Where it is: a directory or an archive.
    pub path: PathBuf,
}

/// Which part of a batch this run grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected I/N (e.g. 0/4), got `{s}`"))?;
        let index: usize = i.parse().map_err(|_| format!("bad shard index `{i}`"))?;
        let count: usize = n.parse().map_err(|_| format!("bad shard count `{n}`"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

/// Why a batch could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input is neither a directory nor a readable list.
    #[error("{0}: {1}")]
    Input(PathBuf, String),
    /// The output directory could not be written.
    #[error("{0}: {1}")]
    Output(PathBuf, std::io::Error),
    /// Two submissions would share one output name.
    #[error("two submissions are both named `{0}`; rename one")]
    DuplicateId(String),
}

/// Finds the submissions in `input`: a directory whose entries are submissions
/// (directories, `.tar.gz`, `.tgz`, `.zip`), or a file listing one path per line
/// (blank lines and `#` comments skipped; relative paths are relative to the list).
pub fn discover(input: &Path) -> Result<Vec<Submission>, BatchError> {
    let meta =
        std::fs::metadata(input).map_err(|e| BatchError::Input(input.into(), e.to_string()))?;
    let paths: Vec<PathBuf> = if meta.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(input)
            .map_err(|e| BatchError::Input(input.into(), e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.starts_with('.') && (p.is_dir() || archive_stem(name).is_some())
            })
            .collect();
        paths.sort();
        paths
    } else {
        let text = std::fs::read_to_string(input)
            .map_err(|e| BatchError::Input(input.into(), e.to_string()))?;
        let base = input.parent().unwrap_or(Path::new("."));
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| base.join(l))
            .collect()
    };
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("submission");
        let stem = archive_stem(name).unwrap_or(name);
        let id: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if seen.insert(id.clone(), ()).is_some() {
            return Err(BatchError::DuplicateId(id));
        }
        out.push(Submission { id, path });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn archive_stem(name: &str) -> Option<&str> {
    [".tar.gz", ".tgz", ".zip"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
}

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Where each submission's reports and the summary go.
    pub out: PathBuf,
    /// Submissions graded at once.
    pub jobs: usize,
    /// Skip submissions that already have a report in `out`.
    pub resume: bool,
    /// Grade only this shard.
    pub shard: Option<Shard>,
    /// Exercises to grade (empty: all).
    pub exercises: Vec<String>,
    /// Checks to run (empty: all).
    pub checks: Vec<String>,
    /// The seed for every submission.
    pub seed: u64,
    /// Longest one submission may take.
    pub timeout: Duration,
}

/// The outcome of one submission.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Graded; the report is in the output directory.
    Graded(Box<Report>),
    /// The harness could not grade it (bad archive, timeout, harness failure).
    Error(String),
}

/// Progress of a batch, for a terminal or a log.
pub trait BatchProgress: Send + Sync {
    /// A submission finished; `done` of `total` are finished.
    fn finished(
        &self,
        sub: &Submission,
        outcome: &Outcome,
        took: Duration,
        done: usize,
        total: usize,
    );
    /// A submission was skipped because its result already exists.
    fn skipped(&self, sub: &Submission);
}

/// The submissions of `all` this run grades: the shard, minus finished ones on resume.
pub fn plan(all: &[Submission], opts: &BatchOptions) -> Vec<Submission> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| i % s.count == s.index))
        .map(|(_, s)| s.clone())
        .filter(|s| !(opts.resume && result_path(&opts.out, s).is_file()))
        .collect()
}

/// Where a submission's JSON report lands; its presence marks the submission done.
pub fn result_path(out: &Path, sub: &Submission) -> PathBuf {
    out.join(&sub.id).join("report.json")
}

/// Grades `todo` with up to `opts.jobs` child graders at once; returns when all are
/// done or `stop` resolves (Ctrl-C), killing the children still running (their
/// submissions are left without a result, for `--resume`).
pub async fn run(
    todo: Vec<Submission>,
    opts: &BatchOptions,
    progress: Arc<dyn BatchProgress>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<bool, BatchError> {
    std::fs::create_dir_all(&opts.out).map_err(|e| BatchError::Output(opts.out.clone(), e))?;
    let total = todo.len();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for sub in todo {
        let (semaphore, done, progress, opts) = (
            Arc::clone(&semaphore),
            Arc::clone(&done),
            Arc::clone(&progress),
            opts.clone(),
        );
        tasks.spawn(async move {
            let Ok(_permit) = semaphore.acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            let outcome = grade_one(&sub, &opts).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress.finished(&sub, &outcome, started.elapsed(), n, total);
        });
    }
    tokio::pin!(stop);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { return Ok(true) },
            () = &mut stop => {
                // Dropping the tasks drops their children, which are killed on drop.
                tasks.shutdown().await;
                return Ok(false);
            }
        }
    }
}

/// Grades one submission in a child process and writes its reports atomically.
async fn grade_one(sub: &Submission, opts: &BatchOptions) -> Outcome {
    let dir = opts.out.join(&sub.id);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Outcome::Error(format!("cannot create {}: {e}", dir.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Outcome::Error(format!("cannot find the harness binary: {e}")),
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("grade")
        .arg(&sub.path)
        .args(["--format", "json", "--seed"])
        .arg(opts.seed.to_string())
        // Submissions already run side by side: about three exercise streams in all.
        .arg("--parallel")
        .arg(
            (crate::grade::DEFAULT_PARALLEL / opts.jobs.max(1))
                .max(1)
                .to_string(),
        );
    for e in &opts.exercises {
        cmd.args(["--exercise", e]);
    }
    for c in &opts.checks {
        cmd.args(["--check", c]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Error(format!("cannot start a grader: {e}")),
    };
    let group = child.id();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Outcome::Error("cannot read the grader's output".into());
    };
    let stdout = tokio::spawn(read_bounded(stdout, MAX_REPORT_BYTES));
    let stderr = tokio::spawn(read_bounded(stderr, MAX_STDERR_BYTES));
    let status = match tokio::time::timeout(opts.timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Outcome::Error(format!("grader failed: {e}")),
        Err(_) => {
            if let Some(pid) = group {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            stdout.abort();
            stderr.abort();
            return Outcome::Error(format!(
                "grading took longer than {} minutes",
                opts.timeout.as_secs() / 60
            ));
        }
    };
    let (stdout, stdout_over) = collected(stdout).await;
    let (stderr, _) = collected(stderr).await;
    let stderr = String::from_utf8_lossy(&stderr);
    // A report counts only from a child that says it graded (0 passed, 1 failed, 3 a
    // check errored) and agrees with it; "could not grade" (2), a signal or a code that
    // contradicts the report means the report is not the grade.
    let report = if stdout_over || !exit::graded(status.code()) {
        None
    } else {
        serde_json::from_slice::<Report>(&stdout)
            .ok()
            .filter(|r| Some(r.exit_code()) == status.code())
    };
    let Some(report) = report else {
        let reason = if stdout_over {
            format!("the grader's report is over {MAX_REPORT_BYTES} bytes")
        } else if status.code().is_none() {
            format!("the grader was killed ({status})")
        } else if exit::graded(status.code()) {
            format!("the grader exited with {status} but printed no matching report")
        } else {
            stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .or_else(|| stderr.lines().last())
                .unwrap_or("the grader produced no report")
                .trim_start_matches("error: ")
                .to_owned()
        };
        let _ = write_atomically(&dir.join("error.txt"), &reason);
        return Outcome::Error(reason);
    };
    let written = write_atomically(&dir.join("report.md"), &markdown::render(&report, true))
        .and_then(|()| write_atomically(&dir.join("report.xml"), &junit::render(&report)))
        .and_then(|()| {
            write_atomically(
                &dir.join("report.html"),
                &crate::report::html::render(&report),
            )
        })
        // The JSON goes last: its presence marks the submission done.
        .and_then(|()| write_atomically(&dir.join("report.json"), &report.to_json()));
    match written {
        Ok(()) => {
            let _ = std::fs::remove_file(dir.join("error.txt"));
            Outcome::Graded(Box::new(report))
        }
        Err(e) => Outcome::Error(format!("cannot write reports: {e}")),
    }
}

/// Reads `from` until it closes, keeping at most `cap` bytes and draining the rest (so
/// the writer never blocks on a full pipe); the bytes kept and whether more came.
async fn read_bounded(mut from: impl tokio::io::AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut over = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, over),
            Ok(n) => {
                let room = cap - kept.len();
                if n > room {
                    over = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// What a reader task collected, waiting at most [`PIPE_GRACE`] for the pipe to close
/// (a leftover process could hold it open); nothing when it does not.
async fn collected(task: tokio::task::JoinHandle<(Vec<u8>, bool)>) -> (Vec<u8>, bool) {
    let abort = task.abort_handle();
    match tokio::time::timeout(PIPE_GRACE, task).await {
        Ok(Ok(read)) => read,
        Ok(Err(_)) => (Vec::new(), false),
        Err(_) => {
            abort.abort();
            (Vec::new(), false)
        }
    }
}

/// Writes `text` to a fresh temp file beside `path` (created exclusively, so never
/// through a file or link already there), syncs it, then renames it into place.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.partial"));
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// A row of the summary.
struct Row {
    id: String,
    status: String,
    points: Option<(u32, u32)>,
    cells: BTreeMap<String, (u32, u32)>,
    /// The designs recognised in the submission, as `exercise: id`.
    designs: Vec<String>,
}

/// Writes `summary.csv`, `summary.md` and `summary.html` in `out` for `all`
/// submissions: one row each, points per exercise, per planted flaw and for the brief's
/// standing requirements, build failures and grading errors, and the designs
/// recognised; a submission with no result yet (another shard, or interrupted) says so.
pub fn write_summary(all: &[Submission], out: &Path) -> Result<(), BatchError> {
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for sub in all {
        let dir = out.join(&sub.id);
        let report = std::fs::read_to_string(result_path(out, sub))
            .ok()
            .and_then(|t| serde_json::from_str::<Report>(&t).ok());
        let Some(report) = report else {
            let status = match std::fs::read_to_string(dir.join("error.txt")) {
                Ok(reason) => format!("grading error: {}", reason.trim()),
                Err(_) => "not graded yet".to_owned(),
            };
            rows.push(Row {
                id: sub.id.clone(),
                status,
                points: None,
                cells: BTreeMap::new(),
                designs: Vec::new(),
            });
            continue;
        };
        let mut cells = BTreeMap::new();
        let mut failed_builds = Vec::new();
        let mut errors = 0;
        let mut designs = Vec::new();
        for ex in &report.exercises {
            designs.extend(ex.designs.iter().map(|d| format!("{}: {}", ex.id, d.id)));
            cells.insert(ex.id.clone(), (ex.points, ex.max_points));
            if let Some(review) = &ex.review {
                cells.insert(
                    format!("{}:review", ex.id),
                    (review.points, review.max_points),
                );
            }
            if ex.build.status == BuildStatus::Failed {
                failed_builds.push(ex.id.clone());
            }
            for c in &ex.checks {
                if c.status == CheckStatus::Error {
                    errors += 1;
                }
                // The brief's standing requirements, judged on every history, in one
                // column: what a fix broke next to the planted flaws.
                let column = match &c.flaw {
                    Some(flaw) => Some(format!("{}:{flaw}", ex.id)),
                    None if c.requirement => Some(format!("{}:requirements", ex.id)),
                    None => None,
                };
                if let Some(column) = column {
                    let cell = cells.entry(column).or_insert((0, 0));
                    cell.0 += c.points;
                    cell.1 += c.max_points;
                }
            }
        }
        for key in cells.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        let mut status = "graded".to_owned();
        if !failed_builds.is_empty() {
            let _ = write!(status, "; build failed: {}", failed_builds.join(" "));
        }
        if errors > 0 {
            let _ = write!(status, "; {errors} check(s) could not be judged");
        }
        rows.push(Row {
            id: sub.id.clone(),
            status,
            points: Some((report.points, report.max_points)),
            cells,
            designs,
        });
    }
    columns.sort();
    let mut csv = String::from("submission,status,points,max_points");
    for c in &columns {
        let _ = write!(csv, ",{c}");
    }
    csv.push_str(",designs\n");
    let mut md = String::from("# Batch summary\n\n| submission | status | points |");
    for c in &columns {
        let _ = write!(md, " {c} |");
    }
    md.push_str(" designs |\n|---|---|---|");
    for _ in &columns {
        md.push_str("---|");
    }
    md.push_str("---|");
    md.push('\n');
    for row in &rows {
        let (p, m) = row.points.map_or((String::new(), String::new()), |(p, m)| {
            (p.to_string(), m.to_string())
        });
        let _ = write!(
            csv,
            "{},{},{p},{m}",
            csv_field(&row.id),
            csv_field(&row.status)
        );
        let _ = write!(
            md,
            "| {} | {} | {} |",
            markdown::text(&row.id),
            markdown::text(&row.status),
            row.points
                .map_or("–".to_owned(), |(p, m)| format!("{p} / {m}"))
        );
        for c in &columns {
            match row.cells.get(c) {
                Some((p, m)) => {
                    let _ = write!(csv, ",{p}/{m}");
                    let _ = write!(md, " {p}/{m} |");
                }
                None => {
                    csv.push(',');
                    md.push_str(" – |");
                }
            }
        }
        let designs = row.designs.join("; ");
        let _ = writeln!(csv, ",{}", csv_field(&designs));
        let _ = writeln!(md, " {} |", markdown::text(&designs));
    }
    write_atomically(&out.join("summary.html"), &summary_html(&columns, &rows))
        .map_err(|e| BatchError::Output(out.into(), e))?;
    write_atomically(&out.join("summary.csv"), &csv)
        .map_err(|e| BatchError::Output(out.into(), e))?;
    write_atomically(&out.join("summary.md"), &md)
        .map_err(|e| BatchError::Output(out.into(), e))?;
    Ok(())
}

/// The summary as one self-contained page: a row per candidate linking their report,
/// a column per exercise, review and planted flaw, each cell green when it earned every
/// point, red when it earned none — the per-flaw overview across candidates.
fn summary_html(columns: &[String], rows: &[Row]) -> String {
    use crate::report::html::esc;
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Batch summary</title><style>\
         body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#202124}\
         table{border-collapse:collapse}th,td{border:1px solid #dadce0;padding:4px 6px;text-align:left;vertical-align:top}\
         th{background:#f1f3f4;font-weight:600}td.full{background:#e6f4ea}td.none{background:#fce8e6}td.part{background:#fef7e0}\
         th.flaw{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}\
         </style></head><body><h1>Batch summary</h1>\n<table><tr><th>submission</th><th>status</th><th>points</th>",
    );
    for c in columns {
        let _ = write!(page, "<th class=\"flaw\">{}</th>", esc(c));
    }
    page.push_str("<th>designs recognised</th></tr>\n");
    for row in rows {
        let name = if row.points.is_some() {
            format!(
                "<a href=\"{0}/report.html\">{1}</a>",
                esc(&url_segment(&row.id)),
                esc(&row.id)
            )
        } else {
            esc(&row.id)
        };
        let _ = write!(
            page,
            "<tr><td>{name}</td><td>{}</td><td>{}</td>",
            esc(&row.status),
            row.points
                .map_or("–".to_owned(), |(p, m)| format!("{p} / {m}"))
        );
        for c in columns {
            match row.cells.get(c) {
                Some((p, m)) => {
                    let class = if p == m {
                        "full"
                    } else if *p == 0 {
                        "none"
                    } else {
                        "part"
                    };
                    let _ = write!(page, "<td class=\"{class}\">{p}/{m}</td>");
                }
                None => page.push_str("<td>–</td>"),
            }
        }
        let _ = writeln!(page, "<td>{}</td></tr>", esc(&row.designs.join("; ")));
    }
    page.push_str("</table></body></html>\n");
    page
}

/// A submission id as a relative link's path segment: ids are sanitised file stems,
/// so only characters a URL path treats specially need escaping.
fn url_segment(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' => c.to_string(),
            c => c.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_by_position_and_validate() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("1-4".parse::<Shard>().is_err());
        let all: Vec<Submission> = (0..10)
            .map(|i| Submission {
                id: format!("s{i:02}"),
                path: PathBuf::from(format!("s{i:02}")),
            })
            .collect();
        let opts = |index| BatchOptions {
            out: PathBuf::from("/nonexistent"),
            jobs: 1,
            resume: false,
            shard: Some(Shard { index, count: 3 }),
            exercises: Vec::new(),
            checks: Vec::new(),
            seed: 1,
            timeout: Duration::from_secs(1),
        };
        let mut covered: Vec<String> = (0..3)
            .flat_map(|i| plan(&all, &opts(i)))
            .map(|s| s.id)
            .collect();
        covered.sort();
        assert_eq!(
            covered,
            all.iter().map(|s| s.id.clone()).collect::<Vec<_>>()
        );
        assert_eq!(plan(&all, &opts(0)).len(), 4);
    }

    #[tokio::test]
    async fn child_output_is_read_up_to_a_bound_and_drained() {
        let (kept, over) = read_bounded(&b"0123456789"[..], 4).await;
        assert_eq!((kept.as_slice(), over), (&b"0123"[..], true));
        let (kept, over) = read_bounded(&b"01"[..], 4).await;
        assert_eq!((kept.as_slice(), over), (&b"01"[..], false));
    }

    #[test]
    fn reports_are_written_fresh_never_through_a_link() {
        let dir = tempfile::tempdir().expect("temp dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        std::os::unix::fs::symlink(&victim, dir.path().join(".report.json.partial"))
            .expect("symlink");
        let path = dir.path().join("report.json");
        write_atomically(&path, "{}").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(!dir.path().join(".report.json.partial").exists());
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
