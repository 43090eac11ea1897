//! Homeostat's wire contract: the message type of every topic, the topic names, and the catalogue
//! of the 47 features.
//!
//! Every message carries `schema_version`, `event_time` (milliseconds since the Unix epoch, UTC),
//! `service_id` and a stable `id`, so consumers can order, key and de-duplicate it. Changes are
//! additive: committed fixtures of every version (`schemas/fixtures/`) must keep parsing.

pub mod action;
pub mod anomaly;
pub mod catalogue;
pub mod dlq;
pub mod features;
pub mod incident;
pub mod json_schema;
pub mod prediction;
pub mod telemetry;
pub mod topics;

pub use action::{ActionCommand, ActionMode, ActionResult, ActionStatus, Strategy};
pub use anomaly::{Alert, AlertState, AnomalyScore, Contribution, Severity, Warmup};
pub use catalogue::{FEATURE_COUNT, FEATURES, Feature, FeatureId};
pub use dlq::DeadLetter;
pub use features::FeatureWindow;
pub use incident::{IncidentEvent, IncidentKind, IncidentStatus};
pub use prediction::{HorizonForecast, Prediction};
pub use telemetry::{RawTelemetry, TelemetryBody, TelemetryEvent};

/// Milliseconds since the Unix epoch, UTC. Every `event_time` in Homeostat is one of these.
pub type Timestamp = i64;

/// The schema version this build writes for every topic.
pub const SCHEMA_VERSION: u32 = 1;

/// What every message on a Homeostat topic has in common.
pub trait Envelope {
    /// Stable id: the same logical message always has the same id, so consumers de-duplicate.
    fn id(&self) -> &str;
    /// The service the message is about; also the Kafka key, so a service's events stay ordered.
    fn service_id(&self) -> &str;
    /// Event time in milliseconds since the epoch.
    fn event_time(&self) -> Timestamp;
}

macro_rules! envelope {
    ($($t:ty),* $(,)?) => {$(
        impl Envelope for $t {
            fn id(&self) -> &str { &self.id }
            fn service_id(&self) -> &str { &self.service_id }
            fn event_time(&self) -> Timestamp { self.event_time }
        }
    )*};
}
envelope!(
    TelemetryEvent,
    DeadLetter,
    FeatureWindow,
    AnomalyScore,
    Alert,
    Prediction,
    ActionCommand,
    ActionResult,
    IncidentEvent,
);

/// A 64-bit FNV-1a hash, used to derive stable message ids from content.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A stable id made of a prefix and a content hash, e.g. `win-3f2a...`.
pub fn stable_id(prefix: &str, parts: &[&[u8]]) -> String {
    format!("{prefix}-{:016x}", fnv1a(parts))
}
