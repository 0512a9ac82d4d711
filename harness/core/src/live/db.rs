//! Database faults a live session sets on the service's own SQLite file: the write
//! faults the graders use, and another process holding the write lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::fakes::{WriteFault, WriteFaults};

/// The session's database and the write faults armed on it, if any.
pub struct DbFaults {
    db: PathBuf,
    armed: Mutex<Option<WriteFaults>>,
}

impl DbFaults {
    /// Faults for the database at `db` (installed on first use: the service creates it).
    pub fn new(db: &Path) -> DbFaults {
        DbFaults {
            db: db.to_path_buf(),
            armed: Mutex::new(None),
        }
    }

    /// From the next request on, the second row write fails, and those after it.
    pub fn fail_from_second_write(&self) -> Result<(), String> {
        let faults = WriteFaults::install(&self.db).map_err(|e| e.to_string())?;
        faults
            .arm(2, WriteFault::Abort)
            .map_err(|e| e.to_string())?;
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) = Some(faults);
        Ok(())
    }

    /// No write faults.
    pub fn heal(&self) -> Result<(), String> {
        if let Some(f) = self
            .armed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            f.disarm().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Another process takes the write lock and holds it for `hold`, in the background.
    #[cfg_attr(not(feature = "transfer"), allow(dead_code))]
    pub fn hold_write_lock(&self, hold: Duration) {
        let db = self.db.clone();
        std::thread::spawn(move || {
            if let Ok(conn) = rusqlite::Connection::open(&db) {
                let _ = conn.busy_timeout(hold + Duration::from_secs(2));
                if conn.execute_batch("BEGIN IMMEDIATE").is_ok() {
                    std::thread::sleep(hold);
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        });
    }
}
