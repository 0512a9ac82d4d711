//! "`409` is for a request that is really still in flight": the standing judge of a
//! key that answers "in use" when nothing under it is.
//!
//! The charge and checkout briefs let a key answer `409` only while another request
//! under it is in flight, or for a bounded time after that request died with its
//! instance; once the service has answered a request, a retry of it gets no `409`.
//! A fix whose claim outlives its request — a lease longer than the brief allows, a
//! heartbeat that keeps renewing, a claim released only at startup, an error path that
//! forgets to let go — shows it in any history where a retry follows, not only in the
//! check written for crashes. This judge reads what the harness itself recorded: when
//! each request left and what came back ([`Attempt`]), and when each instance was
//! killed or stopped ([`crate::checks::Timeline::ends`]); never the service's word.

use std::time::{Duration, Instant};

/// One request the harness sent under an idempotency key, as its client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Its `Idempotency-Key`, if it had one.
    pub key: Option<String>,
    /// Its body, verbatim.
    pub body: String,
    /// The base URL of the instance it went to (`http://127.0.0.1:PORT`).
    pub base: String,
    /// When it was filed, just before it left.
    pub sent: Instant,
    /// How it ended for its client. Not set for a request whose client never
    /// reported back (hung up by hand, or still out when the check ended).
    pub ended: Option<Ended>,
}

/// When a request's client stopped waiting, and what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// When.
    pub at: Instant,
    /// The status (`None`: no answer — the connection broke, or the client gave up).
    pub status: Option<u16>,
    /// The JSON error body's `error.code`, if any.
    pub code: Option<String>,
    /// The `id` the body named, if any (the charge or order a success returned).
    pub id: Option<String>,
    /// For a request whose client hung up at `at`: when the harness let go of what
    /// the service waited on for it downstream. A service that dropped the request
    /// with its client may keep the key for the allowance after `at`; one that carried
    /// it on has it in flight until then.
    pub let_go: Option<Instant>,
}

/// How long a request may keep its key in use after it ended without the service
/// having been able to record its end, per the brief.
#[derive(Debug, Clone, Default)]
pub struct Allowance {
    /// The brief's bound plus the harness's margin: how long after its instance died,
    /// or after an answer given while its writes could fail, a request may hold its key.
    pub recovery: Duration,
    /// Spans in which the harness made the service's writes fail (armed write faults),
    /// as `(from, until)`, `None` while still armed: an answer given across one may
    /// have been unable to release its key.
    pub writes_failing: Vec<(Instant, Option<Instant>)>,
    /// `409` error codes that say something else than "in use" (checkout's
    /// `out_of_stock`).
    pub other_409s: Vec<&'static str>,
    /// When a downstream told the service that the request was still in flight there
    /// (the payment provider's `409 idempotency_key_in_use`): a `409` answered while
    /// one came passes on something true, whatever the harness saw of the key.
    pub in_flight_downstream: Vec<Instant>,
}

impl Allowance {
    /// Whether a downstream said "still in flight" between `from` and `to`.
    fn told_in_flight(&self, from: Instant, to: Instant) -> bool {
        self.in_flight_downstream
            .iter()
            .any(|t| from <= *t && *t <= to)
    }
}

impl Attempt {
    /// Until when this request may keep its key answering `409`: its answer; for a
    /// 500 or 503, an answer given while the harness made writes fail (the service may
    /// not have been able to write its release), or a 409 passing on the provider's
    /// "still in flight", that plus `recovery`; for a request its client gave up on,
    /// `recovery` after the hang-up or the moment the harness let its downstream call
    /// go, whichever is later; for a broken connection, the end of its instance (the
    /// first kill or stop of that address after it left) plus `recovery`; otherwise
    /// for ever, as the harness cannot tell when the service stopped working on it.
    fn in_use_until(&self, ends: &[(String, Instant)], allow: &Allowance) -> Option<Instant> {
        let ended = self.ended.as_ref()?;
        let writes_failed = allow
            .writes_failing
            .iter()
            .any(|(from, until)| *from <= ended.at && until.is_none_or(|u| u >= self.sent));
        match (ended.at, ended.status) {
            (at, _) if let Some(let_go) = ended.let_go => Some((at + allow.recovery).max(let_go)),
            (at, Some(500 | 503)) => Some(at + allow.recovery),
            // Told by a downstream that the original is still in flight there, the
            // service may keep the key for that request, as for one that died.
            (at, Some(409)) if allow.told_in_flight(self.sent, at) => Some(at + allow.recovery),
            (at, Some(_)) if writes_failed => Some(at + allow.recovery),
            (at, Some(_)) => Some(at),
            (_, None) => ends
                .iter()
                .filter(|(base, end)| *base == self.base && *end > self.sent)
                .map(|(_, end)| *end)
                .min()
                .map(|end| end + allow.recovery),
        }
    }
}

