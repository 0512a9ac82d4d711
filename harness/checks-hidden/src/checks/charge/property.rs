//! The property check: random histories of requests, retries, concurrent bursts,
//! provider faults and crashes, judged against ground truth.
//!
//! Invariant, for every idempotency key in a history, once faults are cleared and the
//! client has retried the key until it succeeds (a key whose request a SIGKILL cut off
//! may still answer 409 within the brief's `CRASH_RECOVERY`; `charge.crash-after-provider-call`
//! holds the retry to that time): the provider charged the customer at most once; every 2xx for the key returned the same charge and described the request
//! it answered; the service's `charges` rows agree with the provider's records. Every
//! random choice comes from the check's seed; a failing history is shrunk and reported
//! as the list of requests and faults, with the command that replays it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::charge::world::{
    CRASH_RECOVERY, ChargeBody, ChargeWorld, HeldOrAnswered, HoldPoint, judge_one_key,
};
use crate::checks::http::Exchange;
use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::fakes::ProviderFault;
use crate::seed::SeedRng;

/// Random histories tried before concluding the invariant holds.
const CASES: u32 = 12;
/// Bound on shrinking work, so a failing grade stays fast.
const MAX_SHRINK_ITERS: u32 = 48;
/// Distinct idempotency keys the random steps use.
const KEYS: u8 = 3;
/// A key only the history's guaranteed crash step uses, so that crash always hits a
/// request the provider has never seen.
const CRASH_KEY: u8 = KEYS;

/// A fault the provider applies to a single request's charge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFault {
    /// No fault.
    None,
    /// The provider charges, then the response is lost.
    LostResponse,
    /// The provider answers 500 and charges nothing.
    ServerError,
}

/// One step of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One request. `altered` sends a different amount under a key that already succeeded.
    Send {
        key: u8,
        altered: bool,
        fault: CallFault,
    },
    /// `copies` concurrent requests with one key; the first is held at the provider
    /// until the others have arrived.
    Burst {
        key: u8,
        copies: u8,
        after_charge: bool,
    },
    /// One request; the provider charges and holds its answer; the service is killed
    /// with SIGKILL and restarted on the same database.
    Crash { key: u8 },
    /// SIGKILL the idle service and restart it on the same database.
    Restart,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send {
                key,
                altered,
                fault,
            } => {
                write!(
                    f,
                    "POST /charges with key k{key}, {}",
                    body_label(*key, *altered)
                )?;
                match fault {
                    CallFault::None => Ok(()),
                    CallFault::LostResponse => {
                        write!(f, "; the provider charges, then drops its response")
                    }
                    CallFault::ServerError => write!(f, "; the provider answers 500"),
                }
            }
            Step::Burst {
                key,
                copies,
                after_charge,
            } => write!(
                f,
                "{copies} concurrent POST /charges with key k{key}, {}; the first is held at the provider ({}) until the others arrive",
                body_label(*key, false),
                if *after_charge {
                    "after it charged"
                } else {
                    "before it charges"
                }
            ),
            Step::Crash { key } => write!(
                f,
                "POST /charges with key k{key}, {}; the provider charges, the service is killed with SIGKILL before it answers, then restarted",
                body_label(*key, false)
            ),
            Step::Restart => write!(f, "SIGKILL the idle service and restart it"),
        }
    }
}

fn body_label(key: u8, altered: bool) -> String {
    let (amount, _) = amounts(key);
    if altered {
        format!("amount {} (a different body for the same key)", amount + 1)
    } else {
        format!("amount {amount} usd")
    }
}

fn amounts(key: u8) -> (i64, &'static str) {
    (1_000 + i64::from(key) * 250, "usd")
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let key = 0..KEYS;
    let fault = prop_oneof![
        3 => Just(CallFault::None),
        2 => Just(CallFault::LostResponse),
        1 => Just(CallFault::ServerError),
    ];
    prop_oneof![
        5 => (key.clone(), any::<bool>(), fault)
            .prop_map(|(key, altered, fault)| Step::Send { key, altered, fault }),
        3 => (key.clone(), 2u8..=3, any::<bool>())
            .prop_map(|(key, copies, after_charge)| Step::Burst { key, copies, after_charge }),
        1 => key.prop_map(|key| Step::Crash { key }),
        1 => Just(Step::Restart),
    ]
}

