//! The sandbox candidate code runs in: builds (`build.rs` and proc macros run code too)
//! and services.
//!
//! Layers, each applied where the machine allows it and each reported in
//! [`Isolation`], so a report never claims more than was in force:
//!
//! - **network**: the harness moves into a fresh network namespace at start-up, before
//!   any thread exists ([`isolate_network`]). Everything it starts — fakes, builds,
//!   services — sees one loopback interface and nothing else; fakes and services still
//!   talk over 127.0.0.1.
//! - **filesystem**: every service starts in its own mount namespace with the grader's
//!   repository covered by an empty read-only tmpfs, from a copy of its binary in the
//!   grade's temp dir. A build sees its stage and the shared build cache, with the
//!   grader's sources, tests, corpus and harness binaries covered.
//! - **user**: services run as `nobody` when the harness runs as root.
//! - **limits**: CPU time, address space, file size and process count (rlimits); wall
//!   clock timeouts and killing the whole process group are the caller's
//!   (`service.rs`, `staging.rs`).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
use serde::Serialize;

/// The user services drop to when the harness runs as root.
const NOBODY: (u32, u32) = (65534, 65534);

/// What isolation was in force, in words, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Isolation {
    /// Network isolation of everything the harness started.
    pub network: String,
    /// What a service could see of the file system.
    pub filesystem: String,
    /// The user services ran as.
    pub user: String,
    /// Resource limits on services and builds.
    pub limits: String,
}

static NETWORK: OnceLock<String> = OnceLock::new();

/// Moves this process into a new network namespace with only loopback, up. Call once,
/// from `main`, before any thread is started: a namespace change applies to the
/// calling thread and what it starts afterwards. Returns the words for the report.
pub fn isolate_network() -> &'static str {
    NETWORK.get_or_init(|| match enter_network_namespace() {
        Ok(()) => "own network namespace: loopback only".to_owned(),
        Err(e) => format!("not isolated ({e})"),
    })
}

fn enter_network_namespace() -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
    loopback_up().map_err(|e| format!("bringing up lo: {e}"))
}

/// `ip link set lo up`, without depending on `ip` being installed.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed, correctly sized `ifreq` naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut result = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if result == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            result = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if result == 0 { Ok(()) } else { Err(err) }
    }
}

/// The network isolation in force for this process.
pub fn network_isolation() -> String {
    NETWORK
        .get()
        .cloned()
        .unwrap_or_else(|| "not isolated (the harness was not started through its CLI)".to_owned())
}

/// Resource limits for one kind of child.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// CPU seconds.
    pub cpu_secs: u64,
    /// Address space, bytes.
    pub address_space: u64,
    /// Largest file the child may write, bytes.
    pub file_size: u64,
    /// Processes and threads of the child's user.
    pub processes: u64,
}

/// Limits on a running service.
pub const SERVICE_LIMITS: Limits = Limits {
    cpu_secs: 120,
    address_space: 4 << 30,
    file_size: 256 << 20,
    processes: 512,
};

/// Limits on a build (cargo and everything it runs).
pub const BUILD_LIMITS: Limits = Limits {
    cpu_secs: 1_200,
    address_space: 16 << 30,
    file_size: 2 << 30,
    processes: 4_096,
};

/// World-writable places a service could leave files in; covered by empty read-only
/// tmpfs mounts, except the service's own directories, which are bound back in.
const WRITABLE_PLACES: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

/// A directory a confined child keeps, though it lies under a covered place.
#[derive(Debug, Clone)]
struct Exposed {
    path: CString,
    /// Directories to create on the covering tmpfs so `path` can be bound back.
    ancestors: Vec<CString>,
    /// The descriptor number it is held open at while the covers go on.
    fd: i32,
    /// `/proc/self/fd/<fd>`: the bind source once `path` itself is covered.
    by_fd: CString,
}

/// Descriptor numbers exposed directories are parked at during confinement.
const PARK_FD_BASE: i32 = 900;

/// How one child process is confined; applied between fork and exec.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The grader's repository (or its secret parts, for builds).
    hide: Vec<CString>,
    /// Writable places covered for services.
    cover: Vec<CString>,
    expose: Vec<Exposed>,
    drop_to: Option<(u32, u32)>,
    limits: Limits,
}

