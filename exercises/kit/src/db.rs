//! The SQLite handle exercises use.
//!
//! A small pool of connections, each with a `sqlite3_trace_v2` statement callback that
//! feeds [`crate::accounting`]. [`Db::call`] runs a closure on a blocking thread with a
//! pooled connection and attributes its statements to the HTTP request being served.
//! Migrations are numbered by their position and applied under `BEGIN IMMEDIATE`
//! against `PRAGMA user_version`, so they are idempotent and safe when a service is
//! restarted after SIGKILL or two instances start on one file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, OpenFlags, StatementStatus, TransactionBehavior};

use crate::accounting::{RequestStats, StatementRecord};

/// How long a connection waits on a locked database before `SQLITE_BUSY`, unless the
/// service is started with another `--busy-timeout-ms`.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors from opening, migrating or using the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed; the database was left at the previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// 1-based number of the failing migration.
        version: usize,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database file is newer than this binary's migrations.
    #[error("database is at schema version {found}, this binary knows only {known}")]
    TooNew {
        /// `user_version` found in the file.
        found: usize,
        /// Number of migrations compiled in.
        known: usize,
    },
    /// The closure passed to [`Db::call`] panicked.
    #[error("database task panicked")]
    Panicked,
}

/// What a pooled connection's trace callbacks need: the request its statements belong
/// to, and the status counters of statements that started but have not finished.
#[derive(Default)]
struct TraceState {
    request: Option<Arc<RequestStats>>,
    running: HashMap<String, (i64, i64)>,
}

type CounterSlot = Arc<Mutex<TraceState>>;

struct Pooled {
    conn: Connection,
    slot: CounterSlot,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Pooled>>,
}

/// A cloneable handle to the service's SQLite database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies `migrations`.
    ///
    /// Migration *n* (1-based) runs once, when the file's `user_version` is below *n*.
    pub fn open(path: impl AsRef<Path>, migrations: &[&str]) -> Result<Db, DbError> {
        Db::open_with_busy_timeout(path, migrations, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`Db::open`], with connections that wait `busy_timeout` on a locked database
    /// before failing with `SQLITE_BUSY`.
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        migrations: &[&str],
        busy_timeout: Duration,
    ) -> Result<Db, DbError> {
        let db = Db {
            inner: Arc::new(Inner {
                path: path.as_ref().to_path_buf(),
                busy_timeout,
                idle: Mutex::new(Vec::new()),
            }),
        };
        let mut first = db.connect()?;
        migrate(&mut first.conn, migrations)?;
        db.give_back(first);
        Ok(db)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    ///
    /// Statements `f` executes are counted against the HTTP request the caller serves.
    pub async fn call<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let counter = crate::accounting::current();
        let db = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut pooled = match db.take() {
                Ok(p) => p,
                Err(e) => return Err(E::from(e)),
            };
            set_slot(&pooled.slot, counter);
            let result = f(&mut pooled.conn);
            set_slot(&pooled.slot, None);
            // A connection left inside a transaction (an early return) is not reused.
            if pooled.conn.is_autocommit() {
                db.give_back(pooled);
            }
            result
        })
        .await;
        joined.unwrap_or_else(|_| Err(E::from(DbError::Panicked)))
    }

    fn take(&self) -> Result<Pooled, DbError> {
        let reused = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match reused {
            Some(p) => Ok(p),
            None => self.connect(),
        }
    }

    fn give_back(&self, pooled: Pooled) {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pooled);
    }

    fn connect(&self) -> Result<Pooled, DbError> {
        let mut conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(self.inner.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let slot: CounterSlot = Arc::new(Mutex::new(TraceState::default()));
        let traced = Arc::clone(&slot);
        conn.trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT | TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(move |event: TraceEvent<'_>| {
                let mut state = traced.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(request) = state.request.clone() else {
                    return;
                };
                match event {
                    // Trigger subprograms are reported with a `-- TRIGGER` pseudo-statement;
                    // they are part of the statement that fired them, not new statements.
                    TraceEvent::Stmt(stmt, sql) if !sql.trim_start().starts_with("--") => {
                        request.started();
                        // Counters are cumulative over a cached statement's life: remember
                        // where they stood so the finish can take the difference.
                        state.running.insert(sql.to_owned(), counters(&stmt));
                    }
                    TraceEvent::Profile(stmt, _) => {
                        let sql = stmt.sql().into_owned();
                        let (scan0, vm0) = state.running.remove(&sql).unwrap_or((0, 0));
                        let (scan1, vm1) = counters(&stmt);
                        request.finished(StatementRecord {
                            sql,
                            fullscan_steps: scan1 - scan0,
                            vm_steps: vm1 - vm0,
                        });
                    }
                    _ => {}
                }
            }),
        )?;
        Ok(Pooled { conn, slot })
    }
}

