//! `charge` live: the fake payment provider.

use std::time::Duration;

use super::{Mode, Wiring};
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
}