/// Every `409` answered while no other request under its key was in flight (or within
/// its allowance after it ended), in plain words. `ends` are the instances' kills and
/// stops as `(base URL, when)`.
pub fn answered_in_use_with_none_in_flight(
    attempts: &[Attempt],
    ends: &[(String, Instant)],
    allow: &Allowance,
) -> Vec<String> {
    // One finding per key (its first false 409), with how many more it had.
    let mut found: Vec<(&str, String, usize)> = Vec::new();
    for (i, r) in attempts.iter().enumerate() {
        let (Some(key), Some(ended)) = (&r.key, &r.ended) else {
            continue;
        };
        if !is_in_use(ended, allow) {
            continue;
        }
        let others: Vec<&Attempt> = attempts
            .iter()
            .enumerate()
            .filter(|(j, q)| *j != i && q.key.as_ref() == Some(key) && q.sent < ended.at)
            .map(|(_, q)| q)
            .collect();
        let in_flight = others.iter().any(|q| {
            q.in_use_until(ends, allow)
                .is_none_or(|until| until > r.sent)
        });
        if in_flight || allow.told_in_flight(r.sent, ended.at) {
            continue;
        }
        if let Some((_, _, more)) = found.iter_mut().find(|(k, _, _)| *k == key.as_str()) {
            *more += 1;
            continue;
        }
        // The request that held the key last: not another false "in use".
        let holder = others
            .iter()
            .filter(|q| !q.ended.as_ref().is_some_and(|e| is_in_use(e, allow)))
            .filter_map(|q| Some((q.in_use_until(ends, allow)?, q.ended.as_ref()?)))
            .max_by_key(|(until, _)| *until);
        let line = match holder {
            None => format!(
                "Key {key} was answered 409 (in use) with no other request under it in flight, nor any before it."
            ),
            Some((until, status)) => format!(
                "Key {key} was answered 409 (in use) {} ms after its last request {}: nothing under it was in flight.",
                r.sent.saturating_duration_since(until).as_millis(),
                match (status.status, status.let_go) {
                    (_, Some(_)) => format!(
                        "was given up by its client and the {} s a dead request may keep its key had passed",
                        allow.recovery.as_secs()
                    ),
                    (Some(s), None) => format!("was answered {s}"),
                    (None, None) => format!(
                        "died with its instance and the {} s a dead request may keep its key had passed",
                        allow.recovery.as_secs()
                    ),
                }
            ),
        };
        found.push((key, line, 0));
    }
    found
        .into_iter()
        .map(|(_, line, more)| match more {
            0 => line,
            n => format!("{line} ({n} more such 409s under it.)"),
        })
        .collect()
}