impl Policy {
    /// The policy for a service of the grader at `grader_root`: the whole repository
    /// and every world-writable place covered, `nobody` when root, service limits.
    pub fn service(grader_root: &Path) -> Policy {
        let root = is_root();
        let confine = root && mounts_work();
        Policy {
            hide: if confine {
                to_cstrings(&[grader_root.to_path_buf()])
            } else {
                Vec::new()
            },
            cover: if confine {
                let places: Vec<PathBuf> = WRITABLE_PLACES
                    .iter()
                    .map(PathBuf::from)
                    .filter(|p| p.is_dir())
                    .collect();
                to_cstrings(&places)
            } else {
                Vec::new()
            },
            expose: Vec::new(),
            drop_to: root.then_some(NOBODY),
            limits: SERVICE_LIMITS,
        }
    }

    /// This policy, keeping `dirs` (the service's binary and working directories)
    /// visible and writable although they lie under a covered place.
    pub fn exposing(&self, dirs: &[&Path]) -> Policy {
        use std::os::unix::ffi::OsStrExt;
        let mut policy = self.clone();
        let covers: Vec<PathBuf> = self
            .hide
            .iter()
            .chain(&self.cover)
            .map(|c| PathBuf::from(std::ffi::OsStr::from_bytes(c.as_bytes())))
            .collect();
        for (i, dir) in dirs.iter().enumerate() {
            let Some(cover) = covers.iter().find(|c| dir.starts_with(c)) else {
                continue;
            };
            let mut ancestors = Vec::new();
            let mut at = cover.clone();
            if let Ok(rest) = dir.strip_prefix(cover) {
                for part in rest.components() {
                    at.push(part);
                    ancestors.push(at.clone());
                }
            }
            let fd = PARK_FD_BASE + i as i32;
            let (Some(path), Ok(by_fd)) = (
                to_cstrings(&[dir.to_path_buf()]).pop(),
                CString::new(format!("/proc/self/fd/{fd}")),
            ) else {
                continue;
            };
            policy.expose.push(Exposed {
                path,
                ancestors: to_cstrings(&ancestors),
                fd,
                by_fd,
            });
        }
        policy
    }

    /// The policy for a build in the grader at `grader_root`: its sources, tests,
    /// corpus, history and harness binaries covered, build limits.
    pub fn build(grader_root: &Path) -> Policy {
        let covered: Vec<PathBuf> = [
            "harness",
            "tests",
            "exercises",
            "scripts",
            ".git",
            "target/debug",
            "target/release",
        ]
        .iter()
        .map(|p| grader_root.join(p))
        .filter(|p| p.is_dir())
        .collect();
        Policy {
            hide: if is_root() && mounts_work() {
                to_cstrings(&covered)
            } else {
                Vec::new()
            },
            cover: Vec::new(),
            expose: Vec::new(),
            drop_to: None,
            limits: BUILD_LIMITS,
        }
    }

