//! Topic names. Every message is keyed by `service_id`.

/// Raw telemetry as producers send it (JSON, see `schemas/json/telemetry.raw.json`).
pub const TELEMETRY_RAW: &str = "telemetry.raw";
/// Validated, normalized telemetry events.
pub const TELEMETRY_V1: &str = "telemetry.v1";
/// Rejected input with the original bytes and the reason.
pub const TELEMETRY_DLQ: &str = "telemetry.dlq";
/// One feature window per service per step.
pub const FEATURES_V1: &str = "features.v1";
/// One anomaly score per feature window.
pub const ANOMALIES_V1: &str = "anomalies.v1";
/// Alert state changes (firing, resolved).
pub const ALERTS_V1: &str = "alerts.v1";
/// Failure forecasts per service.
pub const PREDICTIONS_V1: &str = "predictions.v1";
/// Recovery commands for executors.
pub const ACTIONS_V1: &str = "actions.v1";
/// Results reported back by whoever carried an action out.
pub const ACTIONS_RESULTS_V1: &str = "actions.results.v1";
/// Incident lifecycle events (opened, updated, resolved).
pub const INCIDENTS_V1: &str = "incidents.v1";

/// Every topic, in pipeline order.
pub const ALL: [&str; 10] = [
    TELEMETRY_RAW,
    TELEMETRY_V1,
    TELEMETRY_DLQ,
    FEATURES_V1,
    ANOMALIES_V1,
    ALERTS_V1,
    PREDICTIONS_V1,
    ACTIONS_V1,
    ACTIONS_RESULTS_V1,
    INCIDENTS_V1,
];
