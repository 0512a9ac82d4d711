//! Write faults injected into a service's own SQLite file: abort, or stall, its k-th
//! write.
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

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

/// What happens at the armed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The write fails with `SQLITE_CONSTRAINT` ("harness: injected write failure").
    Abort,
    /// The write never finishes; the writer holds the database's write lock until killed.
    Stall,
}

/// Rows in the table the stall cross-joins four times: 1000⁴ steps never finish.
const STALL_ROWS: i64 = 1000;

/// The message an aborted write fails with.
pub const ABORT_MESSAGE: &str = "harness: injected write failure";

/// Counting triggers installed in one database file.
pub struct WriteFaults {
    path: PathBuf,
    /// Behind a mutex so checks can hold a `&WriteFaults` across awaits.
    conn: Mutex<Connection>,
    tables: Vec<String>,
}

impl WriteFaults {
    /// Installs the counting triggers on every ordinary table of the database at `db`
    /// (run after the service has migrated it). Nothing is armed yet.
    pub fn install(db: &Path) -> rusqlite::Result<WriteFaults> {
        let conn = open(db)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema
                  WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                    AND name NOT LIKE 'harness\\_%' ESCAPE '\\'
                    AND sql NOT LIKE 'CREATE VIRTUAL%'
                  ORDER BY name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
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
        for (i, table) in tables.iter().enumerate() {
            for op in ["INSERT", "UPDATE", "DELETE"] {
                ddl.push_str(&format!(
                    "DROP TRIGGER IF EXISTS harness_wf_{i}_{op};
                     CREATE TRIGGER harness_wf_{i}_{op} BEFORE {op} ON {table} BEGIN
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
            }
        }
        ddl.push_str("COMMIT;");
        conn.execute_batch(&ddl)?;
        Ok(WriteFaults {
            path: db.to_path_buf(),
            conn: Mutex::new(conn),
            tables,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tables whose writes are counted.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Resets the count and applies `fault` to the `k`-th write from now (1-based).
    pub fn arm(&self, k: u64, fault: WriteFault) -> rusqlite::Result<()> {
        let mode = match fault {
            WriteFault::Abort => "abort",
            WriteFault::Stall => "stall",
        };
        self.conn().execute(
            "UPDATE harness_write_faults SET armed = 1, mode = ?1, k = ?2, seen = 0",
            params![mode, k as i64],
        )?;
        Ok(())
    }

    /// Resets the count and counts writes without failing any.
    pub fn count_only(&self) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE harness_write_faults SET armed = 1, mode = 'abort', k = 0, seen = 0",
            [],
        )?;
        Ok(())
    }

    /// Stops counting and failing.
    pub fn disarm(&self) -> rusqlite::Result<()> {
        self.conn()
            .execute("UPDATE harness_write_faults SET armed = 0, seen = 0", [])?;
        Ok(())
    }

    /// Committed writes counted since the last `arm`/`count_only`.
    pub fn writes(&self) -> rusqlite::Result<u64> {
        self.conn()
            .query_row("SELECT seen FROM harness_write_faults", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
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

/// Holds the database's write lock from a harness connection until released, then
/// commits a write so that stale read snapshots cannot be upgraded.
pub struct LockHolder {
    conn: rusqlite::Connection,
}

impl LockHolder {
    /// Takes the write lock, waiting up to `wait`; `None` when someone else kept it.
    pub fn take(db: &std::path::Path, wait: Duration) -> rusqlite::Result<Option<LockHolder>> {
        let conn = rusqlite::Connection::open(db)?;
        conn.busy_timeout(wait)?;
        let taken = conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS harness_lock_marks (at TEXT NOT NULL);
             INSERT INTO harness_lock_marks VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",
        );
        match taken {
            Ok(()) => Ok(Some(LockHolder { conn })),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Commits the harness's mark and lets go of the lock.
    pub fn release(self) -> rusqlite::Result<()> {
        self.conn.execute_batch("COMMIT")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((count(&conn), faults.writes().unwrap()), (1, 1));

        // Inside a transaction the count rolls back too: the retry fails again.
        faults.arm(2, WriteFault::Abort).unwrap();
        for _ in 0..2 {
            conn.execute_batch("BEGIN").unwrap();
            conn.execute(insert, []).unwrap();
            assert!(conn.execute(insert, []).is_err());
            conn.execute_batch("ROLLBACK").unwrap();
        }
        assert_eq!((count(&conn), faults.writes().unwrap()), (1, 0));

        faults.count_only().unwrap();
        conn.execute(insert, []).unwrap();
        conn.execute("UPDATE \"we\"\"ird\" SET v = 2", []).unwrap();
        assert_eq!(faults.writes().unwrap(), 3);
        faults.disarm().unwrap();
        conn.execute(insert, []).unwrap();
        assert_eq!(faults.writes().unwrap(), 0);
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
