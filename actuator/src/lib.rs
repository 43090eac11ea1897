//! Actuator: opens, updates and resolves incidents in SQL (PostgreSQL, or SQLite in the demo),
//! writes features, scores and predictions to InfluxDB, maps each incident to a recovery strategy
//! and publishes the command on `actions.v1` (dry-run by default, recording what it would do), and
//! records what executors report on `actions.results.v1`.

pub mod agent;
pub mod alertmanager;
pub mod approvals;
pub mod bandit;
mod decide;
pub mod gateway;
pub mod haproxy;
pub mod hooks;
pub mod influx;
pub mod policy;
pub mod remedy;
pub mod safety;
pub mod store;

use std::collections::HashMap;

use homeostat_schemas::{
    ActionCommand, ActionMode, ActionResult, AnomalyScore, Contribution, FeatureWindow, IncidentEvent, IncidentKind,
    IncidentStatus, Prediction, Severity, Warmup, stable_id, topics,
};
use runtime::codec::{DecodeError, Input, Output, SourceRecord, decode_json, encode_json};
use runtime::{BuildError, Counter, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;
use sqlx::AnyPool;

use crate::influx::{InfluxConfig, InfluxWriter, line};
use crate::store::StoreError;

/// `[actuator]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActuatorConfig {
    /// Incident store: `postgres://…` or `sqlite://FILE`.
    pub database_url: String,
    /// `dry_run` (record and publish, change nothing), `shadow` or `execute`.
    pub mode: ActionMode,
    /// Consecutive calm windows (the detector's alert not firing) before an open incident
    /// resolves.
    pub resolve_after_windows: u32,
    /// Open a predicted incident when the failure probability within `predict_horizon_min`
    /// reaches this.
    pub predict_open_probability: f64,
    /// The horizon, minutes, used for opening predicted incidents.
    pub predict_horizon_min: u32,
    /// Seconds to watch a service after an action before judging it.
    pub verification_window_s: u32,
    /// Seconds to watch a restart, scaling or reallocation (and a page) before judging it.
    pub verification_window_slow_s: u32,
    /// Address of the HTTP approval endpoint ("" = none); needs `approval_token`.
    pub approvals_listen: String,
    /// Bearer token the approval endpoint requires.
    pub approval_token: String,
    /// The safety envelope.
    #[serde(default)]
    pub safety: safety::SafetyConfig,
    /// Services behind HAProxy, whose traffic remedies the actuator carries out itself.
    #[serde(default)]
    pub haproxy: gateway::GatewayConfig,
    /// Alertmanager for escalations (`http://host:9093`; "" = none).
    #[serde(default)]
    pub alertmanager_url: String,
    /// Webhook and command hooks that carry out strategies, allow-listed.
    #[serde(default)]
    pub hooks: hooks::HooksConfig,
    /// What the actuator cannot see of a service, for remedies' preconditions.
    #[serde(default)]
    pub services: HashMap<String, remedy::ServiceFacts>,
    /// InfluxDB output.
    pub influx: InfluxConfig,
}

/// What the actuator reads.
pub enum ActuatorIn {
    /// A detector score.
    Anomaly(AnomalyScore),
    /// A forecast.
    Prediction(Prediction),
    /// A feature window (written to InfluxDB).
    Features(FeatureWindow),
    /// An executor's result.
    Result(ActionResult),
}

impl Input for ActuatorIn {
    const TOPICS: &'static [&'static str] = &[
        topics::ANOMALIES_V1,
        topics::PREDICTIONS_V1,
        topics::FEATURES_V1,
        topics::ACTIONS_RESULTS_V1,
    ];
    fn decode(rec: &SourceRecord) -> Result<Self, DecodeError> {
        Ok(match rec.topic.as_str() {
            topics::ANOMALIES_V1 => ActuatorIn::Anomaly(decode_json(rec)?),
            topics::PREDICTIONS_V1 => ActuatorIn::Prediction(decode_json(rec)?),
            topics::FEATURES_V1 => ActuatorIn::Features(decode_json(rec)?),
            topics::ACTIONS_RESULTS_V1 => ActuatorIn::Result(decode_json(rec)?),
            other => {
                return Err(DecodeError {
                    code: "unexpected_topic",
                    reason: format!("actuator does not read {other}"),
                });
            }
        })
    }
}

