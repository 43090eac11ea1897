//! The robust baseline model: for each service and monitored feature, the median and the scaled
//! median absolute deviation (MAD) of its recent normal windows. A feature deviates in the
//! direction that hurts users (latency up, traffic down, …); its robust deviation is
//! `(value − median) / max(1.4826·MAD, floor)`, where the floor keeps near-constant features
//! (an error rate that is always 0) from alerting on noise.

use std::collections::{HashMap, VecDeque};

use homeostat_schemas::{Contribution, FeatureId as F, FeatureWindow};

use crate::{DetectorConfig, Model, ModelScore};

/// Which way a feature goes bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// Higher is worse.
    Up,
    /// Lower is worse.
    Down,
}

/// A monitored feature with its deviation floor (absolute, and relative to the median).
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// Feature.
    pub feature: F,
    /// Bad direction.
    pub direction: Direction,
    /// Smallest scale, in the feature's unit.
    pub abs_floor: f64,
    /// Smallest scale as a fraction of the median.
    pub rel_floor: f64,
}

/// The features the baseline model watches.
pub const WATCHED: &[Watched] = &[
    Watched {
        feature: F::LatencyP50,
        direction: Direction::Up,
        abs_floor: 2.0,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::LatencyP99,
        direction: Direction::Up,
        abs_floor: 5.0,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::LatencyMean,
        direction: Direction::Up,
        abs_floor: 2.0,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::ErrorRate,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::ErrorRate5xx,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::ErrorRateTimeout,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::RequestRate,
        direction: Direction::Down,
        abs_floor: 0.2,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::MemoryMax,
        direction: Direction::Up,
        abs_floor: 0.01,
        rel_floor: 0.0,
    },
    Watched {
        feature: F::MemorySlope,
        direction: Direction::Up,
        abs_floor: 2e-5,
        rel_floor: 0.0,
    },
    Watched {
        feature: F::CpuMax,
        direction: Direction::Up,
        abs_floor: 0.03,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::ConnectionUtilizationMax,
        direction: Direction::Up,
        abs_floor: 0.03,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::Staleness,
        direction: Direction::Up,
        abs_floor: 3.0,
        rel_floor: 0.0,
    },
];

/// Median of a non-empty slice (sorts a copy).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Default)]
struct ServiceHistory {
    windows: usize,
    values: HashMap<&'static str, VecDeque<f64>>,
}

/// The robust baseline model.
pub struct RobustBaseline {
    warmup: usize,
    history: usize,
    threshold: f64,
    services: HashMap<String, ServiceHistory>,
}

impl RobustBaseline {
    /// A model with the detector's settings.
    pub fn new(cfg: &DetectorConfig) -> Self {
        Self {
            warmup: cfg.warmup_windows,
            history: cfg.history_windows,
            threshold: cfg.threshold,
            services: HashMap::new(),
        }
    }
}

