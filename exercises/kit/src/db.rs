//! The SQLite handle exercises use.
//!
//! A small pool of connections. [`Db::call`] runs a closure on a blocking thread with a
//! pooled connection. Statement accounting does not depend on it: every connection in
//! the process, pooled or not, is traced by [`crate::hook`] from the moment it opens.
//! Migrations are numbered by their position and applied under `BEGIN IMMEDIATE`
//! against `PRAGMA user_version`, so they are idempotent and safe when a service is
//! restarted after SIGKILL or two instances start on one file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

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

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
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
        crate::hook::ensure_started();
        let db = Db {
            inner: Arc::new(Inner {
                path: path.as_ref().to_path_buf(),
                busy_timeout,
                idle: Mutex::new(Vec::new()),
            }),
        };
        let mut first = db.connect()?;
        migrate(&mut first, migrations)?;
        db.give_back(first);
        Ok(db)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    ///
    /// Statements `f` executes are counted against the HTTP request in flight (see
    /// [`crate::accounting`]), as are statements on any other connection.
    pub async fn call<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = match db.take() {
                Ok(c) => c,
                Err(e) => return Err(E::from(e)),
            };
            let result = f(&mut conn);
            // A connection left inside a transaction (an early return) is not reused.
            if conn.is_autocommit() {
                db.give_back(conn);
            }
            result
        })
        .await;
        joined.unwrap_or_else(|_| Err(E::from(DbError::Panicked)))
    }

    fn take(&self) -> Result<Connection, DbError> {
        let reused = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match reused {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// A new connection (traced by the kit's auto-extension as it opens), configured.
    /// The configuring pragmas are the kit's overhead and not counted.
    fn connect(&self) -> Result<Connection, DbError> {
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        let _internal = crate::hook::Internal::begin();
        conn.busy_timeout(self.inner.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }
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
}
