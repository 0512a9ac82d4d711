//! Write faults injected into a service's own SQLite file: abort, or stall, its k-th
//! write — and proof, read from the file, that the fault could fire.
//!
//! The harness cannot reach inside the service, but it shares the database file. It adds
//! a `BEFORE INSERT/UPDATE/DELETE` trigger to every table (the service's own and any a
//! fix added) that counts row writes in `harness_write_faults` and, when the count
//! reaches the armed k, either raises `ABORT` (the statement fails, as a full disk or an
//! I/O error would) or runs a query that never ends in practice (the writer is frozen
//! mid-request, holding the write lock, until the check kills the process). A check
//! enumerates k over every write a request makes, so each failure point is exercised
//! deterministically instead of hoping a crash lands between two statements.
//!
//! The counter is part of the writer's transaction, and the aborted write's own count
//! rolls back with it: from the k-th write on, every write fails until the check
//! disarms (like a full disk), so neither a retried transaction nor compensating writes
//! get through.
//!
//! # Verifying that the fault could fire
//!
//! The triggers live in a file the service controls. It can switch them off on its own
//! connections (`SQLITE_DBCONFIG_ENABLE_TRIGGER`), drop them, recreate its tables (which
//! drops them too), or rewrite the harness's tables. The triggers then count nothing, a
//! loop "for k = 1, 2, … until the request makes fewer than k writes" ends at once, and a
//! non-atomic service would pass. So a count is only believed once it has been checked
//! against what the harness sees for itself, and a check whose fault could not fire
//! fails with the reason ([`Bypass`]).
//!
//! A fired `ABORT` leaves no trace in the file — the statement, the trigger's count and,
//! in a correct service, the whole transaction roll back — so "it fired" cannot be read
//! directly. What *can* be read, and is what the verdicts rest on:
//!
//! 1. **The machinery is intact.** When arming and after the request, every trigger the
//!    harness installed is still in `sqlite_schema` with exactly the SQL it was created
//!    with, the control row is the one the harness wrote (armed, mode, k), the stall
//!    table still holds its rows, and the count never passed k (in both modes a write
//!    that reaches k fails or freezes, so a committed count of k or more means someone
//!    else wrote it). This catches dropped, replaced or recreated triggers and tables.
//! 2. **Every change was counted.** [`WriteFaults::arm`] snapshots the service's tables
//!    in the same transaction that arms; [`WriteFaults::tally`] reads the count and the
//!    tables in one read transaction afterwards. Every row version present afterwards
//!    that was not there before was produced by a committed INSERT or UPDATE row
//!    operation (foreign-key actions included), each of which fired a `BEFORE` trigger
//!    whose count committed in the same transaction. So, with the triggers firing, the
//!    committed count is at least the number of added row versions. Fewer means writes
//!    went around the triggers: triggers disabled on a connection (the one bypass that
//!    leaves `sqlite_schema` untouched), or rows written to a table created after the
//!    triggers were installed. Rows are compared as whole-row values without their
//!    rowid, as a multiset, so the bound only ever undercounts (`VACUUM` renumbering,
//!    an update back to an earlier value); removed rows are not counted at all, since
//!    `REPLACE` removes conflicting rows without firing a delete trigger. The one
//!    change that would break the bound, `ALTER TABLE … ADD COLUMN` in the middle of a
//!    request, is not something a service does per request.
//!
//! A check therefore ends its "k = 1, 2, …" loop only on a *verified* short count: the
//! request succeeded, the machinery is intact and the count covers every change, and it
//! is below k. Any bypass fails the check, naming what was dropped or how many changes
//! went uncounted.
//!
//! What this cannot see: a service that reads the harness's control row and behaves
//! differently while it is armed (refusing cleanly, or writing its own counts), or that
//! disables the triggers only for a write that changes no row or rewrites a row it also
//! writes with the triggers on. Those are sabotage aimed at the grader, not fixes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

/// What happens at the armed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The write fails with `SQLITE_CONSTRAINT` ("harness: injected write failure").
    Abort,
    /// The write never finishes; the writer holds the database's write lock until killed.
    Stall,
}

impl WriteFault {
    fn mode(self) -> &'static str {
        match self {
            WriteFault::Abort => "abort",
            WriteFault::Stall => "stall",
        }
    }
}