/// What the actuator writes.
pub enum ActuatorOut {
    /// A command on `actions.v1`.
    Action(ActionCommand),
    /// An incident event on `incidents.v1`.
    Incident(IncidentEvent),
}

impl Output for ActuatorOut {
    fn topic(&self) -> &'static str {
        match self {
            ActuatorOut::Action(_) => topics::ACTIONS_V1,
            ActuatorOut::Incident(_) => topics::INCIDENTS_V1,
        }
    }
    fn key(&self) -> &str {
        match self {
            ActuatorOut::Action(a) => &a.service_id,
            ActuatorOut::Incident(i) => &i.service_id,
        }
    }
    fn encode(&self) -> Vec<u8> {
        match self {
            ActuatorOut::Action(a) => encode_json(a),
            ActuatorOut::Incident(i) => encode_json(i),
        }
    }
}

/// What opens an incident: the evidence and where it came from.
struct Trigger<'a> {
    service: &'a str,
    kind: IncidentKind,
    /// Id of the message that triggered it; the incident id derives from it.
    cause_id: &'a str,
    t: i64,
    score: f64,
    predicted: bool,
    summary: String,
    explanation: Vec<Contribution>,
}

struct Open {
    id: String,
    kind: IncidentKind,
    calm: u32,
    predicted: bool,
    /// `Some(why)` once calm windows came while the detector was learning the service's levels
    /// afresh (warming up); `why` is the reason the scores gave (`None` from a detector older
    /// than the `warmup` field).
    rebaselined: Option<Option<Warmup>>,
}

/// Why an incident resolved on calm windows, given whether (and why) the detector was learning
/// the service's baseline afresh meanwhile.
fn resolution(rebaselined: Option<Option<Warmup>>) -> &'static str {
    match rebaselined {
        None => "indicators back within baseline",
        Some(Some(Warmup::NewNormal)) => {
            "the detector took the service's lasting change as its new normal (detector.adopt_after_s) and learned its baseline afresh"
        }
        Some(Some(Warmup::New)) => {
            "the detector learned the service's baseline afresh: it had none for it, as after a restart without its checkpoint"
        }
        Some(None) => {
            "the detector learned the service's baseline afresh: a lasting change taken as its new normal, or a restart without its models"
        }
    }
}

impl Open {
    /// A newly opened (or, after a restart, reloaded) incident: no calm windows counted yet.
    fn new(id: String, kind: IncidentKind, predicted: bool) -> Self {
        Self {
            id,
            kind,
            calm: 0,
            predicted,
            rebaselined: None,
        }
    }
}

/// The actuator stage.
pub struct Actuator {
    cfg: ActuatorConfig,
    pool: AnyPool,
    influx: InfluxWriter,
    open: HashMap<String, Open>,
    envelope: safety::Envelope,
    recent_events: HashMap<String, std::collections::VecDeque<u64>>,
    /// Active instances per service in its recent windows (blast radius off the gateway).
    recent_instances: HashMap<String, std::collections::VecDeque<usize>>,
    indicators: HashMap<String, remedy::Indicators>,
    indicators_time: HashMap<String, i64>,
    verifying: Vec<decide::Verifying>,
    tried: HashMap<String, Vec<homeostat_schemas::Strategy>>,
    /// The closed loop's state as last saved (JSON), to save only what changed.
    saved_loop: String,
    gateway: Option<gateway::Gateway>,
    alertmanager: Option<alertmanager::Alertmanager>,
    hooks: hooks::Hooks,
    escalated: HashMap<String, (String, IncidentKind, String)>,
    opened: Counter,
    resolved: Counter,
    actions: Counter,
}

fn transient(e: StoreError) -> StageError {
    StageError::Transient(e.to_string())
}

