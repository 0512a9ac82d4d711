//! Report formats against their contracts: the JSON report against its shipped JSON
//! Schema (`docs/schema/report-v6.schema.json`), JUnit with the build as a test case,
//! and the GitHub Classroom result — from real grades (a cheap check; a build failure)
//! and from hand-made reports with every optional field set.
//!
//! No JSON Schema validator is in the lock file, so this file carries a small one for
//! exactly the keywords the schema uses; any other keyword fails the test, so the
//! schema can never rely on a keyword nobody checks (which would accept anything).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::checks::timeline::{Moment, Recorded};
use harness::checks::{Line, Visibility};
use harness::report::classroom::{self, ClassroomResult};
use harness::report::{
    BuildReport, BuildStatus, CheckReport, CheckStatus, ExerciseReport, FlawVerdict, Report,
    SCHEMA, SubmissionReport, junit,
};
use harness::review::ReviewReport;
use harness::sandbox::Isolation;
use serde_json::{Value, json};

// ------------------------------------------------------------------ the validator

/// Validates JSON against a schema using: `type` (one or several), `required`,
/// `properties`, `additionalProperties: false`, `enum`, `items`, `minimum`, `minItems`,
/// `maxItems`, and `$ref` into `#/$defs/`; `$schema`, `$id`, `$defs`, `title` and
/// `description` are annotations. Anything else panics.
struct Validator<'a> {
    root: &'a Value,
}

