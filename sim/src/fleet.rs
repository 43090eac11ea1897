//! The fleet model.

use serde::Serialize;
use serde_json::json;

use crate::rng::Rng;

/// A route of a service.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Route template.
    pub path: String,
    /// Share of traffic (relative).
    pub weight: f64,
    /// Median latency, ms.
    pub median_ms: f64,
    /// Log-space spread.
    pub sigma: f64,
    /// Response size, bytes.
    pub bytes: u64,
}

/// A service of the fleet.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Service id.
    pub name: String,
    /// Routes.
    pub routes: Vec<RouteSpec>,
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// One instance's memory grows by this ratio of its limit per minute; at the limit it crashes,
    /// stays down a minute, restarts with fresh memory, and leaks again while the fault lasts.
    MemoryLeak {
        /// Growth per minute.
        ratio_per_min: f64,
    },
    /// Every route's latency grows by this factor of its median per minute.
    LatencyCreep {
        /// Growth per minute.
        factor_per_min: f64,
    },
    /// Requests fail with 5xx with this probability.
    ErrorBurst {
        /// Probability.
        error_probability: f64,
    },
}

impl FaultKind {
    /// The incident kind Homeostat should open for it.
    pub fn incident_kind(&self) -> &'static str {
        match self {
            FaultKind::MemoryLeak { .. } => "memory_leak",
            FaultKind::LatencyCreep { .. } => "latency_degradation",
            FaultKind::ErrorBurst { .. } => "error_burst",
        }
    }
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Service.
    pub service: String,
    /// Kind.
    pub kind: FaultKind,
    /// Start, seconds of simulated time after the fleet's start.
    pub start_s: f64,
    /// Duration, seconds.
    pub duration_s: f64,
}

/// A fault's label in event time, for scoring.
#[derive(Debug, Clone, Serialize)]
pub struct FaultLabel {
    /// Service.
    pub service: String,
    /// Kind.
    pub fault: FaultKind,
    /// Incident kind expected.
    pub incident_kind: &'static str,
    /// Start, ms since the epoch.
    pub start_ms: i64,
    /// End, ms since the epoch.
    pub end_ms: i64,
}

/// A route as (path, weight, median ms, sigma, bytes).
type RouteRow = (&'static str, f64, f64, f64, u64);

/// Fleet settings.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Services.
    pub services: Vec<ServiceSpec>,
    /// Instances per service.
    pub instances: u32,
    /// Mean requests per second per instance at the daily average.
    pub rps_per_instance: f64,
    /// Seconds between an instance's resource samples.
    pub resource_interval_s: u64,
    /// Start of simulated time, ms since the epoch.
    pub start_ms: i64,
    /// Seed.
    pub seed: u64,
    /// Faults.
    pub faults: Vec<Fault>,
}

