//! Replacing or clearing the trace hook (the safe `Connection::trace_v2`) on the
//! connection `Db::call` hands out, or on one a handler opened itself, is noticed.
//! Tampering is sticky for the process, so this file is its own test process.

use kit::accounting::{self, Window};
use kit::{Db, DbError};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

#[tokio::test]
async fn a_replaced_trace_hook_marks_the_accounting_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let db = Db::open(&path, &["CREATE TABLE t (id INTEGER PRIMARY KEY);"]).unwrap();
    assert!(accounting::tampered().is_empty());

    // Clearing the hook on the kit's own pooled connection.
    let window = Window::open();
    db.call(|c| {
        c.trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)?;
        for id in 0..5 {
            c.execute("INSERT INTO t (id) VALUES (?1)", [id])?;
        }
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let report = window.close();
    assert_eq!(report.tampered.len(), 1, "{report:?}");
    assert!(report.tampered[0].contains("trace_v2"), "{report:?}");

    // Installing one's own hook on a connection opened by hand.
    let mut own = Connection::open(&path).unwrap();
    own.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|_: TraceEvent<'_>| {}),
    )
    .unwrap();
    own.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let report = Window::open().close();
    assert_eq!(report.tampered.len(), 2, "{report:?}");
}
