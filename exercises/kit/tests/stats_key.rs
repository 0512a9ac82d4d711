//! The grader's key reaches the kit and nothing after it: it is taken and wiped from
//! the environment before `main` (also from what `/proc/self/environ` shows), and every
//! stats line carries a MAC under it that a changed line no longer matches.

use std::process::Command;

use kit::accounting::{self, StatsSink, Window};
use kit::hook::KEY_VARIABLE;

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00123456789abcdeffedcba9876543210";
const CHILD: &str = "KIT_TEST_STATS_FILE";
const TEST: &str = "the_key_is_taken_before_main_and_signs_every_line";

#[allow(deprecated)] // SipHash-2-4, as the kit and the harness use it.
fn mac(text: &str) -> String {
    use std::hash::Hasher;
    let word = |n: usize| u64::from_str_radix(&KEY[n * 16..(n + 1) * 16], 16).unwrap();
    let tag = |k0, k1| {
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(text.as_bytes());
        h.finish()
    };
    format!(
        "{:016x}{:016x}",
        tag(word(0), word(1)),
        tag(word(2), word(3))
    )
}

/// The line's own MAC and the MAC it should have.
fn macs(line: &str) -> (String, String) {
    let at = line.rfind(",\"mac\":\"").unwrap();
    let claimed = line[at + 8..line.len() - 2].to_owned();
    (claimed, mac(&format!("{}}}", &line[..at])))
}

#[test]
fn the_key_is_taken_before_main_and_signs_every_line() {
    if let Some(stats) = std::env::var_os(CHILD) {
        // In the child, started with the key in its environment.
        assert!(std::env::var_os(KEY_VARIABLE).is_none());
        let environ = std::fs::read("/proc/self/environ").unwrap();
        assert!(!String::from_utf8_lossy(&environ).contains(KEY));
        assert!(accounting::keyed());
        let sink = StatsSink::open(Some(std::path::Path::new(&stats))).unwrap();
        for id in ["k1", "k2"] {
            sink.record(Window::open(), |_| {
                let mut fields = serde_json::Map::new();
                fields.insert("request_id".into(), id.into());
                fields
            });
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.jsonl");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--test-threads=1"])
        .env(KEY_VARIABLE, KEY)
        .env(CHILD, &stats)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&stats).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let (claimed, expected) = macs(line);
        assert_eq!(claimed, expected, "{line}");
    }
    let forged = lines[1].replace("\"statements\":0", "\"statements\":1");
    assert_ne!(forged, lines[1]);
    let (claimed, expected) = macs(&forged);
    assert_ne!(claimed, expected);
    assert!(!accounting::keyed(), "the parent had no key");
}