    /// Confines `cmd`'s child to this policy.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        let policy = self.clone();
        // SAFETY: the closure runs in the forked child before exec and only makes
        // system calls on data prepared before the fork (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || policy.enter());
        }
    }

    fn enter(&self) -> std::io::Result<()> {
        let sealed = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if !self.hide.is_empty() {
            unshare(CloneFlags::CLONE_NEWNS)?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            // Hold the kept directories open, put the covers on, bind them back at their
            // own paths through the open descriptors, then seal every cover read-only.
            for e in &self.expose {
                // SAFETY: open/dup2/close on a prepared path and fixed descriptor numbers.
                unsafe {
                    let fd = libc::open(e.path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY);
                    if fd < 0 || libc::dup2(fd, e.fd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(fd);
                }
            }
            for path in self.hide.iter().chain(&self.cover) {
                mount(
                    Some("tmpfs"),
                    path.as_c_str(),
                    Some("tmpfs"),
                    sealed,
                    Some("size=64k,mode=0755"),
                )?;
            }
            for e in &self.expose {
                for dir in &e.ancestors {
                    mkdir_quiet(dir.as_c_str())?;
                }
                mount(
                    Some(e.by_fd.as_c_str()),
                    e.path.as_c_str(),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )?;
                // SAFETY: closing the descriptor parked above.
                unsafe {
                    libc::close(e.fd);
                }
            }
            for path in self.hide.iter().chain(&self.cover) {
                match mount(
                    None::<&str>,
                    path.as_c_str(),
                    None::<&str>,
                    MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | sealed,
                    None::<&str>,
                ) {
                    // A cover that lies under a later cover (a grader checked out in
                    // /tmp) is out of sight already.
                    Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let l = self.limits;
        setrlimit(Resource::RLIMIT_CPU, l.cpu_secs, l.cpu_secs)?;
        setrlimit(Resource::RLIMIT_AS, l.address_space, l.address_space)?;
        setrlimit(Resource::RLIMIT_FSIZE, l.file_size, l.file_size)?;
        setrlimit(Resource::RLIMIT_NPROC, l.processes, l.processes)?;
        if let Some((uid, gid)) = self.drop_to {
            setgroups(&[])?;
            setgid(Gid::from_raw(gid))?;
            setuid(Uid::from_raw(uid))?;
        }
        Ok(())
    }

    /// The user a child under this policy runs as, or `None` for the harness's own.
    pub fn user(&self) -> Option<(u32, u32)> {
        self.drop_to
    }

    /// What this policy confines, for the report.
    pub fn describe_files(&self) -> &'static str {
        if self.hide.is_empty() {
            "not confined (mount namespaces need root)"
        } else {
            "own mount namespace; the grader's repository and /tmp, /var/tmp, /dev/shm covered by empty read-only tmpfs, only its own directories bound back"
        }
    }
}

/// `mkdir` that is fine with the directory existing already.
fn mkdir_quiet(path: &std::ffi::CStr) -> std::io::Result<()> {
    match nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The policy every service of this process runs under (the grader's repository is
/// the one this harness was built from).
pub fn service_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::service(&crate::staging::Workspace::grader().root))
}

/// Hands `dir` to the user services run as, so a service can write its database there.
pub fn hand_over(dir: &Path, policy: &Policy) -> std::io::Result<()> {
    if let Some((uid, gid)) = policy.user() {
        nix::unistd::chown(dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    }
    Ok(())
}

/// Lets the service user reach (not list) `dir`, the grade's private temp dir, and
/// read-execute the binary copied into it.
pub fn open_path_for_services(dirs: &[&Path]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        return Ok(());
    }
    for dir in dirs {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))?;
    }
    Ok(())
}

/// The isolation a grade ran under, for its report.
pub fn isolation(grader_root: &Path) -> Isolation {
    let service = Policy::service(grader_root);
    let l = SERVICE_LIMITS;
    Isolation {
        network: network_isolation(),
        filesystem: format!(
            "services: {}; builds: {}",
            service.describe_files(),
            if Policy::build(grader_root).hide.is_empty() {
                "not confined"
            } else {
                "own mount namespace, grader's sources, tests and binaries covered (builds run as the harness's user, which could undo it)"
            }
        ),
        user: match service.user() {
            Some((uid, _)) => {
                format!("services run as uid {uid} (nobody); builds as the harness's user")
            }
            None => "services and builds run as the harness's user (not root, so no user switch)"
                .to_owned(),
        },
        limits: format!(
            "services: {} s CPU, {} GiB address space, {} MiB per file, {} processes; builds: {} s CPU; wall-clock timeouts; process groups killed",
            l.cpu_secs,
            l.address_space >> 30,
            l.file_size >> 20,
            l.processes,
            BUILD_LIMITS.cpu_secs
        ),
    }
}

fn is_root() -> bool {
    Uid::effective().is_root()
}

/// Whether this machine lets the harness create mount namespaces (probed once).
fn mounts_work() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        let probe = std::process::Command::new("/bin/true");
        let mut probe = probe;
        use std::os::unix::process::CommandExt;
        // SAFETY: as in `Policy::apply`.
        unsafe {
            probe.pre_exec(|| {
                unshare(CloneFlags::CLONE_NEWNS)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )?;
                mount(
                    Some("tmpfs"),
                    "/tmp",
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    Some("size=4k"),
                )?;
                Ok(())
            });
        }
        probe.status().is_ok_and(|s| s.success())
    })
}

fn to_cstrings(paths: &[PathBuf]) -> Vec<CString> {
    use std::os::unix::ffi::OsStrExt;
    paths
        .iter()
        .filter_map(|p| CString::new(p.as_os_str().as_bytes()).ok())
        .collect()
}
