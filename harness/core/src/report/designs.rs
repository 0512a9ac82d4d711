//! The candidate's design, recognised from what the checks observed — never from
//! reading the code. Each world, when its check ends, files what its history shows of
//! a design (seen, or seen not to hold); a design is recognised when some history showed
//! it and none contradicted it. Where the observations are not enough, nothing is said.

use serde::{Deserialize, Serialize};

use crate::checks::journal::Observed;

/// A design the report can name: its id and how the report says it.
pub struct Design {
    /// Stable id, e.g. `provider-key-none`.
    pub id: &'static str,
    /// The exercise it belongs to.
    pub exercise: &'static str,
    /// What the fix does, in a sentence an interviewer can put to the candidate.
    pub text: &'static str,
}

/// Every design the worlds observe.
pub const DESIGNS: &[Design] = &[
    Design {
        id: PROVIDER_KEY_NONE,
        exercise: "charge",
        text: "Calls the payment provider without an Idempotency-Key: the provider cannot tell a retry from a new charge.",
    },
    Design {
        id: PROVIDER_KEY_CLIENTS,
        exercise: "charge",
        text: "Passes the client's Idempotency-Key through to the payment provider unchanged.",
    },
    Design {
        id: PROVIDER_KEY_OWN,
        exercise: "charge",
        text: "Sends the payment provider an Idempotency-Key of its own making (never the client's key), e.g. its charge id.",
    },
    Design {
        id: PROVIDER_KEY_NONE,
        exercise: "checkout",
        text: "Calls the payment provider without an Idempotency-Key: the provider cannot tell a retry from a new charge.",
    },
    Design {
        id: PROVIDER_KEY_CLIENTS,
        exercise: "checkout",
        text: "Passes the client's Idempotency-Key through to the payment provider unchanged.",
    },
    Design {
        id: PROVIDER_KEY_OWN,
        exercise: "checkout",
        text: "Sends the payment provider an Idempotency-Key of its own making (never the client's key), e.g. its order id.",
    },
    Design {
        id: PROVIDER_KEY_STABLE,
        exercise: "charge",
        text: "Reuses the same provider key when it calls the provider again after an answer was lost, so the provider returns the first charge instead of making a second.",
    },
    Design {
        id: PROVIDER_KEY_PER_ATTEMPT,
        exercise: "charge",
        text: "Sends the provider a new key on the call after a lost answer: the provider cannot know it already charged, and charges again.",
    },
    Design {
        id: PROVIDER_KEY_STABLE,
        exercise: "checkout",
        text: "Reuses the same provider key when it calls the provider again after an answer was lost, so the provider returns the first charge instead of making a second.",
    },
    Design {
        id: PROVIDER_KEY_PER_ATTEMPT,
        exercise: "checkout",
        text: "Sends the provider a new key on the call after a lost answer: the provider cannot know it already charged, and charges again.",
    },
    Design {
        id: RISK_BEFORE_FUNDS,
        exercise: "transfer",
        text: "Asks the risk service before checking the payer's funds: transfers it then refuses with 409 still cost a risk assessment.",
    },
    Design {
        id: FUNDS_BEFORE_RISK,
        exercise: "transfer",
        text: "Checks the payer's funds before asking the risk service: a transfer the payer cannot cover is refused without an assessment.",
    },
];

/// A transfer refused `409 insufficient_funds` had been assessed by the risk service.
pub const RISK_BEFORE_FUNDS: &str = "risk-before-funds";
/// A transfer refused `409 insufficient_funds` was never sent to the risk service.
pub const FUNDS_BEFORE_RISK: &str = "funds-before-risk";

/// What one history shows of the order of the funds check and the risk call: `refused`
/// are the transfers answered `409` as `(from, to, amount)`, each sent once in the
/// history; `assessed` what the risk service was asked about.
pub fn risk_order(
    refused: &[(String, String, i64)],
    assessed: &[(Option<String>, Option<String>, Option<i64>)],
) -> Vec<Observed> {
    let mut observed = Vec::new();
    for (from, to, amount) in refused {
        let asked = assessed.iter().any(|(f, t, a)| {
            f.as_deref() == Some(from.as_str())
                && t.as_deref() == Some(to.as_str())
                && *a == Some(*amount)
        });
        let evidence = format!(
            "a transfer of {amount} from {from} the payer could not cover (409) was {} the risk service",
            if asked {
                "assessed by"
            } else {
                "never sent to"
            }
        );
        observed.push(Observed {
            design: RISK_BEFORE_FUNDS,
            seen: asked,
            evidence: evidence.clone(),
        });
        observed.push(Observed {
            design: FUNDS_BEFORE_RISK,
            seen: !asked,
            evidence,
        });
    }
    observed
}

/// No provider call carried a key.
pub const PROVIDER_KEY_NONE: &str = "provider-key-none";
/// Every provider call carried a key the client sent.
pub const PROVIDER_KEY_CLIENTS: &str = "provider-key-clients";
/// Every provider call carried a key, and none was a key the client sent.
pub const PROVIDER_KEY_OWN: &str = "provider-key-own";
/// After a call whose answer was lost, the next call for that request had the same key.
pub const PROVIDER_KEY_STABLE: &str = "provider-key-stable";
/// After a call whose answer was lost, the next call for that request had another key.
pub const PROVIDER_KEY_PER_ATTEMPT: &str = "provider-key-per-attempt";

