//! `homeostat demo`: the simulator and all five stages in one process on the in-memory runner,
//! incidents in a SQLite file through the same sqlx code as production. No external service.

use std::path::PathBuf;
use std::time::Duration;

use homeostat_actuator::{Actuator, ActuatorConfig};
use homeostat_detector::{Detector, DetectorConfig};
use homeostat_features::{Features, FeaturesConfig};
use homeostat_ingest::{Ingest, IngestConfig};
use homeostat_predictor::{Predictor, PredictorConfig};
use homeostat_schemas::topics;
use homeostat_sim::{Fault, FaultLabel, Fleet, FleetConfig};
use runtime::memory::{Bus, Lockstep, Step};
use runtime::{Stage, StageContext};

use crate::view::View;

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Simulated minutes to run (the demo stops after them, or on Ctrl-C).
    pub sim_minutes: f64,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// Services in the fleet.
    pub services: usize,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// SQLite file for incidents (replaced at start).
    pub db: PathBuf,
    /// Seed.
    pub seed: u64,
    /// Live terminal view (else plain event lines).
    pub live: bool,
    /// Config file over the defaults.
    pub config: Option<PathBuf>,
}

/// How one fault fared.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The label.
    pub label: FaultLabel,
    /// Incident opened for it: (kind, opened at ms, first action).
    pub incident: Option<(String, i64, Option<String>)>,
}

/// What the demo found.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Per fault.
    pub outcomes: Vec<Outcome>,
    /// Incidents no injected fault explains: on a healthy service, or on a faulty one outside its
    /// fault's span (see [`unexplained`]), as `service kind at +HH:MM:SS` of simulated time.
    pub false_incidents: Vec<String>,
    /// Records the simulator produced.
    pub records: u64,
    /// When simulated time started, ms since the epoch ([`demo_start`]).
    pub start_ms: i64,
    /// True when stopped early by Ctrl-C.
    pub interrupted: bool,
}

impl DemoReport {
    /// Every fault detected with an incident of the right kind.
    pub fn all_detected(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| o.incident.as_ref().is_some_and(|i| i.0 == o.label.incident_kind))
    }
}

/// How long after a fault ends an incident on its service is still its doing (the metrics take a
/// few windows to settle).
const AFTERMATH_MS: i64 = 5 * 60_000;

/// The incidents, as (service, kind, opened at ms), that no fault explains: an incident is a
/// fault's when it is on that fault's service, opened from a minute before the fault starts to
/// five minutes after it ends. Each as `service kind at +HH:MM:SS` after `start`.
pub fn unexplained(incidents: &[(&str, &str, i64)], labels: &[FaultLabel], start: i64) -> Vec<String> {
    incidents
        .iter()
        .filter(|(service, _, at)| {
            !labels
                .iter()
                .any(|l| l.service == *service && *at >= l.start_ms - 60_000 && *at <= l.end_ms + AFTERMATH_MS)
        })
        .map(|(service, kind, at)| format!("{service} {kind} at {}", crate::view::hms(start, *at)))
        .collect()
}

/// When the simulated run starts: at 09:00 UTC (traffic rising towards its afternoon peak), on the
/// latest day on which the whole run ends before `now`. The fleet's traffic follows the time of
/// day, so a fixed time of day is what lets the same seed give the same run on any day; ending
/// before now keeps every record out of the future for ingest's clock checks (the demo widens
/// their age limit, 7 days, for a run that begins longer ago).
pub fn demo_start(now: i64, sim_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    let latest = now - sim_ms;
    let start = latest.div_euclid(DAY) * DAY + 9 * 3_600_000;
    if start > latest { start - DAY } else { start }
}

