//! The actuator's own executor for services behind HAProxy (`[actuator.haproxy]`): in `execute`
//! mode it carries out the traffic remedies itself through the runtime API, keeps what it changed
//! so the undo is exact, and puts a drained server back into rotation once it answers again.
//!
//! - circuit breaker: drain the server with the most 5xx responses;
//! - gradual traffic shift: halve that server's weight;
//! - undo: the server's recorded state and weight;
//! - restore: after a remedy was verified, the drained server is probed over HTTP every tick;
//!   after `restore_after_probes` good answers in a row it is made ready again.

use std::collections::HashMap;
use std::time::Duration;

use homeostat_schemas::Strategy;
use serde::Deserialize;

use crate::haproxy::{Runtime, ServerState, Socket};

/// `[actuator.haproxy]` configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// The runtime API socket (`127.0.0.1:9999` or a unix path); "" = no gateway executor.
    pub socket: String,
    /// HAProxy backend of each service.
    pub backends: HashMap<String, String>,
    /// Good health probes in a row before a drained server is restored.
    pub restore_after_probes: u32,
}

/// What an executed remedy changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Service.
    pub service: String,
    /// The incident the action was for.
    pub incident_id: String,
    /// Backend.
    pub backend: String,
    /// Server changed.
    pub server: String,
    /// Its state before.
    pub state: ServerState,
    /// Its weight before.
    pub weight: u32,
    /// Its address, for health probes.
    pub address: String,
}

/// A server waiting to be restored.
#[derive(Debug, Clone)]
struct Draining {
    applied: Applied,
    good: u32,
}

/// The executor.
pub struct Gateway {
    cfg: GatewayConfig,
    rt: Runtime,
    applied: HashMap<String, Applied>,
    draining: Vec<Draining>,
    client: reqwest::Client,
}

impl Gateway {
    /// An executor, if a socket is configured.
    pub fn new(cfg: GatewayConfig) -> Option<Self> {
        if cfg.socket.is_empty() {
            return None;
        }
        Some(Self {
            rt: Runtime::new(Socket::parse(&cfg.socket), Duration::from_secs(2)),
            cfg,
            applied: HashMap::new(),
            draining: Vec::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        })
    }

    /// Does this executor carry out `strategy` for `service`?
    pub fn handles(&self, service: &str, strategy: Strategy) -> bool {
        self.cfg.backends.contains_key(service)
            && matches!(
                strategy,
                Strategy::CircuitBreakerActivation | Strategy::GradualTrafficShift
            )
    }

    /// For a service behind HAProxy: (instances an action would have out of rotation at once,
    /// counting the ones already out, and the instances the service has).
    pub async fn instances(&self, service: &str) -> Option<(usize, usize)> {
        let backend = self.cfg.backends.get(service)?;
        let servers = self.rt.servers(backend).await.ok()?;
        let out = servers.iter().filter(|s| s.state != ServerState::Ready).count();
        Some((out + 1, servers.len()))
    }

    /// Carry out an action; the detail for the record.
    pub async fn execute(
        &mut self,
        action_id: &str,
        incident_id: &str,
        service: &str,
        strategy: Strategy,
    ) -> Result<String, String> {
        let backend = self
            .cfg
            .backends
            .get(service)
            .cloned()
            .ok_or_else(|| format!("no backend for {service}"))?;
        let servers = self.rt.servers(&backend).await.map_err(|e| e.to_string())?;
        let ready = servers.iter().filter(|s| s.state == ServerState::Ready).count();
        let worst = servers
            .iter()
            .filter(|s| s.state == ServerState::Ready && s.errors_5xx > 0)
            .max_by_key(|s| s.errors_5xx)
            .ok_or_else(|| format!("no server of {backend} stands out with 5xx responses"))?;
        if ready < 2 {
            return Err(format!("{backend} has no other ready server to take the traffic"));
        }
        let address = self
            .rt
            .addresses(&backend)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|(n, _)| *n == worst.name)
            .map(|(_, a)| a)
            .unwrap_or_default();
        let detail = match strategy {
            Strategy::CircuitBreakerActivation => {
                self.rt
                    .set_state(&backend, &worst.name, ServerState::Drain)
                    .await
                    .map_err(|e| e.to_string())?;
                format!("drained {backend}/{} ({} 5xx responses)", worst.name, worst.errors_5xx)
            }
            Strategy::GradualTrafficShift => {
                let to = worst.weight / 2;
                self.rt
                    .set_weight(&backend, &worst.name, to)
                    .await
                    .map_err(|e| e.to_string())?;
                format!("weight of {backend}/{} {} → {to}", worst.name, worst.weight)
            }
            other => return Err(format!("{} is not a gateway action", other.as_str())),
        };
        self.applied.insert(
            action_id.to_owned(),
            Applied {
                service: service.to_owned(),
                incident_id: incident_id.to_owned(),
                backend,
                server: worst.name.clone(),
                state: worst.state,
                weight: worst.weight,
                address,
            },
        );
        Ok(detail)
    }

    /// Did this executor carry out `action_id`?
    pub fn applied(&self, action_id: &str) -> Option<&Applied> {
        self.applied.get(action_id)
    }

    /// Undo an action exactly: the server's recorded state and weight.
    pub async fn undo(&mut self, action_id: &str) -> Result<String, String> {
        let a = self
            .applied
            .remove(action_id)
            .ok_or_else(|| format!("{action_id} was not carried out here"))?;
        self.rt
            .set_weight(&a.backend, &a.server, a.weight)
            .await
            .map_err(|e| e.to_string())?;
        self.rt
            .set_state(&a.backend, &a.server, a.state)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{}/{} back to weight {} and {:?}",
            a.backend, a.server, a.weight, a.state
        ))
    }

    /// The action helped: its server stays out until it is healthy again.
    pub fn verified(&mut self, action_id: &str) {
        if let Some(a) = self.applied.remove(action_id) {
            self.draining.push(Draining { applied: a, good: 0 });
        }
    }

    /// Probe drained servers; restore those healthy `restore_after_probes` times in a row.
    /// Returns (incident id, detail) for each restored server.
    pub async fn restore_healthy(&mut self) -> Vec<(String, String)> {
        let mut restored = Vec::new();
        let need = self.cfg.restore_after_probes.max(1);
        let mut keep = Vec::new();
        for mut d in std::mem::take(&mut self.draining) {
            let ok = !d.applied.address.is_empty()
                && self
                    .client
                    .get(format!("http://{}/", d.applied.address))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            d.good = if ok { d.good + 1 } else { 0 };
            if d.good < need {
                keep.push(d);
                continue;
            }
            let a = &d.applied;
            let done = async {
                self.rt.set_weight(&a.backend, &a.server, a.weight).await?;
                self.rt.set_state(&a.backend, &a.server, ServerState::Ready).await
            }
            .await;
            match done {
                Ok(()) => restored.push((
                    a.incident_id.clone(),
                    format!(
                        "{}/{} healthy {need} times in a row: back in rotation",
                        a.backend, a.server
                    ),
                )),
                Err(e) => {
                    tracing::warn!(error = %e, server = %a.server, "restoring a server failed; retrying");
                    keep.push(d);
                }
            }
        }
        self.draining = keep;
        restored
    }
}
