//! The actuator's own executor for services behind HAProxy (`[actuator.haproxy]`): in `execute`
//! mode it carries out the traffic remedies itself through the runtime API, as typed remedies
//! ([`crate::remedy`]) proposed on the backend's live state:
//!
//! - the faulty server is the ready primary that stands out: the highest share of 5xx responses
//!   over the last minute (at least twice any other's), or else the slowest to answer three HTTP
//!   probes made there and then (at least twice the others' median and 50 ms), or else the
//!   slowest by HAProxy's average response time;
//! - circuit breaker: drain it; gradual traffic shift: halve its weight, then again every
//!   `shift_step_s` down to 0 until the action is judged; load-balancer reconfiguration: double
//!   the healthy servers' weights and give it weight 1; routing-table update: drain it and enable
//!   the backup servers that were out of rotation;
//! - each remedy's precondition is checked on that state (a remedy that does not apply is skipped
//!   with the reason and the next candidate is tried), and its undo is computed before it runs;
//! - a remedy that failed verification is undone exactly; one that worked stays until its faulty
//!   servers answer `restore_after_probes` HTTP health probes in a row (a server found slow:
//!   within twice the others' answer time), then it is undone too.
//!
//! The same executor runs in the gateway agent ([`crate::agent`]) when HAProxy is out of the
//! actuator's reach.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use homeostat_schemas::Strategy;
use serde::Deserialize;

use crate::haproxy::{Runtime, Server, ServerState, Socket};
use crate::remedy::{self, Remedy};

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
    /// Seconds between the steps of a gradual traffic shift.
    pub shift_step_s: u64,
}

/// How far back "recent" responses go when looking for the faulty server.
const RECENT: Duration = Duration::from_secs(60);

/// A remedy proposed on a backend's live state.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The typed action.
    pub remedy: Remedy,
    /// Its undo, computed from the state before it runs (`None`: nothing to undo).
    pub undo: Option<Remedy>,
    /// What singled out the faulty server, e.g. `b2: 60 of 182 recent responses 5xx`.
    pub evidence: String,
    /// Primaries out of rotation now, plus those the remedy takes out.
    pub instances: usize,
    /// A server found slow is healthy again only if it answers within this many ms.
    pub healthy_within_ms: Option<u64>,
    /// Primaries the service has.
    pub instances_total: usize,
    backend: String,
    addresses: HashMap<String, String>,
    before: HashMap<String, ServerState>,
}

impl GatewayConfig {
    /// Time between the steps of a gradual traffic shift (20 s when unset).
    pub fn shift_step(&self) -> Duration {
        Duration::from_secs(if self.shift_step_s == 0 { 20 } else { self.shift_step_s })
    }
}

/// What an executed remedy changed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// Service.
    pub service: String,
    /// The incident the action was for.
    pub incident_id: String,
    /// Backend.
    pub backend: String,
    /// What was done.
    pub remedy: Remedy,
    /// How to undo it.
    pub undo: Option<Remedy>,
    /// Faulty servers and their addresses, probed before a verified remedy is undone.
    probes: Vec<(String, String)>,
    /// For a server found slow: a probe counts as healthy only within this many ms.
    healthy_within_ms: Option<u64>,
    /// Each server's state before, so an undo puts a server taken back out exactly as it was.
    before: HashMap<String, ServerState>,
    /// A gradual shift's weights still to come, and when the next is due (after a restart: one
    /// step from then).
    later: VecDeque<u32>,
    #[serde(skip, default = "Instant::now")]
    next_step: Instant,
}

/// A verified remedy waiting for its faulty servers to be healthy again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Waiting {
    action_id: String,
    applied: Applied,
    good: u32,
}

/// A remedy undone because its faulty servers are healthy again.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The action that had been carried out.
    pub action_id: String,
    /// Its incident.
    pub incident_id: String,
    /// Its service.
    pub service: String,
    /// What was done.
    pub detail: String,
}

/// What the executor has changed and not yet put back: kept across restarts, so a drained server
/// is still undone or restored by the next process.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    applied: HashMap<String, Applied>,
    waiting: Vec<Waiting>,
}

