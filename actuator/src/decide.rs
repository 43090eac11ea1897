//! The actuator's decisions and its closed loop: which remedy to try (the kind's candidates,
//! Thompson sampling once outcomes exist), the safety envelope's verdict, carrying the action out
//! (in-process through HAProxy or a hook, or published on `actions.v1`), watching it for the
//! verification window, and rolling back and trying the next remedy when it did not help.

use homeostat_schemas::{ActionCommand, ActionMode, ActionResult, IncidentKind, stable_id};
use runtime::{Emitter, StageError};

use crate::{Actuator, ActuatorOut, alertmanager, bandit, policy, remedy, safety, store, transient};

/// An action being watched to see whether it helped.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Verifying {
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

impl Verifying {
    /// The action watched.
    pub(crate) fn action_id(&self) -> &str {
        &self.action_id
    }
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

/// A remedy proposed on what is known now.
pub(crate) enum Live {
    /// On HAProxy's live state, carried out by the gateway executor.
    Gateway(crate::gateway::Proposal),
    /// From the service's indicators and facts: the remedy and its undo.
    Typed(remedy::Remedy, Option<remedy::Remedy>),
}

impl Live {
    fn remedy(&self) -> &remedy::Remedy {
        match self {
            Live::Gateway(p) => &p.remedy,
            Live::Typed(r, _) => r,
        }
    }
    fn undo(&self) -> Option<&remedy::Remedy> {
        match self {
            Live::Gateway(p) => p.undo.as_ref(),
            Live::Typed(_, u) => u.as_ref(),
        }
    }
}

/// The id of the action taking `strategy` for `incident` (one per strategy and incident).
fn action_id(incident: &str, strategy: homeostat_schemas::Strategy) -> String {
    stable_id("act", &[incident.as_bytes(), strategy.as_str().as_bytes()])
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

impl Actuator {
    /// The remedy to try for an incident, among the kind's candidates not yet `tried`: the usual
    /// first choice in dry-run (nothing is learned from dry runs) and while nothing has been
    /// learned for this kind of incident; otherwise Thompson sampling on the outcomes so far,
    /// among the candidates with outcomes and the first one (in the usual order) without.
    pub(crate) async fn choose(
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
        // The contenders: every candidate left with outcomes, and the first left without any (in
        // the usual order), so untried remedies are explored one at a time, most likely first.
        let mut fresh = false;
        let contenders: Vec<(homeostat_schemas::Strategy, bandit::Arm)> = left
            .iter()
            .filter_map(|s| {
                let a = known.iter().find(|a| a.strategy == s.as_str())?.clone();
                let untried = a.successes + a.failures == 0;
                if untried && std::mem::replace(&mut fresh, true) {
                    return None;
                }
                Some((*s, a))
            })
            .collect();
        let arms: Vec<bandit::Arm> = contenders.iter().map(|c| c.1.clone()).collect();
        // Reproducible per incident and step.
        let seed = u64::from_str_radix(
            &stable_id("seed", &[incident.as_bytes(), &[tried.len() as u8]])[5..],
            16,
        )
        .unwrap_or(tried.len() as u64);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Ok(bandit::choose(&arms, &mut rng).map(|i| contenders[i].0))
    }

    /// Decide, record and (if allowed) publish one remedy for an open incident. `follow_up`: it
    /// replaces a remedy just rolled back, so the per-service cooldown does not hold it back.
    /// The remedy is first proposed on what is known of the service ([`Self::live`]): one whose
    /// precondition does not hold is recorded as `not_applicable`, with the reason, and the next candidate
    /// is tried.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn act(
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
        let mut strategy = strategy;
        let mut summary = summary.to_owned();
        loop {
            let live = match self.live(service, strategy).await {
                Some(Err(why)) => {
                    self.skip(id, service, kind, strategy, t, &why).await?;
                    let tried = self.tried.get(id).cloned().unwrap_or_default();
                    let Some(next) = self.choose(id, kind, &tried).await? else {
                        return Ok(());
                    };
                    summary = format!("{} does not apply", strategy.as_str());
                    strategy = next;
                    continue;
                }
                known => known.and_then(Result::ok),
            };
            return self
                .act_on(id, service, kind, strategy, live, t, &summary, follow_up, out)
                .await;
        }
    }

    /// `strategy` for `service` as a typed remedy on what is known now: on the gateway's live
    /// state for its traffic remedies, else from the service's indicators, active instances and
    /// configured facts. `None` when the facts its precondition needs are not known here (the
    /// executor decides); `Some(Err)` with the reason when it does not apply.
    async fn live(&self, service: &str, strategy: homeostat_schemas::Strategy) -> Option<Result<Live, String>> {
        let now = self.indicators.get(service).copied().unwrap_or_default();
        if let Some(g) = self.gateway.as_ref().filter(|g| g.handles(service, strategy)) {
            return Some(g.propose(service, strategy, now).await.map(Live::Gateway));
        }
        let active = self
            .recent_instances
            .get(service)
            .and_then(|q| q.back().copied())
            .unwrap_or(0);
        let facts = self.cfg.services.get(service).cloned().unwrap_or_default();
        let ctx = remedy::context_from_facts(strategy, service, now, active, &facts)?;
        Some(
            remedy::propose(strategy, &ctx)
                .map(|r| Live::Typed(r.clone(), r.rollback(&ctx)))
                .map_err(|e| e.to_string()),
        )
    }

    /// Record a remedy that does not apply now, and why.
    async fn skip(
        &mut self,
        id: &str,
        service: &str,
        kind: IncidentKind,
        strategy: homeostat_schemas::Strategy,
        t: i64,
        why: &str,
    ) -> Result<(), StageError> {
        let plan = policy::plan_for(strategy);
        let action_id = action_id(id, plan.strategy);
        self.tried.entry(id.to_owned()).or_default().push(strategy);
        store::insert_action(
            &self.pool,
            &store::NewAction {
                id: &action_id,
                incident_id: id,
                service_id: service,
                strategy: strategy.as_str(),
                mode: self.cfg.mode.as_str(),
                status: "not_applicable",
                target: service,
                parameters: "{}",
                rollback_plan: plan.rollback_plan,
                reason: &format!("{}: {why}", kind.as_str()),
                decided_at: t,
            },
        )
        .await
        .map_err(transient)?;
        store::add_event(
            &self.pool,
            &format!("{action_id}-not-applicable"),
            id,
            t,
            "not_applicable",
            why,
        )
        .await
        .map_err(transient)?;
        tracing::info!(service, incident = %id, strategy = strategy.as_str(), %why, "remedy skipped");
        Ok(())
    }

    /// Decide, record and (if allowed) publish or carry out `strategy` (with its proposal on the
    /// gateway's live state, when there is one).
    #[allow(clippy::too_many_arguments)]
    async fn act_on(
        &mut self,
        id: &str,
        service: &str,
        kind: IncidentKind,
        strategy: homeostat_schemas::Strategy,
        live: Option<Live>,
        t: i64,
        summary: &str,
        follow_up: bool,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        let mut plan = policy::plan_for(strategy);
        let mut rollback_plan = plan.rollback_plan.to_owned();
        if let Some(l) = &live {
            // The typed remedy and its undo, as decided on what is known now.
            if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(l.remedy()) {
                plan.parameters.extend(m);
            }
            if let Live::Gateway(p) = l
                && !p.evidence.is_empty()
            {
                plan.parameters.insert("evidence".into(), serde_json::json!(p.evidence));
            }
            if let Some(u) = l.undo() {
                rollback_plan = format!("{rollback_plan}: {}", serde_json::to_string(u).unwrap_or_default());
            }
        }
        let action_id = action_id(id, plan.strategy);
        let mode_name = self.cfg.mode.as_str();
        // The safety envelope judges the action. In dry-run nothing changes anyway: the action is
        // recorded and published as before, with what the envelope would have said.
        let recent: Vec<u64> = self
            .recent_events
            .get(service)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        // Behind HAProxy the blast radius counts the backend's servers, including those already
        // out. Elsewhere: the most instances seen in the service's recent windows, and those its
        // own actions under verification took out, plus the one this action takes.
        let (instances, instances_total) = match &live {
            Some(Live::Gateway(p)) => (p.instances, p.instances_total),
            _ => {
                let seen = self
                    .recent_instances
                    .get(service)
                    .and_then(|q| q.iter().copied().max())
                    .unwrap_or(1)
                    .max(1);
                let out = self
                    .verifying
                    .iter()
                    .filter(|v| v.service == service && remedy::takes_out_of_rotation(v.strategy))
                    .count();
                let takes = usize::from(remedy::takes_out_of_rotation(strategy));
                (if takes == 0 { 0 } else { out + takes }, seen)
            }
        };
        let proposal = safety::Proposal {
            service,
            strategy: plan.strategy,
            instances,
            instances_total,
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
            self.watch(&action_id, id, service, plan.strategy, kind, t, &rollback_plan);
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
                rollback_plan: &rollback_plan,
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
                .execute_here(
                    &action_id,
                    id,
                    service,
                    plan.strategy,
                    live.and_then(|l| match l {
                        Live::Gateway(p) => Some(p),
                        Live::Typed(..) => None,
                    }),
                    &reason,
                    t,
                    out,
                )
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
                rollback_plan,
                verification_window_s: self.window_of(strategy),
                reason,
            }));
        }
        Ok(())
    }

    /// The verification rule of `strategy` for an incident of `kind` ([`remedy::verification_of`]);
    /// a gradual traffic shift's window also covers its two later steps, so it is judged a full
    /// window after the last.
    fn rule_for(&self, strategy: homeostat_schemas::Strategy, kind: IncidentKind) -> remedy::Verification {
        let mut rule = remedy::verification_of(
            strategy,
            indicator_of(kind),
            u64::from(self.cfg.verification_window_s),
            u64::from(self.cfg.verification_window_slow_s),
        );
        if strategy == homeostat_schemas::Strategy::GradualTrafficShift {
            rule.within_s += 2 * self.cfg.haproxy.shift_step().as_secs();
        }
        rule
    }

    /// The verification window of `strategy`, s, as announced on `actions.v1`.
    fn window_of(&self, strategy: homeostat_schemas::Strategy) -> u32 {
        u32::try_from(self.rule_for(strategy, IncidentKind::Anomaly).within_s).unwrap_or(u32::MAX)
    }

    /// Does the actuator carry out `strategy` for `service` itself (HAProxy or a hook)?
    fn executes(&self, service: &str, strategy: homeostat_schemas::Strategy) -> bool {
        self.gateway.as_ref().is_some_and(|g| g.handles(service, strategy)) || self.hooks.handles(strategy.as_str())
    }

    /// Carry out an action in-process and record the result (a failed one is not verified).
    /// A gateway remedy approved earlier is proposed again on the state at execution time.
    #[allow(clippy::too_many_arguments)]
    async fn execute_here(
        &mut self,
        action_id: &str,
        incident_id: &str,
        service: &str,
        strategy: homeostat_schemas::Strategy,
        proposal: Option<crate::gateway::Proposal>,
        reason: &str,
        t: i64,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        let now = self.indicators.get(service).copied().unwrap_or_default();
        let (executor, outcome) = match self.gateway.as_mut() {
            Some(g) if g.handles(service, strategy) => {
                let p = match proposal {
                    Some(p) => Ok(p),
                    None => g.propose(service, strategy, now).await,
                };
                let done = match p {
                    Ok(p) => g.execute(action_id, incident_id, service, p).await,
                    Err(e) => Err(e),
                };
                ("haproxy", done)
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
            Err(e) => (homeostat_schemas::ActionStatus::Failed, e),
        };
        let result = ActionResult {
            schema_version: homeostat_schemas::SCHEMA_VERSION,
            id: format!("{action_id}-{executor}"),
            event_time: t,
            service_id: service.to_owned(),
            action_id: action_id.to_owned(),
            status,
            executor: executor.into(),
            detail,
        };
        self.on_result(&result, out).await
    }

    /// An executor's result (in-process, or on `actions.results.v1`): recorded; an action that
    /// was not carried out is not verified, and while its incident is open the next remedy is
    /// tried.
    pub(crate) async fn on_result(
        &mut self,
        r: &ActionResult,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
        store::record_result(&self.pool, r).await.map_err(transient)?;
        if r.status == homeostat_schemas::ActionStatus::Succeeded {
            return Ok(());
        }
        let Some(pos) = self.verifying.iter().position(|v| v.action_id == r.action_id) else {
            return Ok(());
        };
        let v = self.verifying.remove(pos);
        if self.open.get(&v.service).is_none_or(|o| o.id != v.incident_id) {
            return Ok(());
        }
        let tried = self.tried.get(&v.incident_id).cloned().unwrap_or_default();
        let Some(next) = self.choose(&v.incident_id, v.kind, &tried).await? else {
            return Ok(());
        };
        let t = self.indicators_time.get(&v.service).copied().unwrap_or(r.event_time);
        let summary = format!("{} was not carried out: {}", v.strategy.as_str(), r.detail);
        // Boxed: carrying out the next remedy may report a result in turn.
        Box::pin(self.act(&v.incident_id, &v.service, v.kind, next, t, &summary, true, out)).await
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
        let rule = self.rule_for(strategy, kind);
        self.verifying.push(Verifying {
            action_id: action_id.to_owned(),
            incident_id: incident_id.to_owned(),
            service: service.to_owned(),
            strategy,
            kind,
            rule,
            before: self.indicators.get(service).copied().unwrap_or_default(),
            due: t + rule.within_s as i64 * 1000,
            rollback_plan: rollback_plan.to_owned(),
        });
    }

    /// Judge the actions whose verification window has passed by `t`: a remedy that helped is a
    /// success for the learner; one that did not is rolled back (its undo is published) and
    /// counted as a failure.
    pub(crate) async fn verify_due(&mut self, t: i64, out: &mut Emitter<ActuatorOut>) -> Result<(), StageError> {
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
    pub(crate) async fn publish_approved(
        &mut self,
        now: i64,
        out: &mut Emitter<ActuatorOut>,
    ) -> Result<(), StageError> {
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
                self.execute_here(&a.id, &a.incident_id, &a.service_id, strategy, None, &a.reason, t, out)
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
                verification_window_s: self.window_of(strategy),
                reason: a.reason,
            }));
        }
        Ok(())
    }
}
