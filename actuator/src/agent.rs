//! The gateway agent (`homeostat gateway-agent`): HAProxy's executor on the gateway host, for
//! when the actuator cannot reach the runtime API itself (a unix socket on another machine). It
//! reads `actions.v1`, carries out the traffic remedies for the services it fronts exactly as the
//! actuator's in-process executor does ([`crate::gateway`]), and answers on `actions.results.v1`:
//!
//! - an `execute` action: proposed on the live state and carried out (`succeeded` or `failed`,
//!   with the reason, e.g. a precondition that does not hold);
//! - a `shadow` or `dry_run` action: proposed only, answered `skipped` with what it would do;
//! - a rollback (`parameters.rollback_of`): the recorded undo, answered on the rollback's id;
//! - an action not rolled back within its verification window (plus `grace_s`) has worked: its
//!   faulty servers are probed, and once healthy the remedy is undone and a `restored` result is
//!   sent for the original action.
//!
//! Actions for other services or strategies are left to other executors.

use homeostat_schemas::{ActionCommand, ActionMode, ActionResult, ActionStatus, SCHEMA_VERSION};
use runtime::{BuildError, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

use crate::gateway::{Gateway, GatewayConfig};

/// `[gateway_agent]` configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The HAProxy runtime API and the services it fronts, as `[actuator.haproxy]`.
    pub haproxy: GatewayConfig,
    /// Seconds past an action's verification window before it counts as having worked.
    pub grace_s: u64,
    /// The executor name in results.
    pub name: String,
    /// Where what it changed and has not yet put back is kept across restarts ("" = nowhere).
    pub state_file: String,
}

/// An executed action waiting to be judged.
struct Pending {
    action_id: String,
    service: String,
    verified_at: i64,
}

/// The agent stage.
pub struct GatewayAgent {
    gateway: Gateway,
    state_file: Option<std::path::PathBuf>,
    name: String,
    grace_ms: i64,
    pending: Vec<Pending>,
}

impl GatewayAgent {
    fn result(&self, action_id: &str, service: &str, t: i64, status: ActionStatus, detail: String) -> ActionResult {
        ActionResult {
            schema_version: SCHEMA_VERSION,
            id: homeostat_schemas::stable_id("res", &[self.name.as_bytes(), action_id.as_bytes(), detail.as_bytes()]),
            event_time: t,
            service_id: service.to_owned(),
            action_id: action_id.to_owned(),
            status,
            executor: self.name.clone(),
            detail,
        }
    }

    async fn handle(&mut self, a: ActionCommand) -> Option<ActionResult> {
        let now = runtime::now_ms();
        if let Some(of) = a.parameters.get("rollback_of").and_then(|v| v.as_str()) {
            self.gateway.applied(of)?;
            self.pending.retain(|p| p.action_id != of);
            let (status, detail) = match self.gateway.undo(of).await {
                Ok(d) => (ActionStatus::Succeeded, format!("undone: {d}")),
                Err(e) => (ActionStatus::Failed, format!("undo failed: {e}")),
            };
            return Some(self.result(&a.id, &a.service_id, now, status, detail));
        }
        if !self.gateway.handles(&a.service_id, a.strategy) {
            return None;
        }
        let now_ind = crate::remedy::Indicators::default();
        let proposal = match self.gateway.propose(&a.service_id, a.strategy, now_ind).await {
            Ok(p) => p,
            Err(e) => return Some(self.result(&a.id, &a.service_id, now, ActionStatus::Failed, e)),
        };
        if a.mode != ActionMode::Execute {
            let would = serde_json::to_string(&proposal.remedy).unwrap_or_default();
            let detail = format!("{}: would carry out {would}", a.mode.as_str());
            return Some(self.result(&a.id, &a.service_id, now, ActionStatus::Skipped, detail));
        }
        let (status, detail) = match self
            .gateway
            .execute(&a.id, &a.incident_id, &a.service_id, proposal)
            .await
        {
            Ok(d) => {
                self.pending.push(Pending {
                    action_id: a.id.clone(),
                    service: a.service_id.clone(),
                    verified_at: now + i64::from(a.verification_window_s) * 1000 + self.grace_ms,
                });
                (ActionStatus::Succeeded, d)
            }
            Err(e) => (ActionStatus::Failed, e),
        };
        Some(self.result(&a.id, &a.service_id, now, status, detail))
    }

