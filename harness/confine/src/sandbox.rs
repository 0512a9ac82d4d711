//! The sandbox candidate code runs in: builds (the compiler and the allowed crates'
//! build scripts and macros read the candidate's sources) and services.
//!
//! Layers, each applied where the machine allows it and each reported in
//! [`Isolation`], so a report never claims more than was in force:
//!
//! - **network**: the harness moves into a fresh network namespace at start-up, before
//!   any thread exists ([`isolate_network`]). Everything it starts — fakes, builds,
//!   services — sees one loopback interface and nothing else; fakes and services still
//!   talk over 127.0.0.1.
//! - **processes**: every build and every service runs in its own PID namespace, as
//!   PID 2 under a minimal init (PID 1) and a supervisor outside, both forked between
//!   fork and exec. When the child exits, init exits and the kernel kills everything
//!   else in the namespace — a `setsid` or double-forked worker included; the
//!   supervisor, which the harness waits on, exits only after that, so "the build
//!   ended" and "kill -9" (of init) mean the whole tree is gone. The child is not PID 1,
//!   so signals act on it as usual. The namespace has its own `/proc`.
//! - **filesystem**: every child starts in its own mount namespace. Services: the
//!   grader's repository and every world-writable place covered by empty read-only
//!   tmpfs, their own directories bound back. Builds: the grader's repository, the
//!   other submissions' stages, the harness user's home and the world-writable places
//!   covered; the stage, the shared target directory and a scratch directory bound
//!   back, the toolchain and the fetched registry bound back read-only.
//! - **user**: when the harness runs as root, builds run as a build user of their own
//!   and each grade's services as a user no concurrent grade shares (derived from the
//!   harness's PID), with `no_new_privs` and no supplementary groups.
//! - **limits**: CPU time, address space, file size and process count (rlimits); wall
//!   clock timeouts are the caller's (`service.rs`, `staging.rs`).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
use serde::Serialize;

/// The user builds run as when the harness runs as root. Builds are serialised (one
/// target directory), so one user is never shared by two at once.
pub const BUILD_USER: (u32, u32) = (1_999_000_000, 1_999_000_000);

/// Services of a grade run as this plus the grading process's PID: PIDs of live
/// processes are unique, so no two concurrent grades share a service user (and
/// `RLIMIT_NPROC` is per grade).
const SERVICE_USER_BASE: u32 = 2_000_000_000;

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
    /// Bound back read-only (the toolchain, the registry).
    read_only: bool,
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
    /// Run as PID 1 of a new PID namespace under a supervisor.
    own_pids: bool,
    limits: Limits,
}

