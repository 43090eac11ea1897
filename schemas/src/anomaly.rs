//! `anomalies.v1` (a score per window) and `alerts.v1` (alert state changes).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One feature's part in an anomaly: its value, the baseline it was judged against, and how far
/// off it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Contribution {
    /// Feature name from the catalogue.
    pub feature: String,
    /// Value in this window.
    pub value: f64,
    /// The service's baseline for it (robust centre).
    pub baseline: f64,
    /// Robust deviation: (value − baseline) / scale, signed.
    pub deviation: f64,
}

/// The detector's verdict on one feature window (the `AdvancedHealthMetrics` of the design).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnomalyScore {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id: derived from the feature window id.
    pub id: String,
    /// The window's end, ms since the epoch.
    pub event_time: Timestamp,
    /// The service.
    pub service_id: String,
    /// Id of the feature window scored.
    pub window_id: String,
    /// Anomaly score in [0, 1]: 0 is ordinary, 1 is far outside the baseline.
    pub anomaly_score: f64,
    /// Health score in [0, 1]: 1 is healthy.
    pub health_score: f64,
    /// Degradation trend: change of the health score per minute over recent windows (negative is worsening).
    pub degradation_trend: f64,
    /// True while the baseline is still being learned (no alert is raised then).
    pub warming_up: bool,
    /// Why the baseline is being learned, while `warming_up` (absent otherwise, and from
    /// detectors older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    /// True when the alert for this service is firing after this window.
    pub alerting: bool,
    /// Top contributing features, largest deviation first.
    pub top_features: Vec<Contribution>,
}

/// Why the detector is learning a service's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// It has no baseline for the service: a service it has not seen before, or a detector that
    /// started without its checkpoint.
    New,
    /// The service's alert lasted `detector.adopt_after_s`, so its current level is being learned
    /// as its new normal.
    NewNormal,
}

/// Severity of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Warning,
    /// Users are affected or soon will be.
    Critical,
}

/// Alert state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The alert started firing.
    Firing,
    /// The alert stopped firing.
    Resolved,
}

/// An alert state change on `alerts.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id: derived from service, state and the window that changed it.
    pub id: String,
    /// When the state changed (window end), ms since the epoch.
    pub event_time: Timestamp,
    /// The service.
    pub service_id: String,
    /// Firing or resolved.
    pub state: AlertState,
    /// Severity.
    pub severity: Severity,
    /// Which part of Homeostat raised it (`detector`, `predictor`, `actuator`).
    pub source: String,
    /// Short human-readable summary.
    pub summary: String,
    /// Anomaly score at the change.
    pub anomaly_score: f64,
    /// Explanation: the features that drove it, with their baselines.
    pub explanation: Vec<crate::Contribution>,
}