/// One call the provider received, as the designs read it.
pub struct ProviderCallSeen {
    /// The customer charged: how a call is tied to the client's request.
    pub customer: Option<String>,
    /// The key the service sent.
    pub key: Option<String>,
    /// The provider acted and the service never got the answer (lost or held).
    pub answer_lost: bool,
}

/// What one history shows of the key the service sends when it calls the provider
/// again after an answer was lost. Only customers the client charged under exactly
/// one key count, so every call for such a customer belongs to one request.
pub fn provider_key_after_loss(
    client: &[(Option<String>, Option<String>)],
    calls: &[ProviderCallSeen],
) -> Vec<Observed> {
    let mut observed = Vec::new();
    for (i, lost) in calls.iter().enumerate().filter(|(_, c)| c.answer_lost) {
        let Some(customer) = &lost.customer else {
            continue;
        };
        let keys: std::collections::BTreeSet<&Option<String>> = client
            .iter()
            .filter(|(_, c)| c.as_ref() == Some(customer))
            .map(|(k, _)| k)
            .collect();
        if keys.len() != 1 || keys.iter().next().is_some_and(|k| k.is_none()) {
            continue;
        }
        let Some(next) = calls[i + 1..]
            .iter()
            .find(|c| c.customer.as_ref() == Some(customer))
        else {
            continue;
        };
        let same = next.key.is_some() && next.key == lost.key;
        let evidence = format!(
            "after the answer to a call with key {} was lost, the next call for that request had {}",
            lost.key
                .as_deref()
                .map_or("(none)".to_owned(), |k| format!("`{k}`")),
            if same {
                "the same key".to_owned()
            } else {
                next.key
                    .as_deref()
                    .map_or("no key".to_owned(), |k| format!("key `{k}`"))
            }
        );
        observed.push(Observed {
            design: PROVIDER_KEY_STABLE,
            seen: same,
            evidence: evidence.clone(),
        });
        if lost.key.is_some() && next.key.is_some() {
            observed.push(Observed {
                design: PROVIDER_KEY_PER_ATTEMPT,
                seen: !same,
                evidence,
            });
        }
    }
    observed
}

/// A design recognised in a grade, with what showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecognisedDesign {
    /// Its id.
    pub id: String,
    /// What the fix does.
    pub text: String,
    /// What the checks saw, a line per history (at most three).
    pub evidence: Vec<String>,
}

/// What one history shows of how the service keys its provider calls: `client_keys`
/// are the keys the harness sent, `provider_keys` the key of every call the provider
/// received. A history without provider calls shows nothing.
pub fn provider_key_scheme(
    client_keys: &[String],
    provider_keys: &[Option<String>],
) -> Vec<Observed> {
    if provider_keys.is_empty() {
        return Vec::new();
    }
    let keyed: Vec<&String> = provider_keys.iter().flatten().collect();
    let theirs = keyed.iter().filter(|k| client_keys.contains(k)).count();
    let calls = provider_keys.len();
    let example = keyed
        .first()
        .map(|k| format!(", e.g. `{k}`"))
        .unwrap_or_default();
    vec![
        Observed {
            design: PROVIDER_KEY_NONE,
            seen: keyed.is_empty(),
            evidence: format!(
                "{calls} provider call(s), {} with an Idempotency-Key",
                keyed.len()
            ),
        },
        Observed {
            design: PROVIDER_KEY_CLIENTS,
            seen: keyed.len() == calls && theirs == calls,
            evidence: format!("all {calls} provider call(s) carried the client's own key{example}"),
        },
        Observed {
            design: PROVIDER_KEY_OWN,
            seen: keyed.len() == calls && theirs == 0,
            evidence: format!(
                "all {calls} provider call(s) carried a key, none of them a key the client sent{example}"
            ),
        },
    ]
}

/// Everything one history of a payment exercise shows of its provider key design:
/// `sent` is what the harness's clients filed (key, body naming a `customer_id`),
/// `calls` what the provider received.
#[cfg(any(feature = "charge", feature = "checkout"))]
pub fn provider_observations(
    sent: &[crate::checks::journal::Filed],
    calls: &[crate::fakes::payment_provider::ProviderCall],
) -> Vec<Observed> {
    use crate::fakes::ProviderFault;
    let client_keys: Vec<String> = sent.iter().filter_map(|(k, _)| k.clone()).collect();
    let provider_keys: Vec<Option<String>> =
        calls.iter().map(|c| c.idempotency_key.clone()).collect();
    let client: Vec<(Option<String>, Option<String>)> = sent
        .iter()
        .map(|(k, body)| {
            let customer = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| Some(v.get("customer_id")?.as_str()?.to_owned()));
            (k.clone(), customer)
        })
        .collect();
    let seen: Vec<ProviderCallSeen> = calls
        .iter()
        .map(|c| ProviderCallSeen {
            answer_lost: matches!(
                c.fault,
                Some(ProviderFault::LostResponse | ProviderFault::CommitThenHold)
            ),
            customer: c.customer.clone(),
            key: c.idempotency_key.clone(),
        })
        .collect();
    let mut observed = provider_key_scheme(&client_keys, &provider_keys);
    observed.extend(provider_key_after_loss(&client, &seen));
    observed
}

