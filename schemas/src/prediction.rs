//! `predictions.v1`: failure forecasts per service.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The forecast for one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HorizonForecast {
    /// Horizon in minutes (5, 15 or 30).
    pub horizon_minutes: u32,
    /// Probability that an indicator crosses its failure threshold within the horizon.
    pub failure_probability: f64,
}

/// A forecast about one service, made at the end of a feature window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prediction {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id: derived from the feature window id.
    pub id: String,
    /// When the forecast was made (window end), ms since the epoch.
    pub event_time: Timestamp,
    /// The service.
    pub service_id: String,
    /// The indicator expected to fail first (`memory_max_ratio`, `latency_p99_ms`, `error_rate`), if any.
    pub indicator: Option<String>,
    /// Its current value.
    pub current_value: Option<f64>,
    /// Its failure threshold.
    pub threshold: Option<f64>,
    /// Its fitted trend, units per second.
    pub slope_per_s: Option<f64>,
    /// Predicted failure time, ms since the epoch, when a crossing is forecast within the longest horizon's reach.
    pub predicted_failure_time: Option<Timestamp>,
    /// Probability of failure per horizon.
    pub horizons: Vec<HorizonForecast>,
}

impl Prediction {
    /// The failure probability at the given horizon, 0 when absent.
    pub fn probability(&self, horizon_minutes: u32) -> f64 {
        self.horizons
            .iter()
            .find(|h| h.horizon_minutes == horizon_minutes)
            .map_or(0.0, |h| h.failure_probability)
    }
}
