//! `transfer` live: the fake risk service and the database's write faults and lock.

use std::path::Path;
use std::time::Duration;

use super::db::DbFaults;
use super::truth::{self, Table};
use super::{Mode, OneOff, Probe, Wiring};
use crate::fakes::{RiskFault, RiskService};

/// The risk service and database faults a `transfer` session runs.
pub struct Transfer {
    risk: RiskService,
    db: DbFaults,
}

/// Starts the fake risk service; `db` is the service's database.
pub async fn start(db: &Path) -> Result<Box<dyn Wiring>, String> {
    let risk = RiskService::start().await.map_err(|e| e.to_string())?;
    Ok(Box::new(Transfer {
        risk,
        db: DbFaults::new(db),
    }))
}

impl Wiring for Transfer {
    fn modes(&self) -> &'static [Mode] {
        &[
            ("risk", "healthy", "the risk service approves"),
            ("risk", "slow", "every assessment takes 2 s"),
            ("risk", "error", "every assessment fails with 500"),
            (
                "db",
                "fail-next-write",
                "the next transfer's second row write fails (and those after it)",
            ),
            (
                "db",
                "lock",
                "another process holds the database's write lock for 8 s",
            ),
            ("db", "healthy", "no database faults"),
        ]
    }

    fn downstreams(&self) -> Vec<(String, String)> {
        vec![("risk".to_owned(), self.risk.url())]
    }

    fn curl_lines(&self, url: &str) -> Vec<String> {
        vec![
            format!(
                "curl -s -X POST {url}/transfers -H 'content-type: application/json' -d '{{\"from_account\":\"acc_demo_2\",\"to_account\":\"acc_demo_1\",\"amount\":1500}}'"
            ),
            format!("curl -s {url}/accounts/acc_demo_2"),
        ]
    }

    fn apply(&self, target: &str, mode: &str) -> Result<(), String> {
        match (target, mode) {
            ("risk", "healthy") => self.risk.set_standing(None),
            ("risk", "slow") => self
                .risk
                .set_standing(Some(RiskFault::Latency(Duration::from_secs(2)))),
            ("risk", "error") => self.risk.set_standing(Some(RiskFault::ServerError)),
            ("db", "fail-next-write") => self.db.fail_from_second_write()?,
            ("db", "healthy") => self.db.heal()?,
            ("db", "lock") => self.db.hold_write_lock(Duration::from_secs(8)),
            _ => return Err(super::not_wired(mode)),
        }
        Ok(())
    }

    fn downstream_calls(&self) -> usize {
        self.risk.calls().len()
    }

    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            method: reqwest::Method::POST,
            path: "/transfers".to_owned(),
            body: Some(serde_json::json!({
                "from_account": "acc_demo_2",
                "to_account": "acc_demo_1",
                "amount": 1500,
            })),
            keyed: false,
        })
    }

    fn offers(&self, fault: OneOff) -> Option<&'static str> {
        match fault {
            // The risk service moves no money: losing its answer shows nothing new.
            OneOff::LoseAnswer => None,
            OneOff::HoldAnswer => Some("the risk service holds its assessment"),
        }
    }

    fn arm(&self, fault: OneOff) -> Result<(), String> {
        match fault {
            OneOff::LoseAnswer => Err("transfer has no answer to lose".to_owned()),
            OneOff::HoldAnswer => {
                self.risk.fail_next(RiskFault::Hold);
                Ok(())
            }
        }
    }

    fn held(&self) -> usize {
        self.risk.held()
    }

    fn release_held(&self) {
        self.risk.release_held();
    }

    fn truth(&self, db: &Path) -> Vec<Table> {
        vec![
            truth::query(
                db,
                "Money: balances against the ledger (must stay equal, and never change in total)",
                "SELECT COUNT(*) AS accounts, SUM(balance) AS balances, (SELECT SUM(amount) FROM ledger_entries) AS ledger FROM accounts",
                |row| row.get(1) != row.get(2),
            ),
            truth::query(
                db,
                "Accounts below zero or out of step with their ledger",
                "SELECT a.id, a.balance, (SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l WHERE l.account_id = a.id) AS ledger FROM accounts a WHERE a.balance < 0 OR a.balance != (SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l WHERE l.account_id = a.id)",
                |_| true,
            ),
            truth::query(
                db,
                "Transfers (newest first)",
                "SELECT id, from_account, to_account, amount, created_at FROM transfers ORDER BY rowid DESC",
                |_| false,
            ),
        ]
    }

    fn effects(&self) -> Option<(usize, &'static str)> {
        // Risk assessments move no money; the money table shows what did.
        None
    }

    fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.risk.record_into(timeline);
    }
}
