//! The property check: random schedules of pricing behaviour over time, with quotes
//! arriving throughout, judged on every answer and on pricing's own call records.
//!
//! Invariant: every quote is answered within the budget (with the machine margin) with
//! pricing's correct price for that SKU and quantity or a 502/503/504 JSON error, and
//! pricing never receives more than three calls per quote plus two probes. Every
//! schedule holds a healthy stretch followed by a hang, so no seed can skip the incident
//! every timeout must survive, or a chance to answer from a remembered price. A failing
//! schedule is shrunk and replayed: any rule but timing broken once fails, while lateness
//! must repeat in every replay, because a loaded machine makes answers late and nothing
//! else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::quote::world::{QuoteWorld, is_late, judge_quote};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::fakes::PricingFault;
use crate::seed::SeedRng;

/// Random schedules tried before concluding the invariant holds.
const CASES: u32 = 3;
/// Bound on shrinking work: each case takes seconds of real time.
const MAX_SHRINK_ITERS: u32 = 2;
/// Replays of a shrunk failing schedule: a schedule fails for lateness alone only when
/// each of them has a late answer, as a budget is judged on the fastest of its trials.
const REPLAYS: u32 = 3;
/// Time between two quotes of a schedule.
const QUOTE_EVERY: Duration = Duration::from_millis(120);

/// How pricing behaves during one stretch of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    Slow,
    Hang,
    StallMidBody,
    Fail503,
    Fail500,
    RateLimited,
    Garbage,
    Reset,
}

impl Behaviour {
    fn fault(self) -> Option<PricingFault> {
        match self {
            Behaviour::Healthy => None,
            Behaviour::Slow => Some(PricingFault::Latency(Duration::from_millis(150))),
            Behaviour::Hang => Some(PricingFault::Hang),
            Behaviour::StallMidBody => Some(PricingFault::SlowBody),
            Behaviour::Fail503 => Some(PricingFault::Status(503)),
            Behaviour::Fail500 => Some(PricingFault::Status(500)),
            Behaviour::RateLimited => Some(PricingFault::RateLimited {
                retry_after_secs: 1,
            }),
            Behaviour::Garbage => Some(PricingFault::Garbage),
            Behaviour::Reset => Some(PricingFault::Reset),
        }
    }
}

/// One stretch of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    pub behaviour: Behaviour,
    pub ms: u64,
}

impl fmt::Display for Stretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} for {} ms", self.behaviour, self.ms)
    }
}

fn stretch_strategy() -> impl Strategy<Value = Stretch> {
    let behaviour = prop_oneof![
        3 => Just(Behaviour::Healthy),
        1 => Just(Behaviour::Slow),
        1 => Just(Behaviour::Hang),
        1 => Just(Behaviour::StallMidBody),
        2 => Just(Behaviour::Fail503),
        1 => Just(Behaviour::Fail500),
        1 => Just(Behaviour::RateLimited),
        1 => Just(Behaviour::Garbage),
        1 => Just(Behaviour::Reset),
    ];
    (behaviour, 200u64..=600).prop_map(|(behaviour, ms)| Stretch { behaviour, ms })
}

/// Random stretches plus what every schedule carries, at a random position: a healthy
/// stretch and then a hang, so no seed skips the incident every timeout must survive, and
/// a service that answers from a remembered price has one to answer from.
fn schedule_strategy() -> impl Strategy<Value = Vec<Stretch>> {
    (
        proptest::collection::vec(stretch_strategy(), 1..=3),
        any::<prop::sample::Index>(),
        300u64..=600,
        300u64..=600,
    )
        .prop_map(|(mut stretches, at, healthy_ms, hang_ms)| {
            let at = at.index(stretches.len() + 1);
            let incident = [
                Stretch {
                    behaviour: Behaviour::Healthy,
                    ms: healthy_ms,
                },
                Stretch {
                    behaviour: Behaviour::Hang,
                    ms: hang_ms,
                },
            ];
            stretches.splice(at..at, incident);
            stretches
        })
}

/// What one schedule broke: answers later than the budget allows, kept apart from every
/// other broken rule because a loaded machine can make a right fix late but never
/// dishonest, impolite or wrong in its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Broken {
    /// Quotes answered after the limit, or not at all.
    late: Vec<String>,
    /// Every other broken rule: a made-up price, a wrong status, too many calls.
    wrong: Vec<String>,
}

impl Broken {
    fn is_empty(&self) -> bool {
        self.late.is_empty() && self.wrong.is_empty()
    }

    fn all(&self) -> Vec<String> {
        self.wrong.iter().chain(&self.late).cloned().collect()
    }
}

