//! `checkout` live: the fake payment provider, the fake shipping-rates service and the
//! database's write faults.

use std::path::Path;

use super::db::DbFaults;
use super::truth::{self, Table};
use super::{Mode, OneOff, Probe, Wiring};
use crate::fakes::{PaymentProvider, ProviderFault, ShippingFault, ShippingRates};

/// The fakes and database faults a `checkout` session runs.
pub struct Checkout {
    provider: PaymentProvider,
    shipping: ShippingRates,
    db: DbFaults,
}

/// Starts both fakes; `db` is the service's database.
pub async fn start(db: &Path) -> Result<Box<dyn Wiring>, String> {
    let provider = PaymentProvider::start().await.map_err(|e| e.to_string())?;
    let shipping = ShippingRates::start().await.map_err(|e| e.to_string())?;
    Ok(Box::new(Checkout {
        provider,
        shipping,
        db: DbFaults::new(db),
    }))
}

impl Wiring for Checkout {
    fn modes(&self) -> &'static [Mode] {
        &[
            ("provider", "healthy", "the provider answers normally"),
            (
                "provider",
                "lose-response",
                "the next charge is made, then its response is lost",
            ),
            (
                "provider",
                "error",
                "every charge fails with 500 (nothing charged)",
            ),
            (
                "provider",
                "decline",
                "the next charge is declined with 402 (nothing charged)",
            ),
            ("shipping", "healthy", "shipping-rates answers normally"),
            ("shipping", "hang", "every rate request hangs"),
            ("shipping", "stall", "headers, then the body stalls"),
            ("shipping", "503", "every rate request answers 503"),
            ("shipping", "garbage", "200 with an HTML body"),
            (
                "db",
                "fail-next-write",
                "the next checkout's second row write fails (and those after it)",
            ),
            ("db", "healthy", "no database faults"),
        ]
    }

    fn downstreams(&self) -> Vec<(String, String)> {
        vec![
            ("payments".to_owned(), self.provider.url()),
            ("shipping".to_owned(), self.shipping.url()),
        ]
    }

    fn curl_lines(&self, url: &str) -> Vec<String> {
        vec![
            format!(
                "curl -s -X POST {url}/checkout -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{{\"customer_id\":\"cus_1\",\"payment_method\":\"pm_card_visa\",\"lines\":[{{\"sku\":\"SKU-DEMO-1\",\"quantity\":2}}],\"shipping_address\":{{\"name\":\"Ada Lovelace\",\"line1\":\"1 Main St\",\"city\":\"Springfield\",\"postal_code\":\"94107\",\"country\":\"US\"}}}}'"
            ),
            format!("curl -s {url}/orders/ORDER_ID"),
        ]
    }

    fn apply(&self, target: &str, mode: &str) -> Result<(), String> {
        let (p, s) = (&self.provider, &self.shipping);
        match (target, mode) {
            ("provider", "healthy") => p.heal(),
            ("provider", "lose-response") => p.fail_next(ProviderFault::LostResponse),
            ("provider", "error") => p.set_standing(Some(ProviderFault::ServerError)),
            ("provider", "decline") => p.fail_next(ProviderFault::Decline),
            ("shipping", "healthy") => s.heal(),
            ("shipping", "hang") => s.set_standing(Some(ShippingFault::Hang)),
            ("shipping", "stall") => s.set_standing(Some(ShippingFault::SlowBody)),
            ("shipping", "503") => s.set_standing(Some(ShippingFault::Status(503))),
            ("shipping", "garbage") => s.set_standing(Some(ShippingFault::Garbage)),
            ("db", "fail-next-write") => self.db.fail_from_second_write()?,
            ("db", "healthy") => self.db.heal()?,
            _ => return Err(super::not_wired(mode)),
        }
        Ok(())
    }

    fn downstream_calls(&self) -> usize {
        self.provider.calls().len() + self.shipping.calls().len()
    }

    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            method: reqwest::Method::POST,
            path: "/checkout".to_owned(),
            body: Some(serde_json::json!({
                "customer_id": "cus_live",
                "payment_method": "pm_card_visa",
                "lines": [{"sku": "SKU-DEMO-1", "quantity": 1}],
                "shipping_address": {
                    "name": "Ada Lovelace",
                    "line1": "1 Main St",
                    "city": "Springfield",
                    "postal_code": "94107",
                    "country": "US",
                },
            })),
            keyed: true,
        })
    }

    fn offers(&self, fault: OneOff) -> Option<&'static str> {
        Some(match fault {
            OneOff::LoseAnswer => "the provider charges the card, then its answer is lost",
            OneOff::HoldAnswer => "the provider charges the card, then holds its answer",
        })
    }

    fn arm(&self, fault: OneOff) -> Result<(), String> {
        self.provider.fail_next(match fault {
            OneOff::LoseAnswer => ProviderFault::LostResponse,
            OneOff::HoldAnswer => ProviderFault::CommitThenHold,
        });
        Ok(())
    }

    fn held(&self) -> usize {
        self.provider.held()
    }

    fn release_held(&self) {
        self.provider.release_held();
    }

    fn truth(&self, db: &Path) -> Vec<Table> {
        vec![
            truth::provider_charges(&self.provider),
            truth::query(
                db,
                "Orders (newest first)",
                "SELECT id, idempotency_key, customer_id, status, total FROM orders ORDER BY rowid DESC",
                |_| false,
            ),
            truth::query(
                db,
                "Stock on the shelf",
                "SELECT sku, stock FROM products ORDER BY sku",
                |row| {
                    row.get(1)
                        .and_then(|s| s.parse::<i64>().ok())
                        .is_some_and(|n| n < 0)
                },
            ),
        ]
    }

    fn effects(&self) -> Option<(usize, &'static str)> {
        Some((self.provider.charges().len(), "provider charge(s)"))
    }

    fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.provider.record_into(timeline);
        self.shipping.record_into(timeline);
    }
}
