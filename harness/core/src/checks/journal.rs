//! The journal: what the standing judges found in one check's history.
//!
//! A check is written around one scenario, but a fix can break a requirement of the
//! brief in any scenario — next to the flaw a check aims at rather than at it. So every
//! world, when its check ends, holds what the fakes and the database recorded to the
//! brief's standing requirements (money conserved, one charge per key, stock accounted
//! for) and files the result here, whatever the check itself was about. The grade then
//! judges each requirement over every history ([`crate::report::requirements`]).

use std::sync::{Arc, Mutex, PoisonError};

use super::Timeline;

/// One standing requirement judged on one history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The requirement's id in the exercise's `requirements.toml`.
    pub requirement: &'static str,
    /// What broke it, in plain words; empty when the history kept it.
    pub broken: Vec<String>,
}

/// What one history showed of a design ([`crate::report::designs`]): seen, or seen
/// not to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The design's id.
    pub design: &'static str,
    /// The history showed it (false: the history showed it does not hold).
    pub seen: bool,
    /// What showed it, in a line.
    pub evidence: String,
}

/// The judgements filed during one check, shared by the check's worlds and the grade,
/// and the check's [`Timeline`], where each broken requirement is marked as well.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    judged: Arc<Mutex<Vec<Judged>>>,
    observed: Arc<Mutex<Vec<Observed>>>,
    timeline: Timeline,
}

impl Journal {
    /// The check's timeline: its clients, services and fakes record into it.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Files one requirement's judgement of this history.
    pub fn judged(&self, requirement: &'static str, broken: Vec<String>) {
        for line in &broken {
            self.timeline
                .violation("judge", format!("{requirement}: {line}"));
        }
        self.judged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Judged {
                requirement,
                broken,
            });
    }

    /// Files what this history showed of the service's designs.
    pub fn observed(&self, observations: Vec<Observed>) {
        self.observed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(observations);
    }

    /// Every observation filed so far, leaving none.
    pub fn take_observed(&self) -> Vec<Observed> {
        std::mem::take(&mut *self.observed.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Everything filed so far, leaving the journal empty.
    pub fn take(&self) -> Vec<Judged> {
        std::mem::take(&mut *self.judged.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Runs `judge` — a world's standing judges, which read the SQLite file and may wait
/// on its locks — without holding up the tasks queued on this runtime worker: on a
/// multi-thread runtime the worker hands its queue to another thread first
/// (`block_in_place`), so another check's timer is never late because a judge read.
pub fn blocking<T>(judge: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(judge)
        }
        _ => judge(),
    }
}

/// Every request a world's clients sent that can charge a customer, as
/// `(Idempotency-Key, body)`, filed before it is sent so a request whose answer never
/// came is known too. The standing judges count a customer's charges against it.
/// Each success is kept too, with the id its body named, so the standing judges can
/// hold every success for one key to the same object.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    attempts: Arc<Mutex<Vec<super::in_use::Attempt>>>,
}

/// A filed request's place in [`Sent`], to report its answer against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(usize);

/// One filed request: its `Idempotency-Key`, if any, and its body.
pub type Filed = (Option<String>, String);

/// One 2xx answer: the request's key and the `id` its body named, if any.
pub type Success = (String, Option<String>);

impl Sent {
    /// Files one request about to be sent to the instance at `base`.
    pub fn file(&self, base: &str, key: Option<&str>, body: &str) -> Ticket {
        let mut attempts = self.lock();
        attempts.push(super::in_use::Attempt {
            key: key.map(str::to_owned),
            body: body.to_owned(),
            base: base.to_owned(),
            sent: std::time::Instant::now(),
            ended: None,
        });
        Ticket(attempts.len() - 1)
    }

    /// Files what came back for the request `ticket`.
    pub fn answered(&self, ticket: Ticket, x: &crate::checks::http::Exchange) {
        self.end(
            ticket,
            super::in_use::Ended {
                at: std::time::Instant::now(),
                status: x.status,
                code: x
                    .body
                    .as_ref()
                    .and_then(|b| b.get("error")?.get("code")?.as_str())
                    .map(str::to_owned),
                id: x.str_field("id").map(str::to_owned),
                let_go: None,
            },
        );
    }

    /// Files that the client of request `ticket` hung up at `gone`, and that the
    /// harness let go of what the service waited on for it downstream at `released`.
    pub fn gave_up(&self, ticket: Ticket, gone: std::time::Instant, released: std::time::Instant) {
        self.end(
            ticket,
            super::in_use::Ended {
                at: gone,
                status: None,
                code: None,
                id: None,
                let_go: Some(released),
            },
        );
    }

    fn end(&self, ticket: Ticket, ended: super::in_use::Ended) {
        if let Some(attempt) = self.lock().get_mut(ticket.0) {
            attempt.ended = Some(ended);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<super::in_use::Attempt>> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything filed so far, as `(key, body)`.
    pub fn all(&self) -> Vec<Filed> {
        self.lock()
            .iter()
            .map(|a| (a.key.clone(), a.body.clone()))
            .collect()
    }

    /// Every request filed so far, with when it left and what came back.
    pub fn attempts(&self) -> Vec<super::in_use::Attempt> {
        self.lock().clone()
    }

    /// Every 2xx answer to a request sent under a key so far, in the order they came.
    pub fn successes(&self) -> Vec<Success> {
        let mut successes: Vec<(std::time::Instant, Success)> = self
            .lock()
            .iter()
            .filter_map(|a| {
                let ended = a.ended.as_ref()?;
                let success = ended.status.is_some_and(|s| (200..300).contains(&s));
                success.then(|| Some((ended.at, (a.key.clone()?, ended.id.clone()))))?
            })
            .collect();
        successes.sort_by_key(|(at, _)| *at);
        successes.into_iter().map(|(_, success)| success).collect()
    }
}

/// The `Idempotency-Key` among raw request headers (any case), for filing a request
/// sent with headers of the check's choosing.
pub fn key_header<'a>(headers: &[(&str, &'a str)]) -> Option<&'a str> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("idempotency-key"))
        .map(|(_, value)| *value)
}