/// A schedule that failed during the search, and what it broke.
type Failure = (Vec<Stretch>, Broken);

/// Runs the property over seeded random schedules, each on a fresh service.
///
/// A shrunk failing schedule is replayed to decide. A rule other than timing broken in a
/// replay fails the check; so does one the search saw broken that no replay repeats (the
/// fix is timing-dependent). Lateness is judged the way a budget is ([`REPLAYS`] trials):
/// noise only ever adds time, so a schedule fails for lateness only when every replay
/// has a late answer.
pub async fn fault_schedules(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let mut rng = SeedRng::new(env.seed);
    let env = Arc::new(env);
    let quotes_rng = Arc::new(Mutex::new(SeedRng::new(rng.next_u64())));
    // What each failing case broke, by schedule: the search reports the minimal schedule
    // but not how its rules split into late and wrong.
    let failures: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let runner_env = Arc::clone(&env);
    let runner_rng = Arc::clone(&quotes_rng);
    let runner_failures = Arc::clone(&failures);
    let found = search(
        schedule_strategy(),
        CASES,
        MAX_SHRINK_ITERS,
        rng.bytes32(),
        move |case, schedule| {
            let env = Arc::clone(&runner_env);
            let rng = Arc::clone(&runner_rng);
            let failures = Arc::clone(&runner_failures);
            async move {
                let seed = rng.lock().await.next_u64();
                let (broken, _) =
                    run_schedule(&env, &format!("case-{case}"), seed, &schedule).await?;
                if !broken.is_empty() {
                    failures.lock().await.push((schedule, broken.clone()));
                }
                Ok(broken.all())
            }
        },
    )
    .await?;
    let Some(Found {
        input: minimal,
        broke,
    }) = found
    else {
        let mut story = Evidence::new();
        story.say(format!(
            "{CASES} random schedules of pricing incidents kept every quote in time, honest and polite."
        ));
        return Ok(Verdict::Pass(story));
    };
    let searched = failures
        .lock()
        .await
        .iter()
        .rev()
        .find(|(schedule, _)| *schedule == minimal)
        .map(|(_, broken)| broken.clone());
    let mut story = Evidence::new();
    story.say(format!(
        "Shrunk failing schedule: {}; a quote every {} ms throughout.",
        minimal
            .iter()
            .map(Stretch::to_string)
            .collect::<Vec<_>>()
            .join(", then "),
        QUOTE_EVERY.as_millis()
    ));
    story.say(format!("During the search it broke: {broke}"));
    let mut first_late = None;
    for trial in 1..=REPLAYS {
        let (broken, answers) =
            match run_schedule(&env, &format!("replay-{trial}"), 1, &minimal).await {
                Ok(outcome) => outcome,
                Err(problem) => {
                    return shrunk_verdict(story, "schedule", &replay, &broke, Err(problem));
                }
            };
        match after_replay(searched.as_ref(), &broken, trial) {
            Step::Fail => {
                return shrunk_verdict(
                    story,
                    "schedule",
                    &replay,
                    &broke,
                    Ok((broken.all(), answers)),
                );
            }
            Step::TimingDependent => {
                return shrunk_verdict(
                    story,
                    "schedule",
                    &replay,
                    &broke,
                    Ok((Vec::new(), answers)),
                );
            }
            Step::Pass => {
                story.say(format!(
                    "Replay {trial} answered every quote in time: lateness that does not repeat is the machine's, since load only ever adds time."
                ));
                for line in answers.into_lines() {
                    story.say(line);
                }
                return Ok(Verdict::Pass(story));
            }
            Step::Again => {
                first_late.get_or_insert((broken, answers));
            }
        }
    }
    let Some((broken, answers)) = first_late else {
        return Err(Problem::Harness("no replay of the schedule ran".to_owned()));
    };
    story.say(format!(
        "Late in each of {REPLAYS} replays of the schedule; the first replay's answers:"
    ));
    shrunk_verdict(
        story,
        "schedule",
        &replay,
        &broke,
        Ok((broken.all(), answers)),
    )
}

/// What a replay of the shrunk schedule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A rule broken in the replay fails the check: any rule but lateness at once,
    /// lateness once every replay has been late.
    Fail,
    /// The replay held, but the search saw a rule other than lateness broken (or its
    /// record of the schedule is missing): the fix is timing-dependent.
    TimingDependent,
    /// The replay held and the search saw only late answers: noise, not the fix.
    Pass,
    /// Late again: replay once more.
    Again,
}

