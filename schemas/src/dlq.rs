//! `telemetry.dlq`: what could not be accepted, with the original bytes and the reason.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A rejected record. Nothing is dropped silently: every rejection lands here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetter {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id derived from the source position and bytes.
    pub id: String,
    /// When the record was rejected (processing time), ms since the epoch.
    pub event_time: Timestamp,
    /// The service id when it could be read, else `unknown`.
    pub service_id: String,
    /// The stage that rejected it.
    pub stage: String,
    /// Topic the record came from.
    pub source_topic: String,
    /// Partition the record came from.
    pub source_partition: i32,
    /// Offset the record had.
    pub source_offset: i64,
    /// Machine-readable reason code, e.g. `invalid_json`, `missing_field`.
    pub reason_code: String,
    /// Human-readable reason.
    pub reason: String,
    /// The original bytes, as UTF-8 when valid, else lossily converted.
    pub original: String,
    /// True when `original` had to be converted lossily.
    pub original_lossy: bool,
}
