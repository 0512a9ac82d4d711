//! Scale figures for the orders exercise (reported, not pass/fail): p50 latency of the
//! first history page for the customer with the most orders, at 100 and at 100,000
//! orders in the database, for the pristine service and each reference fix.
//!
//! `cargo test -p harness --test scale -- --ignored --nocapture`

mod common;

use std::time::{Duration, Instant};

use harness::catalog;
use harness::service::{RunningService, ServiceSpec};
use harness::staging::{Build, Workspace, build_exercise};

use common::{corpus, patched_submission, repo_root};

const SAMPLES: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints figures; takes a minute"]
async fn orders_page_latency_at_100_and_100000_orders() {
    let exercise = catalog::find("orders").unwrap();
    let mut subjects = vec![("pristine".to_owned(), repo_root())];
    for entry in corpus("orders")
        .into_iter()
        .filter(|e| e.name.starts_with("reference-"))
    {
        let path = patched_submission("orders", &entry);
        subjects.push((entry.name, path));
    }
    println!(
        "orders: p50 of {SAMPLES} requests for the first page (limit 20) of the busiest customer"
    );
    for (name, path) in subjects {
        let dir = tempfile::tempdir().unwrap();
        let binary = match build_exercise(
            &Workspace::grader(),
            &path,
            &exercise,
            &dir.path().join("bin"),
        )
        .await
        .unwrap()
        {
            Build::Ok { binary, .. } => binary,
            Build::Failed { log } | Build::TimedOut { log } => {
                panic!("{name} does not build:\n{log}")
            }
        };
        let mut row = format!("  {name:<32}");
        for orders in [100u64, 100_000] {
            let spec = ServiceSpec {
                binary: binary.clone(),
                db: dir.path().join(format!("{orders}.db")),
                downstreams: Vec::new(),
                env: vec![("ORDERS_SEED_ORDERS".into(), orders.to_string())],
                log: dir.path().join(format!("{orders}.log")),
                stats: None,
                policy: std::sync::Arc::new(harness::sandbox::Policy::service(
                    &harness::staging::Workspace::grader().root,
                )),
                timeline: harness::checks::Timeline::new(),
            };
            let seeded = Instant::now();
            let svc = RunningService::start(&spec).await.unwrap();
            let seed_time = seeded.elapsed();
            let http = reqwest::Client::new();
            let url = format!("{}/customers/1/orders?limit=20", svc.url());
            let mut times = Vec::new();
            for _ in 0..SAMPLES {
                let t = Instant::now();
                let r = http
                    .get(&url)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            row.push_str(&format!(
                " {orders:>7} orders: p50 {:>8.2} ms (start+seed {:>6.2} s)",
                times[SAMPLES / 2].as_secs_f64() * 1000.0,
                seed_time.as_secs_f64()
            ));
        }
        println!("{row}");
    }
}
