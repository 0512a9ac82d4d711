//! HTTP client for the risk service.
//!
//! Every transfer is assessed before money moves: `POST /v1/assessments` answers
//! `{"decision": "approve"}` or `{"decision": "decline", "reason": "…"}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::NewTransfer;

/// How long we give the risk service to answer before treating it as unavailable.
const RISK_TIMEOUT: Duration = Duration::from_secs(5);

/// A risk assessment that produced no decision.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// No usable answer: connection refused or reset, timeout, or an unreadable body.
    #[error("risk service request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The risk service answered with an error status.
    #[error("risk service answered HTTP {0}")]
    Status(u16),
    /// The answer carried a decision we do not know how to act on.
    #[error("risk service returned unknown decision `{0}`")]
    UnknownDecision(String),
}

/// The risk service's verdict on one transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline { reason: String },
}

#[derive(Debug, Serialize)]
struct AssessmentRequest<'a> {
    from_account: &'a str,
    to_account: &'a str,
    amount: i64,
}

#[derive(Debug, Deserialize)]
struct AssessmentResponse {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A thin, cloneable client for the risk service's assessments API.
#[derive(Clone)]
pub struct RiskClient {
    http: reqwest::Client,
    base_url: String,
}

impl RiskClient {
    /// Builds a client for the risk service at `base_url`.
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(RISK_TIMEOUT).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Asks the risk service whether `transfer` may go ahead.
    pub async fn assess(&self, transfer: &NewTransfer) -> Result<Decision, RiskError> {
        let response = self
            .http
            .post(format!("{}/v1/assessments", self.base_url))
            .json(&AssessmentRequest {
                from_account: &transfer.from_account,
                to_account: &transfer.to_account,
                amount: transfer.amount,
            })
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(RiskError::Status(response.status().as_u16()));
        }
        let assessment: AssessmentResponse = response.json().await?;
        match assessment.decision.as_str() {
            "approve" => Ok(Decision::Approve),
            "decline" => Ok(Decision::Decline {
                reason: assessment
                    .reason
                    .unwrap_or_else(|| "no reason given".to_owned()),
            }),
            other => Err(RiskError::UnknownDecision(other.to_owned())),
        }
    }
}