fn set_slot(slot: &CounterSlot, request: Option<Arc<RequestStats>>) {
    let mut state = slot.lock().unwrap_or_else(PoisonError::into_inner);
    state.request = request;
    state.running.clear();
}

fn counters(stmt: &rusqlite::trace::StmtRef<'_>) -> (i64, i64) {
    (
        i64::from(stmt.get_status(StatementStatus::FullscanStep)),
        i64::from(stmt.get_status(StatementStatus::VmStep)),
    )
}

/// Applies the migrations the file has not seen yet, each in its own IMMEDIATE
/// transaction so concurrent starters serialise instead of racing.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), DbError> {
    for (index, sql) in migrations.iter().enumerate() {
        let version = index + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let current = usize::try_from(current).unwrap_or(usize::MAX);
        if current > migrations.len() {
            return Err(DbError::TooNew {
                found: current,
                known: migrations.len(),
            });
        }
        if current >= version {
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|source| DbError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[&str] = &[
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        "ALTER TABLE t ADD COLUMN w INTEGER NOT NULL DEFAULT 0;",
    ];

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let _ = Db::open(&path, &MIGRATIONS[..1]).unwrap();
        let _ = Db::open(&path, MIGRATIONS).unwrap();
        let _ = Db::open(&path, MIGRATIONS).unwrap();
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
        conn.execute("INSERT INTO t (v, w) VALUES ('a', 1)", [])
            .unwrap();
        let err = Db::open(&path, &MIGRATIONS[..1]).err().unwrap();
        assert!(matches!(err, DbError::TooNew { found: 2, known: 1 }));
    }

    #[tokio::test]
    async fn statements_are_counted_per_request_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("c.db"), MIGRATIONS).unwrap();
        let counter = Arc::new(RequestStats::default());
        let db2 = db.clone();
        crate::accounting::count_scope(Arc::clone(&counter), async move {
            for _ in 0..2 {
                db2.call(|c| {
                    c.execute("INSERT INTO t (v) VALUES ('x')", [])?;
                    c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?;
                    Ok::<_, DbError>(())
                })
                .await
                .unwrap();
            }
        })
        .await;
        assert_eq!(counter.statements(), 4);
        // Outside a request nothing is attributed.
        db.call(|c| c.execute("DELETE FROM t", []).map_err(DbError::from))
            .await
            .unwrap();
        assert_eq!(counter.statements(), 4);
    }

    #[tokio::test]
    async fn trigger_subprograms_are_not_counted_as_statements() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path().join("t.db"),
            &["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
                 CREATE TABLE audit (v TEXT NOT NULL);
                 CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN
                     INSERT INTO audit (v) VALUES (NEW.v);
                 END;"],
        )
        .unwrap();
        let counter = Arc::new(RequestStats::default());
        let db2 = db.clone();
        crate::accounting::count_scope(Arc::clone(&counter), async move {
            db2.call(|c| {
                c.execute("INSERT INTO t (v) VALUES ('x')", [])
                    .map_err(DbError::from)
            })
            .await
            .unwrap();
        })
        .await;
        assert_eq!(counter.statements(), 1);
    }

    #[tokio::test]
    async fn full_scans_are_measured_per_statement_and_indexes_remove_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("s.db"), MIGRATIONS).unwrap();
        db.call(|c| {
            let tx = c.transaction()?;
            for n in 0..500 {
                tx.execute(
                    "INSERT INTO t (v, w) VALUES (?1, ?2)",
                    (format!("v{n}"), n % 7),
                )?;
            }
            tx.commit()?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        let lookup = |db: Db| async move {
            let stats = Arc::new(RequestStats::default());
            crate::accounting::count_scope(Arc::clone(&stats), async move {
                // A cached statement run twice: counters are per execution, not cumulative.
                for _ in 0..2 {
                    db.call(|c| {
                        let mut s = c.prepare_cached("SELECT count(*) FROM t WHERE w = ?1")?;
                        s.query_row([3], |r| r.get::<_, i64>(0))?;
                        Ok::<_, DbError>(())
                    })
                    .await
                    .unwrap();
                }
            })
            .await;
            stats.detail()
        };
        let scanned = lookup(db.clone()).await;
        assert_eq!(scanned.len(), 2);
        assert!(scanned.iter().all(|s| s.sql.contains("WHERE w")));
        assert!(
            scanned.iter().all(|s| s.fullscan_steps >= 499),
            "{scanned:?}"
        );
        assert_eq!(scanned[0].fullscan_steps, scanned[1].fullscan_steps);
        db.call(|c| {
            c.execute("CREATE INDEX t_w ON t (w)", [])
                .map_err(DbError::from)
        })
        .await
        .unwrap();
        let indexed = lookup(db).await;
        assert!(indexed.iter().all(|s| s.fullscan_steps == 0), "{indexed:?}");
    }
}
