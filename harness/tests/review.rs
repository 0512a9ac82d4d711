//! Review notes graded against real exercises' planted-flaw lists: further places of a
//! flaw are credited, a finding that flags a neutral line costs a point, and a finding
//! is credited for what it finds (the flaw's place, in words specific to it), never for
//! what it covers.

use harness::review::ReviewReport;

fn grade(exercise: &str, notes: &str) -> ReviewReport {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let flaws = root.join("exercises").join(exercise).join("flaws.toml");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("REVIEW.md"), notes).unwrap();
    harness::review::grade(dir.path(), &flaws).unwrap()
}

fn found(report: &ReviewReport) -> Vec<&str> {
    report
        .flaws
        .iter()
        .filter(|f| f.found)
        .map(|f| f.flaw.as_str())
        .collect()
}

#[test]
fn checkout_review_credits_further_places_and_charges_neutral_lines() {
    let report = grade(
        "checkout",
        "\
## Retries charge the card twice
- file: exercises/checkout/src/payments.rs
- lines: 60-77
- category: idempotency

No Idempotency-Key goes to the provider, so a lost response and a retry charge twice.

- src/routes.rs:63-68 (validation) unknown SKUs are silently dropped from the order
- src/store.rs:37 (concurrency) the idempotency index is not unique, duplicates both insert
- src/store.rs:80-84 (sql-injection) the IN list is built with format!, an injection risk
- src/shipping.rs:50 (resilience) the shipping client has no timeout
",
    );
    assert_eq!(
        found(&report),
        [
            "charge-not-idempotent",
            "replay-not-guarded",
            "input-not-validated",
            "shipping-unguarded"
        ]
    );
    assert_eq!(report.neutral_flagged.len(), 1, "{report:#?}");
    assert!(report.neutral_flagged[0].text.contains("injection"));
    assert!(report.extra.is_empty(), "{report:#?}");
    assert_eq!((report.points, report.max_points), (3, 5));

    // Every finding says why it was or was not credited.
    let verdicts: Vec<&str> = report.findings.iter().map(|v| v.verdict.as_str()).collect();
    assert_eq!(verdicts.len(), 5);
    assert!(
        verdicts[2].starts_with(
            "credited to `replay-not-guarded`: points at src/store.rs:37-38 (1 line(s)) and names"
        ) && verdicts[2].contains("\"unique\""),
        "{verdicts:#?}"
    );
    assert_eq!(
        verdicts[3],
        "flags `in-list-placeholders` at src/store.rs:79-85, a line that is fine: costs a point"
    );
    assert_eq!(report.findings[3].cost, 1);
}

/// The review of issue 14: five one-liners, each a whole file, a category and a sentence
/// that fits any flaw. It scored 5/5 when overlap was enough.
#[test]
fn whole_files_and_generic_sentences_find_nothing() {
    let report = grade(
        "charge",
        "\
- src/routes.rs:1-200 (concurrency): races under concurrent requests
- src/provider.rs:1-200 (idempotency): the external call is not handled safely
- src/routes.rs:1-200 (crash-consistency): state can become inconsistent when something fails
- src/routes.rs:1-200 (idempotency): requests are not handled correctly
- src/store.rs:1-200 (data-integrity): constraints are missing
",
    );
    assert_eq!(report.points, 0, "{:#?}", report.findings);
    assert_eq!(report.extra.len(), 5, "listed for the interviewer to read");
    assert_eq!(
        report.findings[4].verdict,
        "not credited: spans 200 lines, more than allowed for the flaws it overlaps \
         (18 for `non-unique-key-index` at src/store.rs:20-22)"
    );

    // The same sentences at the flaws' own lines: still nothing, and the report says
    // what a finding there would have named.
    let vague = grade(
        "charge",
        "\
- src/routes.rs:48-56 (concurrency): races under concurrent requests
- src/store.rs:20-22 (data-integrity): constraints are missing
",
    );
    assert_eq!(vague.points, 0);
    assert!(
        vague.findings[1].verdict.starts_with(
            "not credited: at `non-unique-key-index` (src/store.rs:20-22) but names nothing specific to it"
        ),
        "{:#?}",
        vague.findings
    );

    // The same places in a hurried reviewer's own words: credited.
    let hurried = grade(
        "charge",
        "\
- src/routes.rs:48-56 (concurrency): two retries with one key both miss the lookup and both charge
- src/store.rs:20-22 (data-integrity): index isn't UNIQUE so the db keeps two charges for a key
",
    );
    assert_eq!(found(&hurried), ["check-then-act", "non-unique-key-index"]);
    assert_eq!(hurried.points, 2);
}

/// A finding for every category on every file scores nothing, even with the real
/// findings among them: findings credited to nothing past one per planted flaw and three
/// more cost a point each.
#[test]
fn a_finding_per_category_on_every_file_costs_what_it_finds() {
    let mut notes = String::from(
        "\
- src/routes.rs:56-70 (concurrency): balance read then written back from the old read, two transfers overdraw
- src/routes.rs:65-79 (crash-consistency): five separate writes, no transaction
- src/error.rs:57 (error-handling): SQLITE_BUSY becomes a 500; should be 503
",
    );
    let good = grade("transfer", &notes);
    assert_eq!(good.points, 3);
    for file in [
        "error.rs",
        "main.rs",
        "model.rs",
        "risk.rs",
        "routes.rs",
        "store.rs",
    ] {
        for category in ["concurrency", "crash-consistency", "error-handling"] {
            notes.push_str(&format!(
                "- src/{file}:1-300 ({category}): possible {category} problem here\n"
            ));
        }
    }
    let shotgun = grade("transfer", &notes);
    assert_eq!(
        found(&shotgun),
        ["check-then-act", "not-atomic", "busy-is-500"]
    );
    assert_eq!(shotgun.points, 0, "18 credited to nothing, 6 allowed");
    let cost: u32 = shotgun.findings.iter().map(|v| v.cost).sum();
    assert_eq!(cost, 12);
}
