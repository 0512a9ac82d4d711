//! The kit's statement accounting counts work wherever it runs in the process: through
//! `Db::call`, in spawned tasks, on `spawn_blocking` threads, on connections opened
//! without the kit, and after the response left.
//!
//! The ledger is process-wide, so the tests here take turns (`serial`). Tampering is
//! sticky for a process, so each tampering test lives in its own file (its own process).

use kit::accounting::{self, Window};
use kit::{Db, DbError};
use rusqlite::Connection;
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, w INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE audit (v TEXT NOT NULL);
     CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN
         INSERT INTO audit (v) VALUES (NEW.v);
     END;",
];

async fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

fn fresh_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("a.db"), MIGRATIONS).unwrap();
    (dir, db)
}

async fn insert(db: &Db, v: &str) {
    let v = v.to_owned();
    db.call(move |c| {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
}

async fn count(db: &Db) -> i64 {
    db.call(|c| {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .map_err(DbError::from)
    })
    .await
    .unwrap()
}

fn assert_intact() {
    assert!(
        accounting::tampered().is_empty(),
        "{:?}",
        accounting::tampered()
    );
}

#[test]
fn accounting_starts_before_main() {
    assert!(accounting::started_before_main());
}

#[tokio::test]
async fn db_calls_are_counted_and_triggers_are_part_of_their_statement() {
    let _turn = serial().await;
    let (_dir, db) = fresh_db();
    let window = Window::open();
    insert(&db, "a").await;
    insert(&db, "b").await;
    assert_eq!(count(&db).await, 2);
    let report = window.close();
    assert_eq!(report.statements, 3, "{report:?}");
    assert_eq!(report.detail.len(), 3);
    assert!(!report.overlapped);
    assert_intact();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_are_counted() {
    let _turn = serial().await;
    let (_dir, db) = fresh_db();
    let window = Window::open();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..10 {
        let db = db.clone();
        tasks.spawn(async move { insert(&db, &format!("v{n}")).await });
    }
    while tasks.join_next().await.is_some() {}
    let detached = {
        let db = db.clone();
        tokio::spawn(async move { count(&db).await })
    };
    assert_eq!(detached.await.unwrap(), 10);
    let report = window.close();
    assert_eq!(report.statements, 11, "{report:?}");
    assert_intact();
}

#[tokio::test]
async fn spawn_blocking_and_a_second_connection_are_counted() {
    let _turn = serial().await;
    let (dir, _db) = fresh_db();
    let path = dir.path().join("a.db");
    let window = Window::open();
    let found = tokio::task::spawn_blocking(move || {
        let own = Connection::open(&path).unwrap();
        for n in 0..5 {
            own.execute("INSERT INTO t (v) VALUES (?1)", [format!("x{n}")])
                .unwrap();
        }
        // A leading comment does not hide a statement (trigger bodies are traced as
        // comments).
        own.query_row("-- just a count\nSELECT count(*) FROM t", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(found, 5);
    let thread = std::thread::spawn({
        let path = dir.path().join("a.db");
        move || {
            let other = Connection::open(path).unwrap();
            other
                .query_row("SELECT max(id) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap()
        }
    });
    thread.join().unwrap();
    let report = window.close();
    assert_eq!(report.statements, 7, "{report:?}");
    assert!(report.detail.iter().any(|s| s.sql.contains("just a count")));
    assert_intact();
}

#[tokio::test]
async fn work_outside_a_window_is_reported_as_background_with_the_next_one() {
    let _turn = serial().await;
    let (_dir, db) = fresh_db();
    let first = Window::open().close();
    insert(&db, "late").await;
    let cancelled = Window::open();
    insert(&db, "cancelled").await;
    drop(cancelled);
    let next = Window::open().close();
    assert_eq!(next.seq, first.seq + 1);
    assert_eq!(next.stmt_start - first.stmt_end, 2);
    assert_eq!(next.statements, 0);
    assert_eq!(next.background.len(), 2, "{next:?}");
    assert_intact();
}

#[tokio::test]
async fn full_scans_are_measured_per_statement_and_indexes_remove_them() {
    let _turn = serial().await;
    let (_dir, db) = fresh_db();
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
        let window = Window::open();
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
        window.close().detail
    };
    let scanned = lookup(db.clone()).await;
    assert_eq!(scanned.len(), 2);
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
    assert_intact();
}

#[tokio::test]
async fn closing_connections_is_not_tampering() {
    let _turn = serial().await;
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE x (a); INSERT INTO x VALUES (1);")
        .unwrap();
    let mut cached = conn.prepare_cached("SELECT a FROM x").unwrap();
    cached.query_row([], |r| r.get::<_, i64>(0)).unwrap();
    drop(cached);
    conn.close().map_err(|(_, e)| e).unwrap();
    let (_dir, db) = fresh_db();
    insert(&db, "pooled").await;
    drop(db);
    Window::open().close();
    assert_intact();
}

/// A minimal HTTP/1.1 GET over a fresh connection; returns the raw response.
async fn get(addr: std::net::SocketAddr, path: &str, id: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: test\r\nx-kit-request-id: {id}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_middleware_counts_spawned_and_later_work() {
    use axum::extract::State;
    use axum::routing::get as route;

    let _turn = serial().await;
    let (dir, db) = fresh_db();
    for n in 0..4 {
        insert(&db, &format!("r{n}")).await;
    }
    let stats = dir.path().join("stats.jsonl");
    let sink = accounting::StatsSink::open(Some(&stats)).unwrap();
    let (go, done) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (go_later, later_done) = (Arc::clone(&go), Arc::clone(&done));
    let app = axum::Router::new()
        // N lookups, each in its own spawned task.
        .route(
            "/spawned",
            route(|State(db): State<Db>| async move {
                let mut tasks = tokio::task::JoinSet::new();
                for id in 1..=4i64 {
                    let db = db.clone();
                    tasks.spawn(async move {
                        db.call(move |c| {
                            c.query_row("SELECT v FROM t WHERE id = ?1", [id], |r| {
                                r.get::<_, String>(0)
                            })
                            .map_err(DbError::from)
                        })
                        .await
                    });
                }
                let mut n = 0;
                while let Some(r) = tasks.join_next().await {
                    r.unwrap().unwrap();
                    n += 1;
                }
                n.to_string()
            }),
        )
        // Work left running after the response: it starts only once the test has the
        // response in hand, and says when it is done (no sleep on either side).
        .route(
            "/later",
            route(move |State(db): State<Db>| {
                let (go, done) = (Arc::clone(&go_later), Arc::clone(&later_done));
                async move {
                    tokio::spawn(async move {
                        go.notified().await;
                        count(&db).await;
                        count(&db).await;
                        done.notify_one();
                    });
                    "ok"
                }
            }),
        )
        .with_state(db.clone())
        .layer(axum::middleware::from_fn_with_state(
            sink,
            accounting::count_statements,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let spawned = get(addr, "/spawned", "r1").await;
    assert_eq!(
        header(&spawned, "x-kit-sql-statements"),
        Some("4"),
        "{spawned}"
    );
    assert_eq!(header(&spawned, "x-kit-accounting"), Some("intact"));
    let later = get(addr, "/later", "r3").await;
    assert_eq!(header(&later, "x-kit-sql-statements"), Some("0"));
    go.notify_one();
    done.notified().await;
    let fence = get(addr, "/later", "r4").await;
    assert_eq!(header(&fence, "x-kit-sql-statements"), Some("0"));

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&stats)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r1", "r3", "r4"]);
    for pair in lines.windows(2) {
        assert_eq!(
            pair[1]["seq"].as_u64(),
            pair[0]["seq"].as_u64().map(|s| s + 1)
        );
    }
    assert_eq!(lines[0]["detail"].as_array().unwrap().len(), 4);
    // What /later left running shows as background in the next record, and in the
    // statement totals between the two records.
    assert_eq!(lines[2]["background"].as_array().unwrap().len(), 2);
    let between =
        lines[2]["stmt_start"].as_u64().unwrap() - lines[1]["stmt_start"].as_u64().unwrap();
    assert_eq!(between, 2);
    // Without a key (no grader), lines carry no MAC.
    assert!(lines.iter().all(|l| l["mac"].is_null()));
    assert_intact();
}