impl Validator<'_> {
    fn errors(&self, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(self.root, value, "$", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = schema
            .as_object()
            .unwrap_or_else(|| panic!("{at}: a schema must be an object"));
        for (keyword, rule) in schema {
            match keyword.as_str() {
                "$schema" | "$id" | "$defs" | "title" | "description" => {}
                "$ref" => {
                    let name = rule
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/$defs/"))
                        .unwrap_or_else(|| panic!("{at}: only #/$defs/ refs: {rule}"));
                    let target = &self.root["$defs"][name];
                    assert!(!target.is_null(), "{at}: no $defs/{name}");
                    self.check(target, value, at, errors);
                }
                "type" => {
                    let allowed: Vec<&str> = match rule {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                        _ => panic!("{at}: bad type {rule}"),
                    };
                    if !allowed.iter().any(|t| is_type(value, t)) {
                        errors.push(format!("{at}: expected {allowed:?}, got {value}"));
                    }
                }
                "enum" => {
                    if !rule.as_array().unwrap().contains(value) {
                        errors.push(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                "minimum" => {
                    if let Some(n) = value.as_f64()
                        && n < rule.as_f64().unwrap()
                    {
                        errors.push(format!("{at}: {n} < {rule}"));
                    }
                }
                "required" => {
                    if let Some(obj) = value.as_object() {
                        for name in rule.as_array().unwrap() {
                            let name = name.as_str().unwrap();
                            if !obj.contains_key(name) {
                                errors.push(format!("{at}: missing required `{name}`"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Some(obj) = value.as_object() {
                        for (name, sub) in rule.as_object().unwrap() {
                            if let Some(v) = obj.get(name) {
                                self.check(sub, v, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    assert_eq!(rule, &Value::Bool(false), "{at}: only `false` is supported");
                    let known = schema
                        .get("properties")
                        .and_then(Value::as_object)
                        .unwrap_or_else(|| panic!("{at}: additionalProperties without properties"));
                    if let Some(obj) = value.as_object() {
                        for name in obj.keys().filter(|k| !known.contains_key(*k)) {
                            errors.push(format!("{at}: unexpected member `{name}`"));
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, v) in items.iter().enumerate() {
                            self.check(rule, v, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(items) = value.as_array() {
                        let bound = rule.as_u64().unwrap() as usize;
                        let ok = if keyword == "minItems" {
                            items.len() >= bound
                        } else {
                            items.len() <= bound
                        };
                        if !ok {
                            errors.push(format!("{at}: {} items, {keyword} {bound}", items.len()));
                        }
                    }
                }
                other => panic!("{at}: the test validator does not know `{other}`"),
            }
        }
    }
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn repo_root() -> PathBuf {
    harness::staging::Workspace::grader().root
}

fn schema() -> Value {
    let path = repo_root().join("docs/schema/report-v6.schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn assert_valid(report_json: &str, what: &str) {
    let schema = schema();
    let value: Value = serde_json::from_str(report_json).unwrap();
    let errors = Validator { root: &schema }.errors(&value);
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

// ------------------------------------------------------------------ reports

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harness"))
}

/// Runs `harness grade` with `args` and `--out` a temp file; its exit code and the file.
fn grade_to_file(args: &[&str], cwd: &Path) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let output = harness()
        .arg("grade")
        .args(args)
        .arg("--out")
        .arg(&out)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| {
        panic!(
            "{args:?}: no report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), text)
}

/// A copy of the charge exercise whose `model.rs` is not Rust.
fn broken_submission() -> tempfile::TempDir {
    let root = repo_root();
    let sub = tempfile::tempdir().unwrap();
    let ex = sub.path().join("exercises/charge");
    std::fs::create_dir_all(ex.join("src")).unwrap();
    std::fs::copy(
        root.join("exercises/charge/Cargo.toml"),
        ex.join("Cargo.toml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root.join("exercises/charge/src")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), ex.join("src").join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(ex.join("src/model.rs"), "this is not rust <&>\n").unwrap();
    sub
}

fn check(id: &str, flaw: Option<&str>, status: CheckStatus, points: u32) -> CheckReport {
    let moment = |at_ms: u64, actor: &str, what: &str, violation: bool| Moment {
        at_ms,
        actor: actor.to_owned(),
        what: what.to_owned(),
        violation,
    };
    CheckReport {
        // A check that did not pass carries what happened, each broken requirement marked.
        timeline: matches!(status, CheckStatus::Fail | CheckStatus::Error).then(|| Recorded {
            moments: vec![
                moment(3, "service", "service up on 127.0.0.1:4000", false),
                moment(10, "client", "→ POST /charges [Idempotency-Key: k1]", false),
                moment(12, "provider", "charged pch_1 (cus_1 1000 usd)", false),
                moment(
                    13,
                    "provider",
                    "dropped the connection: the answer for pch_1 is lost",
                    false,
                ),
                moment(
                    40,
                    "client",
                    "← 502 for POST /charges [Idempotency-Key: k1]",
                    false,
                ),
                moment(52, "provider", "charged pch_2 (cus_1 1000 usd)", false),
                moment(
                    60,
                    "judge",
                    &format!("{id}: charged twice for k1 <here>"),
                    true,
                ),
            ],
            left_out: 3,
        }),
        id: id.to_owned(),
        flaw: flaw.map(str::to_owned),
        visibility: if flaw.is_some() {
            Visibility::Hidden
        } else {
            Visibility::Public
        },
        status,
        points: if status == CheckStatus::Pass {
            points
        } else {
            0
        },
        max_points: points,
        duration_ms: 1_234,
        description: format!("{id}: what must hold"),
        requirement: false,
        evidence: vec![
            Line::violation(format!("{id} broke <here> & \"there\"")),
            Line::said("POST /charges → 500"),
            // Over the line cap: cut in `evidence`, whole in `full_evidence`.
            Line::said(format!("gaps in ms: {}", "1 / ".repeat(200))),
        ],
    }
}

/// A report with every optional member present: a review (refused, with findings with
/// and without a category, finding verdicts), a failed build with its log, checks of
/// every status.
fn full_report() -> Report {
    let finding = |category: Option<&str>| {
        json!({
            "file": "src/routes.rs",
            "lines": [48, 56],
            "category": category,
            "text": "the lookup and insert race",
        })
    };
    // Built from JSON, so this compiles whatever optional members the review grows;
    // `every_optional_member_of_the_schema_is_exercised` says when one is missing here.
    let review: ReviewReport = serde_json::from_value(json!({
        "submitted": true,
        "refused": "REVIEW.md is a link",
        "flaws": [{ "flaw": "retry-double-charge", "found": true, "words": ["retries charge twice"] }],
        "extra": [finding(Some("concurrency"))],
        "neutral_flagged": [finding(None)],
        "points": 1,
        "max_points": 4,
        "findings": [
            {
                "file": "src/routes.rs",
                "lines": [48, 56],
                "credited": "retry-double-charge",
                "verdict": "credited: names the retry",
            },
            {
                "file": "src/store.rs",
                "lines": [10, 12],
                "neutral": "format-in-list",
                "cost": 1,
                "verdict": "flags a neutral line",
            },
        ],
    }))
    .unwrap();
    let charge_checks = vec![
        check("charge.happy-path", None, CheckStatus::Pass, 1),
        check(
            "charge.lost-provider-response",
            Some("retry-double-charge"),
            CheckStatus::Fail,
            3,
        ),
        check(
            "charge.property-histories",
            Some("retry-double-charge"),
            CheckStatus::Error,
            2,
        ),
        CheckReport {
            timeline: None,
            requirement: true,
            description: "A customer must never be charged twice for one `Idempotency-Key`. (A requirement of the brief, judged on the history of every check this grade ran.)".to_owned(),
            ..check(
                "charge.requirement.never-charged-twice",
                None,
                CheckStatus::Fail,
                2,
            )
        },
    ];
    let orders_checks = vec![
        check("orders.happy-path", None, CheckStatus::Skipped, 1),
        check(
            "orders.n-plus-one",
            Some("n-plus-one"),
            CheckStatus::Skipped,
            3,
        ),
    ];
    let exercise = |id: &str, build: BuildReport, checks: Vec<CheckReport>| {
        ExerciseReport {
        id: id.to_owned(),
        build,
        points: checks.iter().map(|c| c.points).sum(),
        max_points: checks.iter().map(|c| c.max_points).sum(),
        flaws: FlawVerdict::of(&checks),
        designs: vec![harness::report::designs::RecognisedDesign {
            id: "provider-key-clients".to_owned(),
            text:
                "Passes the client's <Idempotency-Key> through to the payment provider unchanged."
                    .to_owned(),
            evidence: vec![
                "all 3 provider call(s) carried the client's own key, e.g. `k1`".to_owned(),
            ],
        }],
        followups: vec![
            harness::report::followups::FollowUp {
                flaw: Some("retry-double-charge".to_owned()),
                fixed: Some(false),
                design: None,
                ask: "The provider charged, then the answer was lost: what does the retry do?"
                    .to_owned(),
                strong: "The provider key, and where it comes from.".to_owned(),
            },
            harness::report::followups::FollowUp {
                flaw: None,
                fixed: None,
                design: Some("provider-key-clients".to_owned()),
                ask: "You pass the client's key to the provider: what if two clients pick the same key?"
                    .to_owned(),
                strong: "Keys are unique per client only; scope the provider key to our record."
                    .to_owned(),
            },
            harness::report::followups::FollowUp {
                flaw: None,
                fixed: None,
                design: None,
                ask: "What would you alert on?".to_owned(),
                strong: "Charges per key above one.".to_owned(),
            },
        ],
        checks,
        review: Some(review.clone()),
    }
    };
    let exercises = vec![
        exercise(
            "charge",
            BuildReport {
                status: BuildStatus::Ok,
                log: None,
                duration_ms: 900,
            },
            charge_checks,
        ),
        exercise(
            "orders",
            BuildReport {
                status: BuildStatus::Failed,
                log: Some("error[E0425]: cannot find value `x` </failure>\u{1b}[0m".to_owned()),
                duration_ms: 4_000,
            },
            orders_checks,
        ),
    ];
    Report {
        schema: SCHEMA.to_owned(),
        seed: u64::MAX,
        points: exercises.iter().map(|e| e.points).sum(),
        max_points: exercises.iter().map(|e| e.max_points).sum(),
        exercises,
        submission: SubmissionReport {
            source: "patch /subs/alice.patch on the pristine exercises".to_owned(),
            ignored: vec!["Cargo.lock".to_owned()],
            ignored_total: 1,
            isolation: Isolation {
                network: "own network namespace: loopback only".to_owned(),
                filesystem: "own mount namespace".to_owned(),
                user: "nobody".to_owned(),
                limits: "rlimits".to_owned(),
            },
        },
    }
}

// ------------------------------------------------------------------ schema

#[test]
fn the_schema_is_the_current_report_schema() {
    let schema = schema();
    assert_eq!(schema["$id"], json!(SCHEMA));
    assert_eq!(schema["properties"]["schema"]["enum"], json!([SCHEMA]));
    assert_eq!(
        schema["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
}

#[test]
fn hand_made_reports_with_every_optional_field_validate_and_round_trip() {
    let report = full_report();
    let text = report.to_json();
    for member in [
        "\"review\"",
        "\"refused\"",
        "\"log\"",
        "\"category\": null",
        "\"flaw\": null",
    ] {
        assert!(text.contains(member), "{member} is exercised");
    }
    assert_valid(&text, "hand-made report");
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);

    // The smallest report too: no exercises, no optional members.
    let mut empty = full_report();
    empty.exercises.clear();
    empty.points = 0;
    empty.max_points = 0;
    assert_valid(&empty.to_json(), "empty report");
}

/// Every member the schema allows somewhere, as `def.member` (`$.member` at the top),
/// and whether it is required.
fn members(schema: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut add = |owner: &str, node: &Value| {
        let required: Vec<&str> = node["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in node["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            out.push((format!("{owner}.{name}"), required.contains(&name.as_str())));
        }
    };
    add("$", schema);
    for (def, node) in schema["$defs"].as_object().unwrap() {
        add(def, node);
    }
    out
}

/// The members present in `value`, named as [`members`] names them: by the definition
/// (or `$`) whose `properties` hold them.
fn present(schema: &Value, owner: &str, node: &Value, value: &Value, out: &mut Vec<String>) {
    if let Some(target) = node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return present(schema, target, &schema["$defs"][target], value, out);
    }
    if let (Some(props), Some(obj)) = (node["properties"].as_object(), value.as_object()) {
        for (name, sub) in props {
            if let Some(v) = obj.get(name) {
                out.push(format!("{owner}.{name}"));
                present(schema, owner, sub, v, out);
            }
        }
    }
    if let (Some(items), Some(array)) = (node.get("items"), value.as_array()) {
        for v in array {
            present(schema, owner, items, v, out);
        }
    }
}

#[test]
fn every_optional_member_of_the_schema_is_exercised() {
    let schema = schema();
    let value: Value = serde_json::from_str(&full_report().to_json()).unwrap();
    let mut seen = Vec::new();
    present(&schema, "$", &schema, &value, &mut seen);
    let missing: Vec<String> = members(&schema)
        .into_iter()
        .filter(|(name, required)| !required && !seen.contains(name))
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "optional members the hand-made report does not set: {missing:?}"
    );
    // And the walk sees what it should: required members deep inside, too.
    for member in [
        "exercise.review",
        "review.refused",
        "finding.category",
        "build.log",
    ] {
        assert!(seen.iter().any(|s| s == member), "{member}: {seen:?}");
    }
}

#[test]
fn the_schema_rejects_what_is_not_a_report() {
    let schema = schema();
    let validator = Validator { root: &schema };
    let good: Value = serde_json::from_str(&full_report().to_json()).unwrap();
    assert!(validator.errors(&good).is_empty());

    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation, &str)> = vec![
        (
            "missing required field",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("seed");
            }),
            "missing required `seed`",
        ),
        (
            "wrong type",
            Box::new(|v| v["points"] = json!("3")),
            "$.points: expected",
        ),
        (
            "negative count",
            Box::new(|v| v["max_points"] = json!(-1)),
            "$.max_points: -1",
        ),
        (
            "nested missing field",
            Box::new(|v| {
                v["exercises"][0]["checks"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("evidence");
            }),
            "$.exercises[0].checks[0]: missing required `evidence`",
        ),
        (
            "unknown status",
            Box::new(|v| v["exercises"][0]["checks"][0]["status"] = json!("passed")),
            "$.exercises[0].checks[0].status",
        ),
        (
            "unknown member",
            Box::new(|v| v["exercises"][0]["grade"] = json!("A")),
            "unexpected member `grade`",
        ),
        (
            "other schema",
            Box::new(|v| v["schema"] = json!("harness.report/v2")),
            "$.schema",
        ),
        (
            "null where only strings go",
            Box::new(|v| v["submission"]["isolation"]["user"] = Value::Null),
            "$.submission.isolation.user",
        ),
        (
            "three line numbers",
            Box::new(|v| v["exercises"][0]["review"]["extra"][0]["lines"] = json!([1, 2, 3])),
            "maxItems",
        ),
        (
            "a string in evidence's place",
            Box::new(|v| v["exercises"][1]["checks"][0]["evidence"] = json!("text")),
            "evidence: expected",
        ),
    ];
    for (what, mutate, expected) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        let errors = validator.errors(&bad);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
}

#[test]
#[should_panic(expected = "does not know `pattern`")]
fn the_validator_refuses_keywords_it_does_not_check() {
    let schema = json!({ "type": "string", "pattern": "^a" });
    Validator { root: &schema }.errors(&json!("b"));
}

// ------------------------------------------------------------------ real grades

#[test]
fn a_real_grade_validates_in_every_format() {
    let root = repo_root();
    let args = [
        ".",
        "--exercise",
        "charge",
        "--check",
        "charge.happy-path",
        "--format",
    ];
    let (code, json_text) = grade_to_file(&[&args[..], &["json"]].concat(), &root);
    assert_eq!(code, Some(0), "{json_text}");
    assert_valid(&json_text, "real report");
    let report: Report = serde_json::from_str(&json_text).unwrap();
    assert_eq!(report.points, report.max_points);

    // Classroom, end to end: the reporter's fields, the points it records (the sum of
    // `score`) equal to the report's.
    let (code, text) = grade_to_file(&[&args[..], &["classroom"]].concat(), &root);
    assert_eq!(code, Some(0), "{text}");
    let result: ClassroomResult = serde_json::from_str(&text).unwrap();
    let raw: Value = serde_json::from_str(&text).unwrap();
    for test in raw["tests"].as_array().unwrap() {
        for field in [
            "name",
            "status",
            "score",
            "message",
            "test_code",
            "filename",
            "line_no",
            "duration",
        ] {
            assert!(test.get(field).is_some(), "{field} missing: {test}");
        }
    }
    assert_eq!(result.version, 1);
    assert_eq!(result.status, "pass");
    assert_eq!(result.max_score, report.max_points);
    assert_eq!(
        result.tests.iter().map(|t| t.score).sum::<u32>(),
        report.points
    );
    let names: Vec<&str> = result.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["charge.build", "charge.happy-path"]);
    assert!(
        result
            .tests
            .iter()
            .all(|t| t.status == "pass" && t.line_no == 0)
    );

    let xml = junit::render(&report);
    assert_well_formed(&xml);
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(
        xml.contains("<testcase classname=\"charge\" name=\"charge.build\""),
        "{xml}"
    );
}

#[test]
fn a_build_failure_is_a_failing_test_case_in_junit_and_classroom() {
    let sub = broken_submission();
    let path = sub.path().display().to_string();
    let (code, json_text) = grade_to_file(
        &[&path, "--exercise", "charge", "--format", "json"],
        &repo_root(),
    );
    assert_eq!(code, Some(1), "{json_text}");
    assert_valid(&json_text, "build-failure report");
    let report: Report = serde_json::from_str(&json_text).unwrap();
    let ex = &report.exercises[0];
    assert_eq!(ex.build.status, BuildStatus::Failed);
    let checks = ex.checks.len();
    assert!(checks > 0);

    let (code, xml) = grade_to_file(
        &[&path, "--exercise", "charge", "--format", "junit"],
        &repo_root(),
    );
    assert_eq!(code, Some(1), "{xml}");
    assert_well_formed(&xml);
    assert!(
        xml.contains(&format!(
            "<testsuites name=\"harness\" tests=\"{}\" failures=\"1\" errors=\"0\" skipped=\"{checks}\">",
            checks + 1
        )),
        "{xml}"
    );
    let build_case = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"charge.build\""))
        .expect("a charge.build test case");
    assert!(
        build_case.contains("<failure type=\"build\""),
        "{build_case}"
    );
    assert!(
        build_case.contains("exercises/charge/src/model.rs"),
        "the compiler's log is the failure body: {build_case}"
    );
    assert_eq!(
        xml.matches("<skipped ").count(),
        checks,
        "every check stays skipped"
    );
    assert!(
        !xml.contains("<system-err>"),
        "the log is not only suite-level"
    );

    let result = classroom::result(&report, usize::MAX);
    assert_eq!(result.status, "fail");
    assert_eq!(result.tests[0].name, "charge.build");
    assert_eq!(result.tests[0].status, "fail");
    assert!(
        result.tests[0]
            .message
            .contains("exercises/charge/src/model.rs")
    );
    assert!(
        result.tests[1..]
            .iter()
            .all(|t| t.status == "fail" && t.score == 0)
    );
}

// ------------------------------------------------------------------ JUnit, Classroom

#[test]
fn junit_counts_builds_as_test_cases_and_escapes_logs() {
    let report = full_report();
    let xml = junit::render(&report);
    assert_well_formed(&xml);
    // charge: 3 checks, a requirement row + build; orders: 2 skipped checks + failed build.
    assert!(
        xml.contains(
            "<testsuites name=\"harness\" tests=\"8\" failures=\"3\" errors=\"1\" skipped=\"2\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"orders\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"2\" time=\"6.468\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase classname=\"charge\" name=\"charge.build\" time=\"0.900\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("cannot find value `x` &lt;/failure&gt;"),
        "{xml}"
    );
    assert!(!xml.contains('\u{1b}'));
}

#[test]
fn no_check_is_named_like_a_build_case() {
    for ex in harness::catalog::all() {
        for c in harness::registry(ex) {
            assert!(
                !c.id.ends_with(".build"),
                "{} collides with a build case",
                c.id
            );
        }
    }
}

#[test]
fn classroom_maps_statuses_and_points_as_the_reporter_reads_them() {
    let report = full_report();
    let result = classroom::result(&report, usize::MAX);
    assert_eq!(result.version, classroom::VERSION);
    assert_eq!(
        result.status, "error",
        "an errored check wins, as exit 3 does"
    );
    assert_eq!(result.max_score, report.max_points);
    assert_eq!(
        result.tests.iter().map(|t| t.score).sum::<u32>(),
        report.points
    );
    let status = |name: &str| {
        result
            .tests
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.status.as_str())
            .unwrap()
    };
    assert_eq!(status("charge.build"), "pass");
    assert_eq!(status("charge.happy-path"), "pass");
    assert_eq!(status("charge.lost-provider-response"), "fail");
    assert_eq!(status("charge.property-histories"), "error");
    assert_eq!(status("orders.build"), "fail");
    assert_eq!(status("orders.happy-path"), "fail");
    assert_eq!(status("charge.requirement.never-charged-twice"), "fail");
    assert_eq!(result.tests.len(), 8);
    let json = classroom::render(&report);
    let back: ClassroomResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result);

    let mut failing = full_report();
    failing.exercises[0]
        .checks
        .retain(|c| c.status != CheckStatus::Error);
    assert_eq!(classroom::result(&failing, 10).status, "fail");
}

#[test]
fn classroom_output_fits_one_environment_variable() {
    let mut report = full_report();
    let huge = "x".repeat(200_000);
    for ex in &mut report.exercises {
        ex.build.log = Some(huge.clone());
        for c in &mut ex.checks {
            c.evidence = vec![
                Line::said(huge.clone()),
                Line::said("\u{0}\u{7}".repeat(10_000)),
            ];
        }
        let template = ex.checks[0].clone();
        for i in 0..60 {
            let mut c = template.clone();
            c.id = format!("{}.extra-{i}", ex.id);
            ex.checks.push(c);
        }
    }
    let json = classroom::render(&report);
    assert!(
        json.len() <= classroom::MAX_JSON_BYTES,
        "{} bytes",
        json.len()
    );
    // What the workflow puts in the reporter's environment: base64, 4 bytes per 3.
    let env_string = "HARNESS_RESULTS=".len() + json.len().div_ceil(3) * 4;
    assert!(env_string < 128 * 1024, "{env_string}");
    let result: ClassroomResult = serde_json::from_str(&json).unwrap();
    assert_eq!(result.tests.len(), 2 + 6 + 120);
    assert!(result.tests[1].message.contains("shortened"));
    assert!(!json.contains("\\u0000"), "control characters are dropped");
}

// ------------------------------------------------------------------ XML

/// Tags balance, attributes are quoted, text holds no raw `<` and every `&` starts an
/// entity: enough to know a CI system's XML parser will read the file.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("a tag is closed") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
        if tag.starts_with('?') {
            assert!(tag.ends_with('?'));
        } else if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().expect("a tag name");
            let attrs = &body[name.len()..];
            assert_eq!(
                attrs.matches('"').count() % 2,
                0,
                "quoted attributes: {tag}"
            );
            check_text(attrs);
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn check_text(text: &str) {
    assert!(!text.contains('>'), "raw `>` in text: {text}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "raw `&`: {}",
            &text[i..(i + 10).min(text.len())]
        );
    }
    assert!(
        !text
            .chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r')),
        "control character in XML"
    );
}

// ------------------------------------------------------------------ html

/// The hand-made report with every optional member, in a real browser: it renders with
/// no console error, shows the verdicts, the requirement rows, the review and the
/// follow-ups, and a candidate's text stays text.
#[test]
fn the_html_report_renders_in_a_real_browser_and_shows_the_verdicts() {
    let report = full_report();
    let html = harness::report::html::render(&report);
    common::browser::assert_self_contained(&html);
    assert!(!html.contains("<here>"), "evidence became markup");
    let Some(browser) = common::browser::chromium() else {
        return;
    };
    let dir = repo_root().join("target/html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("full-report.html");
    std::fs::write(&page, &html).unwrap();
    let shown = common::browser::render(&browser, &page, &dir.join("full-report.png"));
    assert!(shown.console.is_empty(), "{:?}", shown.console);
    for words in [
        format!("{} / {} points", report.points, report.max_points),
        "Planted flaws fixed: 0 of 1".to_owned(),
        "✗ not fixed".to_owned(),
        "Requirements of the brief: 0 of 1 held on every history".to_owned(),
        "A customer must never be charged twice".to_owned(),
        "Review notes: 1 / 4 points".to_owned(),
        "Refused: REVIEW.md is a link".to_owned(),
        "The build failed: no check could run.".to_owned(),
        "⚠ could not judge".to_owned(),
        "A strong answer mentions:".to_owned(),
        // Escaped in the file, text in the page: serialised back as entities.
        "broke &lt;here&gt; &amp;".to_owned(),
        // The design the checks recognised, its text escaped.
        "What the fix does".to_owned(),
        "Passes the client's &lt;Idempotency-Key&gt; through".to_owned(),
        // A failed check's timeline: the lanes, the moments, the violation marked.
        "Timeline: 7 moment(s) (and 3 more left out), 1 violation(s)".to_owned(),
        "<th>provider</th>".to_owned(),
        "dropped the connection: the answer for pch_1 is lost".to_owned(),
        "✗ charge.lost-provider-response: charged twice for k1 &lt;here&gt;".to_owned(),
    ] {
        assert!(shown.dom.contains(&words), "the page shows no {words:?}");
    }
    assert!(!shown.dom.contains("<here>"), "evidence became an element");
    common::browser::assert_screenshot(&shown.screenshot);

    // Review notes handed in and read: each planted flaw beside the candidate's words.
    let mut read = report.clone();
    for ex in &mut read.exercises {
        if let Some(review) = &mut ex.review {
            review.refused = None;
        }
    }
    let page = dir.join("review-read.html");
    std::fs::write(&page, harness::report::html::render(&read)).unwrap();
    let shown = common::browser::render(&browser, &page, &dir.join("review-read.png"));
    assert!(shown.console.is_empty(), "{:?}", shown.console);
    for words in ["retries charge twice", "Findings outside the planted flaws"] {
        assert!(shown.dom.contains(words), "the page shows no {words:?}");
    }
}

#[test]
fn the_batch_summary_shows_requirements_and_designs_per_candidate() {
    let out = tempfile::tempdir().unwrap();
    let subs: Vec<harness::batch::Submission> = ["alice", "bob"]
        .iter()
        .map(|id| harness::batch::Submission {
            id: (*id).to_owned(),
            path: PathBuf::from(id),
        })
        .collect();
    let report = full_report();
    let path = harness::batch::result_path(out.path(), &subs[0]);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    harness::batch::write_summary(&subs, out.path()).unwrap();

    let csv = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let alice: Vec<&str> = lines[1].split(',').collect();
    let cell = |name: &str| {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {csv}"));
        alice[i]
    };
    // The broken requirement row's points, apart from the planted flaw's.
    assert_eq!(cell("charge:requirements"), "0/2", "{csv}");
    assert_eq!(cell("charge:retry-double-charge"), "0/5", "{csv}");
    // (The sample gives both exercises the same design.)
    assert_eq!(
        cell("designs"),
        "charge: provider-key-clients; orders: provider-key-clients",
        "{csv}"
    );
    assert!(lines[2].starts_with("bob,not graded yet"), "{csv}");

    let md = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(md.contains("| designs |"), "{md}");
    assert!(md.contains("; orders: provider-key-clients |"), "{md}");
    let page = std::fs::read_to_string(out.path().join("summary.html")).unwrap();
    assert!(
        page.contains("<th class=\"flaw\">charge:requirements</th>"),
        "{page}"
    );
    assert!(
        page.contains("<td>charge: provider-key-clients; orders: provider-key-clients</td>"),
        "{page}"
    );
}