impl RobustBaseline {
    /// Services with a history.
    pub fn service_ids(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// A service's learned windows and per-feature histories (for checkpoints).
    pub fn export(&self, service: &str) -> (usize, Vec<(&'static str, Vec<f64>)>) {
        match self.services.get(service) {
            None => (0, Vec::new()),
            Some(h) => (
                h.windows,
                h.values
                    .iter()
                    .map(|(k, v)| (*k, v.iter().copied().collect()))
                    .collect(),
            ),
        }
    }

    /// Restore what [`RobustBaseline::export`] returned; features not watched are ignored.
    pub fn import(&mut self, service: &str, windows: usize, features: Vec<(String, Vec<f64>)>) {
        let h = self.services.entry(service.to_owned()).or_default();
        h.windows = windows;
        for (name, values) in features {
            if let Some(spec) = WATCHED.iter().find(|w| w.feature.name() == name) {
                let mut q: VecDeque<f64> = values.into();
                while q.len() > self.history {
                    q.pop_front();
                }
                h.values.insert(spec.feature.name(), q);
            }
        }
    }
}

/// Map a robust deviation to a score in [0, 1]: 0.5 at the threshold, logistic around it.
pub fn score_of(deviation: f64, threshold: f64) -> f64 {
    if deviation <= 0.0 {
        return 0.0;
    }
    let s = 1.0 / (1.0 + (-(deviation - threshold) / (threshold / 6.0)).exp());
    // Below a third of the threshold, nothing at all.
    if deviation < threshold / 3.0 { 0.0 } else { s }
}

impl Model for RobustBaseline {
    fn name(&self) -> &'static str {
        "robust_baseline"
    }

    fn score(&mut self, w: &FeatureWindow) -> ModelScore {
        let Some(h) = self.services.get(&w.service_id) else {
            return ModelScore {
                warming_up: true,
                ..ModelScore::default()
            };
        };
        let mut contributions = Vec::new();
        for spec in WATCHED {
            let (Some(x), Some(hist)) = (w.get(spec.feature), h.values.get(spec.feature.name())) else {
                continue;
            };
            if hist.len() < self.warmup.min(10) {
                continue;
            }
            let xs: Vec<f64> = hist.iter().copied().collect();
            let med = median(&xs);
            let devs: Vec<f64> = xs.iter().map(|v| (v - med).abs()).collect();
            let scale = (1.4826 * median(&devs))
                .max(spec.abs_floor)
                .max(spec.rel_floor * med.abs());
            let signed = (x - med) / scale;
            let bad = match spec.direction {
                Direction::Up => signed,
                Direction::Down => -signed,
            };
            contributions.push(Contribution {
                feature: spec.feature.name().to_owned(),
                value: x,
                baseline: med,
                deviation: bad,
            });
        }
        contributions.sort_by(|a, b| b.deviation.total_cmp(&a.deviation));
        contributions.retain(|c| c.deviation > 0.0);
        let top = contributions.first().map_or(0.0, |c| c.deviation);
        ModelScore {
            score: score_of(top, self.threshold),
            contributions,
            warming_up: h.windows < self.warmup,
        }
    }

    fn learn(&mut self, w: &FeatureWindow, normal: bool) {
        let h = self.services.entry(w.service_id.clone()).or_default();
        if !normal && h.windows >= self.warmup {
            return;
        }
        h.windows += 1;
        for spec in WATCHED {
            if let Some(x) = w.get(spec.feature) {
                let q = h.values.entry(spec.feature.name()).or_default();
                q.push_back(x);
                while q.len() > self.history {
                    q.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn window(t: i64, p99: f64, rate: f64) -> FeatureWindow {
        FeatureWindow {
            schema_version: 1,
            id: format!("w{t}"),
            event_time: t,
            service_id: "svc".into(),
            window_start: t - 60_000,
            event_count: 1,
            late_events: 0,
            features: BTreeMap::from([("latency_p99_ms".into(), p99), ("request_rate_rps".into(), rate)]),
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn scores_in_the_bad_direction_only_and_explains() {
        let cfg = DetectorConfig {
            warmup_windows: 20,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        for i in 0..40 {
            // p99 around 100 ms ± 5, rate around 50 rps ± 2.
            let w = window(
                i,
                100.0 + ((i % 5) as f64 - 2.0) * 2.5,
                50.0 + ((i % 3) as f64 - 1.0) * 2.0,
            );
            assert!(m.score(&w).score < 0.5);
            m.learn(&w, true);
        }
        let calm = m.score(&window(41, 101.0, 50.0));
        assert!(calm.score < 0.1 && !calm.warming_up, "{calm:?}");
        let faster = m.score(&window(42, 20.0, 50.0));
        assert!(faster.score < 0.1, "lower latency is not an anomaly: {faster:?}");
        let slow = m.score(&window(43, 400.0, 50.0));
        assert!(slow.score > 0.99, "{slow:?}");
        assert_eq!(slow.contributions[0].feature, "latency_p99_ms");
        assert_eq!(slow.contributions[0].baseline, 100.0);
        let drop = m.score(&window(44, 100.0, 5.0));
        assert!(
            drop.score > 0.9 && drop.contributions[0].feature == "request_rate_rps",
            "{drop:?}"
        );
    }

    #[test]
    fn abnormal_windows_do_not_teach_the_baseline() {
        let cfg = DetectorConfig {
            warmup_windows: 10,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        for i in 0..20 {
            m.learn(&window(i, 100.0 + (i % 3) as f64, 50.0), true);
        }
        for i in 20..200 {
            m.learn(&window(i, 900.0, 50.0), false);
        }
        assert!(m.score(&window(300, 900.0, 50.0)).score > 0.99);
    }
}
