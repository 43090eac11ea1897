//! `homeostat sim`: run the simulated fleet and produce its telemetry onto `telemetry.raw`.

use std::time::Duration;

use homeostat_schemas::topics;
use homeostat_sim::{Fault, FaultLabel, Fleet, FleetConfig};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, Producer};
use runtime::Counter;
use runtime::kafka::{Outgoing, publish_all};
use serde::Serialize;

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Bootstrap servers.
    pub brokers: String,
    /// Prefix before the topic name (as `kafka.topic_prefix`).
    pub prefix: String,
    /// Services.
    pub services: usize,
    /// Instances per service.
    pub instances: u32,
    /// Requests per second per instance.
    pub rps: f64,
    /// Simulated seconds per wall second (0: as fast as possible).
    pub speed: f64,
    /// Simulated minutes to produce.
    pub minutes: f64,
    /// Start this many simulated minutes before now.
    pub start_ago_min: f64,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Seed.
    pub seed: u64,
}

/// What was produced.
#[derive(Debug, Serialize)]
pub struct SimSummary {
    /// Records acknowledged by the broker.
    pub records: u64,
    /// Simulated start, ms.
    pub start_ms: i64,
    /// Simulated end, ms.
    pub end_ms: i64,
    /// Fault labels.
    pub labels: Vec<FaultLabel>,
}

/// Produce the fleet's telemetry onto `<prefix>telemetry.raw`. Every record is acknowledged before
/// this returns; failed deliveries are retried, never dropped.
pub async fn run(opts: &SimOptions, progress: bool) -> anyhow::Result<SimSummary> {
    let start = (runtime::now_ms() - (opts.start_ago_min * 60_000.0) as i64).div_euclid(10_000) * 10_000;
    let mut cfg = FleetConfig::standard(opts.services, start, opts.seed);
    cfg.instances = opts.instances;
    cfg.rps_per_instance = opts.rps;
    cfg.faults = opts.faults.clone();
    let mut fleet = Fleet::new(cfg);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &opts.brokers)
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("message.timeout.ms", "60000")
        .create()?;
    let total = (opts.minutes * 60.0) as u64;
    let wall = std::time::Instant::now();
    let mut acked = 0u64;
    let retries = Counter::default();
    let (_keep, never) = tokio::sync::watch::channel(false);
    for s in 0..total {
        if opts.speed > 0.0 {
            let due = Duration::from_secs_f64(s as f64 / opts.speed);
            if let Some(wait) = due.checked_sub(wall.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        // Every record acknowledged before the next simulated second; failures retried with backoff.
        let batch: Vec<Outgoing> = fleet
            .step_second()
            .into_iter()
            .map(|(key, payload)| Outgoing {
                topic: topics::TELEMETRY_RAW,
                key,
                payload,
            })
            .collect();
        let n = batch.len() as u64;
        publish_all(
            &producer,
            &opts.prefix,
            batch,
            Duration::from_millis(200),
            &retries,
            &never,
        )
        .await;
        acked += n;
        if progress && (s + 1) % 60 == 0 {
            eprintln!(
                "sim: {:>4.0}/{:.0} simulated minutes, {acked} records",
                (s + 1) as f64 / 60.0,
                opts.minutes
            );
        }
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(SimSummary {
        records: acked,
        start_ms: start,
        end_ms: fleet.now_ms(),
        labels: fleet.labels(),
    })
}
