//! The property check: random schedules of pricing behaviour over time, with quotes
//! arriving throughout, judged on every answer and on pricing's own call records.
//!
//! Invariant: every quote is answered within the budget (with the machine margin) with
//! pricing's correct price for that SKU and quantity or a 502/503/504 JSON error, and
//! pricing never receives more than three calls per quote plus two probes. Every
//! schedule holds a healthy stretch followed by a hang and a body that stalls, so no seed
//! can skip the incidents every timeout must survive, or a chance to answer from a
//! remembered price. The search shrinks on the rules load cannot break; lateness is
//! judged apart, on replays, because a loaded machine makes answers late and nothing
//! else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::quote::world::{QuoteWorld, is_late, judge_quote};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict, verdict};
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
                retry_after_secs: Some(1),
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
/// stretch, then a hang, then a body that stalls after its headers — the two incidents
/// every timeout must survive, so no seed skips either, and a service that answers from a
/// remembered price has one to answer from.
fn schedule_strategy() -> impl Strategy<Value = Vec<Stretch>> {
    (
        proptest::collection::vec(stretch_strategy(), 1..=3),
        any::<prop::sample::Index>(),
        300u64..=600,
        300u64..=600,
        300u64..=600,
    )
        .prop_map(|(mut stretches, at, healthy_ms, hang_ms, stall_ms)| {
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
                Stretch {
                    behaviour: Behaviour::StallMidBody,
                    ms: stall_ms,
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
    fn all(&self) -> Vec<String> {
        self.wrong.iter().chain(&self.late).cloned().collect()
    }
}

/// A schedule that had late answers during the search, and those answers.
type LateSchedule = (Vec<Stretch>, Vec<String>);

/// Runs the property over seeded random schedules, each on a fresh service.
///
/// The search hunts and shrinks on the rules a loaded machine cannot break (an honest
/// price, the right status, polite calls): lateness there would let noise steer the
/// shrinking away from a real fault. A shrunk schedule is replayed, and fails the check
/// whether or not the replay repeats the fault (a fix whose honesty depends on timing is
/// wrong). Lateness is judged apart, the way a budget is: the first schedule that had a
/// late answer is replayed up to [`REPLAYS`] times, and fails only if every replay is
/// late, since load only ever adds time.
pub async fn fault_schedules(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let mut rng = SeedRng::new(env.seed);
    let env = Arc::new(env);
    let quotes_rng = Arc::new(Mutex::new(SeedRng::new(rng.next_u64())));
    // The first schedule that had a late answer, and those answers.
    let first_late: Arc<Mutex<Option<LateSchedule>>> = Arc::default();
    let runner_env = Arc::clone(&env);
    let runner_rng = Arc::clone(&quotes_rng);
    let runner_late = Arc::clone(&first_late);
    let found = search(
        schedule_strategy(),
        CASES,
        MAX_SHRINK_ITERS,
        rng.bytes32(),
        move |case, schedule| {
            let env = Arc::clone(&runner_env);
            let rng = Arc::clone(&runner_rng);
            let first_late = Arc::clone(&runner_late);
            async move {
                let seed = rng.lock().await.next_u64();
                let (broken, _) =
                    run_schedule(&env, &format!("case-{case}"), seed, &schedule).await?;
                if !broken.late.is_empty() {
                    first_late
                        .lock()
                        .await
                        .get_or_insert((schedule, broken.late));
                }
                Ok(broken.wrong)
            }
        },
    )
    .await?;
    if let Some(Found {
        input: minimal,
        broke,
    }) = found
    {
        let mut story = Evidence::new();
        story.say(format!(
            "Shrunk failing schedule: {}; a quote every {} ms throughout.",
            describe(&minimal),
            QUOTE_EVERY.as_millis()
        ));
        let replayed = run_schedule(&env, "replay", 1, &minimal)
            .await
            .map(|(broken, answers)| (broken.wrong, answers));
        return shrunk_verdict(story, "schedule", &replay, &broke, replayed);
    }
    let Some((schedule, late)) = first_late.lock().await.take() else {
        let mut story = Evidence::new();
        story.say(format!(
            "{CASES} random schedules of pricing incidents kept every quote in time, honest and polite."
        ));
        return Ok(Verdict::Pass(story));
    };
    let mut story = Evidence::new();
    story.say(format!(
        "Every answer was honest and polite, but a schedule had late answers: {}; a quote every {} ms throughout.",
        describe(&schedule),
        QUOTE_EVERY.as_millis()
    ));
    story.say(format!("During the search: {}", late.join(" ")));
    let mut first = None;
    for trial in 1..=REPLAYS {
        let (broken, answers) =
            run_schedule(&env, &format!("replay-{trial}"), 1, &schedule).await?;
        match after_replay(&broken, trial) {
            Step::Fail => {
                let all_late = broken.wrong.is_empty();
                let (broken, answers) = match first {
                    Some(first) if all_late => first,
                    _ => (broken, answers),
                };
                if all_late {
                    story.say(format!(
                        "Late in each of {REPLAYS} replays of the schedule; the first replay's answers:"
                    ));
                }
                for line in answers.into_lines() {
                    story.push(line);
                }
                story.say(format!("Replay: {replay}"));
                return Ok(verdict(story, broken.all()));
            }
            Step::Pass => {
                story.say(format!(
                    "Replay {trial} answered every quote in time: lateness that does not repeat is the machine's, since load only ever adds time."
                ));
                for line in answers.into_lines() {
                    story.push(line);
                }
                return Ok(Verdict::Pass(story));
            }
            Step::Again => {
                first.get_or_insert((broken, answers));
            }
        }
    }
    Err(Problem::Harness(
        "no replay of the late schedule decided".to_owned(),
    ))
}

/// A schedule in words.
fn describe(schedule: &[Stretch]) -> String {
    schedule
        .iter()
        .map(Stretch::to_string)
        .collect::<Vec<_>>()
        .join(", then ")
}

/// What a replay of a schedule that had late answers decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A rule other than lateness broken in the replay, or late in every replay.
    Fail,
    /// Every quote of the replay in time: the search's lateness was noise.
    Pass,
    /// Late again: replay once more.
    Again,
}

/// Decides after replay number `trial` (from 1) of a schedule that had late answers.
fn after_replay(replayed: &Broken, trial: u32) -> Step {
    if !replayed.wrong.is_empty() {
        Step::Fail
    } else if replayed.late.is_empty() {
        Step::Pass
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
            assert_eq!(after_replay(&broken(0, 1), trial), Step::Fail);
            assert_eq!(after_replay(&broken(2, 1), trial), Step::Fail);
        }
    }

    #[test]
    fn lateness_fails_only_when_every_replay_is_late() {
        for trial in 1..REPLAYS {
            assert_eq!(after_replay(&broken(1, 0), trial), Step::Again);
        }
        assert_eq!(after_replay(&broken(1, 0), REPLAYS), Step::Fail);
    }

    #[test]
    fn lateness_that_does_not_repeat_is_noise() {
        for trial in 1..=REPLAYS {
            assert_eq!(after_replay(&broken(0, 0), trial), Step::Pass);
        }
    }
}