/// The executor.
pub struct Gateway {
    cfg: GatewayConfig,
    rt: Runtime,
    applied: HashMap<String, Applied>,
    waiting: Vec<Waiting>,
    /// Changed since the state was last saved.
    dirty: bool,
    history: HashMap<String, VecDeque<(Instant, Vec<Server>)>>,
    client: reqwest::Client,
}

/// A server that stands out, and why.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    server: String,
    evidence: String,
    /// Found slow: a probe counts as healthy again only within this many ms (twice the others'
    /// median at decision time, at least 50 ms).
    healthy_within_ms: Option<u64>,
}

/// The ready primaries of `now` (at least two, or none: one server has nobody to compare with).
fn ready_primaries(now: &[Server]) -> Vec<&Server> {
    let ready: Vec<&Server> = now
        .iter()
        .filter(|s| !s.backup && s.state == ServerState::Ready)
        .collect();
    if ready.len() < 2 { Vec::new() } else { ready }
}

/// The ready primary that stands out by its share of 5xx responses since `base` (at least twice
/// any other's), with the evidence.
fn by_errors(now: &[Server], base: Option<&[Server]>) -> Option<Finding> {
    let since = |s: &Server| {
        let b = base.and_then(|b| b.iter().find(|x| x.name == s.name));
        (
            s.errors_5xx.saturating_sub(b.map_or(0, |b| b.errors_5xx)),
            s.sessions.saturating_sub(b.map_or(0, |b| b.sessions)),
        )
    };
    let ready = ready_primaries(now);
    let share = |s: &Server| {
        let (e, n) = since(s);
        e as f64 / n.max(1) as f64
    };
    let worst = ready.iter().copied().max_by(|a, b| share(a).total_cmp(&share(b)))?;
    let (e, n) = since(worst);
    let others = ready
        .iter()
        .filter(|s| s.name != worst.name)
        .map(|s| share(s))
        .fold(0.0, f64::max);
    (e > 0 && share(worst) >= 2.0 * others).then(|| Finding {
        server: worst.name.clone(),
        evidence: format!("{}: {e} of {n} recent responses 5xx", worst.name),
        healthy_within_ms: None,
    })
}