/// An answer saying the key is in use: a 409 with no code naming something else.
fn is_in_use(ended: &Ended, allow: &Allowance) -> bool {
    ended.status == Some(409)
        && !ended
            .code
            .as_deref()
            .is_some_and(|c| allow.other_409s.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Allowance {
        Allowance {
            recovery: Duration::from_secs(6),
            ..Allowance::default()
        }
    }

    struct H {
        t0: Instant,
        attempts: Vec<Attempt>,
    }

    impl H {
        fn new() -> H {
            H {
                t0: Instant::now(),
                attempts: Vec::new(),
            }
        }
        fn ms(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }
        fn req(&mut self, key: &str, base: &str, sent: u64, ended: Option<(u64, Option<u16>)>) {
            let ended = ended.map(|(at, status)| Ended {
                at: self.ms(at),
                status,
                code: None,
                id: None,
                let_go: None,
            });
            self.attempts.push(Attempt {
                key: Some(key.to_owned()),
                body: String::new(),
                base: base.to_owned(),
                sent: self.ms(sent),
                ended,
            });
        }
        fn judge(&self, ends: &[(&str, u64)]) -> Vec<String> {
            let ends: Vec<(String, Instant)> = ends
                .iter()
                .map(|(b, at)| (b.to_string(), self.ms(*at)))
                .collect();
            self.judge_with(&ends, &allow())
        }
        fn judge_with(&self, ends: &[(String, Instant)], allow: &Allowance) -> Vec<String> {
            answered_in_use_with_none_in_flight(&self.attempts, ends, allow)
        }
    }

    #[test]
    fn a_duplicate_answered_409_while_the_original_is_out_is_fine() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((900, Some(201))));
        h.req("k", "b", 100, Some((150, Some(409))));
        // Sent after the 409 was asked for but before it was answered: it may be the
        // one that holds the key.
        h.req("j", "a", 1000, Some((1010, Some(409))));
        h.req("j", "b", 1005, Some((1200, Some(201))));
        assert!(h.judge(&[]).is_empty());
    }

    #[test]
    fn a_409_after_every_other_request_was_answered_is_broken() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((100, Some(502))));
        h.req("k", "a", 101, Some((110, Some(409))));
        let broken = h.judge(&[]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains("was answered 502"), "{broken:?}");
    }

    #[test]
    fn a_409_with_no_other_request_is_broken() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((10, Some(409))));
        let broken = h.judge(&[]);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].contains("no other request"), "{broken:?}");
    }

    #[test]
    fn a_key_is_named_once_with_its_further_false_409s_counted() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((100, Some(502))));
        h.req("k", "a", 200, Some((210, Some(409))));
        h.req("k", "a", 300, Some((310, Some(409))));
        h.req("k", "a", 400, Some((410, Some(409))));
        assert_eq!(
            h.judge(&[]),
            [
                "Key k was answered 409 (in use) 100 ms after its last request was answered 502: nothing under it was in flight. (2 more such 409s under it.)"
            ]
        );
    }

    #[test]
    fn a_request_that_died_with_its_instance_holds_its_key_for_the_allowance() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((1000, None)));
        // Instance `b` dying says nothing about `a`'s request.
        let ends = [("b", 500), ("a", 1000)];
        h.req("k", "c", 6500, Some((6510, Some(409))));
        assert!(h.judge(&ends).is_empty());
        h.req("k", "c", 7100, Some((7110, Some(409))));
        let broken = h.judge(&ends);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains("died with its instance"), "{broken:?}");
    }

    #[test]
    fn a_broken_connection_with_no_death_and_an_unreported_request_hold_for_ever() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((100, None)));
        h.req("j", "a", 0, None);
        h.req("k", "a", 60_000, Some((60_010, Some(409))));
        h.req("j", "a", 60_000, Some((60_010, Some(409))));
        assert!(h.judge(&[]).is_empty());
        // An end no later than the request left is an earlier incarnation's.
        assert!(h.judge(&[("a", 0)]).is_empty());
        assert_eq!(h.judge(&[("a", 1)]).len(), 1);
    }

    #[test]
    fn a_database_failure_answer_may_keep_its_key_for_the_allowance() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((100, Some(503))));
        h.req("k", "a", 5000, Some((5010, Some(409))));
        assert!(h.judge(&[]).is_empty());
        h.req("k", "a", 6200, Some((6210, Some(409))));
        assert_eq!(h.judge(&[]).len(), 1);
    }

    #[test]
    fn keyless_requests_and_other_keys_are_not_in_flight_for_this_key() {
        let mut h = H::new();
        h.req("other", "a", 0, None);
        h.attempts.push(Attempt {
            key: None,
            body: String::new(),
            base: "a".to_owned(),
            sent: h.ms(0),
            ended: None,
        });
        h.req("k", "a", 10, Some((20, Some(409))));
        assert_eq!(h.judge(&[]).len(), 1);
    }

    #[test]
    fn an_answer_while_writes_were_made_to_fail_may_keep_its_key() {
        let mut h = H::new();
        h.req("k", "a", 1000, Some((1100, Some(502))));
        h.req("k", "a", 2000, Some((2010, Some(409))));
        assert_eq!(h.judge(&[]).len(), 1);
        let armed = Allowance {
            writes_failing: vec![(h.ms(0), Some(h.ms(1050)))],
            ..allow()
        };
        assert!(h.judge_with(&[], &armed).is_empty());
        let before = Allowance {
            writes_failing: vec![(h.ms(0), Some(h.ms(900)))],
            ..allow()
        };
        assert_eq!(h.judge_with(&[], &before).len(), 1);
    }

    #[test]
    fn a_409_passing_on_the_providers_in_flight_is_true() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((100, None)));
        h.req("k", "b", 9000, Some((9100, Some(409))));
        let ends = [("a", 100)];
        assert_eq!(h.judge(&ends).len(), 1);
        let ends: Vec<(String, Instant)> = vec![("a".to_owned(), h.ms(100))];
        let told = Allowance {
            in_flight_downstream: vec![h.ms(9050)],
            ..allow()
        };
        assert!(h.judge_with(&ends, &told).is_empty());
        let earlier = Allowance {
            in_flight_downstream: vec![h.ms(8000)],
            ..allow()
        };
        assert_eq!(h.judge_with(&ends, &earlier).len(), 1);
        // The request told so may keep the key for the allowance, as a dead one may.
        h.req("k", "b", 15_000, Some((15_010, Some(409))));
        assert!(h.judge_with(&ends, &told).is_empty());
        h.req("k", "b", 15_200, Some((15_210, Some(409))));
        assert_eq!(h.judge_with(&ends, &told).len(), 1);
    }

    #[test]
    fn a_request_its_client_gave_up_on_holds_its_key_for_the_allowance_or_until_let_go() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((2000, None)));
        h.attempts[0].ended.as_mut().unwrap().let_go = Some(h.ms(3000));
        h.req("k", "a", 7900, Some((7910, Some(409))));
        assert!(h.judge(&[]).is_empty());
        h.req("k", "a", 8100, Some((8110, Some(409))));
        let broken = h.judge(&[]);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].contains("given up by its client"), "{broken:?}");
        // Held downstream longer than the allowance: in flight until let go.
        h.attempts[0].ended.as_mut().unwrap().let_go = Some(h.ms(9000));
        assert!(h.judge(&[]).is_empty());
    }

    #[test]
    fn a_409_about_something_else_is_not_judged() {
        let mut h = H::new();
        h.req("k", "a", 0, Some((10, Some(409))));
        h.attempts[0].ended.as_mut().unwrap().code = Some("out_of_stock".to_owned());
        assert_eq!(h.judge(&[]).len(), 1);
        let stock = Allowance {
            other_409s: vec!["out_of_stock"],
            ..allow()
        };
        assert!(h.judge_with(&[], &stock).is_empty());
    }
}
