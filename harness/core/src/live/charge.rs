//! `charge` live: the fake payment provider.

use std::path::Path;
use std::time::Duration;

use super::truth::{self, Table};
use super::{Mode, OneOff, Probe, Wiring};
use crate::fakes::{PaymentProvider, ProviderFault};

/// The provider a `charge` session runs.
pub struct Charge(PaymentProvider);

/// Starts the fake provider.
pub async fn start() -> Result<Box<dyn Wiring>, String> {
    let provider = PaymentProvider::start().await.map_err(|e| e.to_string())?;
    Ok(Box::new(Charge(provider)))
}

impl Wiring for Charge {
    fn modes(&self) -> &'static [Mode] {
        &[
            ("provider", "healthy", "the provider answers normally"),
            ("provider", "slow", "every charge takes 3 s"),
            (
                "provider",
                "error",
                "every charge fails with 500 (nothing charged)",
            ),
            (
                "provider",
                "lose-response",
                "the next charge is made, then its response is lost",
            ),
            ("provider", "hang", "every charge hangs"),
        ]
    }

    fn downstreams(&self) -> Vec<(String, String)> {
        vec![("payments".to_owned(), self.0.url())]
    }

    fn curl_lines(&self, url: &str) -> Vec<String> {
        vec![
            format!(
                "curl -s -X POST {url}/charges -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{{\"customer_id\":\"cus_1\",\"amount\":1999,\"currency\":\"usd\"}}'"
            ),
            format!("curl -s {url}/charges/CHARGE_ID"),
        ]
    }

    fn apply(&self, _target: &str, mode: &str) -> Result<(), String> {
        let p = &self.0;
        match mode {
            "healthy" => p.heal(),
            "slow" => p.set_standing(Some(ProviderFault::Latency(Duration::from_secs(3)))),
            "error" => p.set_standing(Some(ProviderFault::ServerError)),
            "lose-response" => p.fail_next(ProviderFault::LostResponse),
            "hang" => p.set_standing(Some(ProviderFault::Hang)),
            _ => return Err(super::not_wired(mode)),
        }
        Ok(())
    }

    fn downstream_calls(&self) -> usize {
        self.0.calls().len()
    }

    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            method: reqwest::Method::POST,
            path: "/charges".to_owned(),
            body: Some(serde_json::json!({
                "customer_id": "cus_live",
                "amount": 1999,
                "currency": "usd",
            })),
            keyed: true,
        })
    }

    fn offers(&self, fault: OneOff) -> Option<&'static str> {
        Some(match fault {
            OneOff::LoseAnswer => "the provider charges, then its answer is lost",
            OneOff::HoldAnswer => "the provider charges, then holds its answer",
        })
    }

    fn arm(&self, fault: OneOff) -> Result<(), String> {
        self.0.fail_next(match fault {
            OneOff::LoseAnswer => ProviderFault::LostResponse,
            OneOff::HoldAnswer => ProviderFault::CommitThenHold,
        });
        Ok(())
    }

    fn held(&self) -> usize {
        self.0.held()
    }

    fn release_held(&self) {
        self.0.release_held();
    }

    fn truth(&self, db: &Path) -> Vec<Table> {
        vec![
            truth::provider_charges(&self.0),
            truth::query(
                db,
                "Our charges table (newest first)",
                "SELECT id, idempotency_key, customer_id, amount, status, provider_charge_id FROM charges ORDER BY rowid DESC",
                |_| false,
            ),
        ]
    }

    fn effects(&self) -> Option<(usize, &'static str)> {
        Some((self.0.charges().len(), "provider charge(s)"))
    }

    fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.0.record_into(timeline);
    }
}
