//! The stage model shared by every Homeostat binary: the [`Stage`] trait, the Kafka runner, the
//! in-memory runner used by `homeostat demo`, configuration, metrics, health endpoints, logging and
//! graceful shutdown.

pub mod binary;
pub mod codec;
pub mod config;
pub mod http;
pub mod kafka;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod shutdown;
pub mod stage;

pub use binary::stage_main;
pub use codec::{DecodeError, Input, Output, SourceRecord};
pub use config::{ConfigError, RuntimeConfig, load_config};
pub use metrics::{Counter, Gauge, Metrics};
pub use stage::{BuildError, Emitter, Stage, StageContext, StageError};

/// Milliseconds since the epoch, now, by the wall clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
