//! The [`Stage`] trait every Homeostat stage implements, and what the runners hand it.

use std::future::Future;
use std::sync::Arc;

use homeostat_schemas::Timestamp;
use serde::de::DeserializeOwned;

use crate::codec::{Input, Output};
use crate::metrics::Metrics;

/// Errors while building a stage. Handling: report and exit non-zero (the config or an external
/// service is wrong at start; a supervisor restarts the process).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is invalid: fix it and start again.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An external service could not be reached at start: the runner retries, then gives up.
    #[error("external service unavailable at start: {0}")]
    Unavailable(String),
}

/// Errors while processing. The variant says how the runner handles it.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An external dependency (database, broker, HTTP endpoint) failed: the runner retries the
    /// same batch with backoff and does not commit its offsets until it succeeds.
    #[error("external dependency failed (will retry): {0}")]
    Transient(String),
    /// A bug or broken invariant: the runner stops and the process exits non-zero, without
    /// committing the batch, so nothing is lost.
    #[error("internal error (stopping): {0}")]
    Fatal(String),
}

/// Collects a stage's outputs for one batch or tick.
pub struct Emitter<O> {
    items: Vec<O>,
}

impl<O> Default for Emitter<O> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<O> Emitter<O> {
    /// Emit one output.
    pub fn emit(&mut self, o: O) {
        self.items.push(o);
    }
    /// Take everything emitted so far.
    pub fn drain(&mut self) -> Vec<O> {
        std::mem::take(&mut self.items)
    }
    /// Number of outputs waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What a stage gets from its runner.
#[derive(Clone)]
pub struct StageContext {
    /// The stage's name (`ingest`, `features`, …).
    pub stage: &'static str,
    /// Metrics registry served on `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl StageContext {
    /// A context with a fresh metrics registry.
    pub fn new(stage: &'static str) -> Self {
        Self {
            stage,
            metrics: Arc::new(Metrics::new(stage)),
        }
    }
}

/// A Homeostat stage: reads a batch of inputs, emits outputs. The runners own the consumer, the
/// producer, offsets, retries, metrics and shutdown; a stage owns only its logic and state.
pub trait Stage: Send + Sized + 'static {
    /// What it reads.
    type In: Input;
    /// What it writes.
    type Out: Output;
    /// Its configuration section.
    type Config: DeserializeOwned + Send;
    /// The stage's name, also its config section and metric prefix.
    const NAME: &'static str;

    /// Build the stage from its configuration.
    fn build(cfg: Self::Config, cx: &StageContext) -> impl Future<Output = Result<Self, BuildError>> + Send;

    /// Process one batch of inputs in partition order. Outputs are published, and the batch's
    /// offsets stored, only after this returns `Ok` and every output is acknowledged.
    fn process(
        &mut self,
        batch: Vec<Self::In>,
        out: &mut Emitter<Self::Out>,
    ) -> impl Future<Output = Result<(), StageError>> + Send;

    /// Called periodically with the runner's clock (wall time under Kafka, simulated time in the
    /// demo), for work that does not wait for input.
    fn on_tick(
        &mut self,
        _now: Timestamp,
        _out: &mut Emitter<Self::Out>,
    ) -> impl Future<Output = Result<(), StageError>> + Send {
        async { Ok(()) }
    }

    /// Apply the stage's settings read again on SIGHUP (the runner reads the same file and
    /// environment). `Ok` says what changed, naming any setting the stage applies only at start
    /// (those stay as they were); `Err` says why nothing changed. By default a stage applies its
    /// settings only at start.
    fn reload(&mut self, _cfg: Self::Config) -> Result<String, String> {
        Err(format!(
            "homeostat-{} applies its settings only at start; restart it to apply them",
            Self::NAME
        ))
    }

    /// Called once on shutdown after the last batch, to flush buffers.
    fn shutdown(&mut self, _out: &mut Emitter<Self::Out>) -> impl Future<Output = Result<(), StageError>> + Send {
        async { Ok(()) }
    }
}
