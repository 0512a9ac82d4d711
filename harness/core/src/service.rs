//! Running an exercise service as a child process: the one way every check starts one.
//!
//! The service gets its own PID namespace where the machine allows (so kill -9 takes
//! every process it started, see [`RunningService::kill9`]) and its own process group, a
//! database file and log file chosen by the check, port 0 on loopback, and its
//! downstreams pointed at the harness's fakes. The only thing read from its stdout is
//! the `READY <addr>` line, and the address must be loopback; nothing else it prints is
//! believed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sandbox::Policy;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a service may take from spawn to its READY line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a SIGTERM'd service may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How to start one service instance.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The built service binary.
    pub binary: PathBuf,
    /// SQLite file; instances given the same file share one database.
    pub db: PathBuf,
    /// Downstream name and base URL pairs (`--downstream NAME=URL`).
    pub downstreams: Vec<(String, String)>,
    /// Extra environment, e.g. timing parameters the brief makes settable.
    pub env: Vec<(String, String)>,
    /// File the service's stderr is appended to.
    pub log: PathBuf,
    /// File the kit appends per-request SQL statement records to (`--stats-file`).
    pub stats: Option<PathBuf>,
    /// The confinement the service runs under: the grade's, passed down, never a global.
    pub policy: Arc<Policy>,
    /// Where its starts, kills and stops are recorded: the check's timeline.
    pub timeline: crate::checks::Timeline,
}

/// Why a service did not come up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The binary could not be executed.
    #[error("could not start {binary}: {source}")]
    Spawn {
        /// The binary path.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited or closed stdout before printing READY.
    #[error("service exited before printing READY")]
    ExitedEarly,
    /// No READY line within the time limit.
    #[error("service printed no READY line within {0:?}")]
    NoReady(Duration),
    /// The READY line did not name a loopback address.
    #[error("service printed an invalid READY line: {0:?}")]
    BadReady(String),
}

/// A running service instance; killed (whole process group) when dropped.
pub struct RunningService {
    spec: ServiceSpec,
    child: Option<Child>,
    addr: SocketAddr,
    /// Whether the child is a supervisor with the service as PID 1 of its namespace.
    own_pids: bool,
}

impl RunningService {
    /// Starts an instance and waits for its READY line.
    pub async fn start(spec: &ServiceSpec) -> Result<RunningService, StartError> {
        let log = open_log(&spec.log).map_err(|source| StartError::Spawn {
            binary: spec.binary.clone(),
            source,
        })?;
        let policy = &*spec.policy;
        let workdir = spec
            .db
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        crate::sandbox::hand_over(&workdir, policy).map_err(|source| StartError::Spawn {
            binary: spec.binary.clone(),
            source,
        })?;
        let mut cmd = Command::new(&spec.binary);
        let bin_dir = spec.binary.parent().unwrap_or(Path::new("/"));
        policy.exposing(&[bin_dir, &workdir]).apply(&mut cmd);
        cmd.current_dir(&workdir);
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--db")
            .arg(&spec.db);
        if let Some(stats) = &spec.stats {
            cmd.arg("--stats-file").arg(stats);
        }
        for (name, url) in &spec.downstreams {
            cmd.arg("--downstream").arg(format!("{name}={url}"));
        }
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| StartError::Spawn {
            binary: spec.binary.clone(),
            source,
        })?;
        let stdout = child.stdout.take().ok_or(StartError::ExitedEarly)?;
        let mut service = RunningService {
            spec: spec.clone(),
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            own_pids: policy.own_pids(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await {
            Err(_) => return Err(StartError::NoReady(READY_TIMEOUT)),
            Ok(Ok(Some(line))) => line,
            Ok(_) => return Err(StartError::ExitedEarly),
        };
        service.addr = parse_ready(&line)?;
        spec.timeline.record(
            "service",
            format!("{} up on {}", service.name(), service.addr),
        );
        // Keep draining stdout so a chatty service never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(service)
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The instance's name on a timeline: its log file's name (`service-2`), which
    /// tells a check's instances apart.
    fn name(&self) -> String {
        self.spec.log.file_stem().map_or_else(
            || "service".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    }

    /// Its loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database file this instance uses.
    pub fn db(&self) -> &Path {
        &self.spec.db
    }

    /// Kills the service with SIGKILL, at once, mid-whatever, and returns once every
    /// process it started is gone.
    ///
    /// In its own PID namespace the service runs under an init and a supervisor (see
    /// `sandbox`): killing the init makes the kernel kill the rest of the namespace,
    /// and the supervisor exits only after that — so waiting for it is waiting for the
    /// whole tree, `setsid` and double-forked workers included. Without one, the
    /// process group is killed (a worker that left it survives; the report says which
    /// isolation was in force).
    pub async fn kill9(&mut self) {
        if self.child.is_some() {
            self.spec
                .timeline
                .record("service", format!("{} killed with SIGKILL", self.name()));
        }
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                if let Some(init) = namespace_init(pid).filter(|_| self.own_pids) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(init), Signal::SIGKILL);
                    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
                        self.spec.timeline.instance_ended(self.url());
                        return;
                    }
                }
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            let _ = child.wait().await;
            self.spec.timeline.instance_ended(self.url());
        }
    }

    /// Kills this instance with SIGKILL and starts a new one on the same database.
    pub async fn restart_after_kill9(&mut self) -> Result<(), StartError> {
        self.kill9().await;
        let fresh = RunningService::start(&self.spec).await?;
        *self = fresh;
        Ok(())
    }

    /// Stops with SIGTERM, then SIGKILL if it does not exit in time.
    pub async fn stop(&mut self) {
        if self.child.is_some() {
            self.spec
                .timeline
                .record("service", format!("{} stopped (SIGTERM)", self.name()));
        }
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
                self.child = None;
                self.spec.timeline.instance_ended(self.url());
            }
        }
        self.kill9().await;
    }

    /// The last `lines` lines of the service's stderr log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.spec.log, lines)
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Some(pid) = child.id()
        {
            if let Some(init) = namespace_init(pid).filter(|_| self.own_pids) {
                let _ = nix::sys::signal::kill(Pid::from_raw(init), Signal::SIGKILL);
            }
            // The supervisor's death takes PID 1, and so the namespace, with it.
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Most bytes of a log's end read for a tail.
const TAIL_BYTES: u64 = 64 * 1024;

/// Opens a service's log for appending, as the harness (often root), in a directory
/// the service itself can write: never through a link, never anything but a regular
/// file with one name — else a service could point it at a file of the grader's
/// choosing and have the harness write there.
fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(std::io::Error::other(format!(
            "{} is not a plain file of its own (a link was planted)",
            path.display()
        )));
    }
    Ok(file)
}

