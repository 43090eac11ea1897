//! `features.v1`: one window of one service.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{FeatureId, Timestamp};

/// The features of one service over one event-time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeatureWindow {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id: derived from service and window end.
    pub id: String,
    /// The window's end (exclusive), ms since the epoch.
    pub event_time: Timestamp,
    /// The service.
    pub service_id: String,
    /// The window's start (inclusive), ms since the epoch.
    pub window_start: Timestamp,
    /// Number of telemetry events in the window.
    pub event_count: u64,
    /// Events that arrived after the watermark but were still folded into this window.
    pub late_events: u64,
    /// Feature values by catalogue name. A feature undefined on this window is absent.
    pub features: BTreeMap<String, f64>,
}

impl FeatureWindow {
    /// A feature's value, if defined on this window.
    pub fn get(&self, f: FeatureId) -> Option<f64> {
        self.features.get(f.name()).copied().filter(|v| v.is_finite())
    }

    /// The window length in seconds.
    pub fn window_seconds(&self) -> f64 {
        (self.event_time - self.window_start) as f64 / 1000.0
    }
}
