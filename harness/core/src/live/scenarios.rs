//! The live page's scenario buttons: the incidents an interviewer wants to show on
//! demand, played the way the graders force them (hold a call, then act), never hoped
//! for. Each step and each answer goes to the session's feed.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::truth::Table;
use super::{Control, OneOff, lock};

/// How long a scenario's request may take before the session gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the service may take to reach its downstream in the crash scenario.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// A scenario the page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The same request twice at once (one key, where the exercise takes one).
    Twice,
    /// The downstream acts, its answer is lost; then the client retries.
    LoseAndRetry,
    /// The downstream holds its answer; the service is killed with SIGKILL and
    /// restarted; the client retries.
    KillMidRequest,
}

/// One scenario button: its id, its label and what it does in this exercise.
#[derive(Debug, Clone, Serialize)]
pub struct Offered {
    /// The id the page posts to `/scenario/{id}`.
    pub id: &'static str,
    /// The button's label.
    pub label: &'static str,
    /// What happens, in this exercise's words.
    pub what: String,
}

impl Scenario {
    /// Every scenario, in the page's order.
    pub const ALL: [Scenario; 3] = [
        Scenario::Twice,
        Scenario::LoseAndRetry,
        Scenario::KillMidRequest,
    ];

    /// Its URL id.
    pub fn id(self) -> &'static str {
        match self {
            Scenario::Twice => "twice-at-once",
            Scenario::LoseAndRetry => "lose-and-retry",
            Scenario::KillMidRequest => "kill-mid-request",
        }
    }

    /// The scenario with URL id `id`.
    pub fn from_id(id: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.id() == id)
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::Twice => "send it twice at once",
            Scenario::LoseAndRetry => "lose the answer, retry",
            Scenario::KillMidRequest => "kill -9 mid-request, restart, retry",
        }
    }
}

/// The scenarios this session can play, with what each does here.
pub fn offered(control: &Control) -> Vec<Offered> {
    let Some(probe) = control.wiring.probe() else {
        return Vec::new();
    };
    let request = probe.describe();
    Scenario::ALL
        .into_iter()
        .filter_map(|s| {
            let what = match s {
                Scenario::Twice => format!(
                    "{request} twice, concurrently{}",
                    if probe.keyed {
                        " (one Idempotency-Key)"
                    } else {
                        ""
                    }
                ),
                Scenario::LoseAndRetry => format!(
                    "{}; {request}, then the same request again",
                    control.wiring.offers(OneOff::LoseAnswer)?
                ),
                Scenario::KillMidRequest => format!(
                    "{}; {request}; the service is killed with SIGKILL while it waits, restarted on its database, and the request is sent again",
                    control.wiring.offers(OneOff::HoldAnswer)?
                ),
            };
            Some(Offered {
                id: s.id(),
                label: s.label(),
                what,
            })
        })
        .collect()
}

/// The table of scenarios played, empty: filled as the interviewer plays them.
pub fn runs_table() -> Table {
    let mut table = Table::new(
        "Scenarios played: what the downstream did during each",
        &["scenario", "key", "effects", "answers"],
    );
    table.note = Some("none yet: press a scenario button".to_owned());
    table
}