impl FleetConfig {
    /// The default fleet: `n` services (up to 8) with realistic routes.
    pub fn standard(n: usize, start_ms: i64, seed: u64) -> Self {
        let catalogue: [(&str, &[RouteRow]); 8] = [
            (
                "checkout",
                &[
                    ("/api/checkout", 3.0, 45.0, 0.4, 2_000),
                    ("/api/checkout/{id}", 1.0, 25.0, 0.35, 1_200),
                ],
            ),
            (
                "payments",
                &[
                    ("/api/payments", 2.0, 60.0, 0.45, 800),
                    ("/api/payments/{id}/status", 3.0, 12.0, 0.3, 300),
                ],
            ),
            (
                "search",
                &[
                    ("/api/search", 5.0, 35.0, 0.6, 9_000),
                    ("/api/suggest", 2.0, 8.0, 0.4, 600),
                ],
            ),
            (
                "catalog",
                &[
                    ("/api/products", 4.0, 18.0, 0.4, 12_000),
                    ("/api/products/{id}", 6.0, 9.0, 0.35, 3_000),
                ],
            ),
            (
                "auth",
                &[
                    ("/api/login", 1.0, 80.0, 0.3, 500),
                    ("/api/token/refresh", 4.0, 6.0, 0.3, 400),
                ],
            ),
            (
                "cart",
                &[
                    ("/api/cart", 3.0, 14.0, 0.35, 1_500),
                    ("/api/cart/items", 2.0, 20.0, 0.4, 900),
                ],
            ),
            ("inventory", &[("/api/stock/{sku}", 5.0, 11.0, 0.3, 350)]),
            ("reviews", &[("/api/reviews/{id}", 3.0, 25.0, 0.5, 6_000)]),
        ];
        let services = catalogue
            .iter()
            .take(n.clamp(1, 8))
            .map(|(name, routes)| ServiceSpec {
                name: (*name).to_owned(),
                routes: routes
                    .iter()
                    .map(|(p, w, m, s, b)| RouteSpec {
                        path: (*p).to_owned(),
                        weight: *w,
                        median_ms: *m,
                        sigma: *s,
                        bytes: *b,
                    })
                    .collect(),
            })
            .collect();
        Self {
            services,
            instances: 3,
            rps_per_instance: 4.0,
            resource_interval_s: 5,
            start_ms,
            seed,
            faults: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Instance {
    memory_ratio: f64,
    base_memory: f64,
    down_until: Option<i64>,
    next_sample: i64,
    served_since_sample: u32,
    busy_ms_since_sample: f64,
    secs_since_sample: u32,
}

/// The running fleet.
pub struct Fleet {
    cfg: FleetConfig,
    rng: Rng,
    now_ms: i64,
    instances: Vec<Vec<Instance>>,
    produced: u64,
}

impl Fleet {
    /// A fleet at its start time.
    pub fn new(cfg: FleetConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let instances = cfg
            .services
            .iter()
            .map(|_| {
                (0..cfg.instances)
                    .map(|_| {
                        let base = 0.3 + 0.1 * rng.uniform();
                        Instance {
                            memory_ratio: base,
                            base_memory: base,
                            down_until: None,
                            next_sample: cfg.start_ms,
                            served_since_sample: 0,
                            busy_ms_since_sample: 0.0,
                            secs_since_sample: 0,
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            now_ms: cfg.start_ms,
            rng,
            instances,
            produced: 0,
            cfg,
        }
    }

    /// Simulated now, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Records produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Fault labels in event time.
    pub fn labels(&self) -> Vec<FaultLabel> {
        self.cfg
            .faults
            .iter()
            .map(|f| FaultLabel {
                service: f.service.clone(),
                fault: f.kind,
                incident_kind: f.kind.incident_kind(),
                start_ms: self.cfg.start_ms + (f.start_s * 1000.0) as i64,
                end_ms: self.cfg.start_ms + ((f.start_s + f.duration_s.min(1e9)) * 1000.0) as i64,
            })
            .collect()
    }

    fn active(&self, service: &str, t: i64) -> Vec<FaultKind> {
        let s = (t - self.cfg.start_ms) as f64 / 1000.0;
        self.cfg
            .faults
            .iter()
            .filter(|f| f.service == service && s >= f.start_s && s < f.start_s + f.duration_s)
            .map(|f| f.kind)
            .collect()
    }

    fn fault_age_min(&self, service: &str, t: i64, pred: impl Fn(&FaultKind) -> bool) -> f64 {
        let s = (t - self.cfg.start_ms) as f64 / 1000.0;
        self.cfg
            .faults
            .iter()
            .filter(|f| f.service == service && pred(&f.kind) && s >= f.start_s && s < f.start_s + f.duration_s)
            .map(|f| (s - f.start_s) / 60.0)
            .fold(0.0, f64::max)
    }

    /// Daily traffic shape: 1 on average, peaking mid-afternoon UTC, lowest at night.
    pub fn daily_factor(t_ms: i64) -> f64 {
        let hour = (t_ms.rem_euclid(86_400_000)) as f64 / 3_600_000.0;
        1.0 + 0.35 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin()
    }

    /// Advance one simulated second and return the records produced: (service key, JSON bytes).
    pub fn step_second(&mut self) -> Vec<(String, Vec<u8>)> {
        let t0 = self.now_ms;
        let mut out = Vec::new();
        let daily = Self::daily_factor(t0);
        for si in 0..self.cfg.services.len() {
            let svc = self.cfg.services[si].clone();
            let faults = self.active(&svc.name, t0);
            let creep = 1.0
                + self.fault_age_min(&svc.name, t0, |k| matches!(k, FaultKind::LatencyCreep { .. }))
                    * faults
                        .iter()
                        .find_map(|k| {
                            if let FaultKind::LatencyCreep { factor_per_min } = k {
                                Some(*factor_per_min)
                            } else {
                                None
                            }
                        })
                        .unwrap_or(0.0);
            let err_p = faults
                .iter()
                .find_map(|k| {
                    if let FaultKind::ErrorBurst { error_probability } = k {
                        Some(*error_probability)
                    } else {
                        None
                    }
                })
                .unwrap_or(0.0);
            let leak = faults.iter().find_map(|k| {
                if let FaultKind::MemoryLeak { ratio_per_min } = k {
                    Some(*ratio_per_min)
                } else {
                    None
                }
            });
            let total_w: f64 = svc.routes.iter().map(|r| r.weight).sum();
            let n_inst = self.cfg.instances as usize;
            for ii in 0..n_inst {
                let inst_name = format!("{}-{}", svc.name, ii);
                // Memory: leak on instance 0, crash at the limit, restart after a minute.
                {
                    let inst = &mut self.instances[si][ii];
                    if let Some(d) = inst.down_until
                        && t0 >= d
                    {
                        inst.down_until = None;
                        inst.memory_ratio = inst.base_memory;
                    }
                    if let (Some(rate), 0, None) = (leak, ii, inst.down_until) {
                        inst.memory_ratio += rate / 60.0;
                        if inst.memory_ratio >= 1.0 {
                            inst.down_until = Some(t0 + 60_000);
                        }
                    }
                }
                let down = self.instances[si][ii].down_until.is_some();
                let n = self.rng.poisson(self.cfg.rps_per_instance * daily);
                let mut busy_ms = 0.0;
                for _ in 0..n {
                    let ts = t0 + (self.rng.uniform() * 1000.0) as i64;
                    let mut pick = self.rng.uniform() * total_w;
                    let route = svc.routes.iter().find(|r| {
                        pick -= r.weight;
                        pick < 0.0
                    });
                    let route = route.unwrap_or(&svc.routes[0]);
                    let (status, latency) = if down {
                        (502u16, 1.0 + 2.0 * self.rng.uniform())
                    } else {
                        let lat = self.rng.lognormal(route.median_ms * creep, route.sigma);
                        let u = self.rng.uniform();
                        let status = if u < err_p {
                            if self.rng.uniform() < 0.8 { 500 } else { 503 }
                        } else if u < err_p + 0.002 {
                            500
                        } else if u < err_p + 0.012 {
                            404
                        } else {
                            200
                        };
                        (status, lat)
                    };
                    busy_ms += latency;
                    let method = if route.path.contains("login") || route.path == "/api/checkout" {
                        "POST"
                    } else {
                        "GET"
                    };
                    let rec = json!({
                        "schema_version": 1, "kind": "request", "service_id": svc.name, "instance_id": inst_name,
                        "timestamp": ts, "route": route.path, "method": method, "status": status,
                        "latency_ms": (latency * 1000.0).round() / 1000.0, "bytes_out": if status == 200 { route.bytes } else { 120 },
                    });
                    out.push((svc.name.clone(), rec.to_string().into_bytes()));
                }
                let inst = &mut self.instances[si][ii];
                inst.served_since_sample += n;
                inst.busy_ms_since_sample += busy_ms;
                inst.secs_since_sample += 1;
                if !down && t0 >= inst.next_sample {
                    inst.next_sample = t0 + self.cfg.resource_interval_s as i64 * 1000;
                    // CPU and connections are averages over the sampling interval, as agents report them.
                    let secs = f64::from(inst.secs_since_sample.max(1));
                    let load =
                        f64::from(inst.served_since_sample) / secs / (self.cfg.rps_per_instance * 1.35).max(1e-9);
                    let busy_ms = inst.busy_ms_since_sample / secs;
                    inst.served_since_sample = 0;
                    inst.busy_ms_since_sample = 0.0;
                    inst.secs_since_sample = 0;
                    let cpu = (0.15 + 0.35 * load + 0.03 * self.rng.normal()).clamp(0.01, 4.0);
                    let mem = (inst.memory_ratio + 0.003 * self.rng.normal()).clamp(0.01, 1.0);
                    let limit: u64 = 2 * 1024 * 1024 * 1024;
                    let conns = ((busy_ms / 1000.0) + 5.0 + self.rng.normal()).round().clamp(0.0, 200.0) as u32;
                    let rec = json!({
                        "schema_version": 1, "kind": "resource", "service_id": svc.name, "instance_id": inst_name,
                        "timestamp": chrono::DateTime::from_timestamp_millis(t0).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                        "cpu_ratio": (cpu * 1000.0).round() / 1000.0, "memory_bytes": (mem * limit as f64) as u64, "memory_limit_bytes": limit,
                        "connections": conns, "connection_limit": 100,
                    });
                    out.push((svc.name.clone(), rec.to_string().into_bytes()));
                }
            }
        }
        self.now_ms += 1000;
        self.produced += out.len() as u64;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_leak_crashes_the_instance_and_it_comes_back() {
        let mut cfg = FleetConfig::standard(1, 1_795_953_600_000, 7);
        cfg.faults.push(Fault {
            service: "checkout".into(),
            kind: FaultKind::MemoryLeak { ratio_per_min: 0.5 },
            start_s: 0.0,
            duration_s: 1e9,
        });
        let mut f = Fleet::new(cfg);
        let mut saw_502 = false;
        let mut max_mem: f64 = 0.0;
        for _ in 0..240 {
            for (_, bytes) in f.step_second() {
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                if v["status"] == 502 {
                    saw_502 = true;
                }
                if let Some(m) = v["memory_bytes"].as_f64() {
                    max_mem = max_mem.max(m / v["memory_limit_bytes"].as_f64().unwrap_or(1.0));
                }
            }
        }
        assert!(saw_502, "the crashed instance fails requests at the gateway");
        assert!(max_mem > 0.9, "{max_mem}");
        assert_eq!(f.labels()[0].incident_kind, "memory_leak");
    }

    #[test]
    fn traffic_follows_the_configured_rate() {
        let cfg = FleetConfig::standard(2, 1_795_953_600_000, 1);
        let mut f = Fleet::new(cfg);
        let n: usize = (0..300).map(|_| f.step_second().len()).sum();
        // 2 services × 3 instances × 4 rps × daily factor ≈ 24 rps, plus samples.
        assert!(n > 300 * 12 && n < 300 * 40, "{n}");
    }
}
