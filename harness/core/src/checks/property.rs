//! Running a proptest property whose cases are async (they drive services over HTTP).
//!
//! proptest's runner is synchronous, so it runs on a blocking thread and drives each
//! case on the current tokio runtime. Every random choice comes from the given seed, and
//! nothing is persisted between runs, so the same seed replays the same search.

use std::future::Future;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::checks::{CheckResult, Evidence, Problem, verdict};

/// A failing input the search found and shrank.
#[derive(Debug, Clone)]
pub struct Found<V> {
    /// The smallest failing input the search reached.
    pub input: V,
    /// The invariants the search's last failing case broke, joined: what a replay that
    /// passes cannot show, so the evidence keeps it.
    pub broke: String,
}

/// Searches for an input that breaks the property and shrinks it.
///
/// `case(n, input)` runs the n-th case (shrink steps included) and returns the broken
/// invariants, empty when it holds. Returns the minimal failing input with what it broke,
/// or `None` when all `cases` held.
pub async fn search<S, F, Fut>(
    strategy: S,
    cases: u32,
    max_shrink_iters: u32,
    seed: [u8; 32],
    case: F,
) -> Result<Option<Found<S::Value>>, Problem>
where
    S: Strategy + Send + 'static,
    S::Value: Send + 'static,
    F: Fn(u64, S::Value) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<String>, Problem>>,
{
    let handle = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let config = Config {
            cases,
            max_shrink_iters,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let counter = std::cell::Cell::new(0u64);
        runner.run(&strategy, |input| {
            let n = counter.get();
            counter.set(n + 1);
            match handle.block_on(case(n, input)) {
                Ok(broken) if broken.is_empty() => Ok(()),
                Ok(broken) => Err(TestCaseError::fail(broken.join(" "))),
                Err(Problem::Harness(e)) => Err(TestCaseError::fail(format!("harness: {e}"))),
                Err(Problem::Service(ev)) => Err(TestCaseError::fail(ev.lines().join(" "))),
            }
        })
    })
    .await
    .map_err(|e| Problem::Harness(format!("property runner panicked: {e}")))?;
    match outcome {
        Ok(()) => Ok(None),
        Err(TestError::Abort(reason)) => {
            Err(Problem::Harness(format!("property run aborted: {reason}")))
        }
        Err(TestError::Fail(broke, input)) => Ok(Some(Found {
            input,
            broke: broke.message().to_owned(),
        })),
    }
}

/// The verdict on a shrunk failing input. `story` already describes the input; the
/// replay command follows, then the input replayed once more (`replayed`: what broke and
/// the exchanges). An input that failed during the search but holds when replayed fails
/// too: the result depends on timing, which a fix must not. Then the evidence says what
/// the search saw broken (`searched`), since the replay cannot show it.
pub fn shrunk_verdict(
    mut story: Evidence,
    what: &str,
    replay: &str,
    searched: &str,
    replayed: Result<(Vec<String>, Evidence), Problem>,
) -> CheckResult {
    story.say(format!("Replay: {replay}"));
    let broken = match replayed {
        Ok((broken, exchanges)) => {
            for line in exchanges.into_lines() {
                story.push(line);
            }
            if broken.is_empty() {
                vec![format!(
                    "The shrunk {what} failed during the search but passed when replayed: the fix is timing-dependent. During the search it broke: {searched}"
                )]
            } else {
                broken
            }
        }
        Err(Problem::Service(ev)) => ev
            .into_lines()
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        Err(Problem::Harness(e)) => return Err(Problem::Harness(e)),
    };
    Ok(verdict(story, broken))
}
