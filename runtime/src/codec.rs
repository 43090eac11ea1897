//! How stage inputs and outputs cross a topic: JSON payloads keyed by `service_id`.

use homeostat_schemas::{
    ActionCommand, ActionResult, Alert, AnomalyScore, DeadLetter, Envelope, FeatureWindow, IncidentEvent, Prediction,
    TelemetryEvent, topics,
};
use serde::Serialize;

/// A record as read from a topic, before decoding.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Topic it was read from.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Key bytes, when present.
    pub key: Option<Vec<u8>>,
    /// Payload bytes (empty for a tombstone).
    pub payload: Vec<u8>,
}

/// Why a record could not be decoded. The runner sends it to the dead-letter topic with this.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct DecodeError {
    /// Machine-readable reason code.
    pub code: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

/// A stage's input: which topics it reads and how a record becomes a value.
pub trait Input: Sized + Send + 'static {
    /// Topics the stage subscribes to.
    const TOPICS: &'static [&'static str];
    /// Decode one record. Bad records are dead-lettered by the runner, never a crash.
    fn decode(rec: &SourceRecord) -> Result<Self, DecodeError>;
}

/// A stage's output: where a value goes and how it is written.
pub trait Output: Send + 'static {
    /// Destination topic.
    fn topic(&self) -> &'static str;
    /// Kafka key (the service id).
    fn key(&self) -> &str;
    /// Payload bytes.
    fn encode(&self) -> Vec<u8>;
}

/// Decode a JSON payload into a message type.
pub fn decode_json<T: serde::de::DeserializeOwned>(rec: &SourceRecord) -> Result<T, DecodeError> {
    serde_json::from_slice(&rec.payload).map_err(|e| DecodeError {
        code: "undecodable",
        reason: format!("not a valid {} message: {e}", rec.topic),
    })
}

/// Encode a message as JSON.
pub fn encode_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own message types cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(v).unwrap_or_default()
}

macro_rules! json_message {
    ($($t:ty => $topic:expr),* $(,)?) => {$(
        impl Input for $t {
            const TOPICS: &'static [&'static str] = &[$topic];
            fn decode(rec: &SourceRecord) -> Result<Self, DecodeError> { decode_json(rec) }
        }
        impl Output for $t {
            fn topic(&self) -> &'static str { $topic }
            fn key(&self) -> &str { self.service_id() }
            fn encode(&self) -> Vec<u8> { encode_json(self) }
        }
    )*};
}

json_message!(
    TelemetryEvent => topics::TELEMETRY_V1,
    DeadLetter => topics::TELEMETRY_DLQ,
    FeatureWindow => topics::FEATURES_V1,
    AnomalyScore => topics::ANOMALIES_V1,
    Alert => topics::ALERTS_V1,
    Prediction => topics::PREDICTIONS_V1,
    ActionCommand => topics::ACTIONS_V1,
    ActionResult => topics::ACTIONS_RESULTS_V1,
    IncidentEvent => topics::INCIDENTS_V1,
);

/// Decode a batch: the values in order, and a dead letter (reason `DecodeError::code`) for each
/// record that did not decode. Both runners use this, so a bad record never stops a stage.
pub fn decode_batch<I: Input>(stage: &str, records: &[SourceRecord]) -> (Vec<I>, Vec<DeadLetter>) {
    let mut values = Vec::with_capacity(records.len());
    let mut dead = Vec::new();
    for rec in records {
        match I::decode(rec) {
            Ok(v) => values.push(v),
            Err(e) => dead.push(dead_letter(stage, rec, None, e.code, &e.reason)),
        }
    }
    (values, dead)
}

/// Build the dead letter for a record that could not be decoded or was rejected.
pub fn dead_letter(stage: &str, rec: &SourceRecord, service_id: Option<&str>, code: &str, reason: &str) -> DeadLetter {
    let (original, lossy) = match std::str::from_utf8(&rec.payload) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (String::from_utf8_lossy(&rec.payload).into_owned(), true),
    };
    DeadLetter {
        schema_version: homeostat_schemas::SCHEMA_VERSION,
        id: homeostat_schemas::stable_id(
            "dlq",
            &[
                rec.topic.as_bytes(),
                &rec.partition.to_le_bytes(),
                &rec.offset.to_le_bytes(),
                &rec.payload,
            ],
        ),
        event_time: crate::now_ms(),
        service_id: service_id.unwrap_or("unknown").to_owned(),
        stage: stage.to_owned(),
        source_topic: rec.topic.clone(),
        source_partition: rec.partition,
        source_offset: rec.offset,
        reason_code: code.to_owned(),
        reason: reason.to_owned(),
        original,
        original_lossy: lossy,
    }
}
