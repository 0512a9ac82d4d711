//! The service contract every exercise binary keeps, checked on the pristine `charge`
//! service: READY on a loopback port, statement accounting per request across the
//! blocking-thread hop, graceful SIGTERM, restart after SIGKILL on the same database.

use std::time::Duration;

use harness::catalog;
use harness::fakes::PaymentProvider;
use harness::service::{RunningService, ServiceSpec};
use harness::staging::{Build, Workspace, build_exercise};

async fn pristine_charge_binary(out: &std::path::Path) -> std::path::PathBuf {
    let ws = Workspace::grader();
    let exercise = catalog::find("charge").unwrap();
    match build_exercise(&ws, &ws.root, &exercise, out).await.unwrap() {
        Build::Ok { binary, .. } => binary,
        Build::Failed { log } | Build::TimedOut { log } => {
            panic!("pristine charge does not build:\n{log}")
        }
    }
}

/// The same charge request every time, so repeats are replays.
async fn post_charge(http: &reqwest::Client, base: &str) -> reqwest::Response {
    http.post(format!("{base}/charges"))
        .header("Idempotency-Key", "contract-1")
        .header("content-type", "application/json")
        .body(r#"{"customer_id":"cus_1","amount":500,"currency":"usd"}"#)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_keeps_the_service_contract() {
    let dir = tempfile::tempdir().unwrap();
    let binary = pristine_charge_binary(&dir.path().join("bin")).await;
    let provider = PaymentProvider::start().await.unwrap();
    let spec = ServiceSpec {
        binary,
        db: dir.path().join("charge.db"),
        downstreams: vec![("payments".into(), provider.url())],
        env: Vec::new(),
        log: dir.path().join("service.log"),
        stats: Some(dir.path().join("stats.jsonl")),
        policy: std::sync::Arc::new(harness::sandbox::Policy::service(
            &harness::staging::Workspace::grader().root,
        )),
        timeline: harness::checks::Timeline::new(),
    };
    let mut svc = RunningService::start(&spec).await.unwrap();
    assert!(svc.url().starts_with("http://127.0.0.1:"));
    let http = reqwest::Client::new();

    // Statement accounting: the flawed create runs one lookup and one insert.
    let created = post_charge(&http, &svc.url()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-kit-sql-statements"], "2");
    let replay = post_charge(&http, &svc.url()).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["x-kit-sql-statements"], "1");
    let canary = http
        .get(format!("{}/__kit/canary", svc.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(canary.headers()["x-kit-sql-statements"], "3");

    // The stats file has a line per request, written before its response left.
    let stats = std::fs::read_to_string(dir.path().join("stats.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = stats
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["path"], "/charges");
    assert_eq!(lines[0]["statements"], 2);
    assert_eq!(lines[0]["detail"].as_array().unwrap().len(), 2);
    assert!(
        lines[0]["detail"][1]["sql"]
            .as_str()
            .unwrap()
            .contains("INSERT INTO charges")
    );

    // SIGKILL, then a restart on the same file keeps the data (migrations re-run safely).
    svc.restart_after_kill9().await.unwrap();
    let after = post_charge(&http, &svc.url()).await;
    assert_eq!(after.status(), 200, "the charge survived the restart");
    assert_eq!(provider.charges().len(), 1);
    assert_eq!(
        provider.calls().len(),
        1,
        "replays never reach the provider"
    );

    // SIGTERM stops it gracefully and promptly.
    let started = std::time::Instant::now();
    svc.stop().await;
    // Its starts, kill and stop are on the timeline, in order, as a report would draw them.
    let lane: Vec<String> = spec
        .timeline
        .take()
        .moments
        .into_iter()
        .filter(|m| m.actor == "service")
        .map(|m| {
            m.what
                .split(' ')
                .skip(1)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        lane,
        ["up on", "killed with", "up on", "stopped (SIGTERM)"],
        "the service's lane"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM was not honoured"
    );
    assert!(harness::service::log_tail(&dir.path().join("service.log"), 50).contains("stopped"));
}
