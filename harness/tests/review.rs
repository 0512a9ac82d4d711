//! Review notes graded against a real exercise's planted-flaw list: further places of a
//! flaw are credited, and a finding that flags a neutral line costs a point.

#[test]
fn checkout_review_credits_further_places_and_charges_neutral_lines() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let flaws = root.join("exercises/checkout/flaws.toml");
    let dir = std::env::temp_dir().join(format!("review-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("REVIEW.md"),
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
    )
    .unwrap();
    let report = harness::review::grade(&dir, &flaws).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let found: Vec<&str> = report
        .flaws
        .iter()
        .filter(|f| f.found)
        .map(|f| f.flaw.as_str())
        .collect();
    assert_eq!(
        found,
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
}
