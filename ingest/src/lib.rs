//! Ingest: reads `telemetry.raw`, validates and normalizes each record into `telemetry.v1`.
//! Anything invalid goes to `telemetry.dlq` with the original bytes and a reason; a bad record
//! never stops the stage and never hides a valid record of the same batch.

mod normalize;

pub use normalize::{Rejection, normalize};

use homeostat_schemas::{DeadLetter, TelemetryEvent, topics};
use runtime::codec::{DecodeError, Input, Output, SourceRecord, dead_letter, encode_json};
use runtime::{BuildError, Counter, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

/// `[ingest]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest accepted record, in bytes.
    pub max_record_bytes: usize,
    /// Records stamped further than this many seconds in the future are rejected.
    pub max_future_skew_s: i64,
    /// Records older than this many seconds are rejected.
    pub max_age_s: i64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_record_bytes: 65_536,
            max_future_skew_s: 300,
            max_age_s: 7 * 86_400,
        }
    }
}

/// A raw record: ingest takes the bytes as they are.
pub struct RawRecord(pub SourceRecord);

impl Input for RawRecord {
    const TOPICS: &'static [&'static str] = &[topics::TELEMETRY_RAW];
    fn decode(rec: &SourceRecord) -> Result<Self, DecodeError> {
        Ok(RawRecord(rec.clone()))
    }
}

/// What ingest writes.
pub enum IngestOut {
    /// A normalized event for `telemetry.v1`.
    Event(TelemetryEvent),
    /// A rejected record for `telemetry.dlq`.
    Dead(DeadLetter),
}

impl Output for IngestOut {
    fn topic(&self) -> &'static str {
        match self {
            IngestOut::Event(_) => topics::TELEMETRY_V1,
            IngestOut::Dead(_) => topics::TELEMETRY_DLQ,
        }
    }
    fn key(&self) -> &str {
        match self {
            IngestOut::Event(e) => &e.service_id,
            IngestOut::Dead(d) => &d.service_id,
        }
    }
    fn encode(&self) -> Vec<u8> {
        match self {
            IngestOut::Event(e) => encode_json(e),
            IngestOut::Dead(d) => encode_json(d),
        }
    }
}

/// The ingest stage.
pub struct Ingest {
    cfg: IngestConfig,
    cx: StageContext,
    accepted: Counter,
}

impl Ingest {
    /// Build without a runner (tests, benchmarks).
    pub fn new(cfg: IngestConfig, cx: &StageContext) -> Self {
        let accepted = cx
            .metrics
            .counter("records_accepted_total", "", "Records normalized onto telemetry.v1.");
        Self {
            cfg,
            cx: cx.clone(),
            accepted,
        }
    }

    /// Normalize or reject one record, at wall-clock time `now_ms`.
    pub fn handle(&self, rec: &SourceRecord, now_ms: i64) -> IngestOut {
        match normalize(rec, &self.cfg, now_ms) {
            Ok(ev) => {
                self.accepted.inc();
                IngestOut::Event(ev)
            }
            Err(r) => {
                self.cx
                    .metrics
                    .counter(
                        "records_rejected_total",
                        &format!("reason=\"{}\"", r.code),
                        "Records sent to telemetry.dlq, by reason.",
                    )
                    .inc();
                IngestOut::Dead(dead_letter("ingest", rec, r.service_id.as_deref(), r.code, &r.reason))
            }
        }
    }
}

impl Stage for Ingest {
    type In = RawRecord;
    type Out = IngestOut;
    type Config = IngestConfig;
    const NAME: &'static str = "ingest";

    async fn build(cfg: IngestConfig, cx: &StageContext) -> Result<Self, BuildError> {
        if cfg.max_record_bytes == 0 {
            return Err(BuildError::Config("ingest.max_record_bytes must be positive".into()));
        }
        Ok(Ingest::new(cfg, cx))
    }

    async fn process(&mut self, batch: Vec<RawRecord>, out: &mut Emitter<IngestOut>) -> Result<(), StageError> {
        let now = runtime::now_ms();
        for RawRecord(rec) in batch {
            out.emit(self.handle(&rec, now));
        }
        Ok(())
    }
}