impl Actuator {
    /// Connect to the store (running migrations) and load open incidents.
    pub async fn connect(cfg: ActuatorConfig, cx: &StageContext) -> Result<Self, BuildError> {
        if !cfg.approvals_listen.is_empty() && cfg.approval_token.len() < 16 {
            return Err(BuildError::Config(
                "actuator.approvals_listen needs actuator.approval_token of at least 16 characters \
                 (set HOMEOSTAT__ACTUATOR__APPROVAL_TOKEN)"
                    .into(),
            ));
        }
        let pool = store::connect(&cfg.database_url)
            .await
            .map_err(|e| BuildError::Unavailable(e.to_string()))?;
        if !cfg.approvals_listen.is_empty() {
            let addr = approvals::serve(&cfg.approvals_listen, pool.clone(), cfg.approval_token.clone())
                .await
                .map_err(|e| BuildError::Config(format!("approval endpoint on {}: {e}", cfg.approvals_listen)))?;
            tracing::info!(%addr, "approval endpoint listening");
        }
        let mut open = HashMap::new();
        for (svc, id, kind) in store::open_incidents(&pool)
            .await
            .map_err(|e| BuildError::Unavailable(e.to_string()))?
        {
            let kind = IncidentKind::parse(&kind).unwrap_or(IncidentKind::Anomaly);
            open.insert(svc, Open::new(id, kind, false));
        }
        // Actions under verification and remedies tried, as a previous actuator left them.
        #[derive(serde::Deserialize, Default)]
        struct ClosedLoop {
            verifying: Vec<decide::Verifying>,
            tried: HashMap<String, Vec<homeostat_schemas::Strategy>>,
            #[serde(default)]
            envelope: Option<safety::Memory>,
        }
        let saved_loop = store::state(&pool, "closed_loop")
            .await
            .map_err(|e| BuildError::Unavailable(e.to_string()))?
            .unwrap_or_default();
        let closed_loop: ClosedLoop = if saved_loop.is_empty() {
            ClosedLoop::default()
        } else {
            serde_json::from_str(&saved_loop).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring the saved closed-loop state");
                ClosedLoop::default()
            })
        };
        if !closed_loop.verifying.is_empty() {
            tracing::info!(
                actions = closed_loop.verifying.len(),
                "resuming the verification of earlier actions"
            );
        }
        // What the HAProxy executor left in place: the remedies still under verification stay
        // as they are; any other is restored once its servers are healthy.
        let mut gateway = gateway::Gateway::new(cfg.haproxy.clone());
        if let Some(g) = gateway.as_mut()
            && let Some(saved) = store::state(&pool, "haproxy")
                .await
                .map_err(|e| BuildError::Unavailable(e.to_string()))?
        {
            let watched: Vec<String> = closed_loop.verifying.iter().map(|v| v.action_id().to_owned()).collect();
            if let Err(e) = g.resume(&saved, Some(&watched)).await {
                tracing::warn!(error = %e, "ignoring the saved gateway state");
            }
        }
        // The envelope remembers the actions taken before a restart: a restart does not reset
        // cooldowns, the hourly budget or loop counts.
        let mut envelope = safety::Envelope::new(cfg.safety.clone());
        if let Some(m) = closed_loop.envelope {
            envelope.remember(m);
        }
        let m = &cx.metrics;
        Ok(Self {
            influx: InfluxWriter::new(cfg.influx.clone(), m),
            envelope,
            recent_events: HashMap::new(),
            recent_instances: HashMap::new(),
            indicators: HashMap::new(),
            indicators_time: HashMap::new(),
            verifying: closed_loop.verifying,
            tried: closed_loop.tried,
            saved_loop,
            gateway,
            alertmanager: (!cfg.alertmanager_url.is_empty())
                .then(|| alertmanager::Alertmanager::new(&cfg.alertmanager_url, std::time::Duration::from_secs(5))),
            escalated: HashMap::new(),
            hooks: hooks::Hooks::new(cfg.hooks.clone()),
            pool,
            open,
            opened: m.counter("incidents_total", "event=\"opened\"", "Incident lifecycle events."),
            resolved: m.counter("incidents_total", "event=\"resolved\"", "Incident lifecycle events."),
            actions: m.counter("actions_total", "", "Actions decided (any mode)."),
            cfg,
        })
    }

    /// The pool (for queries in tests and the CLI).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn open_incident(&mut self, tr: Trigger<'_>, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        let Trigger {
            service,
            kind,
            cause_id,
            t,
            score,
            predicted,
            summary,
            explanation,
        } = tr;
        let id = stable_id("inc", &[cause_id.as_bytes()]);
        let severity = if score >= 0.9 || predicted {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let sev = if severity == Severity::Critical {
            "critical"
        } else {
            "warning"
        };
        let expl = serde_json::to_string(&explanation).unwrap_or_default();
        store::open_incident(
            &self.pool,
            &store::NewIncident {
                id: &id,
                service_id: service,
                kind: kind.as_str(),
                severity: sev,
                summary: &summary,
                predicted,
                opened_at: t,
                score,
                explanation: &expl,
            },
        )
        .await
        .map_err(transient)?;
        self.opened.inc();
        tracing::info!(service, kind = kind.as_str(), incident = %id, predicted, "incident opened");
        out.emit(ActuatorOut::Incident(IncidentEvent {
            schema_version: homeostat_schemas::SCHEMA_VERSION,
            id: format!("{id}-opened"),
            event_time: t,
            service_id: service.to_owned(),
            incident_id: id.clone(),
            kind,
            status: IncidentStatus::Opened,
            severity,
            summary: summary.clone(),
            predicted,
            explanation,
        }));
        let strategy = self.choose(&id, kind, &[]).await?;
        if let Some(strategy) = strategy {
            self.act(&id, service, kind, strategy, t, &summary, false, out).await?;
        }
        self.open.insert(service.to_owned(), Open::new(id, kind, predicted));
        Ok(())
    }

    async fn on_anomaly(&mut self, a: &AnomalyScore, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        if let Some(l) = line(
            "homeostat_scores",
            &[("service", &a.service_id)],
            &[
                ("anomaly_score", a.anomaly_score),
                ("health_score", a.health_score),
                ("degradation_trend", a.degradation_trend),
                // 1 while the detector learns the service's baseline: its scores are 0 then, not "healthy".
                ("warming_up", f64::from(u8::from(a.warming_up))),
                // 1 while the service's alert fires (under its own alert rules, if it has them).
                ("alerting", f64::from(u8::from(a.alerting))),
            ],
            a.event_time,
        ) {
            self.influx.push(l);
        }
        match self.open.get_mut(&a.service_id) {
            None if a.alerting => {
                let kind = policy::classify(&a.top_features);
                let summary = match a.top_features.first() {
                    Some(c) => format!("{} {:.4} against baseline {:.4}", c.feature, c.value, c.baseline),
                    None => "anomalous".to_owned(),
                };
                let tr = Trigger {
                    service: &a.service_id,
                    kind,
                    cause_id: &a.id,
                    t: a.event_time,
                    score: a.anomaly_score,
                    predicted: false,
                    summary,
                    explanation: a.top_features.clone(),
                };
                self.open_incident(tr, out).await?;
            }
            None => {}
            // The incident follows the detector's alert, whose rules may be the service's own
            // (`detector.services`): a window is calm when the alert is not firing.
            Some(o) if a.alerting => {
                o.calm = 0;
                o.rebaselined = None;
                let (id, predicted) = (o.id.clone(), o.predicted);
                store::touch_incident(&self.pool, &id, a.event_time, a.anomaly_score)
                    .await
                    .map_err(transient)?;
                if predicted && a.alerting {
                    // The predicted trouble arrived: it was not averted (once per incident).
                    store::add_event(
                        &self.pool,
                        &format!("{id}-confirmed"),
                        &id,
                        a.event_time,
                        "confirmed",
                        "the detector alerted on the predicted service",
                    )
                    .await
                    .map_err(transient)?;
                }
            }
            Some(o) => {
                o.calm += 1;
                if a.warming_up {
                    // A reason, once given, is kept: later windows of the same warm-up may not repeat it.
                    o.rebaselined = Some(a.warmup.or(o.rebaselined.flatten()));
                }
                // A predicted incident resolves once the forecast clears (see on_prediction), not on calm scores.
                if o.calm >= self.cfg.resolve_after_windows && !o.predicted {
                    let (id, kind) = (o.id.clone(), o.kind);
                    let why = resolution(o.rebaselined);
                    self.resolve(&a.service_id, &id, kind, a.event_time, why, out).await?;
                }
            }
        }
        Ok(())
    }

    async fn resolve(
        &mut self,
        service: &str,
        id: &str,
        kind: IncidentKind,
        t: i64,
        why: &str,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        store::resolve_incident(&self.pool, id, t, why)
            .await
            .map_err(transient)?;
        if let (Some(am), Some((svc, k, summary))) = (&self.alertmanager, self.escalated.remove(id)) {
            let e = alertmanager::Escalation {
                incident_id: id,
                service_id: &svc,
                kind: k.as_str(),
                severity: "critical",
                summary: &summary,
                explanation: &[],
                reason: "resolved",
            };
            if let Err(err) = am.resolve(&e).await {
                tracing::warn!(error = %err, incident = %id, "ending the Alertmanager alert failed");
            }
        }
        self.open.remove(service);
        self.tried.remove(id);
        self.resolved.inc();
        tracing::info!(service, incident = %id, "incident resolved");
        out.emit(ActuatorOut::Incident(IncidentEvent {
            schema_version: homeostat_schemas::SCHEMA_VERSION,
            id: format!("{id}-resolved"),
            event_time: t,
            service_id: service.to_owned(),
            incident_id: id.to_owned(),
            kind,
            status: IncidentStatus::Resolved,
            severity: Severity::Warning,
            summary: why.into(),
            predicted: false,
            explanation: Vec::new(),
        }));
        Ok(())
    }

    async fn on_prediction(&mut self, p: &Prediction, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        let mut fields: Vec<(String, f64)> = p
            .horizons
            .iter()
            .map(|h| {
                (
                    format!("failure_probability_{}m", h.horizon_minutes),
                    h.failure_probability,
                )
            })
            .collect();
        if let Some(t) = p.predicted_failure_time {
            fields.push(("seconds_to_failure".into(), (t - p.event_time) as f64 / 1000.0));
        }
        let fields: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        if let Some(l) = line(
            "homeostat_predictions",
            &[("service", &p.service_id)],
            &fields,
            p.event_time,
        ) {
            self.influx.push(l);
        }
        let prob = p.probability(self.cfg.predict_horizon_min);
        match self.open.get_mut(&p.service_id) {
            None if prob >= self.cfg.predict_open_probability => {
                let indicator = p.indicator.clone().unwrap_or_default();
                let kind = policy::kind_of_indicator(&indicator);
                let summary = format!(
                    "{indicator} {:.4} trending to {:.4} within {} min (p = {prob:.2})",
                    p.current_value.unwrap_or(0.0),
                    p.threshold.unwrap_or(0.0),
                    self.cfg.predict_horizon_min
                );
                let expl = vec![Contribution {
                    feature: indicator,
                    value: p.current_value.unwrap_or(0.0),
                    baseline: p.threshold.unwrap_or(0.0),
                    deviation: p.slope_per_s.unwrap_or(0.0),
                }];
                let tr = Trigger {
                    service: &p.service_id,
                    kind,
                    cause_id: &p.id,
                    t: p.event_time,
                    score: prob,
                    predicted: true,
                    summary,
                    explanation: expl,
                };
                self.open_incident(tr, out).await?;
            }
            Some(o) if o.predicted && prob < 0.1 => {
                // The forecast cleared; let calm detector windows resolve it from here.
                o.predicted = false;
            }
            _ => {}
        }
        Ok(())
    }

    /// Keep what must outlive a restart in the store: what the HAProxy executor changed and has
    /// not put back, the actions under verification and the remedies tried per incident.
    async fn save_state(&mut self) -> Result<(), StageError> {
        let now = runtime::now_ms();
        if let Some(g) = self.gateway.as_mut()
            && let Some(state) = g.unsaved_state()
        {
            store::save_state(&self.pool, "haproxy", &state, now)
                .await
                .map_err(transient)?;
            g.saved();
        }
        let closed_loop = serde_json::json!({
            "verifying": &self.verifying,
            "tried": &self.tried,
            "envelope": self.envelope.memory(),
        })
        .to_string();
        if closed_loop != self.saved_loop {
            store::save_state(&self.pool, "closed_loop", &closed_loop, now)
                .await
                .map_err(transient)?;
            self.saved_loop = closed_loop;
        }
        Ok(())
    }

    fn on_features(&mut self, w: &FeatureWindow) {
        let get = |f: homeostat_schemas::FeatureId, prev: f64| w.get(f).unwrap_or(prev);
        let prev = self.indicators.get(&w.service_id).copied().unwrap_or_default();
        self.indicators.insert(
            w.service_id.clone(),
            remedy::Indicators {
                error_rate: get(homeostat_schemas::FeatureId::ErrorRate, prev.error_rate),
                latency_p99_ms: get(homeostat_schemas::FeatureId::LatencyP99, prev.latency_p99_ms),
                memory_ratio: get(homeostat_schemas::FeatureId::MemoryMax, prev.memory_ratio),
                request_rate: get(homeostat_schemas::FeatureId::RequestRate, prev.request_rate),
                cpu_ratio: get(homeostat_schemas::FeatureId::CpuMax, prev.cpu_ratio),
            },
        );
        self.indicators_time.insert(w.service_id.clone(), w.event_time);
        let n = w.get(homeostat_schemas::FeatureId::ActiveInstances).unwrap_or(0.0);
        let q = self.recent_instances.entry(w.service_id.clone()).or_default();
        q.push_back(n.max(0.0).round() as usize);
        while q.len() > 12 {
            q.pop_front();
        }
        let q = self.recent_events.entry(w.service_id.clone()).or_default();
        q.push_back(w.event_count);
        while q.len() > 12 {
            q.pop_front();
        }
        let fields: Vec<(&str, f64)> = w.features.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        if let Some(l) = line(
            "homeostat_features",
            &[("service", &w.service_id)],
            &fields,
            w.event_time,
        ) {
            self.influx.push(l);
        }
    }
}

