//! `incidents.v1`: incident lifecycle events, mirrored from the incident store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Contribution, Severity, Timestamp};

/// What kind of trouble an incident is about; decides the recovery strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Memory rising toward its limit.
    MemoryLeak,
    /// Latency rising above its baseline.
    LatencyDegradation,
    /// Failed requests well above baseline.
    ErrorBurst,
    /// Traffic or telemetry gone: the service stopped answering.
    ServiceDown,
    /// CPU or connections near their limits.
    Saturation,
    /// Anomalous, no single clear cause.
    Anomaly,
}

impl IncidentKind {
    /// Every kind.
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::MemoryLeak,
        IncidentKind::LatencyDegradation,
        IncidentKind::ErrorBurst,
        IncidentKind::ServiceDown,
        IncidentKind::Saturation,
        IncidentKind::Anomaly,
    ];

    /// The snake_case name used on the wire and in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::MemoryLeak => "memory_leak",
            IncidentKind::LatencyDegradation => "latency_degradation",
            IncidentKind::ErrorBurst => "error_burst",
            IncidentKind::ServiceDown => "service_down",
            IncidentKind::Saturation => "saturation",
            IncidentKind::Anomaly => "anomaly",
        }
    }

    /// Parse the snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Incident status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Newly opened.
    Opened,
    /// New evidence on an open incident.
    Updated,
    /// Resolved: the service is healthy again.
    Resolved,
}

/// An incident lifecycle event on `incidents.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentEvent {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id of this event.
    pub id: String,
    /// When it happened, ms since the epoch (event time of the evidence).
    pub event_time: Timestamp,
    /// The service.
    pub service_id: String,
    /// The incident.
    pub incident_id: String,
    /// Kind of trouble.
    pub kind: IncidentKind,
    /// Lifecycle status.
    pub status: IncidentStatus,
    /// Severity.
    pub severity: Severity,
    /// Short summary.
    pub summary: String,
    /// True when the incident was opened on a prediction before the service degraded.
    pub predicted: bool,
    /// The features that explain it.
    pub explanation: Vec<Contribution>,
}
