//! The in-memory runner: the same stages wired with channels in one process (`homeostat demo`).
//!
//! Records cross the in-memory bus as bytes through the same codecs as under Kafka, so the demo
//! exercises the real decode and dead-letter paths. The stages run in lockstep ([`Lockstep`]): the
//! caller steps each in pipeline order, so a run does not depend on scheduling. At the end each
//! stage, in order, drains its input, flushes and drops its outputs.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::codec::{Output, SourceRecord, decode_batch};
use crate::stage::{Emitter, Stage, StageError};

/// The wiring: who listens to which topic. Subscribe everything first, then hand out routers,
/// then drop the bus.
#[derive(Default)]
pub struct Bus {
    routes: HashMap<String, Vec<mpsc::Sender<SourceRecord>>>,
    offsets: Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

impl Bus {
    /// A new, empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver of every record published on `topics`.
    pub fn subscribe(&mut self, topics: &[&str], capacity: usize) -> mpsc::Receiver<SourceRecord> {
        let (tx, rx) = mpsc::channel(capacity);
        for t in topics {
            self.routes.entry((*t).to_owned()).or_default().push(tx.clone());
        }
        rx
    }

    /// A publisher onto `topics` (the topics its holder writes). A subscriber's channel closes
    /// when every router holding it is dropped, which is how shutdown cascades downstream.
    pub fn router(&self, topics: &[&str]) -> Router {
        let routes = self
            .routes
            .iter()
            .filter(|(t, _)| topics.contains(&t.as_str()))
            .map(|(t, s)| (t.clone(), s.clone()))
            .collect();
        Router {
            routes,
            offsets: self.offsets.clone(),
            allowed: topics.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// A stage's handle for publishing.
#[derive(Clone)]
pub struct Router {
    routes: HashMap<String, Vec<mpsc::Sender<SourceRecord>>>,
    offsets: Arc<std::sync::Mutex<HashMap<String, i64>>>,
    allowed: Vec<String>,
}

impl Router {
    /// Publish one record to every subscriber of `topic` (waits when a subscriber is full).
    pub async fn publish(&self, topic: &str, key: &str, payload: Vec<u8>) {
        if !self.allowed.iter().any(|t| t == topic) {
            tracing::error!(
                topic,
                "wiring bug: this stage's router does not publish to the topic; record not delivered"
            );
            return;
        }
        let offset = {
            let mut o = self.offsets.lock().unwrap_or_else(|p| p.into_inner());
            let e = o.entry(topic.to_owned()).or_insert(0);
            *e += 1;
            *e - 1
        };
        let Some(subs) = self.routes.get(topic) else {
            return;
        };
        for s in subs {
            let rec = SourceRecord {
                topic: topic.to_owned(),
                partition: 0,
                offset,
                key: Some(key.as_bytes().to_vec()),
                payload: payload.clone(),
            };
            // A closed subscriber has finished; nothing downstream of it wants the record.
            let _ = s.send(rec).await;
        }
    }

    /// Publish a stage output. It is encoded at once, so the future does not hold `o`.
    pub fn publish_output<O: Output>(&self, o: &O) -> impl Future<Output = ()> + Send + use<'_, O> {
        let (topic, key, payload) = (o.topic(), o.key().to_owned(), o.encode());
        async move { self.publish(topic, &key, payload).await }
    }

    /// Publish outputs in order (what a stage emitted, or its dead letters).
    pub async fn publish_all<O: Output>(&self, outputs: Vec<O>) {
        for o in outputs {
            self.publish_output(&o).await;
        }
    }
}

/// A stage driven in lockstep by its caller rather than on a task of its own.
///
/// [`Lockstep::step`] takes everything waiting in the stage's input, in order, in batches of at
/// most `max_batch`, then ticks the stage once. When the caller steps every stage in pipeline
/// order after each slice of input (the demo does, after each simulated second), each stage sees
/// the same batches in the same order in every run, so a run is decided by its input alone and
/// not by how the machine happened to schedule the stages: `homeostat demo --seed N` repeats
/// itself exactly. A step's outputs wait in the next stage's channel until that stage's step, so
/// the channels must hold what one step produces (the demo's hold 50 000 records; a simulated
/// second of eight services is about a hundred).
pub struct Lockstep<S: Stage> {
    stage: S,
    rx: mpsc::Receiver<SourceRecord>,
    router: Router,
    max_batch: usize,
}

impl<S: Stage> Lockstep<S> {
    /// `stage` reading `rx` and publishing through `router`.
    pub fn new(stage: S, rx: mpsc::Receiver<SourceRecord>, router: Router, max_batch: usize) -> Self {
        Self {
            stage,
            rx,
            router,
            max_batch: max_batch.max(1),
        }
    }

    /// Process everything waiting in the input, then tick at `now` (simulated time).
    pub async fn step(&mut self, now: i64) -> Result<(), StageError> {
        loop {
            let mut records = Vec::new();
            while records.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(r) => records.push(r),
                    Err(_) => break,
                }
            }
            if records.is_empty() {
                break;
            }
            process_batch(&mut self.stage, &records, &self.router).await?;
        }
        let mut em = Emitter::default();
        self.stage.on_tick(now, &mut em).await?;
        self.router.publish_all(em.drain()).await;
        Ok(())
    }

