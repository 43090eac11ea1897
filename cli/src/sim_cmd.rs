//! `homeostat sim`: run the simulated fleet and produce its telemetry onto `telemetry.raw`.

use std::time::Duration;

use homeostat_sim::{Fault, FaultLabel, Fleet, FleetConfig};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Bootstrap servers.
    pub brokers: String,
    /// Topic to produce to.
    pub topic: String,
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

/// Produce the fleet's telemetry. Every record is acknowledged before this returns; failed
/// deliveries are retried, never dropped.
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
    for s in 0..total {
        if opts.speed > 0.0 {
            let due = Duration::from_secs_f64(s as f64 / opts.speed);
            if let Some(wait) = due.checked_sub(wall.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let mut futs = Vec::new();
        for (key, payload) in fleet.step_second() {
            futs.push((key, payload));
        }
        let mut pending = futs;
        let mut delay = Duration::from_millis(200);
        while !pending.is_empty() {
            let mut inflight = Vec::with_capacity(pending.len());
            let mut failed = Vec::new();
            for (key, payload) in pending.drain(..) {
                match producer.send_result(FutureRecord::to(&opts.topic).key(&key).payload(&payload)) {
                    Ok(f) => inflight.push((f, key, payload)),
                    Err(_) => failed.push((key, payload)),
                }
            }
            for (f, key, payload) in inflight {
                match f.await {
                    Ok(Ok(_)) => acked += 1,
                    _ => failed.push((key, payload)),
                }
            }
            if !failed.is_empty() {
                eprintln!("sim: {} records not acknowledged; retrying in {delay:?}", failed.len());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            pending = failed;
        }
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
