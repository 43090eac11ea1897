//! The Kafka runner: one consumer group member and one producer per process.
//!
//! Delivery is at-least-once. `enable.auto.offset.store=false`: a batch's offsets are stored only
//! after the stage processed it and every output (including dead letters) was acknowledged by the
//! broker; stored offsets are committed by librdkafka's auto-commit and synchronously on shutdown.
//! A broker outage stalls the batch and retries with backoff; nothing is dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::codec::{Input, Output, SourceRecord, decode_batch};
use crate::config::{Config, ConfigError, KafkaConfig};
use crate::http::{self, Ready};
use crate::metrics::{Counter, Metrics};
use crate::shutdown::{self, Shutdown};
use crate::stage::{BuildError, Emitter, Stage, StageContext, StageError};

/// Why a runner stopped with an error. `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stage could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The stage reported an internal error.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The Kafka client could not be created.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The HTTP endpoint could not be bound.
    #[error("cannot serve /metrics: {0}")]
    Http(#[from] std::io::Error),
}

/// One output ready to produce.
pub struct Outgoing {
    /// Topic.
    pub topic: &'static str,
    /// Key.
    pub key: String,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Outgoing {
    /// From a stage output.
    pub fn of<O: Output>(o: &O) -> Self {
        Self {
            topic: o.topic(),
            key: o.key().to_owned(),
            payload: o.encode(),
        }
    }
}

/// librdkafka client settings shared by consumers, producers and admin clients.
pub fn client_config(k: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, v) in &k.extra {
        match v {
            toml::Value::String(s) => c.set(key, s),
            other => c.set(key, other.to_string()),
        };
    }
    c
}

/// Create the topics if they do not exist yet (an existing topic is fine).
pub async fn ensure_topics(k: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(k).create()?;
    let names: Vec<String> = topics.iter().map(|t| format!("{}{t}", k.topic_prefix)).collect();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|t| NewTopic::new(t, k.partitions, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(new.iter(), &opts).await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => tracing::warn!(topic = %t, error = %code, "could not create topic"),
        }
    }
    Ok(())
}

struct RunnerMetrics {
    records_in: Counter,
    records_out: Counter,
    dead_letters: Counter,
    batches: Counter,
    retries: Counter,
    reloads: Counter,
    reloads_rejected: Counter,
}

impl RunnerMetrics {
    fn new(m: &Metrics) -> Self {
        Self {
            records_in: m.counter("records_in_total", "", "Records read from the input topics."),
            records_out: m.counter("records_out_total", "", "Records produced and acknowledged."),
            dead_letters: m.counter("dead_letters_total", "", "Records sent to the dead-letter topic."),
            batches: m.counter("batches_total", "", "Batches processed."),
            retries: m.counter("retries_total", "", "Retries after broker or dependency failures."),
            reloads: m.counter(
                "config_reloads_total",
                "result=\"applied\"",
                "Settings read again on SIGHUP, by outcome.",
            ),
            reloads_rejected: m.counter(
                "config_reloads_total",
                "result=\"rejected\"",
                "Settings read again on SIGHUP, by outcome.",
            ),
        }
    }
}

fn backoff(d: Duration) -> Duration {
    (d * 2).min(Duration::from_secs(30))
}

/// Produce every record and wait for every acknowledgement, retrying failures with backoff.
/// Returns `false` only when shutdown was requested before everything was acknowledged.
pub async fn publish_all(
    producer: &FutureProducer,
    prefix: &str,
    mut pending: Vec<Outgoing>,
    initial: Duration,
    retries: &Counter,
    shutdown: &Shutdown,
) -> bool {
    let mut delay = initial;
    while !pending.is_empty() {
        let mut futures = Vec::with_capacity(pending.len());
        let mut failed = Vec::new();
        for o in pending.drain(..) {
            let topic = format!("{prefix}{}", o.topic);
            let rec = FutureRecord::to(&topic).key(o.key.as_bytes()).payload(&o.payload);
            match producer.send_result(rec) {
                Ok(f) => futures.push((f, o)),
                Err((e, _)) => {
                    tracing::warn!(error = %e, topic = o.topic, "enqueue failed; will retry");
                    failed.push(o);
                }
            }
        }
        for (f, o) in futures {
            match f.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    tracing::warn!(error = %e, topic = o.topic, "delivery failed; will retry");
                    failed.push(o);
                }
                Err(_) => failed.push(o),
            }
        }
        if !failed.is_empty() {
            if *shutdown.borrow() {
                return false;
            }
            retries.inc();
            tokio::time::sleep(delay).await;
            delay = backoff(delay);
        }
        pending = failed;
    }
    true
}