/// Random steps on keys k0..k2, plus steps every history carries so that no seed can
/// skip a scenario: a crash on a fresh key (k3) and, on one key, a request followed by
/// a different body under the same key. Their positions are random; shrinking keeps them.
fn history_strategy() -> impl Strategy<Value = Vec<Step>> {
    (
        proptest::collection::vec(step_strategy(), 0..=5),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..KEYS,
    )
        .prop_map(|(mut steps, crash_at, reuse_at, reuse_key)| {
            let crash = crash_at.index(steps.len() + 1);
            steps.insert(crash, Step::Crash { key: CRASH_KEY });
            let reuse = reuse_at.index(steps.len() + 1);
            let plain = Step::Send {
                key: reuse_key,
                altered: false,
                fault: CallFault::None,
            };
            let altered = Step::Send {
                key: reuse_key,
                altered: true,
                fault: CallFault::None,
            };
            steps.splice(reuse..reuse, [plain, altered]);
            steps
        })
}

/// Runs the property over seeded random histories.
pub async fn histories(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let mut rng = SeedRng::new(env.seed);
    let world = Arc::new(Mutex::new(ChargeWorld::start(env).await?));
    let runner_world = Arc::clone(&world);
    let found = search(
        history_strategy(),
        CASES,
        MAX_SHRINK_ITERS,
        rng.bytes32(),
        move |case, history| {
            let world = Arc::clone(&runner_world);
            async move {
                let mut w = world.lock().await;
                Ok(run_history(&mut w, &format!("c{case}"), &history).await?.0)
            }
        },
    )
    .await?;

    match found {
        None => {
            let mut story = Evidence::new();
            story.say(format!(
                "{CASES} random histories of requests, retries, bursts, provider faults and crashes kept the invariant."
            ));
            Ok(Verdict::Pass(story))
        }
        Some(Found {
            input: minimal,
            broke,
        }) => {
            // Replay the shrunk history once more to tell its story in full.
            let mut w = world.lock().await;
            let mut story = Evidence::new();
            story.say(format!(
                "Shrunk failing history ({} step(s)); keys k0..k{} each use their own customer:",
                minimal.len(),
                CRASH_KEY
            ));
            for (n, step) in minimal.iter().enumerate() {
                story.say(format!("  {}. {step}", n + 1));
            }
            story.say("  then: faults cleared, every key retried with its first body until 2xx.");
            shrunk_verdict(
                story,
                "history",
                &replay,
                &broke,
                run_history(&mut w, "replay", &minimal).await,
            )
        }
    }
}

/// Per-key record of a history: the first body sent and every exchange with its body.
struct KeyLog {
    key: String,
    first_body: ChargeBody,
    sent: Vec<(ChargeBody, Exchange)>,
}

