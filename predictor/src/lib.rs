//! Predictor: extrapolates each service's saturation indicators (memory, p99 latency, error rate)
//! along their least-squares trend over recent windows to their failure thresholds, and writes a
//! predicted failure time and a failure probability per horizon (5, 15, 30 minutes) to
//! `predictions.v1`.
//!
//! The probability that an indicator crosses its threshold within horizon `h` is
//! `Φ((ŷ(h) − threshold) / s(h))`, where `ŷ(h)` is the fitted line extended by `h` and `s(h)` is
//! the standard error of that prediction (residual spread, widened with distance from the data).

mod trend;

use std::collections::{HashMap, VecDeque};

use homeostat_schemas::{FeatureId as F, FeatureWindow, HorizonForecast, Prediction, Timestamp};
use runtime::{BuildError, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

pub use trend::{Fit, normal_cdf};

/// `[predictor]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorConfig {
    /// Windows in the trend fit (30 at a 10 s step is five minutes).
    pub history_windows: usize,
    /// Fewest windows before forecasting.
    pub min_windows: usize,
    /// Horizons in minutes.
    pub horizons_min: Vec<u32>,
    /// Memory ratio at which an instance is considered failed (out of memory).
    pub memory_threshold: f64,
    /// p99 latency at which the service is considered failed, ms.
    pub latency_p99_threshold_ms: f64,
    /// Error rate at which the service is considered failed.
    pub error_rate_threshold: f64,
}

impl Default for PredictorConfig {
    fn default() -> Self {
        Self {
            history_windows: 30,
            min_windows: 6,
            horizons_min: vec![5, 15, 30],
            memory_threshold: 0.95,
            latency_p99_threshold_ms: 2000.0,
            error_rate_threshold: 0.2,
        }
    }
}

/// One forecast of one indicator.
#[derive(Debug, Clone)]
struct IndicatorForecast {
    feature: F,
    current: f64,
    threshold: f64,
    slope: f64,
    crossing: Option<Timestamp>,
    probs: Vec<f64>,
}

/// What the predictor keeps of a window: its end and the indicators' values, in `indicators()` order.
type Sample = (Timestamp, [Option<f64>; 3]);

/// The predictor stage.
pub struct Predictor {
    cfg: PredictorConfig,
    history: HashMap<String, VecDeque<Sample>>,
}

impl Predictor {
    /// Build without a runner.
    pub fn new(cfg: PredictorConfig) -> Result<Self, BuildError> {
        if cfg.min_windows < 3 || cfg.history_windows < cfg.min_windows {
            return Err(BuildError::Config(
                "predictor: need history_windows ≥ min_windows ≥ 3".into(),
            ));
        }
        if cfg.horizons_min.is_empty() {
            return Err(BuildError::Config("predictor.horizons_min must not be empty".into()));
        }
        Ok(Self {
            cfg,
            history: HashMap::new(),
        })
    }

    fn indicators(&self) -> [(F, f64); 3] {
        [
            (F::MemoryMax, self.cfg.memory_threshold),
            (F::LatencyP99, self.cfg.latency_p99_threshold_ms),
            (F::ErrorRate, self.cfg.error_rate_threshold),
        ]
    }

