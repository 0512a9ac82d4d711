//! A real browser for the HTML reports: Debian's headless Chromium, run on a file with
//! every way of reaching the network shut (no DNS, no background services), as an
//! interviewer's browser would open a report offline.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the browser made of a page.
pub struct Rendered {
    /// The document after parsing and layout (`--dump-dom`).
    pub dom: String,
    /// Console messages and page errors the browser logged.
    pub console: Vec<String>,
    /// A full-width screenshot of the page.
    pub screenshot: PathBuf,
}

/// Set by `.ci/run`, where the browser is installed: a missing browser then fails the
/// test instead of skipping it.
const REQUIRED: &str = "HARNESS_BROWSER_TESTS";

/// The browser, when this machine has it; `None` (with a note) when it does not and
/// the run does not require it.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var(REQUIRED).as_deref() != Ok("required"),
            "{REQUIRED}=required but no chromium on PATH (install Debian's `chromium`)"
        );
        eprintln!("skipped: no chromium on PATH (set {REQUIRED}=required to make this fail)");
    }
    found
}

/// Headless, and none of the browser's own traffic: no background services, no
/// updates, no pings.
pub const QUIET: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-pings",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
];

fn base(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args(QUIET)
        .args([
            // No name resolves: a page (or the browser) that reached for the network
            // would fail to, and never leave this machine.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Opens `page` in the browser: its DOM, its console and a screenshot at `shot`.
pub fn render(browser: &Path, page: &Path, shot: &Path) -> Rendered {
    let profile = tempfile::tempdir().expect("a browser profile");
    let url = format!("file://{}", page.display());
    let dump = base(browser, profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium --dump-dom");
    assert!(
        dump.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let shoot = base(browser, profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2200")
        .arg("--hide-scrollbars")
        .arg(&url)
        .output()
        .expect("run chromium --screenshot");
    assert!(
        shoot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shoot.stderr)
    );
    let console = [&dump.stderr, &shoot.stderr]
        .iter()
        .flat_map(|err| {
            String::from_utf8_lossy(err)
                .lines()
                .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    Rendered {
        dom: String::from_utf8_lossy(&dump.stdout).into_owned(),
        console,
        screenshot: shot.to_path_buf(),
    }
}

/// A page that reaches for nothing outside itself: no script, no element or rule that
/// loads a resource, no link out (an address quoted in evidence is text, and fine).
pub fn assert_self_contained(html: &str) {
    for needle in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        " src=",
        "url(",
        "@import",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(
            !html.contains(needle),
            "the page refers outside itself: {needle}"
        );
    }
}

/// A PNG of real content: the signature, and more than a blank page weighs.
pub fn assert_screenshot(path: &Path) {
    let bytes = std::fs::read(path).expect("the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {}",
        path.display()
    );
    assert!(
        bytes.len() > 20_000,
        "a nearly empty screenshot ({} bytes)",
        bytes.len()
    );
}
