//! Actuator: opens, updates and resolves incidents in SQL (PostgreSQL, or SQLite in the demo),
//! writes features, scores and predictions to InfluxDB, maps each incident to a recovery strategy
//! and publishes the command on `actions.v1` (dry-run by default, recording what it would do), and
//! records what executors report on `actions.results.v1`.

pub mod alertmanager;
pub mod approvals;
pub mod bandit;
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
    IncidentStatus, Prediction, Severity, stable_id, topics,
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
    /// Consecutive calm windows before an open incident resolves.
    pub resolve_after_windows: u32,
    /// Open a predicted incident when the failure probability within `predict_horizon_min`
    /// reaches this.
    pub predict_open_probability: f64,
    /// The horizon, minutes, used for opening predicted incidents.
    pub predict_horizon_min: u32,
    /// Seconds to watch a service after an action before judging it.
    pub verification_window_s: u32,
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

/// An action being watched to see whether it helped.
struct Verifying {
    action_id: String,
    incident_id: String,
    service: String,
    strategy: homeostat_schemas::Strategy,
    kind: IncidentKind,
    rule: remedy::Verification,
    before: remedy::Indicators,
    due: i64,
    rollback_plan: String,
}

/// The indicator that shows whether a remedy for this kind of incident helped.
fn indicator_of(kind: IncidentKind) -> remedy::Indicator {
    match kind {
        IncidentKind::MemoryLeak => remedy::Indicator::Memory,
        IncidentKind::LatencyDegradation => remedy::Indicator::LatencyP99,
        IncidentKind::ErrorBurst => remedy::Indicator::ErrorRate,
        IncidentKind::Saturation => remedy::Indicator::Cpu,
        IncidentKind::ServiceDown | IncidentKind::Anomaly => remedy::Indicator::None,
    }
}