impl Policy {
    /// The policy for a service of the grader at `grader_root`: the whole repository
    /// and every world-writable place covered, `nobody` when root, service limits.
    pub fn service(grader_root: &Path) -> Policy {
        let root = is_root();
        let confine = root && mounts_work();
        let user = SERVICE_USER_BASE.saturating_add(std::process::id());
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
            drop_to: root.then_some((user, user)),
            own_pids: confine && pids_work(),
            limits: SERVICE_LIMITS,
        }
    }

    /// This policy, keeping `dirs` (the service's binary and working directories)
    /// visible and writable although they lie under a covered place.
    pub fn exposing(&self, dirs: &[&Path]) -> Policy {
        self.expose_dirs(dirs, false)
    }

    /// This policy, keeping `dirs` visible but read-only under the covers.
    pub fn exposing_read_only(&self, dirs: &[&Path]) -> Policy {
        self.expose_dirs(dirs, true)
    }

    fn expose_dirs(&self, dirs: &[&Path], read_only: bool) -> Policy {
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
            let fd = PARK_FD_BASE + (self.expose.len() + i) as i32;
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
                read_only,
            });
        }
        policy
    }

    /// The policy for a build in the grader at `grader_root`: its repository, the
    /// harness user's home, every stage under `stages` and the world-writable places
    /// covered, the build user when root, build limits. The caller exposes the stage,
    /// the target and scratch directories, and the toolchain read-only.
    pub fn build(grader_root: &Path, stages: &Path) -> Policy {
        let root = is_root();
        let confine = root && mounts_work();
        let mut covered = vec![grader_root.to_path_buf()];
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
            && home.is_dir()
            && home != Path::new("/")
        {
            covered.push(home);
        }
        covered.push(stages.to_path_buf());
        covered.extend(WRITABLE_PLACES.iter().map(PathBuf::from));
        // A cover inside another is out of sight already (and has nowhere to mount).
        let mut kept: Vec<PathBuf> = Vec::new();
        for c in covered.into_iter().filter(|p| p.is_dir()) {
            if !kept.iter().any(|k| c.starts_with(k)) {
                kept.retain(|k| !k.starts_with(&c));
                kept.push(c);
            }
        }
        Policy {
            hide: if confine {
                to_cstrings(&kept)
            } else {
                Vec::new()
            },
            cover: Vec::new(),
            expose: Vec::new(),
            drop_to: root.then_some(BUILD_USER),
            own_pids: confine && pids_work(),
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
                if e.read_only {
                    mount(
                        None::<&str>,
                        e.path.as_c_str(),
                        None::<&str>,
                        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | sealed,
                        None::<&str>,
                    )?;
                }
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
        if self.own_pids {
            unshare(CloneFlags::CLONE_NEWPID)?;
            // SAFETY: fork in the single-threaded child between fork and exec; the
            // supervisor branch only makes async-signal-safe calls and never returns.
            match unsafe { libc::fork() } {
                -1 => return Err(std::io::Error::last_os_error()),
                0 => {
                    // PID 1 of the new namespace: its own /proc, so it sees only its
                    // own processes (best effort: without a mount namespace it keeps
                    // the old one).
                    if !self.hide.is_empty() {
                        let _ = mount(
                            Some("proc"),
                            "/proc",
                            Some("proc"),
                            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                            None::<&str>,
                        );
                    }
                    // SAFETY: prctl with constant arguments, then fork as above.
                    unsafe {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        match libc::fork() {
                            -1 => return Err(std::io::Error::last_os_error()),
                            // PID 2: the child itself, which execs. Not PID 1, so
                            // SIGTERM and friends act on it as on any process.
                            0 => {}
                            service => init(service),
                        }
                    }
                }
                child => supervise(child),
            }
        }
        if let Some((uid, gid)) = self.drop_to {
            setgroups(&[])?;
            setgid(Gid::from_raw(gid))?;
            setuid(Uid::from_raw(uid))?;
        }
        // SAFETY: prctl with constant arguments.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // After the user switch, which clears it: PID 1 dies with its supervisor,
            // taking the namespace with it.
            if self.own_pids && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether children under this policy run in their own PID namespace.
    pub fn own_pids(&self) -> bool {
        self.own_pids
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

/// The supervisor outside a child's PID namespace: the process the harness started
/// and waits on. It ignores the signals a caller sends a service's process group (the
/// service itself gets them), closes every descriptor but stdio (so nothing waits on
/// it), reaps PID 1 and exits with its status — which the kernel delivers only after
/// every other process of the namespace is gone. Never returns.
fn supervise(child: libc::pid_t) -> ! {
    wait_then_exit(child, child)
}

/// PID 1 of a child's namespace: reaps whatever is orphaned to it until the child
/// itself (PID 2) exits, then exits with its status — and the kernel kills everything
/// left in the namespace. Ignores signals, so only SIGKILL (or its supervisor's death,
/// through `PR_SET_PDEATHSIG`) ends it early. Never returns.
fn init(child: libc::pid_t) -> ! {
    wait_then_exit(-1, child)
}

/// Ignores the signals a caller sends a process group, closes every descriptor but
/// stdio (so nothing waits on this process), reaps `which` (`-1`: any child) until
/// `child` is reaped, and exits with its status. What the supervisor and the init share.
fn wait_then_exit(which: libc::pid_t, child: libc::pid_t) -> ! {
    // SAFETY: async-signal-safe calls only (signal, syscall, waitpid, _exit).
    unsafe {
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
            libc::signal(sig, libc::SIG_IGN);
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let status = loop {
            let mut reaped = 0;
            let r = libc::waitpid(which, &mut reaped, 0);
            if r == child {
                break reaped;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(125);
            }
        };
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        libc::_exit(128 + libc::WTERMSIG(status));
    }
}

/// Hands `dir` to the user services run as, so a service can write its database there.
pub fn hand_over(dir: &Path, policy: &Policy) -> std::io::Result<()> {
    if let Some((uid, gid)) = policy.user() {
        nix::unistd::chown(dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    }
    Ok(())
}

/// Gives the whole tree at `dir` to `user`, without following links, changing only
/// what is not theirs yet: a tree the harness's own user also built into (a kit's
/// `cargo run` sharing the cache) must not leave files the build user cannot replace.
pub fn hand_over_tree(dir: &Path, user: (u32, u32)) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.uid() != user.0 || meta.gid() != user.1 {
            std::os::unix::fs::lchown(&path, Some(user.0), Some(user.1))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
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
pub fn isolation(grader_root: &Path, stages: &Path) -> Isolation {
    let service = Policy::service(grader_root);
    let build = Policy::build(grader_root, stages);
    let l = SERVICE_LIMITS;
    let pids = |p: &Policy| {
        if p.own_pids {
            "own PID namespace (the whole tree dies with it)"
        } else {
            "process group only (PID namespaces need root)"
        }
    };
    // SQLite opens every file with O_NOFOLLOW, and logs are opened so too; a hard link
    // is the one way left to make the harness write a file of its choosing, and the
    // kernel refuses links to files their creator does not own only with this on.
    let hardlinks = match std::fs::read_to_string("/proc/sys/fs/protected_hardlinks") {
        Ok(v) if v.trim() == "1" => "",
        _ => {
            " (fs.protected_hardlinks is off: a service could hard-link a file it does not own into its directory)"
        }
    };
    Isolation {
        network: network_isolation(),
        filesystem: format!(
            "services: {}{hardlinks}, {}; builds: {}, {}",
            service.describe_files(),
            pids(&service),
            if build.hide.is_empty() {
                "not confined"
            } else {
                "own mount namespace: the grader's repository, the harness user's home, other stages and /tmp, /var/tmp, /dev/shm covered; only the stage, the build output and a scratch directory writable; toolchain and registry read-only"
            },
            pids(&build)
        ),
        user: match (service.user(), build.user()) {
            (Some((uid, _)), Some((build_uid, _))) => format!(
                "services run as uid {uid} (this grade's own), builds as uid {build_uid}; no_new_privs, no supplementary groups"
            ),
            _ => "services and builds run as the harness's user (not root, so no user switch); no_new_privs"
                .to_owned(),
        },
        limits: format!(
            "services: {} s CPU, {} GiB address space, {} MiB per file, {} processes; builds: {} s CPU; wall-clock timeouts",
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

/// Whether this machine lets the harness create PID namespaces (probed once).
fn pids_work() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        use std::os::unix::process::CommandExt;
        let mut probe = std::process::Command::new("/bin/true");
        // SAFETY: as in `Policy::apply`.
        unsafe {
            probe.pre_exec(|| {
                unshare(CloneFlags::CLONE_NEWPID)?;
                Ok(())
            });
        }
        probe.status().is_ok_and(|s| s.success())
    })
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