/// Run stage `S` against Kafka until SIGTERM/SIGINT.
pub async fn run<S: Stage>(config: &Config) -> Result<(), RunError> {
    let (_tx, shutdown) = shutdown::on_signals();
    run_until::<S>(config, shutdown).await
}

/// Run stage `S` against Kafka until `shutdown` turns true.
pub async fn run_until<S: Stage>(config: &Config, mut shutdown: Shutdown) -> Result<(), RunError> {
    // Listening from the start: SIGHUP's default action would end the process.
    let mut hangup = hangups();
    let rt = config.runtime()?;
    let k = &rt.kafka;
    let cx = StageContext::new(S::NAME);
    let ready = Ready::default();
    // The runner's counters exist before the endpoint answers, so a scrape that follows the first
    // `/healthz` always sees them (a scrape in between used to find an empty page).
    let m = RunnerMetrics::new(&cx.metrics);
    let addr = http::serve(&rt.http.listen_for(S::NAME), cx.metrics.clone(), ready.clone()).await?;
    tracing::info!(stage = S::NAME, %addr, "serving /metrics, /healthz, /readyz");
    let initial = Duration::from_millis(k.retry_initial_ms.max(1));

    let stage_cfg: S::Config = config.section(S::NAME)?;
    let mut stage = S::build(stage_cfg, &cx).await?;

    let mut delay = initial;
    while let Err(e) = ensure_topics(k, &homeostat_schemas::topics::ALL).await {
        tracing::warn!(error = %e, "broker not reachable yet; retrying");
        if *shutdown.borrow() {
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = backoff(delay);
    }

    let consumer: StreamConsumer = client_config(k)
        .set("group.id", format!("{}-{}", k.group_prefix, S::NAME))
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", &k.auto_offset_reset)
        .set("session.timeout.ms", "10000")
        .create()?;
    let physical: Vec<String> = S::In::TOPICS.iter().map(|t| format!("{}{t}", k.topic_prefix)).collect();
    let physical_refs: Vec<&str> = physical.iter().map(String::as_str).collect();
    consumer.subscribe(&physical_refs)?;
    let producer: FutureProducer = client_config(k)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()?;
    ready.set(true);
    tracing::info!(stage = S::NAME, topics = ?S::In::TOPICS, "consuming");

    let mut consume_delay = initial;
    let mut tick = tokio::time::interval(Duration::from_millis(k.tick_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            biased;
            _ = shutdown::requested(&mut shutdown) => break,
            _ = next_hangup(&mut hangup) => {
                reload(config, &mut stage, &m);
                continue;
            }
            _ = tick.tick() => {
                let mut em = Emitter::default();
                match stage.on_tick(crate::now_ms(), &mut em).await {
                    Ok(()) => {}
                    Err(StageError::Transient(e)) => tracing::warn!(error = %e, "tick failed on a dependency; next tick retries"),
                    Err(e) => return Err(e.into()),
                }
                let outs: Vec<Outgoing> = em.drain().iter().map(Outgoing::of).collect();
                m.records_out.add(outs.len() as u64);
                publish_all(&producer, &k.topic_prefix, outs, initial, &m.retries, &shutdown).await;
                continue;
            }
            r = consumer.recv() => match r {
                Ok(msg) => {
                    consume_delay = initial;
                    owned(&msg, &k.topic_prefix)
                }
                Err(e) => {
                    // Broker unreachable: librdkafka reconnects by itself; wait longer each time.
                    tracing::warn!(error = %e, retry_in = ?consume_delay, "consume error");
                    tokio::time::sleep(consume_delay).await;
                    consume_delay = (consume_delay * 2).min(Duration::from_secs(10));
                    continue;
                }
            },
        };
        let mut records = vec![first];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(k.linger_ms);
        while records.len() < k.max_batch {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(msg)) => records.push(owned(&msg, &k.topic_prefix)),
                Ok(Err(e)) => tracing::warn!(error = %e, "consume error"),
                Err(_) => break,
            }
        }
        m.records_in.add(records.len() as u64);
        m.batches.inc();

        // Process, retrying the whole batch on transient failures.
        let mut delay = initial;
        let outs = loop {
            let (inputs, dead) = decode_batch::<S::In>(S::NAME, &records);
            m.dead_letters.add(dead.len() as u64);
            let mut outs: Vec<Outgoing> = dead.iter().map(Outgoing::of).collect();
            let mut em = Emitter::default();
            match stage.process(inputs, &mut em).await {
                Ok(()) => {
                    outs.extend(em.drain().iter().map(Outgoing::of));
                    break Some(outs);
                }
                Err(StageError::Transient(e)) => {
                    tracing::warn!(error = %e, ?delay, "batch failed on a dependency; retrying");
                    m.retries.inc();
                    if *shutdown.borrow() {
                        break None;
                    }
                    tokio::time::sleep(delay).await;
                    delay = backoff(delay);
                }
                Err(e @ StageError::Fatal(_)) => return Err(e.into()),
            }
        };
        let Some(outs) = outs else { break };
        let n = outs.len() as u64;
        if !publish_all(&producer, &k.topic_prefix, outs, initial, &m.retries, &shutdown).await {
            tracing::warn!("shutdown before all outputs were acknowledged; offsets not stored (will be redelivered)");
            break;
        }
        m.records_out.add(n);
        store_offsets(&consumer, &k.topic_prefix, &records);
    }

    let mut em = Emitter::default();
    stage.shutdown(&mut em).await?;
    let outs: Vec<Outgoing> = em.drain().iter().map(Outgoing::of).collect();
    let (_never, quick) = tokio::sync::watch::channel(true);
    publish_all(&producer, &k.topic_prefix, outs, initial, &m.retries, &quick).await;
    let _ = rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10));
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit (nothing to commit is fine)");
    }
    tracing::info!(stage = S::NAME, "stopped cleanly");
    Ok(())
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// SIGHUP, which asks a stage to read its settings again.
#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; settings reload only on a restart"))
        .ok()
}
#[cfg(not(unix))]
fn hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(h: &mut Hangups) {
    let stream_open = match h {
        Some(s) => s.recv().await.is_some(),
        None => false,
    };
    if !stream_open {
        std::future::pending::<()>().await;
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

/// Read the settings file and environment again and hand the stage its section. Settings that
/// cannot be read or that the stage rejects leave the current ones in force.
fn reload<S: Stage>(config: &Config, stage: &mut S, m: &RunnerMetrics) {
    let fresh = config
        .reread()
        .and_then(|c| Ok((c.section::<S::Config>(S::NAME)?, config.changed_besides(&c, S::NAME))));
    let (cfg, others) = match fresh {
        Ok(x) => x,
        Err(e) => {
            m.reloads_rejected.inc();
            tracing::warn!(stage = S::NAME, error = %e, "SIGHUP: settings not reloaded; the current ones stay");
            return;
        }
    };
    match stage.reload(cfg) {
        Ok(what) => {
            m.reloads.inc();
            if others.is_empty() {
                tracing::info!(stage = S::NAME, changes = %what, "SIGHUP: settings reloaded");
            } else {
                let others = others.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(", ");
                tracing::warn!(
                    stage = S::NAME,
                    changes = %what,
                    restart_needed = %others,
                    "SIGHUP: settings reloaded; changes to other sections apply only on a restart"
                );
            }
        }
        Err(why) => {
            m.reloads_rejected.inc();
            tracing::warn!(stage = S::NAME, reason = %why, "SIGHUP: settings not reloaded; the current ones stay");
        }
    }
}

fn owned(msg: &rdkafka::message::BorrowedMessage<'_>, prefix: &str) -> SourceRecord {
    SourceRecord {
        topic: msg.topic().strip_prefix(prefix).unwrap_or(msg.topic()).to_owned(),
        partition: msg.partition(),
        offset: msg.offset(),
        key: msg.key().map(<[u8]>::to_vec),
        payload: msg.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}

fn store_offsets(consumer: &StreamConsumer, prefix: &str, records: &[SourceRecord]) {
    let mut max: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for r in records {
        let e = max.entry((r.topic.as_str(), r.partition)).or_insert(r.offset);
        *e = (*e).max(r.offset);
    }
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in max {
        if let Err(e) = tpl.add_partition_offset(&format!("{prefix}{t}"), p, Offset::Offset(o + 1)) {
            tracing::warn!(error = %e, "bad offset");
        }
    }
    if let Err(e) = consumer.store_offsets(&tpl) {
        // The partition was revoked in a rebalance: its new owner re-reads from the last commit.
        tracing::warn!(error = %e, "could not store offsets (partition revoked?); records will be redelivered");
    }
}