    /// The input is over: process what is left, let the stage flush, and drop its router, which
    /// closes the inputs of the stages after it once theirs are dropped too.
    pub async fn finish(mut self, now: i64) -> Result<(), StageError> {
        self.step(now).await?;
        let mut em = Emitter::default();
        self.stage.shutdown(&mut em).await?;
        self.router.publish_all(em.drain()).await;
        Ok(())
    }
}

/// Any [`Lockstep`] stage, whatever its types, so that a pipeline can be a list stepped in order.
pub trait Step: Send {
    /// [`Lockstep::step`].
    fn step(&mut self, now: i64) -> Pin<Box<dyn Future<Output = Result<(), StageError>> + Send + '_>>;
    /// [`Lockstep::finish`].
    fn finish(self: Box<Self>, now: i64) -> Pin<Box<dyn Future<Output = Result<(), StageError>> + Send>>;
}

impl<S: Stage> Step for Lockstep<S> {
    fn step(&mut self, now: i64) -> Pin<Box<dyn Future<Output = Result<(), StageError>> + Send + '_>> {
        Box::pin(Lockstep::step(self, now))
    }
    fn finish(self: Box<Self>, now: i64) -> Pin<Box<dyn Future<Output = Result<(), StageError>> + Send>> {
        Box::pin(Lockstep::finish(*self, now))
    }
}

/// Decode and process one batch, publishing its dead letters and outputs; a transient failure
/// (a database away for a moment) is retried with backoff, so nothing is lost.
async fn process_batch<S: Stage>(stage: &mut S, records: &[SourceRecord], router: &Router) -> Result<(), StageError> {
    let mut delay = Duration::from_millis(100);
    loop {
        let (inputs, dlq) = decode_batch::<S::In>(S::NAME, records);
        let mut em = Emitter::default();
        match stage.process(inputs, &mut em).await {
            Ok(()) => {
                router.publish_all(dlq).await;
                router.publish_all(em.drain()).await;
                return Ok(());
            }
            Err(StageError::Transient(e)) => {
                tracing::warn!(stage = S::NAME, error = %e, "retrying batch");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{BuildError, StageContext};
    use homeostat_schemas::{AnomalyScore, DeadLetter, FeatureWindow, topics};

    /// Scores every window 0: enough to see records flow.
    struct Echo;

    impl Stage for Echo {
        type In = FeatureWindow;
        type Out = AnomalyScore;
        type Config = ();
        const NAME: &'static str = "echo";
        async fn build(_: (), _: &StageContext) -> Result<Self, BuildError> {
            Ok(Echo)
        }
        async fn process(
            &mut self,
            batch: Vec<FeatureWindow>,
            out: &mut Emitter<AnomalyScore>,
        ) -> Result<(), StageError> {
            for w in batch {
                out.emit(AnomalyScore {
                    schema_version: 1,
                    id: format!("a-{}", w.id),
                    event_time: w.event_time,
                    service_id: w.service_id,
                    window_id: w.id,
                    anomaly_score: 0.0,
                    health_score: 1.0,
                    degradation_trend: 0.0,
                    warming_up: false,
                    warmup: None,
                    alerting: false,
                    top_features: Vec::new(),
                });
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn bad_records_are_dead_lettered_and_good_ones_pass() {
        let mut bus = Bus::new();
        let rx = bus.subscribe(&[topics::FEATURES_V1], 100);
        let mut out = bus.subscribe(&[topics::ANOMALIES_V1, topics::TELEMETRY_DLQ], 100);
        let source = bus.router(&[topics::FEATURES_V1]);
        let mut stage = Lockstep::new(Echo, rx, bus.router(&[topics::ANOMALIES_V1, topics::TELEMETRY_DLQ]), 10);
        drop(bus);
        let good = FeatureWindow {
            schema_version: 1,
            id: "w1".into(),
            event_time: 10,
            service_id: "svc".into(),
            window_start: 0,
            event_count: 0,
            late_events: 0,
            features: Default::default(),
        };
        source
            .publish(topics::FEATURES_V1, "svc", b"{\"truncated\":".to_vec())
            .await;
        source.publish_output(&good).await;
        drop(source);
        stage.step(0).await.expect("a step");
        stage.finish(0).await.expect("stage ran to the end of its input");
        let mut scores = 0;
        let mut dead = Vec::new();
        while let Some(rec) = out.recv().await {
            match rec.topic.as_str() {
                topics::ANOMALIES_V1 => scores += 1,
                _ => dead.push(serde_json::from_slice::<DeadLetter>(&rec.payload).expect("dead letter")),
            }
        }
        assert_eq!(scores, 1);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].reason_code, "undecodable");
        assert_eq!(dead[0].stage, "echo");
        assert_eq!(dead[0].original, "{\"truncated\":");
    }
}
