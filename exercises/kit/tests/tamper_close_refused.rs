//! A close SQLite refuses (a statement leaked with `mem::forget` is still open) is not
//! a close: clearing the hook afterwards is still noticed. Its own process, since
//! tampering is sticky.

use kit::accounting::{self, Window};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

#[test]
fn clearing_the_hook_after_a_refused_close_is_noticed() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE x (a); INSERT INTO x VALUES (1);")
        .unwrap();
    let leaked = conn.prepare("SELECT a FROM x").unwrap();
    std::mem::forget(leaked);
    let (mut conn, _busy) = conn.close().expect_err("a statement is still open");
    assert!(accounting::tampered().is_empty());
    conn.trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .unwrap();
    conn.query_row("SELECT count(*) FROM x", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let report = Window::open().close();
    assert_eq!(report.tampered.len(), 1, "{report:?}");
    assert!(report.tampered[0].contains("trace_v2"));
}
