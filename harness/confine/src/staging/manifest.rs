//! The staged exercise manifest, written by the grader rather than copied.
//!
//! A manifest is code: a build script, a proc-macro crate, a path or git dependency, a
//! `[[bin]] path` outside the stage or a crate outside the grader's lock all run or
//! read something at build time. So the grader reads only the candidate's *choice of
//! dependencies* (by name, with features) and writes the rest itself: the package and
//! binary as the catalog defines them, no build script, no auto-discovered targets,
//! `unsafe_code` forbidden (safe Rust cannot reach past the kit into the process's
//! memory or SQLite's C API), and every dependency a `workspace = true` entry from
//! [`ALLOWED_DEPENDENCIES`], pinned by the grader's lock.

use std::collections::BTreeMap;

use crate::catalog::Exercise;

/// The crates a candidate may depend on: the ones the exercises use, plus a few a
/// careful fix plausibly reaches for. All are in the grader's lock. Crates that give
/// safe wrappers over process, signal or raw system calls (`nix`, `libc`) and the
/// grader's own test tools are not offered.
pub const ALLOWED_DEPENDENCIES: &[&str] = &[
    "kit",
    "anyhow",
    "axum",
    "clap",
    "hyper",
    "hyper-util",
    "regex",
    "reqwest",
    "rusqlite",
    "serde",
    "serde_json",
    "sha2",
    "thiserror",
    "tokio",
    "tokio-util",
    "tower",
    "tracing",
    "tracing-subscriber",
    "uuid",
];

/// Manifest keys a candidate may set without effect on what is built; anything else
/// at the top level or under `[package]` is ignored with a note, never obeyed.
const TOLERATED_TOP: &[&str] = &[
    "package",
    "bin",
    "dependencies",
    "dev-dependencies",
    "lints",
];

/// A candidate manifest the grader will not build, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Writes the manifest the grader builds `exercise` with, from the candidate's
/// `manifest` (only its dependency names and features are read). A dependency outside
/// the allowed set, a non-registry source, or an unparsable manifest is refused.
pub fn rebuild(candidate: &str, exercise: &Exercise) -> Result<String, Refusal> {
    let doc: toml::Table = candidate.parse().map_err(|e: toml::de::Error| {
        Refusal(format!(
            "Cargo.toml does not parse: {}",
            one_line(&e.to_string())
        ))
    })?;
    if let Some(bins) = doc.get("bin")
        && !is_the_graders_binary(bins, exercise)
    {
        return Err(Refusal(format!(
            "Cargo.toml: `[[bin]]` may only name `{}` at `src/main.rs`; the grader defines the package's targets",
            exercise.binary
        )));
    }
    for key in [
        "build-dependencies",
        "target",
        "lib",
        "example",
        "test",
        "bench",
        "patch",
        "replace",
        "workspace",
        "features",
    ] {
        if doc.contains_key(key) {
            return Err(Refusal(format!(
                "Cargo.toml: `[{key}]` is not allowed; the grader defines the package, its targets and its sources"
            )));
        }
    }
    if let Some(unknown) = doc.keys().find(|k| !TOLERATED_TOP.contains(&k.as_str())) {
        return Err(Refusal(format!("Cargo.toml: `[{unknown}]` is not allowed")));
    }
    if let Some(package) = doc.get("package").and_then(toml::Value::as_table) {
        for key in [
            "build",
            "links",
            "proc-macro",
            "workspace",
            "autobins",
            "autolib",
            "default-run",
        ] {
            if package.contains_key(key) {
                return Err(Refusal(format!(
                    "Cargo.toml: `package.{key}` is not allowed; the grader defines how the service is built"
                )));
            }
        }
    }
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(table) = doc.get("dependencies") {
        let table = table
            .as_table()
            .ok_or_else(|| Refusal("Cargo.toml: `[dependencies]` is not a table".to_owned()))?;
        for (name, spec) in table {
            deps.insert(name.clone(), dependency_features(name, spec)?);
        }
    }
    // The kit is what makes a service a service (READY line, accounting).
    deps.entry("kit".to_owned()).or_default();
    let mut out = String::new();
    out.push_str(
        "# Written by the grader from the submission's dependency list; see the kit README.\n",
    );
    out.push_str(&format!(
        "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\npublish = false\nbuild = false\nautobins = false\nautoexamples = false\nautotests = false\nautobenches = false\n\n",
        exercise.package
    ));
    out.push_str(&format!(
        "[[bin]]\nname = \"{}\"\npath = \"src/main.rs\"\n\n[dependencies]\n",
        exercise.binary
    ));
    for (name, features) in &deps {
        let features: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
        if features.is_empty() {
            out.push_str(&format!("{name} = {{ workspace = true }}\n"));
        } else {
            out.push_str(&format!(
                "{name} = {{ workspace = true, features = [{}] }}\n",
                features.join(", ")
            ));
        }
    }
    out.push_str("\n[lints.rust]\nunsafe_code = \"forbid\"\n");
    Ok(out)
}