impl Stage for Actuator {
    type In = ActuatorIn;
    type Out = ActuatorOut;
    type Config = ActuatorConfig;
    const NAME: &'static str = "actuator";

    async fn build(cfg: ActuatorConfig, cx: &StageContext) -> Result<Self, BuildError> {
        let mut delay = std::time::Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match Actuator::connect(cfg.clone(), cx).await {
                Ok(a) => return Ok(a),
                Err(BuildError::Unavailable(e)) if tries < 10 => {
                    tracing::warn!(error = %e, "incident store not reachable; retrying");
                    tries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn process(&mut self, batch: Vec<ActuatorIn>, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        for m in batch {
            match m {
                ActuatorIn::Anomaly(a) => self.on_anomaly(&a, out).await?,
                ActuatorIn::Prediction(p) => self.on_prediction(&p, out).await?,
                ActuatorIn::Features(w) => {
                    self.on_features(&w);
                    self.verify_due(w.event_time, out).await?;
                }
                ActuatorIn::Result(r) => self.on_result(&r, out).await?,
            }
        }
        if self.influx.pending() >= self.cfg.influx.batch_size {
            self.influx.flush().await;
        }
        self.save_state().await
    }

    async fn on_tick(&mut self, now: i64, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        self.influx.flush().await;
        if let Some(g) = self.gateway.as_mut() {
            g.observe().await;
            for r in g.restore_healthy().await {
                store::add_event(
                    &self.pool,
                    &format!("{}-restored-{now}", r.incident_id),
                    &r.incident_id,
                    now,
                    "restored",
                    &r.detail,
                )
                .await
                .map_err(transient)?;
            }
        }
        self.publish_approved(now, out).await?;
        self.save_state().await
    }

    async fn shutdown(&mut self, _out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        self.influx.flush().await;
        if self.influx.pending() > 0 {
            tracing::warn!(
                points = self.influx.pending(),
                "InfluxDB unreachable at shutdown; these points are lost"
            );
        }
        Ok(())
    }
}