/// Rows in the table the stall cross-joins four times: 1000⁴ steps never finish.
const STALL_ROWS: i64 = 1000;

/// The message an aborted write fails with.
pub const ABORT_MESSAGE: &str = "harness: injected write failure";

/// Trigger names listed in a [`Bypass`] before the rest are only counted.
const NAMES_SHOWN: usize = 6;

/// Why an armed fault could not fire: the triggers were dropped, replaced or switched
/// off, or the harness's own tables were changed. A check that gets one fails with it,
/// because a fault that did not happen proves nothing about the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bypass {
    /// Each way the machinery was found defeated, as a sentence fragment.
    pub reasons: Vec<String>,
}

impl fmt::Display for Bypass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the injected write fault never fired: {}",
            self.reasons.join("; ")
        )
    }
}

/// A write-fault operation failed: either the service defeated the faults (a finding
/// against it) or the harness could not use the database (the harness's problem).
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The service bypassed the faults.
    #[error("{0}")]
    Bypassed(Bypass),
    /// The harness's own database access failed.
    #[error("write-fault triggers: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// [`WriteFaults::tally`] without a preceding arm: a harness bug.
    #[error("write-fault triggers: tally without arm")]
    NotArmed,
}

impl FaultError {
    /// The bypass, or the error that is the harness's own.
    pub fn split(self) -> Result<Bypass, FaultError> {
        match self {
            FaultError::Bypassed(b) => Ok(b),
            other => Err(other),
        }
    }
}

/// The triggers' count of the writes since arming, checked against the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Row writes the triggers counted that committed.
    pub counted: u64,
    /// Row versions the service's tables gained: a lower bound on the committed writes.
    pub changed: u64,
}

/// Every ordinary table's rows as a multiset of whole-row values, by table name.
type Rows = BTreeMap<String, HashMap<String, u64>>;

/// What is armed, and the service's tables at that moment.
struct Armed {
    k: u64,
    mode: &'static str,
    before: Rows,
}

struct Inner {
    conn: Connection,
    armed: Option<Armed>,
}

/// Counting triggers installed in one database file.
pub struct WriteFaults {
    path: PathBuf,
    /// Behind a mutex so checks can hold a `&WriteFaults` across awaits.
    inner: Mutex<Inner>,
    tables: Vec<String>,
    /// Every trigger installed, with its SQL exactly as `sqlite_schema` stores it.
    triggers: BTreeMap<String, String>,
    /// Where arming is recorded, once [`WriteFaults::record_into`] set it.
    recorder: super::recorder::Recorder,
    /// When faults were armed, once [`WriteFaults::log_arming_into`] set it.
    armed_log: Option<ArmedLog>,
}

/// When write faults were armed: `(armed at, disarmed at)`, `None` while still armed.
/// A judge of answers leaves alone the requests that were in flight meanwhile: the
/// harness's aborted write surfaces as a constraint error, which no real disk failure
/// does, so what a service makes of it is not evidence about its requirements.
pub type ArmedLog = std::sync::Arc<Mutex<Vec<ArmedSpan>>>;

/// One arming: when, and until when (`None` while still armed).
pub type ArmedSpan = (std::time::Instant, Option<std::time::Instant>);