/// The ready primary that stands out as slow: `latency_ms` of it at least twice the others'
/// median and at least 50 ms; `what` names the measure in the evidence.
fn by_latency(now: &[Server], latency_ms: &dyn Fn(&Server) -> u64, what: &str) -> Option<Finding> {
    let ready = ready_primaries(now);
    let slowest = ready.iter().copied().max_by_key(|s| latency_ms(s))?;
    let mut rest: Vec<u64> = ready
        .iter()
        .filter(|s| s.name != slowest.name)
        .map(|s| latency_ms(s))
        .collect();
    rest.sort_unstable();
    let median = rest[rest.len() / 2];
    let slow = latency_ms(slowest);
    (slow >= 50 && slow >= 2 * median).then(|| Finding {
        server: slowest.name.clone(),
        evidence: format!("{}: {slow} ms {what}, others {median} ms", slowest.name),
        healthy_within_ms: Some((2 * median).max(50)),
    })
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
            waiting: Vec::new(),
            dirty: false,
            history: HashMap::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        })
    }

    /// What it has changed and not yet put back, as JSON, if that changed since it was last
    /// [saved](Self::saved).
    pub fn unsaved_state(&self) -> Option<String> {
        if !self.dirty {
            return None;
        }
        let s = State {
            applied: self.applied.clone(),
            waiting: self.waiting.clone(),
        };
        serde_json::to_string(&s).ok()
    }

    /// The state from [`Self::unsaved_state`] is safely kept.
    pub fn saved(&mut self) {
        self.dirty = false;
    }

    /// Take over what an earlier process changed and had not yet put back; a clear error when
    /// the saved state does not parse. A remedy among `judged` (all when `None`) stays as it
    /// was, to be confirmed or rolled back. Any other is treated as having worked: its faulty
    /// servers are probed and it is undone once they are healthy (one with nothing to probe is
    /// undone now). Returns the action ids kept.
    pub async fn resume(&mut self, json: &str, judged: Option<&[String]>) -> Result<Vec<String>, String> {
        let s: State = serde_json::from_str(json).map_err(|e| format!("saved gateway state: {e}"))?;
        self.waiting = s.waiting;
        self.dirty = true;
        let step = self.step();
        let mut kept = Vec::new();
        for (id, mut a) in s.applied {
            if judged.is_none_or(|j| j.contains(&id)) {
                a.next_step = Instant::now() + step;
                kept.push(id.clone());
                self.applied.insert(id, a);
            } else if a.undo.is_some() && !a.probes.is_empty() {
                self.waiting.push(Waiting {
                    action_id: id,
                    applied: a,
                    good: 0,
                });
            } else if let Some(u) = &a.undo
                && let Err(e) = self.apply(&a.backend, u, &a.before).await
            {
                tracing::warn!(error = %e, action = %id, "undoing a remedy left by an earlier process failed");
            }
        }
        Ok(kept)
    }

    /// Is `service` behind the gateway?
    pub fn serves(&self, service: &str) -> bool {
        self.cfg.backends.contains_key(service)
    }

    /// Does this executor carry out `strategy` for `service`?
    pub fn handles(&self, service: &str, strategy: Strategy) -> bool {
        self.serves(service)
            && matches!(
                strategy,
                Strategy::CircuitBreakerActivation
                    | Strategy::GradualTrafficShift
                    | Strategy::LoadBalancerReconfiguration
                    | Strategy::RoutingTableUpdate
            )
    }

    fn step(&self) -> Duration {
        self.cfg.shift_step()
    }

    /// Take the next step of every gradual shift that is due (each tick) and has not yet been
    /// judged: a shift that helped or was rolled back stops where it is.
    async fn advance_shifts(&mut self) {
        let now = Instant::now();
        let step = self.step();
        let mut due = Vec::new();
        for (id, a) in &mut self.applied {
            if now >= a.next_step
                && let (Some(w), Remedy::GradualTrafficShift { instance, .. }) = (a.later.front().copied(), &a.remedy)
            {
                due.push((id.clone(), a.backend.clone(), instance.clone(), w));
                a.next_step = now + step;
            }
        }
        for (id, backend, instance, w) in due {
            match self.rt.set_weight(&backend, &instance, w).await {
                Ok(()) => {
                    tracing::info!(action = %id, server = %instance, weight = w, "gradual shift: next step");
                    if let Some(a) = self.applied.get_mut(&id) {
                        a.later.pop_front();
                        self.dirty = true;
                    }
                }
                Err(e) => tracing::warn!(error = %e, server = %instance, "gradual shift step failed; retrying"),
            }
        }
    }

    /// Sample every backend's counters and advance gradual shifts (each tick).
    pub async fn observe(&mut self) {
        self.advance_shifts().await;
        let now = Instant::now();
        let backends: Vec<String> = self.cfg.backends.values().cloned().collect();
        for b in backends {
            if let Ok(servers) = self.rt.servers(&b).await {
                let h = self.history.entry(b).or_default();
                h.push_back((now, servers));
                while h.front().is_some_and(|(t, _)| now.duration_since(*t) > RECENT) {
                    h.pop_front();
                }
            }
        }
    }

    /// Propose `strategy` for `service` on the backend's live state: the typed remedy with its
    /// undo, or why it does not apply.
    pub async fn propose(
        &self,
        service: &str,
        strategy: Strategy,
        now: remedy::Indicators,
    ) -> Result<Proposal, String> {
        let backend = self
            .cfg
            .backends
            .get(service)
            .cloned()
            .ok_or_else(|| format!("{service} is not behind the gateway"))?;
        let servers = self.rt.servers(&backend).await.map_err(|e| e.to_string())?;
        let base = self
            .history
            .get(&backend)
            .and_then(|h| h.front())
            .map(|(_, s)| s.as_slice());
        let addresses: HashMap<String, String> = self
            .rt
            .addresses(&backend)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        // Errors first; else slowness, measured now by probing each ready server (HAProxy's own
        // average spans its last 1024 requests and moves slowly), else HAProxy's average.
        let mut found = by_errors(&servers, base);
        if found.is_none() {
            let probed = self.probe_latencies(&servers, &addresses).await;
            found = by_latency(
                &servers,
                &|s| probed.get(&s.name).copied().unwrap_or(0),
                "to answer a probe (median of 3)",
            )
            .or_else(|| by_latency(&servers, &|s| s.rtime_ms, "average response time"));
        }
        let worst = found.as_ref().map(|f| f.server.clone());
        let ctx = remedy::Context {
            service: service.to_owned(),
            instances: servers
                .iter()
                .map(|s| remedy::Instance {
                    name: s.name.clone(),
                    healthy: s.state == ServerState::Ready && worst.as_ref() != Some(&s.name),
                    ready: s.state == ServerState::Ready,
                    weight: s.weight,
                    backup: s.backup,
                })
                .collect(),
            now,
            ..Default::default()
        };
        let remedy = remedy::propose(strategy, &ctx).map_err(|e| e.to_string())?;
        let undo = remedy.rollback(&ctx);
        let primaries = servers.iter().filter(|s| !s.backup);
        let out = primaries.clone().filter(|s| s.state != ServerState::Ready).count();
        let takes = remedy.takes_out();
        Ok(Proposal {
            instances: if takes == 0 { 0 } else { out + takes },
            instances_total: primaries.count(),
            undo,
            remedy,
            evidence: found.as_ref().map(|f| f.evidence.clone()).unwrap_or_default(),
            healthy_within_ms: found.and_then(|f| f.healthy_within_ms),
            backend,
            addresses,
            before: servers.iter().map(|s| (s.name.clone(), s.state)).collect(),
        })
    }

    /// Each ready primary's time to answer `GET /`, the median of 3 probes in ms (a probe that
    /// fails or times out counts as 2000 ms).
    async fn probe_latencies(&self, servers: &[Server], addresses: &HashMap<String, String>) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for s in ready_primaries(servers) {
            let Some(addr) = addresses.get(&s.name).filter(|a| !a.is_empty()) else {
                continue;
            };
            let mut times = Vec::with_capacity(3);
            for _ in 0..3 {
                let t0 = Instant::now();
                let ok = self.client.get(format!("http://{addr}/")).send().await.is_ok();
                times.push(if ok { t0.elapsed().as_millis() as u64 } else { 2000 });
            }
            times.sort_unstable();
            out.insert(s.name.clone(), times[1]);
        }
        out
    }

    /// Carry out a proposed remedy; the detail for the record.
    pub async fn execute(
        &mut self,
        action_id: &str,
        incident_id: &str,
        service: &str,
        p: Proposal,
    ) -> Result<String, String> {
        let detail = match self.apply(&p.backend, &p.remedy, &p.before).await {
            Ok(d) => d,
            Err(e) => {
                // Whatever part of it was done is put back.
                if let Some(u) = &p.undo {
                    let _ = self.apply(&p.backend, u, &p.before).await;
                }
                return Err(e);
            }
        };
        let later: VecDeque<u32> = match &p.remedy {
            Remedy::GradualTrafficShift { steps, .. } => steps.iter().skip(1).copied().collect(),
            _ => VecDeque::new(),
        };
        let probes = p
            .remedy
            .faulty()
            .into_iter()
            .map(|n| {
                let a = p.addresses.get(&n).cloned().unwrap_or_default();
                (n, a)
            })
            .collect();
        self.dirty = true;
        self.applied.insert(
            action_id.to_owned(),
            Applied {
                service: service.to_owned(),
                incident_id: incident_id.to_owned(),
                backend: p.backend,
                remedy: p.remedy,
                undo: p.undo,
                probes,
                healthy_within_ms: p.healthy_within_ms,
                before: p.before,
                later,
                next_step: Instant::now() + self.step(),
            },
        );
        Ok(if p.evidence.is_empty() {
            detail
        } else {
            format!("{detail} ({})", p.evidence)
        })
    }

    /// Carry out one typed remedy on `backend` through the runtime API. A server a restore takes
    /// back out of rotation returns to its state in `before` (maintenance or drain).
    async fn apply(&self, backend: &str, r: &Remedy, before: &HashMap<String, ServerState>) -> Result<String, String> {
        let e = |e: crate::haproxy::HaproxyError| e.to_string();
        match r {
            Remedy::CircuitBreakerActivation { instance, .. } => {
                self.rt
                    .set_state(backend, instance, ServerState::Drain)
                    .await
                    .map_err(e)?;
                Ok(format!("drained {backend}/{instance}"))
            }
            Remedy::GradualTrafficShift {
                instance,
                from_weight,
                steps,
            } => {
                let first = steps.first().copied().unwrap_or(0);
                self.rt.set_weight(backend, instance, first).await.map_err(e)?;
                let rest: Vec<String> = steps.iter().skip(1).map(u32::to_string).collect();
                Ok(if rest.is_empty() {
                    format!("weight of {backend}/{instance} {from_weight} → {first}")
                } else {
                    format!(
                        "weight of {backend}/{instance} {from_weight} → {first}, then {} every {} s",
                        rest.join(", "),
                        self.step().as_secs()
                    )
                })
            }
            Remedy::LoadBalancerReconfiguration { weights } => {
                for (s, w) in weights {
                    self.rt.set_weight(backend, s, *w).await.map_err(e)?;
                }
                let list: Vec<String> = weights.iter().map(|(s, w)| format!("{s} {w}")).collect();
                Ok(format!("weights of {backend}: {}", list.join(", ")))
            }
            Remedy::RoutingTableUpdate { enable, drain } => {
                for s in enable {
                    self.rt.set_state(backend, s, ServerState::Ready).await.map_err(e)?;
                }
                for s in drain {
                    self.rt.set_state(backend, s, ServerState::Drain).await.map_err(e)?;
                }
                Ok(format!(
                    "routed {backend} to its backups (drained {}; enabled {})",
                    list_or_none(drain),
                    list_or_none(enable)
                ))
            }
            Remedy::Restore { ready, drain } => {
                for s in ready {
                    self.rt.set_state(backend, s, ServerState::Ready).await.map_err(e)?;
                }
                let mut parts: Vec<String> = ready.iter().map(|s| format!("{backend}/{s} ready")).collect();
                for s in drain {
                    let to = before
                        .get(s)
                        .copied()
                        .filter(|st| matches!(st, ServerState::Maint | ServerState::Drain))
                        .unwrap_or(ServerState::Drain);
                    self.rt.set_state(backend, s, to).await.map_err(e)?;
                    parts.push(format!(
                        "{backend}/{s} {}",
                        if to == ServerState::Maint {
                            "in maintenance"
                        } else {
                            "drained"
                        }
                    ));
                }
                Ok(parts.join(", "))
            }
            other => Err(format!("{other:?} is not a gateway action")),
        }
    }

    /// Did this executor carry out `action_id`?
    pub fn applied(&self, action_id: &str) -> Option<&Applied> {
        self.applied.get(action_id)
    }

    /// Undo an action exactly, by its undo computed before it ran.
    pub async fn undo(&mut self, action_id: &str) -> Result<String, String> {
        let a = self
            .applied
            .remove(action_id)
            .ok_or_else(|| format!("{action_id} was not carried out here"))?;
        self.dirty = true;
        match &a.undo {
            Some(u) => self.apply(&a.backend, u, &a.before).await,
            None => Ok("nothing to undo".into()),
        }
    }

    /// The action helped: it stays until its faulty servers are healthy again.
    pub fn verified(&mut self, action_id: &str) {
        self.dirty |= self.applied.contains_key(action_id);
        if let Some(a) = self.applied.remove(action_id)
            && a.undo.is_some()
            && !a.probes.is_empty()
        {
            self.waiting.push(Waiting {
                action_id: action_id.to_owned(),
                applied: a,
                good: 0,
            });
        }
    }

    /// Probe the faulty servers of verified remedies; once all of a remedy's answer
    /// `restore_after_probes` times in a row, undo it.
    pub async fn restore_healthy(&mut self) -> Vec<Restored> {
        let mut restored = Vec::new();
        let need = self.cfg.restore_after_probes.max(1);
        let mut keep = Vec::new();
        for mut w in std::mem::take(&mut self.waiting) {
            let mut ok = true;
            for (_, address) in &w.applied.probes {
                let t0 = Instant::now();
                ok &= !address.is_empty()
                    && self
                        .client
                        .get(format!("http://{address}/"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                    && w.applied
                        .healthy_within_ms
                        .is_none_or(|max| t0.elapsed().as_millis() as u64 <= max);
            }
            w.good = if ok { w.good + 1 } else { 0 };
            if w.good < need {
                keep.push(w);
                continue;
            }
            let a = &w.applied;
            let Some(undo) = &a.undo else { continue };
            match self.apply(&a.backend, undo, &a.before).await {
                Ok(done) => {
                    let names: Vec<String> = a.probes.iter().map(|(n, _)| format!("{}/{n}", a.backend)).collect();
                    restored.push(Restored {
                        action_id: w.action_id.clone(),
                        incident_id: a.incident_id.clone(),
                        service: a.service.clone(),
                        detail: format!(
                            "{} healthy {need} times in a row: back in rotation ({done})",
                            names.join(", ")
                        ),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, service = %a.service, "restoring servers failed; retrying");
                    keep.push(w);
                }
            }
        }
        self.dirty |= !restored.is_empty();
        self.waiting = keep;
        restored
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The faulty server among `now`'s ready primaries: by recent errors, else by HAProxy's average
    /// response time (over its last 1024 requests, slow to move).
    fn faulty(now: &[Server], base: Option<&[Server]>) -> Option<(String, String)> {
        by_errors(now, base)
            .or_else(|| by_latency(now, &|s| s.rtime_ms, "average response time"))
            .map(|f| (f.server, f.evidence))
    }

    fn srv(name: &str, e5: u64, n: u64, rtime: u64) -> Server {
        Server {
            name: name.into(),
            state: ServerState::Ready,
            weight: 1,
            sessions: n,
            errors_5xx: e5,
            backup: false,
            rtime_ms: rtime,
        }
    }

    #[test]
    fn a_slow_server_is_healthy_again_within_twice_the_others_answer_time() {
        let now = [srv("b1", 0, 100, 40), srv("b2", 0, 100, 412), srv("b3", 0, 100, 45)];
        let f = by_latency(&now, &|s| s.rtime_ms, "average response time").expect("b2");
        assert_eq!((f.server.as_str(), f.healthy_within_ms), ("b2", Some(90)));
        let now = [srv("b1", 0, 100, 3), srv("b2", 40, 100, 3), srv("b3", 0, 100, 3)];
        assert_eq!(by_errors(&now, None).expect("b2").healthy_within_ms, None);
    }

    #[test]
    fn the_faulty_server_stands_out_by_recent_errors_or_slowness() {
        let now = [srv("b1", 0, 100, 3), srv("b2", 40, 100, 3), srv("b3", 1, 100, 3)];
        assert_eq!(faulty(&now, None).map(|f| f.0).as_deref(), Some("b2"));
        // b2's errors are old: over the last minute b3 fails.
        let base = [srv("b1", 0, 50, 3), srv("b2", 40, 50, 3), srv("b3", 1, 50, 3)];
        let now = [srv("b1", 0, 100, 3), srv("b2", 40, 100, 3), srv("b3", 30, 100, 3)];
        let (name, why) = faulty(&now, Some(&base)).expect("b3");
        assert_eq!(
            (name.as_str(), why.as_str()),
            ("b3", "b3: 29 of 50 recent responses 5xx")
        );
        // Every server fails alike: none stands out.
        let now = [srv("b1", 30, 100, 3), srv("b2", 30, 100, 3), srv("b3", 30, 100, 3)];
        assert_eq!(faulty(&now, None), None);
        // No errors, one slow server.
        let now = [srv("b1", 0, 100, 4), srv("b2", 0, 100, 420), srv("b3", 0, 100, 5)];
        assert_eq!(
            faulty(&now, None),
            Some(("b2".into(), "b2: 420 ms average response time, others 5 ms".into()))
        );
        let now = [srv("b1", 0, 100, 4), srv("b2", 0, 100, 7), srv("b3", 0, 100, 5)];
        assert_eq!(faulty(&now, None), None, "a few ms apart is noise");
    }
}
