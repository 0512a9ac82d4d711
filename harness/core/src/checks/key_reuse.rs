//! The standing judge of a key reused with a different body. Charge's and checkout's
//! briefs: "A different body under a key that already has a charge (an order)
//! recorded, in any status, gets `422` and changes nothing." Judged on every history
//! from what the harness filed ([`Attempt`]s): a request accepted (`2xx`) with a body
//! other than that of an earlier request under its key, which had ended — before the
//! accepted one was sent — in a way that certainly recorded something under the key
//! (`recorded`: each exercise says which answers those are, as its brief does). A
//! request still in flight, or cut off without an answer, is left out: whether it had
//! recorded anything yet is not known, and `409` is accepted meanwhile.

use std::time::Instant;

use super::in_use::{Attempt, Ended};

/// One line per key under which a different body was accepted; `what` names the
/// object with its article (`a charge`, `an order`). Bodies are compared as JSON values, so a resend that
/// orders its fields otherwise is the same request.
pub fn different_body_accepted(
    attempts: &[Attempt],
    recorded: impl Fn(&Ended) -> bool,
    what: &str,
) -> Vec<String> {
    let mut broken = Vec::new();
    let mut judged_keys: Vec<&str> = Vec::new();
    for accepted in attempts {
        let (Some(key), Some(ended)) = (accepted.key.as_deref(), accepted.ended.as_ref()) else {
            continue;
        };
        if !ended.status.is_some_and(|s| (200..300).contains(&s)) || judged_keys.contains(&key) {
            continue;
        }
        let body = value(&accepted.body);
        let earlier = attempts.iter().find(|a| {
            a.key.as_deref() == Some(key)
                && value(&a.body) != body
                && a.ended
                    .as_ref()
                    .is_some_and(|e| e.at < accepted.sent && recorded(e))
        });
        if let Some(first) = earlier {
            judged_keys.push(key);
            let answered = |e: Option<&Ended>| {
                e.and_then(|e| e.status)
                    .map_or_else(|| "no answer".to_owned(), |s| s.to_string())
            };
            broken.push(format!(
                "A different body under a key that already has {what} recorded must get 422 and change nothing: key {key} was first used with {} (answered {}), then a request with {} under it was answered {}.",
                first.body,
                answered(first.ended.as_ref()),
                accepted.body,
                answered(Some(ended)),
            ));
        }
    }
    broken
}

/// The brief's replay rule, judged on every history: "once a `2xx` has been sent for a
/// key, later retries answer `200`". A retry is a request under the key with the same
/// body (as JSON), sent after a `2xx` for it had come back; one answered with anything
/// but a `2xx` breaks the rule (a `2xx` naming another object is
/// [`super::journal::different_successes`]'s to judge). A retry that got no answer (its
/// instance killed, its client gone) is not judged, nor one in flight across an
/// `excused` span, `(from, until)`, `None` while it lasts: the harness making writes
/// fail or holding the database's lock, when a service that writes on a retry may
/// rightly answer `500` or `503`. One line per key.
pub fn replays_refused(
    attempts: &[Attempt],
    excused: &[(Instant, Option<Instant>)],
) -> Vec<String> {
    let is_2xx = |e: &Ended| e.status.is_some_and(|s| (200..300).contains(&s));
    let mut broken = Vec::new();
    let mut judged_keys: Vec<&str> = Vec::new();
    for retry in attempts {
        let (Some(key), Some(ended)) = (retry.key.as_deref(), retry.ended.as_ref()) else {
            continue;
        };
        let Some(status) = ended.status else { continue };
        if is_2xx(ended) || judged_keys.contains(&key) {
            continue;
        }
        let body = value(&retry.body);
        let succeeded = attempts.iter().find(|a| {
            a.key.as_deref() == Some(key)
                && value(&a.body) == body
                && a.ended
                    .as_ref()
                    .is_some_and(|e| is_2xx(e) && e.at < retry.sent)
        });
        let Some(first) = succeeded else { continue };
        let overlaps = |(from, until): &(Instant, Option<Instant>)| {
            *from <= ended.at && until.is_none_or(|u| u >= retry.sent)
        };
        if excused.iter().any(overlaps) {
            continue;
        }
        judged_keys.push(key);
        let code = ended
            .code
            .as_deref()
            .map_or_else(String::new, |c| format!(" ({c})"));
        let first_status = first
            .ended
            .as_ref()
            .and_then(|e| e.status)
            .map_or_else(String::new, |s| s.to_string());
        broken.push(format!(
            "Once a 2xx has been sent for a key, later retries answer 200: key {key} was answered {first_status}, then a retry with the same body, sent {} ms later, was answered {status}{code}.",
            retry
                .sent
                .saturating_duration_since(first.ended.as_ref().map_or(retry.sent, |e| e.at))
                .as_millis()
        ));
    }
    broken
}