/// Runs one history against the shared service and returns the broken invariants and
/// the exchanges as evidence.
async fn run_history(
    w: &mut ChargeWorld,
    tag: &str,
    history: &[Step],
) -> Result<(Vec<String>, Evidence), Problem> {
    w.provider.heal();
    let mut story = Evidence::new();
    let mut logs: Vec<Option<KeyLog>> = (0..=CRASH_KEY).map(|_| None).collect();
    // When a SIGKILL last cut off a request of each key: the brief lets that key
    // answer 409 for up to `CRASH_RECOVERY`.
    let mut crashed: Vec<Option<Instant>> = vec![None; logs.len()];
    // Keys 0, 1 and 2 differ only in case: a key is the client's string, so they are
    // three keys (two clients' keys may well differ only so).
    let names = |key: u8| {
        let base = format!("prop-{tag}-key{}", key / 3);
        let k = match key % 3 {
            0 => base,
            1 => base.to_uppercase(),
            _ => format!("P{}", &base[1..]),
        };
        (k, format!("cus_{tag}_k{key}"))
    };
    for step in history {
        match *step {
            Step::Send {
                key,
                altered,
                fault,
            } => {
                let (k, customer) = names(key);
                let succeeded = logs[key as usize]
                    .as_ref()
                    .is_some_and(|l| l.sent.iter().any(|(_, x)| x.is_success()));
                let body = body(&customer, key, altered && succeeded);
                match fault {
                    CallFault::None => {}
                    CallFault::LostResponse => w.provider.fail_next(ProviderFault::LostResponse),
                    CallFault::ServerError => w.provider.fail_next(ProviderFault::ServerError),
                }
                let x = w.post_charge(Some(&k), &body).await;
                story.exchange(&x);
                log(&mut logs, key, &k, body, x);
            }
            Step::Burst {
                key,
                copies,
                after_charge,
            } => {
                let (k, customer) = names(key);
                let body = body(&customer, key, false);
                let targets: Vec<_> = (0..copies).map(|_| &w.svc).collect();
                let hold = if after_charge {
                    HoldPoint::AfterCharge
                } else {
                    HoldPoint::BeforeCharge
                };
                let answers = w
                    .burst_while_held(&targets, &k, &body, hold, &mut story)
                    .await?;
                for x in answers {
                    story.exchange(&x);
                    log(&mut logs, key, &k, body.clone(), x);
                }
            }
            Step::Crash { key } => {
                let (k, customer) = names(key);
                let body = body(&customer, key, false);
                w.provider.fail_next(ProviderFault::CommitThenHold);
                let client = w.client();
                let (url, kk, b) = (w.svc.url(), k.clone(), body.json());
                let mut task =
                    tokio::spawn(async move { client.post_charge(&url, Some(&kk), &b).await });
                let held = match w.first_held_or_answered(&mut task).await {
                    HeldOrAnswered::Held => true,
                    // Served without reaching the provider (e.g. a replay): no crash point.
                    HeldOrAnswered::Answered(x) => {
                        story.exchange(&x);
                        log(&mut logs, key, &k, body, x);
                        w.provider.heal();
                        continue;
                    }
                    HeldOrAnswered::Neither => false,
                };
                if held {
                    w.svc.kill9().await;
                }
                w.provider.release_held();
                let x = task.await.map_err(|e| Problem::Harness(e.to_string()))?;
                story.exchange(&x);
                if held {
                    story.say(
                        "(service killed with SIGKILL while the provider held its charged answer)",
                    );
                    w.provider.wait_idle(Duration::from_secs(5)).await;
                    w.restart_after_kill9().await?;
                    crashed[key as usize] = Some(Instant::now());
                }
                log(&mut logs, key, &k, body, x);
            }
            Step::Restart => {
                w.restart_after_kill9().await?;
                story.say("(service killed with SIGKILL and restarted)");
            }
        }
        w.provider.heal();
    }

    // Settle: the client retries every key with its first body until it succeeds.
    let mut broken = Vec::new();
    for (log, crashed) in logs.iter_mut().zip(&crashed) {
        let Some(log) = log else { continue };
        let retries = w.post_until_success(&log.key, &log.first_body, 3).await;
        let settled = retries.last().is_some_and(Exchange::is_success);
        let claimed = retries.last().is_some_and(|x| x.status == Some(409));
        for x in retries {
            story.exchange(&x);
            log.sent.push((log.first_body.clone(), x));
        }
        let recovering = crashed.is_some_and(|at| at.elapsed() < CRASH_RECOVERY);
        if !settled && claimed && recovering {
            story.say(format!(
                "(key {} still answers 409 less than {} s after the SIGKILL that cut its request off, which the brief allows)",
                log.key,
                CRASH_RECOVERY.as_secs()
            ));
        } else if !settled {
            broken.push(format!(
                "With faults cleared, retrying key {} never succeeded.",
                log.key
            ));
        }
        for (sent, x) in &log.sent {
            if x.is_success() && *sent != log.first_body {
                broken.push(format!(
                    "Key {} was reused with a different body and still got a 2xx: {x}",
                    log.key
                ));
            }
        }
        let same_body: Vec<Exchange> = log
            .sent
            .iter()
            .filter(|(b, _)| *b == log.first_body)
            .map(|(_, x)| x.clone())
            .collect();
        broken.extend(judge_one_key(w, &log.first_body, &same_body, &mut story)?);
    }
    Ok((broken, story))
}

fn body(customer: &str, key: u8, altered: bool) -> ChargeBody {
    let (amount, currency) = amounts(key);
    ChargeBody {
        customer_id: customer.to_owned(),
        amount: if altered { amount + 1 } else { amount },
        currency: currency.to_owned(),
    }
}

fn log(logs: &mut [Option<KeyLog>], key: u8, k: &str, body: ChargeBody, x: Exchange) {
    let entry = logs[key as usize].get_or_insert_with(|| KeyLog {
        key: k.to_owned(),
        first_body: body.clone(),
        sent: Vec::new(),
    });
    entry.sent.push((body, x));
}