/// Keys answered 2xx with more than one object (`what`: "charge", "order"), or with a
/// body naming none: once a request under a key succeeds, every success for that key
/// returns the same one.
pub fn different_successes(successes: &[Success], what: &str) -> Vec<String> {
    let mut by_key: std::collections::BTreeMap<&str, Vec<Option<&str>>> =
        std::collections::BTreeMap::new();
    for (key, id) in successes {
        let ids = by_key.entry(key.as_str()).or_default();
        if !ids.contains(&id.as_deref()) {
            ids.push(id.as_deref());
        }
    }
    by_key
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, ids)| {
            format!(
                "Key {key} was answered 2xx with {} different {what}s: {}.",
                ids.len(),
                ids.iter()
                    .map(|id| id.unwrap_or("(no id)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// Per customer (the body's `customer_id`), how many charges its requests allow: one
/// per distinct key it was sent under, and one for each request sent without a key —
/// so no reading of a refused request can make a right fix look like it charged twice.
pub fn charges_allowed(sent: &[Filed]) -> std::collections::BTreeMap<String, (Vec<String>, usize)> {
    let mut allowed: std::collections::BTreeMap<String, (Vec<String>, usize)> =
        std::collections::BTreeMap::new();
    for (key, body) in sent {
        let Some(customer) = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| Some(v.get("customer_id")?.as_str()?.to_owned()))
        else {
            continue;
        };
        let (keys, count) = allowed.entry(customer).or_default();
        match key {
            Some(key) if keys.contains(key) => {}
            Some(key) => {
                keys.push(key.clone());
                *count += 1;
            }
            None => *count += 1,
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_key_and_each_keyless_request_allows_one_charge() {
        let body = |c: &str| format!(r#"{{"customer_id":"{c}","amount":1}}"#);
        let sent = vec![
            (Some("k1".to_owned()), body("a")),
            (Some("k1".to_owned()), body("a")),
            (Some("k2".to_owned()), body("a")),
            (None, body("a")),
            (Some("k1".to_owned()), body("b")),
            (Some("k9".to_owned()), "not json".to_owned()),
        ];
        let allowed = charges_allowed(&sent);
        assert_eq!(allowed["a"], (vec!["k1".to_owned(), "k2".to_owned()], 3));
        assert_eq!(allowed["b"], (vec!["k1".to_owned()], 1));
        assert_eq!(allowed.len(), 2);
    }

    #[test]
    fn each_filed_request_ends_with_its_own_status_and_error_code() {
        let sent = Sent::default();
        let exchange =
            |status: Option<u16>, body: Option<serde_json::Value>| crate::checks::http::Exchange {
                request_line: "POST /checkout".to_owned(),
                shown_headers: Vec::new(),
                body_sent: None,
                status,
                body,
                raw_body: None,
                json_content_type: true,
                error: None,
                body_cut: false,
            };
        let first = sent.file("http://a", Some("k"), "{}");
        let second = sent.file("http://b", Some("k"), "{}");
        let unreported = sent.file("http://a", None, "{}");
        sent.answered(
            second,
            &exchange(
                Some(409),
                Some(serde_json::json!({"error": {"code": "out_of_stock"}})),
            ),
        );
        sent.answered(first, &exchange(None, None));
        let attempts = sent.attempts();
        assert_eq!(attempts.len(), 3);
        assert_eq!(attempts[0].base, "http://a");
        let first = attempts[0].ended.as_ref().unwrap();
        let second = attempts[1].ended.as_ref().unwrap();
        assert_eq!((first.status, first.code.as_deref()), (None, None));
        assert_eq!(
            (second.status, second.code.as_deref()),
            (Some(409), Some("out_of_stock"))
        );
        assert!(second.at <= first.at && attempts[0].sent <= attempts[1].sent);
        assert_eq!(attempts[2].ended, None);
        assert_eq!(unreported, Ticket(2));
        assert_eq!(sent.all()[2], (None, "{}".to_owned()));
        assert!(sent.successes().is_empty());
        let third = sent.file("http://a", Some("j"), "{}");
        sent.answered(
            third,
            &exchange(Some(201), Some(serde_json::json!({"id": "ch_1"}))),
        );
        sent.answered(
            unreported,
            &exchange(Some(201), Some(serde_json::json!({"id": "ch_2"}))),
        );
        // A keyless success names no key to hold to one object.
        assert_eq!(
            sent.successes(),
            [("j".to_owned(), Some("ch_1".to_owned()))]
        );
    }

    #[test]
    fn one_key_answered_with_two_objects_is_named_once() {
        let s = |k: &str, id: Option<&str>| (k.to_owned(), id.map(str::to_owned));
        let broken = different_successes(
            &[
                s("k1", Some("ch_1")),
                s("k1", Some("ch_1")),
                s("k2", Some("ch_2")),
                s("k2", Some("ch_3")),
                s("k2", Some("ch_3")),
                s("k3", None),
            ],
            "charge",
        );
        assert_eq!(
            broken,
            ["Key k2 was answered 2xx with 2 different charges: ch_2, ch_3."]
        );
    }
}
