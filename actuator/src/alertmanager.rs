//! Escalation to people through Alertmanager (API v2): an incident becomes an alert labelled with
//! its service, kind, severity and incident id, annotated with its summary and the detector's
//! explanation; resolving the incident ends the alert.

use std::time::Duration;

use homeostat_schemas::Contribution;
use serde_json::json;

/// An incident to escalate.
#[derive(Debug, Clone)]
pub struct Escalation<'a> {
    /// Incident id.
    pub incident_id: &'a str,
    /// Service.
    pub service_id: &'a str,
    /// Incident kind (memory_leak, …).
    pub kind: &'a str,
    /// warning or critical.
    pub severity: &'a str,
    /// One line for people.
    pub summary: &'a str,
    /// What the detector saw.
    pub explanation: &'a [Contribution],
    /// Why it is escalated (e.g. "the same remedy repeated").
    pub reason: &'a str,
}

/// Errors posting to Alertmanager.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    /// Not reachable.
    #[error("Alertmanager at {0}: {1}")]
    Http(String, String),
    /// Refused the alert.
    #[error("Alertmanager at {0} answered {1}: {2}")]
    Refused(String, u16, String),
}

/// A client of one Alertmanager.
#[derive(Debug, Clone)]
pub struct Alertmanager {
    base: String,
    client: reqwest::Client,
}

/// The explanation as one readable line: `latency_p99_ms 412.0 (baseline 120.0, +8.1σ); …`.
pub fn explain(top: &[Contribution]) -> String {
    top.iter()
        .map(|c| {
            format!(
                "{} {:.4} (baseline {:.4}, {:+.1} deviations)",
                c.feature, c.value, c.baseline, c.deviation
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Alertmanager {
    /// A client of the Alertmanager at `base` (e.g. `http://127.0.0.1:9093`).
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().timeout(timeout).build().unwrap_or_default(),
        }
    }

    fn alert(e: &Escalation<'_>, ends_at: Option<chrono::DateTime<chrono::Utc>>) -> serde_json::Value {
        let mut a = json!({
            "labels": {
                "alertname": "HomeostatEscalation",
                "service": e.service_id,
                "kind": e.kind,
                "severity": e.severity,
                "incident": e.incident_id,
            },
            "annotations": {
                "summary": e.summary,
                "explanation": explain(e.explanation),
                "reason": e.reason,
            },
            "generatorURL": format!("homeostat://incidents/{}", e.incident_id),
        });
        if let Some(t) = ends_at {
            a["endsAt"] = json!(t.to_rfc3339());
        }
        a
    }

    async fn post(&self, alerts: serde_json::Value) -> Result<(), AlertmanagerError> {
        let url = format!("{}/api/v2/alerts", self.base);
        let r = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(alerts.to_string())
            .send()
            .await
            .map_err(|e| AlertmanagerError::Http(self.base.clone(), e.to_string()))?;
        let status = r.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = r.text().await.unwrap_or_default();
            Err(AlertmanagerError::Refused(self.base.clone(), status.as_u16(), text))
        }
    }

    /// Raise (or refresh) the incident's alert.
    pub async fn escalate(&self, e: &Escalation<'_>) -> Result<(), AlertmanagerError> {
        self.post(json!([Self::alert(e, None)])).await
    }

    /// End the incident's alert.
    pub async fn resolve(&self, e: &Escalation<'_>) -> Result<(), AlertmanagerError> {
        self.post(json!([Self::alert(e, Some(chrono::Utc::now()))])).await
    }
}