    /// Keep what was changed and not yet put back in the state file (written whole, then renamed).
    fn save(&mut self) -> Result<(), StageError> {
        let (Some(path), Some(state)) = (&self.state_file, self.gateway.unsaved_state()) else {
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, state.as_bytes())?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| StageError::Transient(format!("saving {}: {e}", path.display())))?;
        self.gateway.saved();
        Ok(())
    }
}

impl Stage for GatewayAgent {
    type In = ActionCommand;
    type Out = ActionResult;
    type Config = AgentConfig;
    const NAME: &'static str = "gateway_agent";

    async fn build(cfg: AgentConfig, _cx: &StageContext) -> Result<Self, BuildError> {
        if cfg.haproxy.backends.is_empty() {
            return Err(BuildError::Config(
                "[gateway_agent.haproxy] backends is empty: name the services this gateway fronts, e.g. { shop = \"app\" }"
                    .into(),
            ));
        }
        let mut gateway = Gateway::new(cfg.haproxy).ok_or_else(|| {
            BuildError::Config("[gateway_agent.haproxy] socket is empty: set HAProxy's runtime API address".into())
        })?;
        let state_file = (!cfg.state_file.is_empty()).then(|| std::path::PathBuf::from(&cfg.state_file));
        let mut resumed = Vec::new();
        if let Some(path) = &state_file
            && let Ok(saved) = std::fs::read_to_string(path)
        {
            match gateway.resume(&saved, None).await {
                Ok(ids) => {
                    tracing::info!(unjudged = ids.len(), file = %path.display(), "took over the remedies left in place");
                    resumed = ids;
                }
                Err(e) => {
                    return Err(BuildError::Config(format!(
                        "{}: {e} (move it aside to start afresh)",
                        path.display()
                    )));
                }
            }
        }
        // An unjudged remedy taken over counts as having worked once a default verification
        // window (120 s) and the grace have passed without a rollback.
        let grace_ms = (cfg.grace_s as i64) * 1000;
        let pending = resumed
            .into_iter()
            .map(|action_id| Pending {
                action_id,
                service: String::new(),
                verified_at: runtime::now_ms() + 120_000 + grace_ms,
            })
            .collect();
        Ok(Self {
            gateway,
            state_file,
            name: if cfg.name.is_empty() {
                "gateway-agent".into()
            } else {
                cfg.name
            },
            grace_ms,
            pending,
        })
    }

    async fn process(&mut self, batch: Vec<ActionCommand>, out: &mut Emitter<ActionResult>) -> Result<(), StageError> {
        for a in batch {
            if let Some(r) = self.handle(a).await {
                tracing::info!(action = %r.action_id, status = ?r.status, detail = %r.detail, "action handled");
                out.emit(r);
            }
        }
        self.save()
    }

    async fn on_tick(&mut self, now: i64, out: &mut Emitter<ActionResult>) -> Result<(), StageError> {
        self.gateway.observe().await;
        let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.verified_at <= now);
        self.pending = waiting;
        for p in due {
            // Not rolled back within its window: it worked; restore once its servers are healthy.
            tracing::info!(action = %p.action_id, service = %p.service, "not rolled back: probing its servers");
            self.gateway.verified(&p.action_id);
        }
        for r in self.gateway.restore_healthy().await {
            out.emit(self.result(
                &r.action_id,
                &r.service,
                now,
                ActionStatus::Succeeded,
                format!("restored: {}", r.detail),
            ));
        }
        self.save()
    }
}
