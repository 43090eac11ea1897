//! Detector: scores every feature window against the service's own robust baseline, fuses the
//! models' scores into an anomaly score and a health score, explains them, and raises and resolves
//! alerts with hysteresis. Writes `anomalies.v1` (every window) and `alerts.v1` (state changes).
//!
//! Models implement [`Model`]; this version has one, [`baseline::RobustBaseline`]. Learned models
//! slot in beside it and the fusion takes the strongest evidence.

pub mod baseline;
mod state;

use std::collections::HashMap;

use homeostat_schemas::{Alert, AnomalyScore, Contribution, FeatureWindow, topics};
use runtime::codec::{Output, encode_json};
use runtime::{BuildError, Counter, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

pub use state::AlertState;

/// `[detector]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// Windows a service needs in its baseline before it can alert.
    pub warmup_windows: usize,
    /// Windows kept in each feature's baseline (360 at a 10 s step is one hour).
    pub history_windows: usize,
    /// Robust deviation (in scaled MADs) at which the anomaly score reaches 0.5.
    pub threshold: f64,
    /// Consecutive windows at or above score 0.5 before an alert fires.
    pub fire_after: u32,
    /// Consecutive windows below `resolve_below` before a firing alert resolves.
    pub resolve_after: u32,
    /// Score under which a window counts toward resolving.
    pub resolve_below: f64,
    /// How many contributing features an explanation lists.
    pub top_features: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup_windows: 30,
            history_windows: 360,
            threshold: 6.0,
            fire_after: 2,
            resolve_after: 6,
            resolve_below: 0.3,
            top_features: 5,
        }
    }
}

/// What one model says about one window.
#[derive(Debug, Clone, Default)]
pub struct ModelScore {
    /// Score in [0, 1].
    pub score: f64,
    /// Contributions, largest first.
    pub contributions: Vec<Contribution>,
    /// True while the model is still learning this service.
    pub warming_up: bool,
}

/// A detection model: scores a window, then learns from it when it was judged normal.
pub trait Model: Send {
    /// Name, for logs.
    fn name(&self) -> &'static str;
    /// Score a window of a service.
    fn score(&mut self, w: &FeatureWindow) -> ModelScore;
    /// Learn from a window; `normal` is the fused verdict.
    fn learn(&mut self, w: &FeatureWindow, normal: bool);
}

/// What the detector writes.
pub enum DetectorOut {
    /// A score on `anomalies.v1`.
    Score(AnomalyScore),
    /// A state change on `alerts.v1`.
    Alert(Alert),
}

impl Output for DetectorOut {
    fn topic(&self) -> &'static str {
        match self {
            DetectorOut::Score(_) => topics::ANOMALIES_V1,
            DetectorOut::Alert(_) => topics::ALERTS_V1,
        }
    }
    fn key(&self) -> &str {
        match self {
            DetectorOut::Score(s) => &s.service_id,
            DetectorOut::Alert(a) => &a.service_id,
        }
    }
    fn encode(&self) -> Vec<u8> {
        match self {
            DetectorOut::Score(s) => encode_json(s),
            DetectorOut::Alert(a) => encode_json(a),
        }
    }
}

/// The detector stage.
pub struct Detector {
    cfg: DetectorConfig,
    models: Vec<Box<dyn Model>>,
    states: HashMap<String, AlertState>,
    fired: Counter,
    resolved: Counter,
}

impl Detector {
    /// Build without a runner.
    pub fn new(cfg: DetectorConfig, cx: &StageContext) -> Result<Self, BuildError> {
        if cfg.warmup_windows == 0 || cfg.history_windows < cfg.warmup_windows {
            return Err(BuildError::Config(
                "detector.history_windows must be ≥ warmup_windows > 0".into(),
            ));
        }
        if cfg.threshold.is_nan() || cfg.threshold <= 0.0 {
            return Err(BuildError::Config("detector.threshold must be positive".into()));
        }
        let models: Vec<Box<dyn Model>> = vec![Box::new(baseline::RobustBaseline::new(&cfg))];
        Ok(Self {
            models,
            states: HashMap::new(),
            fired: cx
                .metrics
                .counter("alerts_total", "state=\"firing\"", "Alert state changes."),
            resolved: cx
                .metrics
                .counter("alerts_total", "state=\"resolved\"", "Alert state changes."),
            cfg,
        })
    }

    /// Score one window and emit its score and any alert change.
    pub fn handle(&mut self, w: &FeatureWindow, out: &mut Emitter<DetectorOut>) {
        let mut fused = ModelScore::default();
        let mut warming = false;
        for m in &mut self.models {
            let s = m.score(w);
            warming |= s.warming_up;
            if s.score >= fused.score {
                fused.score = s.score;
                fused.contributions = s.contributions;
            }
        }
        fused.contributions.truncate(self.cfg.top_features);
        let score = if warming { 0.0 } else { fused.score };
        let st = self.states.entry(w.service_id.clone()).or_default();
        let change = st.observe(score, w.event_time, &self.cfg);
        let normal = !st.firing && score < 0.5;
        for m in &mut self.models {
            m.learn(w, normal);
        }
        let health = 1.0 - score;
        out.emit(DetectorOut::Score(AnomalyScore {
            schema_version: homeostat_schemas::SCHEMA_VERSION,
            id: homeostat_schemas::stable_id("anom", &[w.id.as_bytes()]),
            event_time: w.event_time,
            service_id: w.service_id.clone(),
            window_id: w.id.clone(),
            anomaly_score: score,
            health_score: health,
            degradation_trend: st.trend_per_minute(),
            warming_up: warming,
            alerting: st.firing,
            top_features: fused.contributions.clone(),
        }));
        if let Some(state) = change {
            let firing = state == homeostat_schemas::AlertState::Firing;
            if firing {
                self.fired.inc()
            } else {
                self.resolved.inc()
            }
            let explanation = if firing { fused.contributions } else { Vec::new() };
            let summary = match explanation.first() {
                Some(c) if firing => format!(
                    "{}: {} is {:.4} against a baseline of {:.4} ({:+.1} deviations)",
                    w.service_id, c.feature, c.value, c.baseline, c.deviation
                ),
                _ => format!("{}: back within its baseline", w.service_id),
            };
            out.emit(DetectorOut::Alert(Alert {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: homeostat_schemas::stable_id("alert", &[w.id.as_bytes(), &[u8::from(firing)]]),
                event_time: w.event_time,
                service_id: w.service_id.clone(),
                state,
                severity: if score >= 0.9 {
                    homeostat_schemas::Severity::Critical
                } else {
                    homeostat_schemas::Severity::Warning
                },
                source: "detector".into(),
                summary,
                anomaly_score: score,
                explanation,
            }));
        }
    }
}

impl Stage for Detector {
    type In = FeatureWindow;
    type Out = DetectorOut;
    type Config = DetectorConfig;
    const NAME: &'static str = "detector";

    async fn build(cfg: DetectorConfig, cx: &StageContext) -> Result<Self, BuildError> {
        Detector::new(cfg, cx)
    }

    async fn process(&mut self, batch: Vec<FeatureWindow>, out: &mut Emitter<DetectorOut>) -> Result<(), StageError> {
        for w in &batch {
            self.handle(w, out);
        }
        Ok(())
    }
}
