//! Every SQLite connection in the process, traced from the moment it opens.
//!
//! The kit registers an SQLite auto-extension before `main` runs (an `.init_array`
//! constructor, with [`ensure_started`] as the fallback every kit entry point calls).
//! SQLite runs it on every connection opened afterwards, wherever it is opened: the
//! kit's pool, a connection a handler opens itself, one opened on a `spawn_blocking`
//! thread. It installs a `sqlite3_trace_v2` hook that feeds the process-wide ledger in
//! [`crate::accounting`], so statements are counted wherever they run, not only inside
//! [`crate::Db::call`] on the task that serves the request.
//!
//! Tampering is noticed rather than trusted away:
//!
//! - The hook's state is owned by SQLite (rusqlite keeps the closure as the
//!   connection's client data). Replacing or clearing the hook with the safe
//!   `Connection::trace_v2` drops it; a drop that does not follow the connection's own
//!   close event marks the accounting tampered. A close that cannot succeed (statements
//!   leaked with `mem::forget` still open) does not count as a close.
//! - Safe rusqlite can remove every auto-extension (`reset_auto_extension`). Each
//!   accounting window ends with a probe: an in-memory connection is opened and must
//!   have been hooked; if not, the accounting is marked tampered and the extension
//!   registered again.
//! - SQLite refuses configuration once initialised, so if something used SQLite before
//!   the kit registered (only possible if the constructor did not run), the kit sees
//!   it and marks the accounting tampered.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::trace::{StmtRef, TraceEvent, TraceEventCodes};
use rusqlite::{Connection, StatementStatus, ffi};

use crate::accounting::{self, StatementRecord};

/// Environment variable the grader passes the stats-record key in. The kit takes it
/// before `main` and wipes it from the process's environment, so code that runs later
/// cannot read it back (see [`crate::accounting`] for what the key is for).
pub const KEY_VARIABLE: &str = "KIT_STATS_KEY";

static STARTED: Once = Once::new();
static BEFORE_MAIN: AtomicBool = AtomicBool::new(false);
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while the kit itself configures a fresh pooled connection: its pragmas are
    /// the kit's overhead, not the request's SQL.
    static INTERNAL: Cell<bool> = const { Cell::new(false) };
    /// Connections hooked on this thread, for the extension probe.
    static HOOKED_HERE: Cell<u64> = const { Cell::new(0) };
}

/// Runs before `main` in every binary that links the kit, so no other code of the
/// process can open a connection before the auto-extension is in place.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static START_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn start_before_main() {
        BEFORE_MAIN.store(true, Ordering::SeqCst);
        ensure_started();
    }
    start_before_main
};

/// Whether the accounting started before `main` (the constructor ran).
pub fn started_before_main() -> bool {
    BEFORE_MAIN.load(Ordering::SeqCst)
}

/// Takes the record key and registers the auto-extension, once per process.
///
/// The constructor calls it before `main`; every kit entry point (`Db::open`,
/// `serve`, `telemetry::init`) calls it again in case the constructor could not run.
pub fn ensure_started() {
    STARTED.call_once(|| {
        accounting::install_key(take_key());
        // SQLITE_CONFIG_* is refused with SQLITE_MISUSE once SQLite is initialised,
        // which any connection (or rusqlite's threading check) does: so a refusal
        // here means SQLite was used before the kit could trace it. Clearing the error
        // log callback changes nothing: nothing safe can have set it.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_LOG,
                std::ptr::null_mut::<c_void>(),
                std::ptr::null_mut::<c_void>(),
            )
        };
        if rc == ffi::SQLITE_MISUSE {
            accounting::mark_tampered(
                "SQLite was in use before the kit's accounting started, so connections opened then are not traced",
            );
        }
        register();
    });
}

fn register() {
    // SAFETY: the extension neither opens nor closes connections and does not touch
    // the list of auto-extensions.
    if let Err(e) = unsafe { rusqlite::auto_extension::register_auto_extension(on_open) } {
        accounting::mark_tampered(&format!(
            "the kit could not register its SQLite auto-extension ({e})"
        ));
    }
}

/// Checks that new connections are still hooked (safe code can remove every
/// auto-extension); if not, marks the accounting tampered and registers again.
pub(crate) fn probe_extension() {
    let before = HOOKED_HERE.with(Cell::get);
    let Ok(conn) = Connection::open_in_memory() else {
        return;
    };
    drop(conn);
    if HOOKED_HERE.with(Cell::get) == before {
        accounting::mark_tampered(
            "the kit's SQLite auto-extension was removed (reset_auto_extension), so connections opened afterwards were not traced",
        );
        register();
    }
}

/// Marks the current thread as running the kit's own set-up statements until dropped.
pub(crate) struct Internal(bool);

impl Internal {
    pub(crate) fn begin() -> Internal {
        Internal(INTERNAL.with(|i| i.replace(true)))
    }
}

impl Drop for Internal {
    fn drop(&mut self) {
        INTERNAL.with(|i| i.set(self.0));
    }
}

unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    err: *mut *mut c_char,
    api: *const ffi::sqlite3_api_routines,
) -> c_int {
    let _ = api;
    // SAFETY: `db` is the connection SQLite is opening; `install` neither closes it nor
    // opens another.
    unsafe { rusqlite::auto_extension::init_auto_extension(db, err, install) }
}