/// The designs of `exercise` that some history showed and none contradicted.
pub fn recognise(exercise: &str, observed: &[Observed]) -> Vec<RecognisedDesign> {
    DESIGNS
        .iter()
        .filter(|d| d.exercise == exercise)
        .filter_map(|d| {
            let mine: Vec<&Observed> = observed.iter().filter(|o| o.design == d.id).collect();
            if mine.is_empty() || mine.iter().any(|o| !o.seen) {
                return None;
            }
            let mut evidence = vec![format!(
                "shown by {} observation(s) in the checks' histories, contradicted by none",
                mine.len()
            )];
            evidence.extend(mine.iter().take(2).map(|o| o.evidence.clone()));
            Some(RecognisedDesign {
                id: d.id.to_owned(),
                text: d.text.to_owned(),
                evidence,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| (*k).to_owned()).collect()
    }

    fn seen(observed: &[Observed]) -> Vec<&'static str> {
        observed
            .iter()
            .filter(|o| o.seen)
            .map(|o| o.design)
            .collect()
    }

    #[test]
    fn each_key_scheme_is_told_apart() {
        let client = keys(&["k1", "k2"]);
        assert_eq!(
            seen(&provider_key_scheme(&client, &[None, None])),
            [PROVIDER_KEY_NONE]
        );
        assert_eq!(
            seen(&provider_key_scheme(
                &client,
                &[Some("k1".into()), Some("k2".into())]
            )),
            [PROVIDER_KEY_CLIENTS]
        );
        assert_eq!(
            seen(&provider_key_scheme(
                &client,
                &[Some("ch_1".into()), Some("ch_2".into())]
            )),
            [PROVIDER_KEY_OWN]
        );
        // A mix says nothing, and no calls say nothing.
        assert!(seen(&provider_key_scheme(&client, &[Some("k1".into()), None])).is_empty());
        assert!(provider_key_scheme(&client, &[]).is_empty());
    }

    fn call(customer: &str, key: Option<&str>, answer_lost: bool) -> ProviderCallSeen {
        ProviderCallSeen {
            customer: Some(customer.to_owned()),
            key: key.map(str::to_owned),
            answer_lost,
        }
    }

    #[test]
    fn the_key_after_a_lost_answer_tells_a_stable_key_from_a_fresh_one() {
        let client = [
            (Some("k1".to_owned()), Some("cus_a".to_owned())),
            (Some("k1".to_owned()), Some("cus_a".to_owned())),
        ];
        let stable = [
            call("cus_a", Some("p1"), true),
            call("cus_a", Some("p1"), false),
        ];
        assert_eq!(
            seen(&provider_key_after_loss(&client, &stable)),
            [PROVIDER_KEY_STABLE]
        );
        let fresh = [
            call("cus_a", Some("p1"), true),
            call("cus_a", Some("p2"), false),
        ];
        assert_eq!(
            seen(&provider_key_after_loss(&client, &fresh)),
            [PROVIDER_KEY_PER_ATTEMPT]
        );
        let none = [call("cus_a", None, true), call("cus_a", None, false)];
        assert!(seen(&provider_key_after_loss(&client, &none)).is_empty());
        // A customer charged under two client keys ties no call to one request.
        let two = [
            (Some("k1".to_owned()), Some("cus_a".to_owned())),
            (Some("k2".to_owned()), Some("cus_a".to_owned())),
        ];
        assert!(provider_key_after_loss(&two, &fresh).is_empty());
        // Nothing lost, nothing to say.
        let healthy = [
            call("cus_a", Some("p1"), false),
            call("cus_a", Some("p2"), false),
        ];
        assert!(provider_key_after_loss(&client, &healthy).is_empty());
    }

    #[test]
    fn the_risk_call_before_or_after_the_funds_check() {
        let refused = [("a".to_owned(), "b".to_owned(), 500)];
        let asked = [(Some("a".to_owned()), Some("b".to_owned()), Some(500))];
        assert_eq!(seen(&risk_order(&refused, &asked)), [RISK_BEFORE_FUNDS]);
        let other = [(Some("a".to_owned()), Some("b".to_owned()), Some(400))];
        assert_eq!(seen(&risk_order(&refused, &other)), [FUNDS_BEFORE_RISK]);
        assert!(risk_order(&[], &asked).is_empty());
    }

    #[test]
    fn one_contradicting_history_silences_a_design() {
        let client = keys(&["k1"]);
        let mut observed = provider_key_scheme(&client, &[Some("k1".into())]);
        assert_eq!(recognise("charge", &observed)[0].id, PROVIDER_KEY_CLIENTS);
        observed.extend(provider_key_scheme(&client, &[Some("mine-1".into())]));
        assert!(recognise("charge", &observed).is_empty());
        assert!(recognise("checkout", &[]).is_empty());
    }
}