/// Run the demo.
pub async fn run(opts: DemoOptions, mut stop: runtime::shutdown::Shutdown) -> anyhow::Result<DemoReport> {
    let config = runtime::config::Config::from_process(opts.config.as_deref())?;
    let mut ingest_cfg: IngestConfig = config.section("ingest")?;
    let features_cfg: FeaturesConfig = config.section("features")?;
    let mut detector_cfg: DetectorConfig = config.section("detector")?;
    // The demo starts from nothing each time: no checkpoint is read or written.
    detector_cfg.models_dir = String::new();
    let predictor_cfg: PredictorConfig = config.section("predictor")?;
    let mut actuator_cfg: ActuatorConfig = config.section("actuator")?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", opts.db.display()));
    }
    actuator_cfg.database_url = format!("sqlite://{}", opts.db.display());
    actuator_cfg.influx.enabled = false;

    let sim_ms = (opts.sim_minutes * 60_000.0) as i64;
    let wall = runtime::now_ms();
    let start = demo_start(wall, sim_ms);
    // A run of more than six days can begin more than a week back: ingest's age limit covers it.
    ingest_cfg.max_age_s = ingest_cfg.max_age_s.max((wall - start) / 1000 + 3600);
    let mut fleet_cfg = FleetConfig::standard(opts.services, start, opts.seed);
    fleet_cfg.faults = opts.faults.clone();
    let mut fleet = Fleet::new(fleet_cfg);
    let labels = fleet.labels();

    let mut bus = Bus::new();
    let cap = 50_000;
    let rx_ingest = bus.subscribe(&[topics::TELEMETRY_RAW], cap);
    let rx_features = bus.subscribe(&[topics::TELEMETRY_V1], cap);
    let rx_detector = bus.subscribe(&[topics::FEATURES_V1], cap);
    let rx_predictor = bus.subscribe(&[topics::FEATURES_V1], cap);
    let rx_actuator = bus.subscribe(
        &[
            topics::ANOMALIES_V1,
            topics::PREDICTIONS_V1,
            topics::FEATURES_V1,
            topics::ACTIONS_RESULTS_V1,
        ],
        cap,
    );
    let rx_view = bus.subscribe(
        &[
            topics::ANOMALIES_V1,
            topics::ALERTS_V1,
            topics::PREDICTIONS_V1,
            topics::INCIDENTS_V1,
            topics::ACTIONS_V1,
            topics::TELEMETRY_DLQ,
        ],
        cap,
    );
    let batch = 2000;

    let cx = |n| StageContext::new(n);
    let ingest = Ingest::build(ingest_cfg, &cx("ingest")).await?;
    let features = Features::build(features_cfg, &cx("features")).await?;
    let detector = Detector::build(detector_cfg, &cx("detector")).await?;
    let predictor = Predictor::build(predictor_cfg, &cx("predictor")).await?;
    let actuator = Actuator::build(actuator_cfg, &cx("actuator")).await?;
    let pool = actuator.pool().clone();

    // The stages run in lockstep: after each simulated second, each one in pipeline order takes
    // everything waiting for it. So a run is decided by its seed alone, not by how the stages
    // happened to be scheduled, and the same seed gives the same incidents at the same times.
    use topics::*;
    let mut pipeline: Vec<Box<dyn Step>> = vec![
        Box::new(Lockstep::new(
            ingest,
            rx_ingest,
            bus.router(&[TELEMETRY_V1, TELEMETRY_DLQ]),
            batch,
        )),
        Box::new(Lockstep::new(
            features,
            rx_features,
            bus.router(&[FEATURES_V1, TELEMETRY_DLQ]),
            batch,
        )),
        Box::new(Lockstep::new(
            detector,
            rx_detector,
            bus.router(&[ANOMALIES_V1, ALERTS_V1, TELEMETRY_DLQ]),
            batch,
        )),
        Box::new(Lockstep::new(
            predictor,
            rx_predictor,
            bus.router(&[PREDICTIONS_V1, TELEMETRY_DLQ]),
            batch,
        )),
        Box::new(Lockstep::new(
            actuator,
            rx_actuator,
            bus.router(&[ACTIONS_V1, INCIDENTS_V1, TELEMETRY_DLQ]),
            batch,
        )),
    ];
    let sim_router = bus.router(&[TELEMETRY_RAW]);
    drop(bus);

    let mut view = View::new(opts.live, labels.clone(), start, opts.services);
    let view_task = tokio::spawn(async move {
        let mut rx = rx_view;
        let mut redraw = tokio::time::interval(Duration::from_millis(400));
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(rec) => view.take(&rec),
                    None => break,
                },
                _ = redraw.tick() => view.draw(),
            }
        }
        view.draw();
        view
    });

    // The simulator: `speed` simulated seconds per wall second, in 100 ms slices.
    let mut interrupted = false;
    let total_s = (opts.sim_minutes * 60.0) as u64;
    let mut done_s = 0u64;
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let per_slice = (opts.speed / 10.0).max(0.1);
    let mut owed = 0.0;
    while done_s < total_s {
        tokio::select! {
            _ = runtime::shutdown::requested(&mut stop) => { interrupted = true; break; }
            _ = pace.tick() => {}
        }
        owed += per_slice;
        while owed >= 1.0 && done_s < total_s {
            owed -= 1.0;
            for (key, payload) in fleet.step_second() {
                sim_router.publish(topics::TELEMETRY_RAW, &key, payload).await;
            }
            done_s += 1;
            let now = fleet.now_ms();
            for stage in &mut pipeline {
                stage.step(now).await?;
            }
        }
    }
    // The input is over: each stage in turn drains, flushes and closes the inputs after it.
    drop(sim_router);
    let now = fleet.now_ms();
    for stage in pipeline {
        stage.finish(now).await?;
    }
    let mut view = view_task.await?;
    view.finish();

    let rows = homeostat_actuator::store::list_incidents(&pool, 10_000).await?;
    let mut outcomes = Vec::new();
    for l in &labels {
        let inc = rows
            .iter()
            .filter(|r| r.service_id == l.service && r.opened_at >= l.start_ms - 60_000 && r.opened_at <= l.end_ms)
            .min_by_key(|r| r.opened_at)
            .map(|r| (r.kind.clone(), r.opened_at, r.action.clone()));
        outcomes.push(Outcome {
            label: l.clone(),
            incident: inc,
        });
    }
    let opened: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| (r.service_id.as_str(), r.kind.as_str(), r.opened_at))
        .collect();
    let false_incidents = unexplained(&opened, &labels, start);
    pool.close().await;
    Ok(DemoReport {
        outcomes,
        false_incidents,
        records: fleet.produced(),
        start_ms: start,
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeostat_sim::FaultKind;

    #[test]
    fn the_run_starts_at_nine_utc_on_the_latest_day_it_ends_before_now() {
        let day = 86_400_000;
        let hour = 3_600_000;
        let midnight = 1_700_000_000_000 / day * day;
        // Fifty minutes ending at 15:00 fit after 09:00 the same day.
        assert_eq!(demo_start(midnight + 15 * hour, 50 * 60_000), midnight + 9 * hour);
        // Ending at 09:30, they do not: the day before.
        assert_eq!(
            demo_start(midnight + 9 * hour + 30 * 60_000, 50 * 60_000),
            midnight - day + 9 * hour
        );
        // Exactly fitting.
        assert_eq!(demo_start(midnight + 10 * hour, hour), midnight + 9 * hour);
        // A long run on a short morning: 20 hours ending at 02:00 start two days back.
        assert_eq!(
            demo_start(midnight + 2 * hour, 20 * hour),
            midnight - 2 * day + 9 * hour
        );
    }

    #[test]
    fn an_incident_is_a_faults_only_on_its_service_and_during_it_or_just_after() {
        let start = 1_700_000_000_000;
        let min = 60_000;
        let labels = [FaultLabel {
            service: "checkout".into(),
            fault: FaultKind::ErrorBurst { error_probability: 0.2 },
            incident_kind: "error_burst",
            start_ms: start + 38 * min,
            end_ms: start + 44 * min,
        }];
        let incidents = [
            ("checkout", "error_burst", start + 37 * min + 30_000),
            ("checkout", "error_burst", start + 48 * min),
            ("checkout", "saturation", start + 190 * min),
            ("search", "error_burst", start + 40 * min),
        ];
        assert_eq!(
            unexplained(&incidents, &labels, start),
            vec![
                "checkout saturation at +03:10:00".to_owned(),
                "search error_burst at +00:40:00".to_owned()
            ]
        );
    }
}
