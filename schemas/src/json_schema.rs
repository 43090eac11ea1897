//! JSON Schema generation for every topic. The files in `schemas/json/` are generated from the
//! types here; a test fails when they drift.

use crate::{
    ActionCommand, ActionResult, Alert, AnomalyScore, DeadLetter, FeatureWindow, IncidentEvent, Prediction,
    RawTelemetry, TelemetryEvent, topics,
};

/// (topic, pretty-printed JSON Schema) for every topic.
pub fn all() -> Vec<(&'static str, String)> {
    fn render<T: schemars::JsonSchema>() -> String {
        let schema = schemars::schema_for!(T);
        let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
        s.push('\n');
        s
    }
    vec![
        (topics::TELEMETRY_RAW, render::<RawTelemetry>()),
        (topics::TELEMETRY_V1, render::<TelemetryEvent>()),
        (topics::TELEMETRY_DLQ, render::<DeadLetter>()),
        (topics::FEATURES_V1, render::<FeatureWindow>()),
        (topics::ANOMALIES_V1, render::<AnomalyScore>()),
        (topics::ALERTS_V1, render::<Alert>()),
        (topics::PREDICTIONS_V1, render::<Prediction>()),
        (topics::ACTIONS_V1, render::<ActionCommand>()),
        (topics::ACTIONS_RESULTS_V1, render::<ActionResult>()),
        (topics::INCIDENTS_V1, render::<IncidentEvent>()),
    ]
}
