//! Removing the kit's auto-extension (the safe `reset_auto_extension`) is noticed at
//! the end of the next window, and the kit registers it again. Its own process, since
//! tampering is sticky.

use kit::accounting::{self, Window};
use rusqlite::Connection;

#[test]
fn a_removed_auto_extension_is_noticed_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let window = Window::open();
    rusqlite::auto_extension::reset_auto_extension();
    let untraced = Connection::open(&path).unwrap();
    untraced
        .execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1);")
        .unwrap();
    let report = window.close();
    assert_eq!(
        report.statements, 0,
        "the untraced connection was not counted"
    );
    assert_eq!(report.tampered.len(), 1, "{report:?}");
    assert!(report.tampered[0].contains("reset_auto_extension"));

    // Registered again: new connections are counted.
    let window = Window::open();
    let traced = Connection::open(&path).unwrap();
    traced
        .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(window.close().statements, 1);
    assert_eq!(accounting::tampered().len(), 1);
}