/// The last `lines` lines of a log file ("" if unreadable, a link or not a regular
/// file); at most the last 64 KiB are read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return String::new();
    };
    let Ok(meta) = file.metadata() else {
        return String::new();
    };
    if !meta.is_file() {
        return String::new();
    }
    let start = meta.len().saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err()
        || file.take(TAIL_BYTES).read_to_end(&mut bytes).is_err()
    {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Reads a file a service could have replaced (its stats file, say): never through a
/// link, never anything but a regular file, never more than `cap` bytes — a link to
/// `/dev/zero` or to a file of the grader's is an error, not a read.
pub fn read_service_file(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.len() > cap {
        return Err(std::io::Error::other(format!(
            "{} is larger than {cap} bytes",
            path.display()
        )));
    }
    let mut text = String::new();
    file.take(cap).read_to_string(&mut text)?;
    Ok(text)
}

/// The host PID of the first child of `supervisor` — the init (PID 1) of the
/// service's own namespace — when the service runs under one.
fn namespace_init(supervisor: u32) -> Option<i32> {
    let children =
        std::fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

fn parse_ready(line: &str) -> Result<SocketAddr, StartError> {
    let addr: SocketAddr = line
        .strip_prefix("READY ")
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| StartError::BadReady(line.chars().take(200).collect()))?;
    if !addr.ip().is_loopback() || addr.port() == 0 {
        return Err(StartError::BadReady(line.chars().take(200).collect()));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_must_name_a_loopback_port() {
        assert_eq!(
            parse_ready("READY 127.0.0.1:4000").unwrap(),
            "127.0.0.1:4000".parse().unwrap()
        );
        assert!(parse_ready("READY 10.0.0.1:4000").is_err());
        assert!(parse_ready("READY 127.0.0.1:0").is_err());
        assert!(parse_ready("all checks passed").is_err());
    }

    #[test]
    fn a_planted_log_link_is_neither_opened_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("grader-secret");
        std::fs::write(&target, "secret\n").unwrap();
        let log = dir.path().join("service.log");
        std::os::unix::fs::symlink(&target, &log).unwrap();
        assert!(open_log(&log).is_err());
        assert_eq!(log_tail(&log, 10), "");
        let hard = dir.path().join("instance-1.log");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(open_log(&hard).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret\n");
        let plain = dir.path().join("instance-2.log");
        std::fs::write(&plain, "a\nb\nc\n").unwrap();
        assert!(open_log(&plain).is_ok());
        assert_eq!(log_tail(&plain, 2), "b\nc");
        // A stats file read back: the link and a device are refused, the cap holds.
        assert!(read_service_file(&log, 1 << 20).is_err());
        let zero = dir.path().join("stats.jsonl");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read_service_file(&zero, 1 << 20).is_err());
        assert_eq!(read_service_file(&plain, 1 << 20).unwrap(), "a\nb\nc\n");
        assert!(read_service_file(&plain, 2).is_err());
    }
}