/// Decides after replay number `trial` (from 1) of the shrunk schedule, given what the
/// search saw that schedule break (`searched`) and what the replay broke.
fn after_replay(searched: Option<&Broken>, replayed: &Broken, trial: u32) -> Step {
    if !replayed.wrong.is_empty() {
        Step::Fail
    } else if replayed.late.is_empty() {
        if searched.is_some_and(|b| b.wrong.is_empty()) {
            Step::Pass
        } else {
            Step::TimingDependent
        }
    } else if trial >= REPLAYS {
        Step::Fail
    } else {
        Step::Again
    }
}

/// Plays one schedule on a fresh service, a quote every [`QUOTE_EVERY`]; returns the
/// broken invariants and the answers as evidence.
async fn run_schedule(
    env: &CheckEnv,
    name: &str,
    seed: u64,
    schedule: &[Stretch],
) -> Result<(Broken, Evidence), Problem> {
    let w = QuoteWorld::start(env, name).await?;
    let mut rng = SeedRng::new(seed);
    let mut offset = Duration::ZERO;
    let mut plan = Vec::new();
    for s in schedule {
        plan.push((offset, s.behaviour.fault()));
        offset += Duration::from_millis(s.ms);
    }
    plan.push((offset, None));
    w.pricing.set_schedule(plan);
    let client = w.client();
    let mut tasks = Vec::new();
    let started = tokio::time::Instant::now();
    while started.elapsed() < offset {
        // Two products in turn: each is quoted in every stretch of 240 ms or more.
        let sku = w.skus[tasks.len() % 2].clone();
        let qty = 1 + rng.below(50) as u32;
        let c = client.clone();
        let at = started.elapsed();
        tasks.push(tokio::spawn(async move {
            let t = c.quote(&sku, qty).await;
            (at, sku, qty, t)
        }));
        tokio::time::sleep(QUOTE_EVERY).await;
    }
    let mut story = Evidence::new();
    let mut broken = Broken::default();
    let quotes = tasks.len();
    for task in tasks {
        let (at, sku, qty, t) = task
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
        let found = judge_quote(&t, &sku, qty, &w.pricing);
        if !found.is_empty() || story.lines().len() < 12 {
            story.say(format!("at {} ms: {t}", at.as_millis()));
        }
        if is_late(&t) {
            broken.late.extend(found);
        } else {
            broken.wrong.extend(found);
        }
    }
    let calls = w.pricing.price_calls().len();
    story.say(format!(
        "{quotes} quotes; pricing received {calls} price call(s)."
    ));
    if calls > 3 * quotes + 2 {
        broken.wrong.push(format!(
            "{quotes} quotes made {calls} calls to pricing: more than 3 per quote plus 2 probes."
        ));
    }
    for rules in [&mut broken.late, &mut broken.wrong] {
        rules.sort();
        rules.dedup();
    }
    Ok((broken, story))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(late: usize, wrong: usize) -> Broken {
        Broken {
            late: (0..late).map(|n| format!("late {n}")).collect(),
            wrong: (0..wrong).map(|n| format!("wrong {n}")).collect(),
        }
    }

    #[test]
    fn a_wrong_answer_in_any_replay_fails_at_once() {
        for trial in 1..=REPLAYS {
            assert_eq!(
                after_replay(Some(&broken(1, 0)), &broken(0, 1), trial),
                Step::Fail
            );
            assert_eq!(after_replay(None, &broken(2, 1), trial), Step::Fail);
        }
    }

    #[test]
    fn lateness_fails_only_when_every_replay_is_late() {
        for trial in 1..REPLAYS {
            assert_eq!(
                after_replay(Some(&broken(1, 0)), &broken(1, 0), trial),
                Step::Again
            );
        }
        assert_eq!(
            after_replay(Some(&broken(1, 0)), &broken(1, 0), REPLAYS),
            Step::Fail
        );
    }

    #[test]
    fn lateness_that_does_not_repeat_is_noise() {
        assert_eq!(
            after_replay(Some(&broken(3, 0)), &broken(0, 0), 1),
            Step::Pass
        );
        assert_eq!(
            after_replay(Some(&broken(1, 0)), &broken(0, 0), 2),
            Step::Pass
        );
    }

    #[test]
    fn a_wrong_answer_that_does_not_repeat_is_a_timing_dependent_fix() {
        assert_eq!(
            after_replay(Some(&broken(0, 1)), &broken(0, 0), 1),
            Step::TimingDependent
        );
        assert_eq!(
            after_replay(Some(&broken(2, 1)), &broken(0, 0), 2),
            Step::TimingDependent
        );
        // Without the search's record the replay cannot tell noise from a fault.
        assert_eq!(after_replay(None, &broken(0, 0), 1), Step::TimingDependent);
    }
}