/// Installs the statement hook on a connection SQLite is opening.
fn install(mut conn: Connection) -> rusqlite::Result<()> {
    let id = CONNECTIONS.fetch_add(1, Ordering::SeqCst) + 1;
    // SAFETY: only the address is kept, to ask SQLite about the connection's open
    // statements from inside its own close event.
    let handle = unsafe { conn.handle() } as usize;
    let mut hook = ConnectionHook {
        id,
        handle,
        running: HashMap::new(),
        closed: false,
    };
    conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT
            | TraceEventCodes::SQLITE_TRACE_PROFILE
            | TraceEventCodes::SQLITE_TRACE_CLOSE,
        Some(move |event: TraceEvent<'_>| hook.on(event)),
    )?;
    HOOKED_HERE.with(|n| n.set(n.get() + 1));
    Ok(())
}

/// One connection's trace state, owned by the hook closure and so by SQLite: it is
/// dropped when the connection closes or when something replaces the hook.
struct ConnectionHook {
    id: u64,
    handle: usize,
    /// Status counters of statements that started and have not finished, by SQL.
    running: HashMap<String, (i64, i64)>,
    /// The connection's close event came with nothing left open, so SQLite is
    /// really closing it.
    closed: bool,
}

impl ConnectionHook {
    fn on(&mut self, event: TraceEvent<'_>) {
        let internal = INTERNAL.with(Cell::get);
        match event {
            TraceEvent::Stmt(stmt, traced) if !internal => {
                let sql = stmt.sql();
                // A statement is traced with its own text, or with "-- " before it when
                // it runs nested inside another one (from a function); trigger
                // subprograms are traced as "-- TRIGGER name" and belong to the
                // statement that fired them. A comment at the start of a statement's
                // own text does not hide it.
                let own = traced == sql || traced.strip_prefix("-- ") == Some(&*sql);
                if !own {
                    return;
                }
                accounting::statement_started();
                // Counters are cumulative over a cached statement's life: remember where
                // they stood so the finish can take the difference.
                self.running.insert(sql.into_owned(), counters(&stmt));
            }
            TraceEvent::Profile(stmt, _) if !internal => {
                let sql = stmt.sql().into_owned();
                let (scan0, vm0) = self.running.remove(&sql).unwrap_or((0, 0));
                let (scan1, vm1) = counters(&stmt);
                accounting::statement_finished(StatementRecord {
                    sql,
                    fullscan_steps: scan1 - scan0,
                    vm_steps: vm1 - vm0,
                });
            }
            TraceEvent::Close(_) => {
                // `sqlite3_close` reports the close before it refuses one with
                // statements still open; such a connection lives on.
                // SAFETY: SQLite is inside this connection's close call, so the handle
                // is valid; `sqlite3_next_stmt` only walks its statement list.
                let open = unsafe {
                    ffi::sqlite3_next_stmt(self.handle as *mut ffi::sqlite3, std::ptr::null_mut())
                };
                self.closed = open.is_null();
            }
            _ => {}
        }
    }
}

impl Drop for ConnectionHook {
    fn drop(&mut self) {
        if !self.closed {
            accounting::mark_tampered(&format!(
                "the statement trace hook of SQLite connection #{} was replaced or cleared (Connection::trace_v2), so its statements stopped being counted",
                self.id
            ));
        }
    }
}

fn counters(stmt: &StmtRef<'_>) -> (i64, i64) {
    (
        i64::from(stmt.get_status(StatementStatus::FullscanStep)),
        i64::from(stmt.get_status(StatementStatus::VmStep)),
    )
}

unsafe extern "C" {
    static environ: *const *mut c_char;
}

/// Reads the record key from [`KEY_VARIABLE`], overwrites its value where the process
/// was started with it (what `/proc/self/environ` shows) and removes the variable.
fn take_key() -> Option<[u64; 4]> {
    let value = std::env::var(KEY_VARIABLE).ok();
    let prefix = format!("{KEY_VARIABLE}=");
    // SAFETY: `environ` is the NUL-terminated array of NUL-terminated strings the
    // process environment lives in, writable; nothing else runs yet (before `main`),
    // or, in the fallback, the strings are only overwritten in place, never moved.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            let bytes = CStr::from_ptr(text).to_bytes();
            if bytes.starts_with(prefix.as_bytes()) {
                for i in prefix.len()..bytes.len() {
                    *text.add(i) = b'0' as c_char;
                }
            }
            entry = entry.add(1);
        }
        std::env::remove_var(KEY_VARIABLE);
    }
    parse_key(value?.trim())
}

/// 64 hex digits → four SipHash key words.
fn parse_key(hex: &str) -> Option<[u64; 4]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut key = [0u64; 4];
    for (n, word) in key.iter_mut().enumerate() {
        *word = u64::from_str_radix(&hex[n * 16..(n + 1) * 16], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_hex_digits() {
        let hex = "00000000000000010000000000000002000000000000000300000000000000ff";
        assert_eq!(parse_key(hex), Some([1, 2, 3, 255]));
        assert_eq!(parse_key("abc"), None);
        assert_eq!(parse_key(&"g".repeat(64)), None);
    }
}