/// Plays `scenario` against the session's service; returns a one-line summary. Every
/// step is in the feed as it happens.
pub async fn play(control: Arc<Control>, scenario: Scenario) -> Result<String, String> {
    let Some(probe) = control.wiring.probe() else {
        return Err("this exercise has no request to replay".to_owned());
    };
    let Ok(_playing) = control.playing.try_lock() else {
        return Err("another scenario is still playing; wait for it to finish".to_owned());
    };
    let key = control.next_key();
    let say = |text: String| control.note("scenario", text);
    say(format!("▶ {} (key {key})", scenario.label()));
    let before = control.wiring.effects();
    // The scenario's own timeline starts now: what came before is not its story.
    control.timeline.take();
    let outcome = match scenario {
        Scenario::Twice => {
            let (a, b) = tokio::join!(send(&control, &probe, &key), send(&control, &probe, &key));
            say(format!("first copy: {a}"));
            say(format!("second copy: {b}"));
            format!("{a} / {b}")
        }
        Scenario::LoseAndRetry => {
            control.wiring.arm(OneOff::LoseAnswer)?;
            let first = send(&control, &probe, &key).await;
            say(format!(
                "first attempt (its answer lost at the downstream): {first}"
            ));
            let retry = send(&control, &probe, &key).await;
            say(format!("retry: {retry}"));
            format!("{first} → retry {retry}")
        }
        Scenario::KillMidRequest => kill_mid_request(&control, &probe, &key).await?,
    };
    let effects = match (before, control.wiring.effects()) {
        (Some((before, what)), Some((after, _))) => Some((after.saturating_sub(before), what)),
        _ => None,
    };
    // One key is one payment: more than one lasting effect under it breaks the brief.
    let broken = probe.keyed && effects.is_some_and(|(n, _)| n > 1);
    let effect_text = effects.map_or("—".to_owned(), |(n, what)| format!("{n} {what}"));
    say(format!(
        "■ {} done: {effect_text} during it{}",
        scenario.label(),
        if broken {
            " ✗ more than one for one Idempotency-Key"
        } else {
            ""
        }
    ));
    *lock(&control.last_timeline) = Some(control.timeline.take());
    lock(&control.runs).push_latest(
        vec![
            scenario.label().to_owned(),
            if probe.keyed { key } else { "—".to_owned() },
            effect_text,
            outcome.chars().take(90).collect(),
        ],
        broken,
    );
    Ok(outcome)
}

async fn kill_mid_request(
    control: &Arc<Control>,
    probe: &super::Probe,
    key: &str,
) -> Result<String, String> {
    let say = |text: String| control.note("scenario", text);
    let held_before = control.wiring.held();
    control.wiring.arm(OneOff::HoldAnswer)?;
    let first = {
        let (control, probe, key) = (Arc::clone(control), probe.clone(), key.to_owned());
        tokio::spawn(async move { send(&control, &probe, &key).await })
    };
    // Act only once the downstream really holds the call: the crash must land mid-request.
    let deadline = tokio::time::Instant::now() + REACH_TIMEOUT;
    while control.wiring.held() <= held_before {
        if tokio::time::Instant::now() >= deadline || first.is_finished() {
            control.wiring.release_held();
            let answer = first.await.unwrap_or_else(|e| e.to_string());
            say(format!(
                "the service never reached its downstream (answered: {answer}); nothing to kill mid-request"
            ));
            return Ok(format!("no crash: {answer}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    say("the downstream holds the call; killing the service with SIGKILL".to_owned());
    control.restart_service().await?;
    control.wiring.release_held();
    let first = first.await.unwrap_or_else(|e| e.to_string());
    say(format!("the cut-off request's client saw: {first}"));
    let retry = send(control, probe, key).await;
    say(format!("retry: {retry}"));
    Ok(format!("killed mid-request → retry {retry}"))
}

/// Sends the probe through the session's front door; the answer in a few words.
async fn send(control: &Control, probe: &super::Probe, key: &str) -> String {
    let mut request = control
        .http
        .request(
            probe.method.clone(),
            format!("{}{}", control.front.url(), probe.path),
        )
        .timeout(REQUEST_TIMEOUT);
    if probe.keyed {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = &probe.body {
        request = request.json(body);
    }
    let asked = format!(
        "{}{}",
        probe.describe(),
        if probe.keyed {
            format!(" [Idempotency-Key: {key}]")
        } else {
            String::new()
        }
    );
    control.timeline.record("client", format!("→ {asked}"));
    let answer = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(160).collect();
            format!("{status} {body}")
        }
        Err(e) if e.is_timeout() => format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
        Err(_) => "no answer (the connection dropped)".to_owned(),
    };
    let short: String = answer.chars().take(80).collect();
    control
        .timeline
        .record("client", format!("← {asked}: {short}"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_found_by_its_id() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_id(s.id()), Some(s));
        }
        assert_eq!(Scenario::from_id("twice"), None);
    }
}