impl WriteFaults {
    /// Installs the counting triggers on every ordinary table of the database at `db`
    /// (run after the service has migrated it). Nothing is armed yet.
    pub fn install(db: &Path) -> rusqlite::Result<WriteFaults> {
        let conn = open(db)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let tables = service_tables(&conn)?;
        let mut ddl = String::from(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS harness_write_faults (
                 armed INTEGER NOT NULL, mode TEXT NOT NULL, k INTEGER NOT NULL,
                 seen INTEGER NOT NULL);
             DELETE FROM harness_write_faults;
             INSERT INTO harness_write_faults VALUES (0, 'abort', 0, 0);
             CREATE TABLE IF NOT EXISTS harness_stall (n INTEGER PRIMARY KEY);
             DELETE FROM harness_stall;",
        );
        ddl.push_str(&format!(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {STALL_ROWS})
             INSERT INTO harness_stall SELECT n FROM c;"
        ));
        let mut names = Vec::new();
        for (i, table) in tables.iter().enumerate() {
            for op in ["INSERT", "UPDATE", "DELETE"] {
                let name = format!("harness_wf_{i}_{op}");
                ddl.push_str(&format!(
                    "DROP TRIGGER IF EXISTS {name};
                     CREATE TRIGGER {name} BEFORE {op} ON {table} BEGIN
                       UPDATE harness_write_faults SET seen = seen + 1 WHERE armed = 1;
                       SELECT RAISE(ABORT, '{ABORT_MESSAGE}') FROM harness_write_faults
                        WHERE armed = 1 AND mode = 'abort' AND seen = k;
                       SELECT count(*) FROM harness_write_faults AS f
                         CROSS JOIN harness_stall AS a CROSS JOIN harness_stall AS b
                         CROSS JOIN harness_stall AS c CROSS JOIN harness_stall AS d
                        WHERE f.armed = 1 AND f.mode = 'stall' AND f.seen = f.k;
                     END;",
                    table = quote(table)
                ));
                names.push(name);
            }
        }
        ddl.push_str("COMMIT;");
        conn.execute_batch(&ddl)?;
        let stored = schema_triggers(&conn)?;
        let triggers = names
            .into_iter()
            .filter_map(|n| stored.get(&n).map(|sql| (n, sql.clone())))
            .collect();
        Ok(WriteFaults {
            path: db.to_path_buf(),
            inner: Mutex::new(Inner { conn, armed: None }),
            tables,
            triggers,
            recorder: Default::default(),
            armed_log: None,
        })
    }

    /// From now on, tells `timeline` which write each armed fault will hit.
    pub fn record_into(self, timeline: &crate::checks::Timeline) -> WriteFaults {
        self.recorder.set(timeline, "database");
        self
    }

    /// From now on, logs into `log` when faults are armed and disarmed.
    pub fn log_arming_into(mut self, log: ArmedLog) -> WriteFaults {
        self.armed_log = Some(log);
        self
    }

    fn armed_log(&self) -> Option<MutexGuard<'_, Vec<ArmedSpan>>> {
        self.armed_log
            .as_ref()
            .map(|log| log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tables whose writes are counted.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Resets the count and applies `fault` to the `k`-th write from now (1-based).
    /// Refuses with [`FaultError::Bypassed`] when the triggers are no longer what the
    /// harness installed (a restart may have dropped them), since the fault could not
    /// fire.
    pub fn arm(&self, k: u64, fault: WriteFault) -> Result<(), FaultError> {
        if let Some(mut log) = self.armed_log() {
            log.push((std::time::Instant::now(), None));
        }
        self.start(k, fault.mode())?;
        self.recorder
            .note(|| format!("armed: row write {k} from now will {}", fault.mode()));
        Ok(())
    }

    /// Resets the count and counts writes without failing any (verified like [`arm`]).
    ///
    /// [`arm`]: WriteFaults::arm
    pub fn count_only(&self) -> Result<(), FaultError> {
        self.start(0, WriteFault::Abort.mode())
    }

    /// Checks the machinery, arms, and snapshots the service's tables, all in one write
    /// transaction so that no service write falls between the snapshot and the arming.
    fn start(&self, k: u64, mode: &'static str) -> Result<(), FaultError> {
        let mut inner = self.inner();
        let Inner { conn, armed } = &mut *inner;
        *armed = None;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let reasons = tampered(&tx, &self.triggers, &self.tables)?;
        if !reasons.is_empty() {
            return Err(FaultError::Bypassed(Bypass { reasons }));
        }
        tx.execute(
            "UPDATE harness_write_faults SET armed = 1, mode = ?1, k = ?2, seen = 0",
            params![mode, k as i64],
        )?;
        let before = snapshot(&tx)?;
        tx.commit()?;
        *armed = Some(Armed { k, mode, before });
        Ok(())
    }

    /// The committed writes counted since the last [`arm`](WriteFaults::arm) or
    /// [`count_only`](WriteFaults::count_only), once verified: the triggers and the
    /// harness's tables are intact and the count covers every row the service's tables
    /// gained. Otherwise [`FaultError::Bypassed`] with what was found.
    pub fn tally(&self) -> Result<Tally, FaultError> {
        let mut inner = self.inner();
        let Inner { conn, armed } = &mut *inner;
        let Some(armed) = armed.as_ref() else {
            return Err(FaultError::NotArmed);
        };
        // One read transaction: the count and the rows it must cover are one snapshot.
        let tx = conn.transaction()?;
        let mut reasons = tampered(&tx, &self.triggers, &self.tables)?;
        let control = if table_exists(&tx, "harness_write_faults")? {
            Some(control_rows(&tx)?)
        } else {
            None // already a reason
        };
        let after = snapshot(&tx)?;
        tx.commit()?;
        let counted = match control.as_deref() {
            Some([(1, mode, k, seen)]) if mode == armed.mode && *k == armed.k as i64 => {
                (*seen).max(0) as u64
            }
            Some(_) => {
                reasons.push(
                    "the harness's control row (harness_write_faults) was changed by someone other than the harness"
                        .to_owned(),
                );
                0
            }
            None => 0,
        };
        if armed.k > 0 && counted >= armed.k {
            reasons.push(format!(
                "the triggers' count reached {counted} although write {} fails or freezes: someone else wrote the harness's counter",
                armed.k
            ));
        }
        let added = added_rows(&armed.before, &after);
        let changed: u64 = added.values().sum();
        if changed > counted {
            reasons.push(uncounted(&added, changed, counted, &self.tables));
        }
        if reasons.is_empty() {
            Ok(Tally { counted, changed })
        } else {
            Err(FaultError::Bypassed(Bypass { reasons }))
        }
    }

    /// Stops counting and failing.
    pub fn disarm(&self) -> rusqlite::Result<()> {
        let mut inner = self.inner();
        inner.armed = None;
        inner
            .conn
            .execute("UPDATE harness_write_faults SET armed = 0, seen = 0", [])?;
        if let Some(mut log) = self.armed_log() {
            let now = std::time::Instant::now();
            for (_, until) in log.iter_mut().filter(|(_, until)| until.is_none()) {
                *until = Some(now);
            }
        }
        Ok(())
    }

    /// True when some connection holds the database's write lock right now.
    pub fn write_lock_held(&self) -> rusqlite::Result<bool> {
        let probe = open(&self.path)?;
        probe.busy_timeout(Duration::ZERO)?;
        match probe.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
            Ok(()) => Ok(false),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Waits until the write lock has been held continuously for `held_for` (a writer
    /// is frozen at a stalled write); false if `timeout` passes first or `done()` turns
    /// true (the request finished without reaching the stall).
    pub async fn wait_for_stall(
        &self,
        held_for: Duration,
        timeout: Duration,
        mut done: impl FnMut() -> bool,
    ) -> rusqlite::Result<bool> {
        const POLL: Duration = Duration::from_millis(10);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut held_since: Option<tokio::time::Instant> = None;
        while tokio::time::Instant::now() < deadline {
            if done() {
                return Ok(false);
            }
            let now = tokio::time::Instant::now();
            if self.write_lock_held()? {
                let since = *held_since.get_or_insert(now);
                if now - since >= held_for {
                    return Ok(true);
                }
            } else {
                held_since = None;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(false)
    }
}

fn open(db: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The ordinary tables that belong to the service (not SQLite's, not the harness's).
fn service_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT name FROM sqlite_schema
          WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
            AND name NOT LIKE 'harness\\_%' ESCAPE '\\'
            AND sql NOT LIKE 'CREATE VIRTUAL%'
          ORDER BY name",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// Every trigger in the schema, by name, with its SQL.
fn schema_triggers(conn: &Connection) -> rusqlite::Result<BTreeMap<String, String>> {
    conn.prepare("SELECT name, coalesce(sql, '') FROM sqlite_schema WHERE type = 'trigger'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// `(armed, mode, k, seen)` of every row of the control table.
fn control_rows(conn: &Connection) -> rusqlite::Result<Vec<(i64, String, i64, i64)>> {
    conn.prepare("SELECT armed, mode, k, seen FROM harness_write_faults")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect()
}

/// How the machinery differs from what the harness installed: triggers dropped or
/// replaced, the control table gone, the stall table changed. Empty when intact.
fn tampered(
    conn: &Connection,
    installed: &BTreeMap<String, String>,
    tables: &[String],
) -> rusqlite::Result<Vec<String>> {
    let present = schema_triggers(conn)?;
    let mut reasons = Vec::new();
    let dropped: Vec<&str> = installed
        .keys()
        .filter(|n| !present.contains_key(*n))
        .map(String::as_str)
        .collect();
    let replaced: Vec<&str> = installed
        .iter()
        .filter(|(n, sql)| present.get(*n).is_some_and(|p| p != *sql))
        .map(|(n, _)| n.as_str())
        .collect();
    if !dropped.is_empty() {
        reasons.push(format!(
            "{} of the harness's {} triggers were dropped ({}; on {}), so no fault could fire on those tables",
            dropped.len(),
            installed.len(),
            list(&dropped),
            tables_of(&dropped, tables).join(", ")
        ));
    }
    if !replaced.is_empty() {
        reasons.push(format!(
            "{} of the harness's triggers were replaced by others of the same name ({})",
            replaced.len(),
            list(&replaced)
        ));
    }
    if !table_exists(conn, "harness_write_faults")? {
        reasons.push("the harness's control table harness_write_faults was dropped".to_owned());
    }
    let stall_rows = if table_exists(conn, "harness_stall")? {
        conn.query_row(
            "SELECT count(*) = ?1 AND min(n) = 1 AND max(n) = ?1 FROM harness_stall",
            [STALL_ROWS],
            |r| r.get::<_, bool>(0),
        )?
    } else {
        false
    };
    if !stall_rows {
        reasons.push(
            "the harness's table harness_stall was emptied or dropped, so a frozen write would not freeze"
                .to_owned(),
        );
    }
    Ok(reasons)
}

/// True when the schema holds an ordinary table of this name.
fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

/// The tables the named triggers (`harness_wf_{index}_{op}`) were installed on.
fn tables_of<'a>(names: &[&str], tables: &'a [String]) -> Vec<&'a str> {
    let mut on: Vec<&str> = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("harness_wf_")?
                .split('_')
                .next()?
                .parse()
                .ok()
        })
        .filter_map(|i: usize| tables.get(i).map(String::as_str))
        .collect();
    on.sort_unstable();
    on.dedup();
    on
}

/// Names, the first few spelt out.
fn list(names: &[&str]) -> String {
    let mut shown = names
        .iter()
        .take(NAMES_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        let _ = write!(shown, " and {} more", names.len() - NAMES_SHOWN);
    }
    shown
}

/// The reason for a count that misses changes, table by table.
fn uncounted(
    added: &BTreeMap<String, u64>,
    changed: u64,
    counted: u64,
    covered: &[String],
) -> String {
    let tables: Vec<String> = added
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| {
            if covered.contains(t) {
                format!("{t} {n}")
            } else {
                format!("{t} {n}, a table created after the triggers were installed")
            }
        })
        .collect();
    format!(
        "the service's tables gained {changed} row version(s) ({}) while the triggers counted {counted} write(s): writes bypassed the triggers (switched off on the service's connections, or made where they are not installed)",
        tables.join("; ")
    )
}

/// The service's tables, each as a multiset of whole-row values (rowid left out, so a
/// `VACUUM` that renumbers rows adds nothing).
fn snapshot(conn: &Connection) -> rusqlite::Result<Rows> {
    let mut rows = Rows::new();
    for table in service_tables(conn)? {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {}", quote(&table)))?;
        let width = stmt.column_count();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut it = stmt.query([])?;
        while let Some(row) = it.next()? {
            *counts.entry(encode(row, width)?).or_default() += 1;
        }
        rows.insert(table, counts);
    }
    Ok(rows)
}

/// One row's values, typed and length-prefixed so distinct rows never collide.
fn encode(row: &rusqlite::Row<'_>, width: usize) -> rusqlite::Result<String> {
    let mut out = String::new();
    for i in 0..width {
        let _ = match row.get_ref(i)? {
            ValueRef::Null => write!(out, "N;"),
            ValueRef::Integer(v) => write!(out, "I{v};"),
            ValueRef::Real(v) => write!(out, "R{};", v.to_bits()),
            ValueRef::Text(t) => write!(out, "T{}:{};", t.len(), String::from_utf8_lossy(t)),
            ValueRef::Blob(b) => {
                let _ = write!(out, "B{}:", b.len());
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
                write!(out, ";")
            }
        };
    }
    Ok(out)
}

/// Row versions present in `after` beyond those in `before`, per table (tables with
/// none left out).
fn added_rows(before: &Rows, after: &Rows) -> BTreeMap<String, u64> {
    let empty = HashMap::new();
    after
        .iter()
        .map(|(table, rows)| {
            let was = before.get(table).unwrap_or(&empty);
            let n = rows
                .iter()
                .map(|(row, n)| n.saturating_sub(was.get(row).copied().unwrap_or(0)))
                .sum();
            (table.clone(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Holds the database's write lock from a harness connection until released, then
/// commits a write so that stale read snapshots cannot be upgraded.
pub struct LockHolder {
    conn: rusqlite::Connection,
    /// Where the hold is noted, for the judges that excuse a write refused meanwhile.
    noted_on: Option<crate::checks::Timeline>,
}

impl LockHolder {
    /// Takes the write lock, waiting up to `wait`; `None` when someone else kept it.
    ///
    /// The wait is SQLite's busy handler sleeping on this thread, so it runs on the
    /// blocking pool: on a runtime worker it would stall every task queued behind it
    /// (another check's client, the fake whose release the service is waiting for)
    /// and turn the harness's own lateness into the service's timeout.
    pub async fn take(
        db: &std::path::Path,
        wait: Duration,
    ) -> rusqlite::Result<Option<LockHolder>> {
        let db = db.to_path_buf();
        match tokio::task::spawn_blocking(move || LockHolder::take_now(&db, wait)).await {
            Ok(taken) => taken,
            // The closure only calls SQLite; a panic there is a harness bug to surface.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// [`LockHolder::take`] on the calling thread.
    fn take_now(db: &std::path::Path, wait: Duration) -> rusqlite::Result<Option<LockHolder>> {
        let conn = rusqlite::Connection::open(db)?;
        conn.busy_timeout(wait)?;
        let taken = conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS harness_lock_marks (at TEXT NOT NULL);
             INSERT INTO harness_lock_marks VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",
        );
        match taken {
            Ok(()) => Ok(Some(LockHolder {
                conn,
                noted_on: None,
            })),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Notes the hold on `timeline` from now until it is released
    /// ([`crate::checks::Timeline::locks`]).
    pub fn noted_on(mut self, timeline: &crate::checks::Timeline) -> LockHolder {
        timeline.locked(std::time::Instant::now());
        self.noted_on = Some(timeline.clone());
        self
    }

    /// Runs one write inside the held transaction (as the other process would), to
    /// land when the lock is released. Blocking, but a held lock never waits.
    pub fn execute(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.execute(sql, params)
    }

    /// Commits the harness's mark and lets go of the lock.
    pub fn release(self) -> rusqlite::Result<()> {
        let released = self.conn.execute_batch("COMMIT");
        if let Some(timeline) = &self.noted_on {
            timeline.unlocked();
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::config::DbConfig;

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE \"we\"\"ird\" (v INTEGER);")
            .unwrap();
        (dir, path)
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM \"we\"\"ird\"", [], |r| r.get(0))
            .unwrap()
    }

    fn tally(faults: &WriteFaults) -> (u64, u64) {
        let t = faults.tally().unwrap();
        (t.counted, t.changed)
    }

    fn bypass(faults: &WriteFaults) -> String {
        match faults.tally() {
            Err(FaultError::Bypassed(b)) => b.to_string(),
            other => panic!("expected a bypass, got {other:?}"),
        }
    }

    #[test]
    fn aborts_exactly_the_armed_write_and_rolls_back_with_the_writer() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        assert_eq!(faults.tables(), ["we\"ird"]);
        let conn = Connection::open(&path).unwrap();
        let insert = "INSERT INTO \"we\"\"ird\" VALUES (1)";

        faults.arm(2, WriteFault::Abort).unwrap();
        conn.execute(insert, []).unwrap();
        let err = conn.execute(insert, []).unwrap_err();
        assert!(err.to_string().contains(ABORT_MESSAGE), "{err}");
        assert_eq!(count(&conn), 1);
        assert_eq!(tally(&faults), (1, 1));

        // Inside a transaction the count rolls back too: the retry fails again.
        faults.arm(2, WriteFault::Abort).unwrap();
        for _ in 0..2 {
            conn.execute_batch("BEGIN").unwrap();
            conn.execute(insert, []).unwrap();
            assert!(conn.execute(insert, []).is_err());
            conn.execute_batch("ROLLBACK").unwrap();
        }
        assert_eq!(count(&conn), 1);
        assert_eq!(tally(&faults), (0, 0));

        faults.count_only().unwrap();
        conn.execute(insert, []).unwrap();
        conn.execute("UPDATE \"we\"\"ird\" SET v = 2", []).unwrap();
        // One insert and two row updates; the table gained two rows of value 2.
        assert_eq!(tally(&faults), (3, 2));
        faults.disarm().unwrap();
        conn.execute(insert, []).unwrap();
        assert!(matches!(faults.tally(), Err(FaultError::NotArmed)));
    }

    #[test]
    fn writes_on_a_connection_with_triggers_switched_off_are_a_bypass() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        let on = Connection::open(&path).unwrap();
        let off = Connection::open(&path).unwrap();
        off.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
            .unwrap();

        // Armed at the first write, yet nothing fails: the fault never fires.
        faults.arm(1, WriteFault::Abort).unwrap();
        off.execute("INSERT INTO \"we\"\"ird\" VALUES (1)", [])
            .unwrap();
        let why = bypass(&faults);
        assert!(
            why.starts_with("the injected write fault never fired"),
            "{why}"
        );
        assert!(
            why.contains("gained 1 row version(s) (we\"ird 1) while the triggers counted 0"),
            "{why}"
        );

        // Some writes counted, one not: still caught.
        faults.count_only().unwrap();
        on.execute("INSERT INTO \"we\"\"ird\" VALUES (2)", [])
            .unwrap();
        off.execute("UPDATE \"we\"\"ird\" SET v = 3 WHERE v = 1", [])
            .unwrap();
        assert!(bypass(&faults).contains("gained 2 row version(s)"));
    }

    #[test]
    fn dropped_triggers_are_a_bypass_and_arming_refuses() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        faults.count_only().unwrap();
        // "Schema hygiene": drop every trigger the service did not create.
        let service = Connection::open(&path).unwrap();
        let names: Vec<String> = service
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for name in names {
            service
                .execute_batch(&format!("DROP TRIGGER {}", quote(&name)))
                .unwrap();
        }
        service
            .execute("INSERT INTO \"we\"\"ird\" VALUES (1)", [])
            .unwrap();
        let why = bypass(&faults);
        assert!(
            why.contains("3 of the harness's 3 triggers were dropped (harness_wf_0_DELETE, harness_wf_0_INSERT, harness_wf_0_UPDATE; on we\"ird), so no fault could fire"),
            "{why}"
        );
        assert!(why.contains("counted 0 write(s)"), "{why}");
        match faults.arm(1, WriteFault::Stall) {
            Err(FaultError::Bypassed(b)) => assert!(b.to_string().contains("dropped")),
            other => panic!("arming must refuse, got {other:?}"),
        }
    }

    #[test]
    fn a_recreated_table_or_a_replaced_trigger_is_a_bypass() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        let service = Connection::open(&path).unwrap();
        faults.count_only().unwrap();
        service
            .execute_batch(
                "CREATE TABLE fresh (v INTEGER);
                 DROP TABLE \"we\"\"ird\";
                 ALTER TABLE fresh RENAME TO \"we\"\"ird\";",
            )
            .unwrap();
        assert!(bypass(&faults).contains("3 of the harness's 3 triggers were dropped"));

        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        let service = Connection::open(&path).unwrap();
        faults.arm(1, WriteFault::Abort).unwrap();
        service
            .execute_batch(
                "DROP TRIGGER harness_wf_0_INSERT;
                 CREATE TRIGGER harness_wf_0_INSERT BEFORE INSERT ON \"we\"\"ird\" BEGIN
                   UPDATE harness_write_faults SET seen = seen + 1 WHERE armed = 1;
                 END;",
            )
            .unwrap();
        let why = bypass(&faults);
        assert!(
            why.contains("1 of the harness's triggers were replaced by others of the same name (harness_wf_0_INSERT)"),
            "{why}"
        );
    }

    #[test]
    fn tampering_with_the_harness_tables_is_a_bypass() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        let service = Connection::open(&path).unwrap();
        faults.arm(1, WriteFault::Abort).unwrap();
        service
            .execute_batch(
                "UPDATE harness_write_faults SET armed = 0;
                 INSERT INTO \"we\"\"ird\" VALUES (1);",
            )
            .unwrap();
        assert!(bypass(&faults).contains("control row (harness_write_faults) was changed"));

        faults.arm(1, WriteFault::Stall).unwrap();
        service.execute_batch("DELETE FROM harness_stall").unwrap();
        assert!(bypass(&faults).contains("harness_stall was emptied"));
        assert!(faults.arm(1, WriteFault::Stall).is_err());

        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        let service = Connection::open(&path).unwrap();
        faults.arm(1, WriteFault::Abort).unwrap();
        service
            .execute_batch("DROP TABLE harness_write_faults")
            .unwrap();
        let why = bypass(&faults);
        assert!(why.contains("harness_write_faults was dropped"), "{why}");
    }

    #[test]
    fn the_count_covers_cascades_upserts_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let service = Connection::open(&path).unwrap();
        service
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
                 CREATE TABLE parent (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE child (
                     parent TEXT REFERENCES parent (id) ON UPDATE CASCADE ON DELETE SET NULL,
                     tag TEXT UNIQUE);
                 INSERT INTO parent (id) VALUES ('a');
                 INSERT INTO child VALUES ('a', 'x'), ('a', 'y');",
            )
            .unwrap();
        let faults = WriteFaults::install(&path).unwrap();
        faults.count_only().unwrap();
        service
            .execute_batch(
                "UPDATE parent SET id = 'b';
                 INSERT INTO parent (id) VALUES ('b') ON CONFLICT (id) DO UPDATE SET n = n + 1;
                 INSERT OR REPLACE INTO child VALUES ('b', 'x');
                 DELETE FROM parent;
                 VACUUM;",
            )
            .unwrap();
        let t = faults.tally().unwrap();
        assert!(t.counted >= t.changed, "{t:?}");
        // The parent is gone; both children were rewritten (parent set to NULL).
        assert_eq!(t.changed, 2, "{t:?}");
    }

    #[test]
    fn added_rows_count_new_versions_not_removals() {
        let rows = |list: &[(&str, &[&str])]| -> Rows {
            list.iter()
                .map(|(t, rs)| {
                    let mut m = HashMap::new();
                    for r in *rs {
                        *m.entry((*r).to_owned()).or_default() += 1;
                    }
                    ((*t).to_owned(), m)
                })
                .collect()
        };
        let before = rows(&[("a", &["1", "2", "2"]), ("b", &["x"])]);
        let after = rows(&[("a", &["1", "2", "2", "2", "3"]), ("c", &["y"])]);
        let added = added_rows(&before, &after);
        assert_eq!(
            added.into_iter().collect::<Vec<_>>(),
            [("a".to_owned(), 2), ("c".to_owned(), 1)]
        );
    }

    #[tokio::test]
    async fn a_stalled_writer_holds_the_write_lock_until_interrupted() {
        let (_dir, path) = fixture();
        let faults = WriteFaults::install(&path).unwrap();
        faults.arm(1, WriteFault::Stall).unwrap();
        assert!(!faults.write_lock_held().unwrap());
        let conn = Connection::open(&path).unwrap();
        let interrupt = conn.get_interrupt_handle();
        let writer = std::thread::spawn(move || {
            conn.execute("INSERT INTO \"we\"\"ird\" VALUES (1)", [])
                .map(|_| ())
        });
        let stalled = faults
            .wait_for_stall(Duration::from_millis(200), Duration::from_secs(10), || {
                false
            })
            .await
            .unwrap();
        interrupt.interrupt();
        assert!(stalled);
        assert!(writer.join().unwrap().is_err());
        assert!(!faults.write_lock_held().unwrap());
    }
}
