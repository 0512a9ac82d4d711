//! `quote` live: the fake pricing service.

use std::path::Path;
use std::time::Duration;

use super::truth::Table;
use super::{Mode, OneOff, Probe, Wiring};
use crate::fakes::{PricingFault, PricingService};

/// The pricing service a `quote` session runs.
pub struct Quote(PricingService);

/// Starts the fake pricing service.
pub async fn start() -> Result<Box<dyn Wiring>, String> {
    let pricing = PricingService::start().await.map_err(|e| e.to_string())?;
    Ok(Box::new(Quote(pricing)))
}

impl Wiring for Quote {
    fn modes(&self) -> &'static [Mode] {
        &[
            ("pricing", "healthy", "pricing answers normally"),
            ("pricing", "slow", "every price takes 1.5 s"),
            ("pricing", "hang", "every call hangs"),
            ("pricing", "stall", "headers, then the body stalls"),
            ("pricing", "503", "every call answers 503"),
            (
                "pricing",
                "429",
                "every call answers 429 with Retry-After: 1",
            ),
            ("pricing", "garbage", "200 with an HTML body"),
            ("pricing", "reset", "connections are reset"),
            ("pricing", "flap", "503 and healthy alternate every 2 s"),
            ("pricing", "outage", "503 for 10 s, then healthy"),
        ]
    }

    fn downstreams(&self) -> Vec<(String, String)> {
        vec![("pricing".to_owned(), self.0.url())]
    }

    fn curl_lines(&self, url: &str) -> Vec<String> {
        vec![
            format!("curl -s '{url}/quotes/SKU-0001?qty=3'"),
            format!("curl -s {url}/products/SKU-0001"),
            format!("curl -s {url}/health"),
        ]
    }

    fn apply(&self, _target: &str, mode: &str) -> Result<(), String> {
        let p = &self.0;
        match mode {
            "healthy" => p.heal(),
            "slow" => p.set_standing(Some(PricingFault::Latency(Duration::from_millis(1500)))),
            "hang" => p.set_standing(Some(PricingFault::Hang)),
            "stall" => p.set_standing(Some(PricingFault::SlowBody)),
            "503" => p.set_standing(Some(PricingFault::Status(503))),
            "429" => p.set_standing(Some(PricingFault::RateLimited {
                retry_after_secs: Some(1),
            })),
            "garbage" => p.set_standing(Some(PricingFault::Garbage)),
            "reset" => p.set_standing(Some(PricingFault::Reset)),
            "flap" => p.set_flapping(Duration::from_secs(2), PricingFault::Status(503)),
            "outage" => p.set_schedule(vec![
                (Duration::ZERO, Some(PricingFault::Status(503))),
                (Duration::from_secs(10), None),
            ]),
            _ => return Err(super::not_wired(mode)),
        }
        Ok(())
    }

    fn downstream_calls(&self) -> usize {
        self.0.call_count()
    }

    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            method: reqwest::Method::GET,
            path: "/quotes/SKU-0001?qty=3".to_owned(),
            body: None,
            keyed: false,
        })
    }

    fn offers(&self, _fault: OneOff) -> Option<&'static str> {
        // Pricing changes nothing: a lost or held answer is the standing faults' story.
        None
    }

    fn arm(&self, _fault: OneOff) -> Result<(), String> {
        Err("quote has no one-off faults for scenarios".to_owned())
    }

    fn held(&self) -> usize {
        self.0.held()
    }

    fn release_held(&self) {
        self.0.release_held();
    }

    fn truth(&self, _db: &Path) -> Vec<Table> {
        let calls = self.0.calls();
        let mut table = Table::new(
            "Pricing: calls received (newest first)",
            &["at", "path", "fault", "answered"],
        );
        for call in calls.iter().rev() {
            let answered = call
                .status
                .map_or("no answer".to_owned(), |s| s.to_string());
            table.push(
                vec![
                    format!("+{:.1} s", call.at_ms as f64 / 1000.0),
                    call.path.clone(),
                    call.fault.map_or(String::new(), |f| format!("{f:?}")),
                    answered,
                ],
                false,
            );
        }
        table.note = Some(format!(
            "{} call(s), {} in flight now",
            calls.len(),
            self.0.in_flight()
        ));
        vec![table]
    }

    fn effects(&self) -> Option<(usize, &'static str)> {
        // Pricing keeps nothing: a call leaves no lasting effect.
        None
    }

    fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.0.record_into(timeline);
    }
}