/// The features a candidate asks of one allowed dependency; any source other than the
/// grader's workspace entry (path, git, registry, version pin) is refused or, for a
/// plain version, replaced by the grader's pinned one.
fn dependency_features(name: &str, spec: &toml::Value) -> Result<Vec<String>, Refusal> {
    if !ALLOWED_DEPENDENCIES.contains(&name) {
        return Err(Refusal(format!(
            "Cargo.toml: dependency `{name}` is not allowed (allowed: {})",
            ALLOWED_DEPENDENCIES.join(", ")
        )));
    }
    let table = match spec {
        // `uuid = "1"`: the grader's pinned version stands in.
        toml::Value::String(_) => return Ok(Vec::new()),
        toml::Value::Table(t) => t,
        _ => {
            return Err(Refusal(format!(
                "Cargo.toml: dependency `{name}` is neither a version nor a table"
            )));
        }
    };
    for key in table.keys() {
        match key.as_str() {
            "workspace" | "version" | "features" | "default-features" | "default_features" => {}
            "path" | "git" | "branch" | "tag" | "rev" | "registry" | "registry-index"
            | "package" => {
                return Err(Refusal(format!(
                    "Cargo.toml: dependency `{name}` may not set `{key}`; use `{name}.workspace = true`"
                )));
            }
            other => {
                return Err(Refusal(format!(
                    "Cargo.toml: dependency `{name}` sets `{other}`, which is not allowed"
                )));
            }
        }
    }
    let Some(features) = table.get("features") else {
        return Ok(Vec::new());
    };
    let features = features
        .as_array()
        .ok_or_else(|| Refusal(format!("Cargo.toml: `{name}.features` is not a list")))?;
    features
        .iter()
        .map(|f| {
            f.as_str()
                .filter(|f| {
                    !f.is_empty()
                        && f.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
                })
                .map(str::to_owned)
                .ok_or_else(|| {
                    Refusal(format!(
                        "Cargo.toml: `{name}` has a feature that is not a plain name"
                    ))
                })
        })
        .collect()
}

/// Whether `[[bin]]` says only what the grader writes anyway: one binary, the
/// exercise's, at `src/main.rs`.
fn is_the_graders_binary(bins: &toml::Value, exercise: &Exercise) -> bool {
    let Some([bin]) = bins.as_array().map(Vec::as_slice) else {
        return false;
    };
    let Some(bin) = bin.as_table() else {
        return false;
    };
    bin.keys().all(|k| k == "name" || k == "path")
        && bin.get("name").and_then(toml::Value::as_str) == Some(exercise.binary)
        && bin
            .get("path")
            .is_none_or(|p| p.as_str() == Some("src/main.rs"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge() -> Exercise {
        crate::catalog::find("charge").expect("charge exercise")
    }

    #[test]
    fn the_pristine_manifest_rebuilds_with_its_dependencies() {
        let pristine = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../exercises/charge/Cargo.toml"
        ))
        .expect("pristine charge manifest");
        let out = rebuild(&pristine, &charge()).expect("pristine manifest is allowed");
        assert!(out.contains("uuid = { workspace = true }"));
        assert!(out.contains("build = false"));
        assert!(out.contains("unsafe_code = \"forbid\""));
        let parsed: toml::Table = out.parse().expect("rebuilt manifest parses");
        assert_eq!(parsed["package"]["name"].as_str(), Some("charge"));
    }

    #[test]
    fn build_scripts_targets_and_foreign_sources_are_refused() {
        let cases = [
            (
                "[package]\nname = \"charge\"\nbuild = \"src/build.rs\"\n",
                "package.build",
            ),
            (
                "[package]\nname = \"charge\"\n[build-dependencies]\ncc = \"1\"\n",
                "[build-dependencies]",
            ),
            (
                "[package]\nname = \"charge\"\n[[bin]]\nname = \"x\"\npath = \"/etc/x.rs\"\n",
                "[[bin]]",
            ),
            (
                "[package]\nname = \"charge\"\n[dependencies]\nevil = { path = \"src/evil\" }\n",
                "`evil` is not allowed",
            ),
            (
                "[package]\nname = \"charge\"\n[dependencies]\ntokio = { path = \"/x\" }\n",
                "may not set `path`",
            ),
            (
                "[package]\nname = \"charge\"\n[dependencies]\nnix = \"0.29\"\n",
                "`nix` is not allowed",
            ),
            (
                "[package]\nname = \"charge\"\n[lib]\nproc-macro = true\n",
                "[lib]",
            ),
            (
                "[package]\nname = \"charge\"\n[patch.crates-io]\ntokio = { path = \"x\" }\n",
                "[patch]",
            ),
            ("not toml at all [", "does not parse"),
        ];
        for (manifest, expect) in cases {
            let err = rebuild(manifest, &charge()).expect_err(manifest);
            assert!(err.0.contains(expect), "{manifest:?} → {}", err.0);
            assert!(!err.0.contains('\n'));
        }
    }

    #[test]
    fn versions_become_the_graders_and_features_are_kept() {
        let m = "[package]\nname = \"whatever\"\n[dependencies]\nuuid = \"1.2\"\ntokio = { version = \"1\", features = [\"full\"] }\nkit.workspace = true\n";
        let out = rebuild(m, &charge()).expect("allowed");
        assert!(out.contains("uuid = { workspace = true }"));
        assert!(out.contains("tokio = { workspace = true, features = [\"full\"] }"));
        assert!(out.contains("name = \"charge\""));
    }
}