    /// Forecast from a service's history ending at `w`.
    pub fn forecast(&mut self, w: &FeatureWindow) -> Option<Prediction> {
        let max = self.cfg.history_windows;
        let indicators = self.indicators();
        let h = self.history.entry(w.service_id.clone()).or_default();
        h.push_back((w.event_time, indicators.map(|(f, _)| w.get(f))));
        while h.len() > max {
            h.pop_front();
        }
        if h.len() < self.cfg.min_windows {
            return None;
        }
        let now = w.event_time;
        let mut best: Option<IndicatorForecast> = None;
        let h = &self.history[&w.service_id];
        for (k, (feature, threshold)) in indicators.into_iter().enumerate() {
            let pts: Vec<(f64, f64)> = h
                .iter()
                .filter_map(|(t, values)| values[k].map(|v| ((t - now) as f64 / 1000.0, v)))
                .collect();
            if pts.len() < self.cfg.min_windows {
                continue;
            }
            let Some(fit) = Fit::new(&pts) else { continue };
            let current = pts.last().map_or(0.0, |p| p.1);
            let probs: Vec<f64> = self
                .cfg
                .horizons_min
                .iter()
                .map(|m| {
                    if current >= threshold {
                        1.0
                    } else {
                        fit.exceed_probability(f64::from(*m) * 60.0, threshold)
                    }
                })
                .collect();
            let crossing = if current >= threshold {
                Some(now)
            } else {
                fit.crossing_after(threshold).map(|s| now + (s * 1000.0) as i64)
            };
            let f = IndicatorForecast {
                feature,
                current,
                threshold,
                slope: fit.slope,
                crossing,
                probs,
            };
            let better = match &best {
                None => true,
                Some(b) => f.probs.iter().sum::<f64>() > b.probs.iter().sum::<f64>(),
            };
            if better {
                best = Some(f);
            }
        }
        let longest = f64::from(*self.cfg.horizons_min.iter().max().unwrap_or(&30)) * 60_000.0;
        let best = best?;
        let crossing = best.crossing.filter(|t| ((*t - now) as f64) <= 2.0 * longest);
        let relevant = best.probs.iter().any(|p| *p >= 0.05) || crossing.is_some();
        Some(Prediction {
            schema_version: homeostat_schemas::SCHEMA_VERSION,
            id: homeostat_schemas::stable_id("pred", &[w.id.as_bytes()]),
            event_time: now,
            service_id: w.service_id.clone(),
            indicator: relevant.then(|| best.feature.name().to_owned()),
            current_value: relevant.then_some(best.current),
            threshold: relevant.then_some(best.threshold),
            slope_per_s: relevant.then_some(best.slope),
            predicted_failure_time: if relevant { crossing } else { None },
            horizons: self
                .cfg
                .horizons_min
                .iter()
                .zip(&best.probs)
                .map(|(m, p)| HorizonForecast {
                    horizon_minutes: *m,
                    failure_probability: *p,
                })
                .collect(),
        })
    }
}

impl Stage for Predictor {
    type In = FeatureWindow;
    type Out = Prediction;
    type Config = PredictorConfig;
    const NAME: &'static str = "predictor";

    async fn build(cfg: PredictorConfig, _cx: &StageContext) -> Result<Self, BuildError> {
        Predictor::new(cfg)
    }

    async fn process(&mut self, batch: Vec<FeatureWindow>, out: &mut Emitter<Prediction>) -> Result<(), StageError> {
        for w in &batch {
            if let Some(p) = self.forecast(w) {
                out.emit(p);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn window(i: i64, mem: f64) -> FeatureWindow {
        FeatureWindow {
            schema_version: 1,
            id: format!("w{i}"),
            event_time: i * 10_000,
            service_id: "svc".into(),
            window_start: i * 10_000 - 60_000,
            event_count: 1,
            late_events: 0,
            features: BTreeMap::from([("memory_max_ratio".into(), mem)]),
        }
    }

    #[test]
    fn a_steady_leak_is_forecast_to_cross_at_the_right_time() {
        let mut p = Predictor::new(PredictorConfig::default()).expect("build");
        let mut last = None;
        // 0.5 rising by 0.002 per 10 s window (0.0002/s): 0.95 is reached 2250 s after t=0.
        for i in 0..30 {
            last = p.forecast(&window(
                i,
                0.5 + 0.002 * i as f64 + if i % 2 == 0 { 0.0005 } else { -0.0005 },
            ));
        }
        let pr = last.expect("forecast");
        assert_eq!(pr.indicator.as_deref(), Some("memory_max_ratio"));
        let t = pr.predicted_failure_time.expect("crossing");
        assert!((t - 2_250_000).abs() < 60_000, "crossing at {t} ms");
        // The crossing is 1960 s after the last window: unlikely within 5 or 15 minutes.
        assert!(pr.probability(5) < 0.01 && pr.probability(15) < 0.01, "{pr:?}");
    }

    #[test]
    fn an_imminent_crossing_is_likely_within_the_short_horizon() {
        let mut p = Predictor::new(PredictorConfig::default()).expect("build");
        let mut last = None;
        for i in 0..30 {
            // 0.8 rising 0.005 per window (0.0005/s): 0.95 reached about 300 s after the last window…
            last = p.forecast(&window(i, 0.655 + 0.005 * i as f64));
        }
        let pr = last.expect("forecast");
        assert!(pr.probability(5) > 0.4 && pr.probability(15) > 0.99, "{pr:?}");
    }

    #[test]
    fn a_flat_series_has_no_failure_time() {
        let mut p = Predictor::new(PredictorConfig::default()).expect("build");
        let mut last = None;
        for i in 0..30 {
            last = p.forecast(&window(i, 0.4 + if i % 2 == 0 { 0.01 } else { -0.01 }));
        }
        let pr = last.expect("forecast");
        assert_eq!(pr.predicted_failure_time, None);
        assert!(pr.probability(30) < 0.01);
    }
}