/// A verdict in a few words, for the action's reason.
fn describe(v: &safety::Verdict) -> String {
    match v {
        safety::Verdict::Allow => "allowed".into(),
        safety::Verdict::NeedsApproval => "would wait for approval".into(),
        safety::Verdict::Deny(r) => format!("would be blocked: {r}"),
        safety::Verdict::Escalate(r) => format!("would be escalated: {r}"),
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
}

/// The actuator stage.
pub struct Actuator {
    cfg: ActuatorConfig,
    pool: AnyPool,
    influx: InfluxWriter,
    open: HashMap<String, Open>,
    envelope: safety::Envelope,
    recent_events: HashMap<String, std::collections::VecDeque<u64>>,
    indicators: HashMap<String, remedy::Indicators>,
    indicators_time: HashMap<String, i64>,
    verifying: Vec<Verifying>,
    tried: HashMap<String, Vec<homeostat_schemas::Strategy>>,
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
            open.insert(
                svc,
                Open {
                    id,
                    kind: IncidentKind::parse(&kind).unwrap_or(IncidentKind::Anomaly),
                    calm: 0,
                    predicted: false,
                },
            );
        }
        let m = &cx.metrics;
        Ok(Self {
            influx: InfluxWriter::new(cfg.influx.clone(), m),
            envelope: safety::Envelope::new(cfg.safety.clone()),
            recent_events: HashMap::new(),
            indicators: HashMap::new(),
            indicators_time: HashMap::new(),
            verifying: Vec::new(),
            tried: HashMap::new(),
            gateway: gateway::Gateway::new(cfg.haproxy.clone()),
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
        self.open.insert(
            service.to_owned(),
            Open {
                id,
                kind,
                calm: 0,
                predicted,
            },
        );
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
            Some(o) if a.alerting || a.anomaly_score >= 0.5 => {
                o.calm = 0;
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
                // A predicted incident resolves once the forecast clears (see on_prediction), not on calm scores.
                if o.calm >= self.cfg.resolve_after_windows && !o.predicted {
                    let (id, kind) = (o.id.clone(), o.kind);
                    self.resolve(&a.service_id, &id, kind, a.event_time, out).await?;
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
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        store::resolve_incident(&self.pool, id, t, "indicators back within baseline")
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
            summary: "indicators back within baseline".into(),
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

    /// The remedy to try for an incident, among the kind's candidates not yet `tried`: the usual
    /// first choice in dry-run (nothing is learned from dry runs) and while nothing has been
    /// learned for this kind of incident; otherwise Thompson sampling on the outcomes so far.
    async fn choose(
        &self,
        incident: &str,
        kind: IncidentKind,
        tried: &[homeostat_schemas::Strategy],
    ) -> Result<Option<homeostat_schemas::Strategy>, StageError> {
        use rand::SeedableRng;
        let all = policy::candidates(kind);
        let left: Vec<homeostat_schemas::Strategy> = all.iter().copied().filter(|s| !tried.contains(s)).collect();
        if left.is_empty() || self.cfg.mode == ActionMode::DryRun {
            return Ok(left.first().copied());
        }
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        let known = bandit::arms(&self.pool, kind.as_str(), &names)
            .await
            .map_err(transient)?;
        if known.iter().all(|a| a.successes + a.failures == 0) {
            // Nothing learned yet for this kind of incident: the usual first choice.
            return Ok(left.first().copied());
        }
        let arms: Vec<bandit::Arm> = known
            .into_iter()
            .filter(|a| left.iter().any(|s| s.as_str() == a.strategy))
            .collect();
        // Reproducible per incident and step.
        let seed = u64::from_str_radix(
            &stable_id("seed", &[incident.as_bytes(), &[tried.len() as u8]])[5..],
            16,
        )
        .unwrap_or(tried.len() as u64);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Ok(bandit::choose(&arms, &mut rng).map(|i| left[i]))
    }

    /// Decide, record and (if allowed) publish one remedy for an open incident. `follow_up`: it
    /// replaces a remedy just rolled back, so the per-service cooldown does not hold it back.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &mut self,
        id: &str,
        service: &str,
        kind: IncidentKind,
        strategy: homeostat_schemas::Strategy,
        t: i64,
        summary: &str,
        follow_up: bool,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        let plan = policy::plan_for(strategy);
        let action_id = stable_id("act", &[id.as_bytes(), plan.strategy.as_str().as_bytes()]);
        let mode_name = self.cfg.mode.as_str();
        // The safety envelope judges the action. In dry-run nothing changes anyway: the action is
        // recorded and published as before, with what the envelope would have said.
        let recent: Vec<u64> = self
            .recent_events
            .get(service)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        let proposal = safety::Proposal {
            service,
            strategy: plan.strategy,
            instances: 1,
            instances_total: 1,
            recent_events: &recent,
            t,
            follow_up,
        };
        self.envelope
            .set_kill_switch(store::kill_switch(&self.pool).await.map_err(transient)?);
        let verdict = self.envelope.check(&proposal);
        let dry = self.cfg.mode == ActionMode::DryRun;
        let (status, publish, note) = match &verdict {
            safety::Verdict::Allow => (if dry { "dry_run" } else { "published" }, true, String::new()),
            v if dry => ("dry_run", true, format!(" [envelope: {}]", describe(v))),
            safety::Verdict::NeedsApproval => ("awaiting_approval", false, " [waiting for approval]".to_owned()),
            safety::Verdict::Deny(r) => ("blocked", false, format!(" [blocked: {r}]")),
            safety::Verdict::Escalate(r) => ("escalated", false, format!(" [escalated to people: {r}]")),
        };
        // In execute mode the actuator carries out traffic remedies for services behind HAProxy
        // itself; other actions go to executors over actions.v1.
        let in_process = publish && self.cfg.mode == ActionMode::Execute && self.executes(service, plan.strategy);
        if publish && !dry {
            self.envelope.record(&proposal);
            self.watch(&action_id, id, service, plan.strategy, kind, t, plan.rollback_plan);
        }
        self.tried.entry(id.to_owned()).or_default().push(plan.strategy);
        let reason = format!("{}: {summary}{note}", kind.as_str());
        let params = serde_json::Value::Object(plan.parameters.clone()).to_string();
        store::insert_action(
            &self.pool,
            &store::NewAction {
                id: &action_id,
                incident_id: id,
                service_id: service,
                strategy: plan.strategy.as_str(),
                mode: mode_name,
                status,
                target: service,
                parameters: &params,
                rollback_plan: plan.rollback_plan,
                reason: &reason,
                decided_at: t,
            },
        )
        .await
        .map_err(transient)?;
        self.actions.inc();
        tracing::info!(service, incident = %id, strategy = plan.strategy.as_str(), mode = mode_name, status, "action decided");
        // Escalation to people: the AlertEscalation remedy, or a remedy the envelope escalated.
        let escalate = !dry
            && (matches!(verdict, safety::Verdict::Escalate(_))
                || (publish && plan.strategy == homeostat_schemas::Strategy::AlertEscalation));
        if escalate && let Some(am) = &self.alertmanager {
            let why = match &verdict {
                safety::Verdict::Escalate(r) => r.to_string(),
                _ => format!("{} chose to page a person", kind.as_str()),
            };
            let e = alertmanager::Escalation {
                incident_id: id,
                service_id: service,
                kind: kind.as_str(),
                severity: "critical",
                summary,
                explanation: &[],
                reason: &why,
            };
            let detail = match am.escalate(&e).await {
                Ok(()) => format!("escalated to Alertmanager: {why}"),
                Err(err) => format!("escalation failed: {err}"),
            };
            store::add_event(
                &self.pool,
                &format!("{action_id}-escalated"),
                id,
                t,
                "escalated",
                &detail,
            )
            .await
            .map_err(transient)?;
            self.escalated
                .insert(id.to_owned(), (service.to_owned(), kind, summary.to_owned()));
            if plan.strategy == homeostat_schemas::Strategy::AlertEscalation {
                return Ok(());
            }
        }
        if in_process {
            return self
                .execute_here(&action_id, id, service, plan.strategy, &reason, t)
                .await;
        }
        if publish {
            out.emit(ActuatorOut::Action(ActionCommand {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: action_id,
                event_time: t,
                service_id: service.to_owned(),
                incident_id: id.to_owned(),
                strategy: plan.strategy,
                target: service.to_owned(),
                parameters: plan.parameters,
                mode: self.cfg.mode,
                rollback_plan: plan.rollback_plan.to_owned(),
                verification_window_s: self.cfg.verification_window_s,
                reason,
            }));
        }
        Ok(())
    }

    /// Does the actuator carry out `strategy` for `service` itself (HAProxy or a hook)?
    fn executes(&self, service: &str, strategy: homeostat_schemas::Strategy) -> bool {
        self.gateway.as_ref().is_some_and(|g| g.handles(service, strategy)) || self.hooks.handles(strategy.as_str())
    }

    /// Carry out an action in-process and record the result (a failed one is not verified).
    async fn execute_here(
        &mut self,
        action_id: &str,
        incident_id: &str,
        service: &str,
        strategy: homeostat_schemas::Strategy,
        reason: &str,
        t: i64,
    ) -> Result<(), StageError> {
        let (executor, outcome) = match self.gateway.as_mut() {
            Some(g) if g.handles(service, strategy) => {
                ("haproxy", g.execute(action_id, incident_id, service, strategy).await)
            }
            _ => {
                let action = serde_json::json!({
                    "id": action_id,
                    "incident_id": incident_id,
                    "service_id": service,
                    "strategy": strategy.as_str(),
                    "parameters": policy::plan_for(strategy).parameters,
                    "reason": reason,
                });
                (
                    "hook",
                    self.hooks
                        .run(strategy.as_str(), &action)
                        .await
                        .map_err(|e| e.to_string()),
                )
            }
        };
        let (status, detail) = match outcome {
            Ok(d) => (homeostat_schemas::ActionStatus::Succeeded, d),
            Err(e) => {
                self.verifying.retain(|v| v.action_id != action_id);
                (homeostat_schemas::ActionStatus::Failed, e)
            }
        };
        store::record_result(
            &self.pool,
            &ActionResult {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: format!("{action_id}-{executor}"),
                event_time: t,
                service_id: service.to_owned(),
                action_id: action_id.to_owned(),
                status,
                executor: executor.into(),
                detail,
            },
        )
        .await
        .map_err(transient)
    }

    /// Start watching a published action.
    #[allow(clippy::too_many_arguments)]
    fn watch(
        &mut self,
        action_id: &str,
        incident_id: &str,
        service: &str,
        strategy: homeostat_schemas::Strategy,
        kind: IncidentKind,
        t: i64,
        rollback_plan: &str,
    ) {
        self.verifying.push(Verifying {
            action_id: action_id.to_owned(),
            incident_id: incident_id.to_owned(),
            service: service.to_owned(),
            strategy,
            kind,
            rule: remedy::Verification {
                indicator: indicator_of(kind),
                better_by: 0.3,
                within_s: u64::from(self.cfg.verification_window_s),
            },
            before: self.indicators.get(service).copied().unwrap_or_default(),
            due: t + i64::from(self.cfg.verification_window_s) * 1000,
            rollback_plan: rollback_plan.to_owned(),
        });
    }

    /// Judge the actions whose verification window has passed by `t`: a remedy that helped is a
    /// success for the learner; one that did not is rolled back (its undo is published) and
    /// counted as a failure.
    async fn verify_due(&mut self, t: i64, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        let (due, waiting): (Vec<Verifying>, Vec<Verifying>) = std::mem::take(&mut self.verifying)
            .into_iter()
            .partition(|v| v.due <= t);
        self.verifying = waiting;
        for v in due {
            let after = self.indicators.get(&v.service).copied().unwrap_or_default();
            let resolved = self.open.get(&v.service).is_none_or(|o| o.id != v.incident_id);
            let helped = v.rule.judge(&v.before, &after, resolved);
            bandit::record(
                &self.pool,
                &v.action_id,
                v.kind.as_str(),
                v.strategy.as_str(),
                helped,
                t,
            )
            .await
            .map_err(transient)?;
            let (b, a) = (v.rule.indicator.of(&v.before), v.rule.indicator.of(&after));
            let detail = format!(
                "{} {}: {:?} {b:.4} → {a:.4}{}",
                v.strategy.as_str(),
                if helped { "helped" } else { "did not help" },
                v.rule.indicator,
                if resolved { " (incident resolved)" } else { "" }
            );
            store::add_event(
                &self.pool,
                &format!("{}-verified", v.action_id),
                &v.incident_id,
                t,
                if helped { "verified" } else { "rolled_back" },
                &detail,
            )
            .await
            .map_err(transient)?;
            tracing::info!(action = %v.action_id, helped, %detail, "action judged");
            if helped {
                if let Some(g) = self.gateway.as_mut() {
                    g.verified(&v.action_id);
                }
                continue;
            }
            store::set_action_status(&self.pool, &v.action_id, "rolled_back", t)
                .await
                .map_err(transient)?;
            let undone_here = match self.gateway.as_mut() {
                Some(g) if g.applied(&v.action_id).is_some() => Some(g.undo(&v.action_id).await),
                _ => None,
            };
            if let Some(undo) = undone_here {
                let detail = undo.unwrap_or_else(|e| format!("undo failed: {e}"));
                store::add_event(
                    &self.pool,
                    &format!("{}-undone", v.action_id),
                    &v.incident_id,
                    t,
                    "undone",
                    &detail,
                )
                .await
                .map_err(transient)?;
            }
            let mut parameters = serde_json::Map::new();
            parameters.insert("rollback_of".into(), serde_json::json!(v.action_id));
            out.emit(ActuatorOut::Action(ActionCommand {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: format!("{}-rollback", v.action_id),
                event_time: t,
                service_id: v.service.clone(),
                incident_id: v.incident_id.clone(),
                strategy: v.strategy,
                target: v.service.clone(),
                parameters,
                mode: self.cfg.mode,
                rollback_plan: String::new(),
                verification_window_s: 0,
                reason: format!("roll back {}: {}", v.action_id, v.rollback_plan),
            }));
            // The incident is still open: try the next remedy.
            if self.open.get(&v.service).is_some_and(|o| o.id == v.incident_id) {
                let tried = self.tried.get(&v.incident_id).cloned().unwrap_or_default();
                if let Some(next) = self.choose(&v.incident_id, v.kind, &tried).await? {
                    let summary = format!("{} did not help", v.strategy.as_str());
                    self.act(&v.incident_id, &v.service, v.kind, next, t, &summary, true, out)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Publish the actions a person approved since the last tick (unless the kill switch is on).
    async fn publish_approved(&mut self, now: i64, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        if self.cfg.mode == ActionMode::DryRun || store::kill_switch(&self.pool).await.map_err(transient)? {
            return Ok(());
        }
        for a in store::approved_actions(&self.pool).await.map_err(transient)? {
            let Ok(strategy) = serde_json::from_value::<homeostat_schemas::Strategy>(serde_json::json!(a.strategy))
            else {
                tracing::warn!(action = %a.id, strategy = %a.strategy, "approved action with an unknown strategy; left as is");
                continue;
            };
            if !store::mark_published(&self.pool, &a.id, now).await.map_err(transient)? {
                continue;
            }
            let recent: Vec<u64> = Vec::new();
            self.envelope.record(&safety::Proposal {
                service: &a.service_id,
                strategy,
                instances: 1,
                instances_total: 1,
                recent_events: &recent,
                t: now,
                follow_up: false,
            });
            let kind = IncidentKind::parse(&a.kind).unwrap_or(IncidentKind::Anomaly);
            let t = self.indicators_time.get(&a.service_id).copied().unwrap_or(now);
            self.watch(
                &a.id,
                &a.incident_id,
                &a.service_id,
                strategy,
                kind,
                t,
                &a.rollback_plan,
            );
            if self.cfg.mode == ActionMode::Execute && self.executes(&a.service_id, strategy) {
                self.execute_here(&a.id, &a.incident_id, &a.service_id, strategy, &a.reason, t)
                    .await?;
                continue;
            }
            out.emit(ActuatorOut::Action(ActionCommand {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: a.id,
                event_time: now,
                service_id: a.service_id,
                incident_id: a.incident_id,
                strategy,
                target: a.target,
                parameters: serde_json::from_str(&a.parameters).unwrap_or_default(),
                mode: self.cfg.mode,
                rollback_plan: a.rollback_plan,
                verification_window_s: self.cfg.verification_window_s,
                reason: a.reason,
            }));
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
                ActuatorIn::Result(r) => store::record_result(&self.pool, &r).await.map_err(transient)?,
            }
        }
        if self.influx.pending() >= self.cfg.influx.batch_size {
            self.influx.flush().await;
        }
        Ok(())
    }

    async fn on_tick(&mut self, now: i64, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
        self.influx.flush().await;
        if let Some(g) = self.gateway.as_mut() {
            for (incident, detail) in g.restore_healthy().await {
                store::add_event(
                    &self.pool,
                    &format!("{incident}-restored-{now}"),
                    &incident,
                    now,
                    "restored",
                    &detail,
                )
                .await
                .map_err(transient)?;
            }
        }
        self.publish_approved(now, out).await
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