/// A body as JSON, or as its text when it is not JSON.
fn value(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn attempt(
        t0: Instant,
        key: &str,
        body: &str,
        sent_ms: u64,
        end: Option<(u64, u16)>,
    ) -> Attempt {
        Attempt {
            key: Some(key.to_owned()),
            body: body.to_owned(),
            base: "http://127.0.0.1:1".to_owned(),
            sent: t0 + Duration::from_millis(sent_ms),
            ended: end.map(|(at, status)| Ended {
                at: t0 + Duration::from_millis(at),
                status: Some(status),
                code: None,
                id: None,
                let_go: None,
            }),
        }
    }

    #[test]
    fn a_retry_of_a_completed_key_must_be_answered_200() {
        let t0 = Instant::now();
        let ok = [
            attempt(t0, "k", A, 0, Some((100, 201))),
            attempt(t0, "k", A_REORDERED, 200, Some((250, 200))),
        ];
        assert!(replays_refused(&ok, &[]).is_empty());
        // A retry answered 503 (a downstream down) after the order was made.
        let refused = [
            attempt(t0, "k", A, 0, Some((100, 201))),
            attempt(t0, "k", A, 200, Some((250, 503))),
        ];
        let broken = replays_refused(&refused, &[]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains(
                "answered 201, then a retry with the same body, sent 100 ms later, was answered 503"
            ),
            "{broken:?}"
        );
        // Not a retry: sent before the 2xx came back, or with another body (422's).
        let concurrent = [
            attempt(t0, "k", A, 0, Some((100, 201))),
            attempt(t0, "k", A, 50, Some((120, 409))),
            attempt(t0, "k", B, 200, Some((250, 422))),
        ];
        assert!(replays_refused(&concurrent, &[]).is_empty());
        // While the harness held the database's lock, a 503 is excused.
        let locked = [(
            t0 + Duration::from_millis(150),
            Some(t0 + Duration::from_millis(300)),
        )];
        assert!(replays_refused(&refused, &locked).is_empty());
        let earlier = [(t0, Some(t0 + Duration::from_millis(150)))];
        assert_eq!(replays_refused(&refused, &earlier).len(), 1);
        // No answer at all (the instance killed) is not judged.
        let killed = [
            attempt(t0, "k", A, 0, Some((100, 201))),
            attempt(t0, "k", A, 200, None),
        ];
        assert!(replays_refused(&killed, &[]).is_empty());
    }

    /// Charge's reading: a success or a provider failure (`502`) recorded the key.
    fn charge_recorded(e: &Ended) -> bool {
        e.status
            .is_some_and(|s| (200..300).contains(&s) || s == 502)
    }

    const A: &str = r#"{"customer_id":"cus_1","amount":1999,"currency":"usd"}"#;
    const A_REORDERED: &str = r#"{"amount":1999,"currency":"usd","customer_id":"cus_1"}"#;
    const B: &str = r#"{"customer_id":"cus_1","amount":2999,"currency":"usd"}"#;

    #[test]
    fn a_different_body_accepted_after_a_failed_request_is_broken() {
        let t0 = Instant::now();
        let history = [
            attempt(t0, "k1", A, 0, Some((50, 502))),
            attempt(t0, "k1", B, 100, Some((150, 201))),
        ];
        let broken = different_body_accepted(&history, charge_recorded, "a charge");
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains("key k1") && broken[0].contains("answered 502"),
            "{broken:?}"
        );
        // After a success too, and only one line per key.
        let history = [
            attempt(t0, "k1", A, 0, Some((50, 201))),
            attempt(t0, "k1", B, 100, Some((150, 201))),
            attempt(t0, "k1", B, 200, Some((250, 200))),
        ];
        assert_eq!(
            different_body_accepted(&history, charge_recorded, "a charge").len(),
            1
        );
    }

    #[test]
    fn what_the_brief_allows_is_not_broken() {
        let t0 = Instant::now();
        let ok = |history: &[Attempt]| {
            different_body_accepted(history, charge_recorded, "a charge").is_empty()
        };
        // The different body refused; the original retried (its fields in another order).
        assert!(ok(&[
            attempt(t0, "k1", A, 0, Some((50, 201))),
            attempt(t0, "k1", B, 100, Some((150, 422))),
            attempt(t0, "k1", A_REORDERED, 200, Some((250, 200))),
        ]));
        // A first request refused (400) or failed for the database (500) may not have
        // recorded anything: its key may go to another body.
        assert!(ok(&[
            attempt(t0, "k1", A, 0, Some((50, 400))),
            attempt(t0, "k1", B, 100, Some((150, 201))),
        ]));
        assert!(ok(&[
            attempt(t0, "k1", A, 0, Some((50, 500))),
            attempt(t0, "k1", B, 100, Some((150, 201))),
        ]));
        // Still in flight when the other was sent, or cut off: not known to have
        // recorded anything.
        assert!(ok(&[
            attempt(t0, "k1", A, 0, Some((300, 502))),
            attempt(t0, "k1", B, 100, Some((150, 201))),
        ]));
        assert!(ok(&[
            attempt(t0, "k1", A, 0, None),
            attempt(t0, "k1", B, 100, Some((150, 201))),
        ]));
        // Other keys are other requests.
        assert!(ok(&[
            attempt(t0, "k1", A, 0, Some((50, 201))),
            attempt(t0, "k2", B, 100, Some((150, 201))),
        ]));
    }
}
