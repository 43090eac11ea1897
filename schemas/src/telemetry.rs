//! `telemetry.raw` (what producers send) and `telemetry.v1` (what ingest emits).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One record on `telemetry.raw`, schema version 1, as JSON.
///
/// Ingest is lenient where meaning is unambiguous and strict elsewhere: the timestamp may be an
/// RFC 3339 string or a number of seconds, milliseconds, microseconds or nanoseconds since the
/// epoch (told apart by magnitude); latency may be given as `latency_ms`, `latency_s` or
/// `latency_us`; CPU as `cpu_ratio` (0–1) or `cpu_percent` (0–100 per core). Ids are trimmed and
/// lower-cased and must match `[a-z0-9][a-z0-9._:-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// Must be 1.
    pub schema_version: u32,
    /// `request` for a per-request record, `resource` for a per-instance resource sample.
    pub kind: String,
    /// Optional producer-assigned id; when absent ingest derives a stable one from the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The service the record is about.
    pub service_id: String,
    /// The instance (pod, VM, process) that served the request or was sampled.
    pub instance_id: String,
    /// Event time: RFC 3339 string or epoch number (s, ms, µs or ns).
    pub timestamp: serde_json::Value,
    /// Request: the route template, e.g. `/api/cart/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Request: HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request: HTTP status, 100–599, or 0 when no response was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Request: latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Request: latency in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_s: Option<f64>,
    /// Request: latency in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    /// Request: response size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// Resource: CPU use as a ratio of the instance's allocation, 0–1 (may exceed 1 when bursting, at most 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ratio: Option<f64>,
    /// Resource: CPU use in percent of the allocation, 0–6400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// Resource: resident memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Resource: memory limit in bytes (required with `memory_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// Resource: open connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// Resource: connection limit (pool size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_limit: Option<u32>,
}

/// One normalized event on `telemetry.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TelemetryEvent {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id (the producer's, or derived from the raw record).
    pub id: String,
    /// Event time, ms since the epoch.
    pub event_time: Timestamp,
    /// Normalized service id.
    pub service_id: String,
    /// Normalized instance id.
    pub instance_id: String,
    /// What was observed.
    pub body: TelemetryBody,
}

/// The observation carried by a telemetry event, in canonical units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TelemetryBody {
    /// One request served (or failed) by the instance.
    Request {
        /// Route template.
        route: String,
        /// Upper-case HTTP method.
        method: String,
        /// HTTP status, or 0 when no response was received.
        status: u16,
        /// Latency in milliseconds.
        latency_ms: f64,
        /// Response size in bytes.
        bytes_out: u64,
    },
    /// One resource sample of the instance.
    Resource {
        /// CPU use as a ratio of the allocation.
        cpu_ratio: f64,
        /// Memory use as a ratio of the limit (0 when unknown).
        memory_ratio: f64,
        /// Resident memory in bytes.
        memory_bytes: u64,
        /// Open connections.
        connections: u32,
        /// Connection limit (0 when unknown).
        connection_limit: u32,
    },
}
