//! Detector: scores every feature window against the service's own robust baseline, fuses the
//! models' scores into an anomaly score and a health score, explains them, and raises and resolves
//! alerts with hysteresis. Writes `anomalies.v1` (every window) and `alerts.v1` (state changes).
//!
//! Two kinds of evidence are fused (the stronger wins, and brings its explanation):
//!
//! - [`baseline::RobustBaseline`]: each watched feature against the service's own median and MAD,
//!   in the direction that hurts users;
//! - [`learned::Learned`]: an isolation forest and a Candle autoencoder over the whole normalized
//!   47-feature vector, shared across the fleet (so a new service starts from its peers), each
//!   calibrated per service by a peaks-over-threshold tail ([`spot`]).
//!
//! Models and thresholds are checkpointed under `models_dir` ([`checkpoint`]) and restored on
//! start. [`univariate`] is the one-series path that `homeostat eval nab` runs.

pub mod autoencoder;
pub mod baseline;
pub mod checkpoint;
#[doc(hidden)]
pub mod fixtures;
pub mod iforest;
pub mod learned;
pub mod rules;
pub mod sequence;
pub mod spot;
mod state;
pub mod univariate;

use std::collections::HashMap;

use homeostat_schemas::{Alert, AnomalyScore, Contribution, FeatureWindow, topics};
use runtime::codec::{Output, encode_json};
use runtime::{BuildError, Counter, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

pub use state::{AlertState, Evidence};

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
    /// Score from which a window counts as anomalous for alerting.
    pub fire_above: f64,
    /// Consecutive windows at or above `fire_above` before an alert fires. Overlapping windows that
    /// rest on the same readings (one spike held in a window's maximum) count once until those
    /// readings have lasted longer than a window (see [`Evidence`]).
    pub fire_after: u32,
    /// Consecutive windows below `resolve_below` before a firing alert resolves.
    pub resolve_after: u32,
    /// Score under which a window counts toward resolving.
    pub resolve_below: f64,
    /// How many contributing features an explanation lists.
    pub top_features: usize,
    /// Where models and thresholds are checkpointed ("" = nowhere; they are then relearned on
    /// every start).
    pub models_dir: String,
    /// Seconds between checkpoints (also written after each promotion and on shutdown).
    pub checkpoint_every_s: u64,
    /// Seconds an alert may fire before the service's current level is taken as its new normal
    /// (0: never). Its baselines then start afresh from its next windows, as a new service's do,
    /// so the alert resolves; its tails and the fleet's models are kept. A lasting change (a
    /// release that needs more memory, a traffic level that doubled) otherwise alerts for as long as
    /// it lasts.
    pub adopt_after_s: u64,
    /// The learned models.
    pub learned: learned::LearnedConfig,
    /// Per-service alert rules, by service id (see [`rules`]).
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, rules::ServiceRules>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup_windows: 30,
            history_windows: 360,
            threshold: 6.0,
            fire_above: 0.5,
            fire_after: 2,
            resolve_after: 6,
            resolve_below: 0.3,
            top_features: 5,
            models_dir: String::new(),
            checkpoint_every_s: 300,
            adopt_after_s: 6 * 3600,
            learned: learned::LearnedConfig::default(),
            services: std::collections::BTreeMap::new(),
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
    baseline: baseline::RobustBaseline,
    learned: Option<learned::Learned>,
    states: HashMap<String, AlertState>,
    fired: Counter,
    resolved: Counter,
    adopted: Counter,
    checkpoints: Counter,
    sequence: u64,
    saved_version: u64,
    last_checkpoint: std::time::Instant,
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
        cfg.check_rules().map_err(BuildError::Config)?;
        let mut baseline = baseline::RobustBaseline::new(&cfg);
        let mut learned = cfg
            .learned
            .enabled
            .then(|| learned::Learned::new(cfg.learned.clone(), cfg.history_windows));
        if let Some(l) = learned.as_mut() {
            l.count_forward_failures_in(cx.metrics.counter(
                "forward_failures_total",
                "",
                "Failed forward passes of the autoencoder (windows left without a learned score).",
            ));
        }
        let mut sequence = 0;
        let mut states = HashMap::new();
        if !cfg.models_dir.is_empty()
            && let Some(l) = learned.as_mut()
        {
            let dir = std::path::Path::new(&cfg.models_dir);
            match checkpoint::restore(dir, l, &mut baseline) {
                Ok(Some(m)) => {
                    sequence = m.sequence;
                    let firing = m.alerts.values().filter(|a| a.firing).count();
                    states.extend(m.alerts);
                    tracing::info!(
                        dir = %dir.display(),
                        version = m.version,
                        services = m.services.len(),
                        trained_on = m.trained_on,
                        firing,
                        "restored models, thresholds and alert states from the last checkpoint"
                    );
                }
                Ok(None) => tracing::info!(dir = %dir.display(), "no checkpoint yet; models start empty"),
                Err(e) => {
                    return Err(BuildError::Config(format!(
                        "cannot restore the detector's checkpoint from {}: {e} (move it away to start afresh)",
                        dir.display()
                    )));
                }
            }
        }
        let saved_version = learned.as_ref().map_or(0, |l| l.version);
        Ok(Self {
            baseline,
            learned,
            states,
            fired: cx
                .metrics
                .counter("alerts_total", "state=\"firing\"", "Alert state changes."),
            resolved: cx
                .metrics
                .counter("alerts_total", "state=\"resolved\"", "Alert state changes."),
            adopted: cx.metrics.counter(
                "new_normals_total",
                "",
                "Alerts that lasted detector.adopt_after_s, whose level was taken as the service's new normal.",
            ),
            checkpoints: cx
                .metrics
                .counter("checkpoints_total", "", "Model checkpoints written."),
            sequence,
            saved_version,
            last_checkpoint: std::time::Instant::now(),
            cfg,
        })
    }

    /// The learned models, if enabled.
    pub fn learned(&self) -> Option<&learned::Learned> {
        self.learned.as_ref()
    }

    /// Write a checkpoint now (when `models_dir` is set).
    pub fn checkpoint(&mut self) -> Result<(), checkpoint::CheckpointError> {
        if self.cfg.models_dir.is_empty() {
            return Ok(());
        }
        let Some(l) = self.learned.as_mut() else { return Ok(()) };
        l.settle();
        self.baseline.settle();
        let l = &*l;
        self.sequence += 1;
        let dir = checkpoint::save(
            std::path::Path::new(&self.cfg.models_dir),
            self.sequence,
            l,
            &self.baseline,
            &self.states,
        )?;
        self.saved_version = l.version;
        self.last_checkpoint = std::time::Instant::now();
        self.checkpoints.inc();
        tracing::info!(dir = %dir.display(), version = l.version, "checkpoint written");
        Ok(())
    }

    fn checkpoint_if_due(&mut self) {
        let promoted = self.learned.as_ref().is_some_and(|l| l.version != self.saved_version);
        let due = self.last_checkpoint.elapsed().as_secs() >= self.cfg.checkpoint_every_s;
        if (promoted || due)
            && let Err(e) = self.checkpoint()
        {
            tracing::warn!(error = %e, "checkpoint failed; the next one retries");
        }
    }

    /// Score a batch of windows in order, emitting scores and alert changes.
    pub fn handle_batch(&mut self, batch: &[FeatureWindow], out: &mut Emitter<DetectorOut>) {
        // The learned models score the batch at once (one forward pass); then each window is fused,
        // judged and learned in order.
        let top = self.cfg.top_features;
        let learned: Vec<Option<learned::LearnedScore>> = match self.learned.as_mut() {
            Some(l) => {
                let refs: Vec<&FeatureWindow> = batch.iter().collect();
                l.score(&refs, top).into_iter().map(Some).collect()
            }
            None => batch.iter().map(|_| None).collect(),
        };
        for (w, l) in batch.iter().zip(learned) {
            self.handle_with(w, l, out);
        }
        self.checkpoint_if_due();
    }

    /// Score one window and emit its score and any alert change.
    pub fn handle(&mut self, w: &FeatureWindow, out: &mut Emitter<DetectorOut>) {
        self.handle_batch(std::slice::from_ref(w), out);
    }

    fn handle_with(
        &mut self,
        w: &FeatureWindow,
        learned: Option<learned::LearnedScore>,
        out: &mut Emitter<DetectorOut>,
    ) {
        let measured = learned.as_ref().and_then(|l| l.measured);
        let base = self.baseline.score(w);
        let warming = base.warming_up;
        let mut fused = ModelScore {
            score: base.score,
            contributions: base.contributions,
            warming_up: base.warming_up,
        };
        if let Some(l) = learned
            && !l.warming_up
            && l.score > fused.score
        {
            fused.score = l.score;
            fused.contributions = l.contributions;
        }
        fused.contributions.truncate(self.cfg.top_features);
        let score = if warming { 0.0 } else { fused.score };
        let rules = self.cfg.rules(&w.service_id);
        let st = self.states.entry(w.service_id.clone()).or_default();
        // What a high window rests on (a calm one needs none).
        let evidence = (score >= rules.fire_above)
            .then(|| state::Evidence::of(&fused.contributions, w.event_time.saturating_sub(w.window_start)))
            .flatten();
        // With the service's alerts off its state is kept (so a lasting change still becomes its
        // new normal) but not announced: no alert, and `alerting` stays false.
        let change = st.observe(score, w.event_time, evidence.as_ref(), &rules);
        let normal = !st.firing && score < 0.5;
        if st.take_adoption(w.event_time, &rules) {
            // The alert has lasted: the service's level now is its normal. Its levels are learned
            // afresh from this window on; it warms up, scores 0 meanwhile, and the alert resolves.
            tracing::warn!(
                service = %w.service_id,
                hours = rules.adopt_after_s as f64 / 3600.0,
                "an alert has lasted detector.adopt_after_s: the service's current level is taken as its new normal"
            );
            self.adopted.inc();
            self.baseline.restart_levels(&w.service_id);
            if let Some(l) = self.learned.as_mut() {
                l.restart_levels(&w.service_id);
            }
        }
        self.baseline.learn(w, normal);
        if let Some(l) = self.learned.as_mut() {
            l.learn(w, normal, measured.as_ref());
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
            warmup: warming.then_some(if st.adopted {
                homeostat_schemas::Warmup::NewNormal
            } else {
                homeostat_schemas::Warmup::New
            }),
            alerting: st.alerting(&rules),
            top_features: fused.contributions.clone(),
        }));
        if let Some(state) = change {
            let firing = state == homeostat_schemas::AlertState::Firing;
            if firing {
                self.fired.inc();
            } else {
                self.resolved.inc();
            }
            let explanation = if firing { fused.contributions } else { Vec::new() };
            let summary = match explanation.first() {
                Some(c) if firing => format!(
                    "{}: {} is {:.4} against a baseline of {:.4} ({:+.1} deviations)",
                    w.service_id, c.feature, c.value, c.baseline, c.deviation
                ),
                _ if st.adopted => format!(
                    "{}: anomalous for {:.1} h, so its current level was taken as its new normal (detector.adopt_after_s)",
                    w.service_id,
                    rules.adopt_after_s as f64 / 3600.0
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

    /// Take the alert rules (`fire_above`, `fire_after`, `resolve_after`, `resolve_below`,
    /// `adopt_after_s` and `[detector.services]`) from settings read again, as on SIGHUP. The
    /// alert states carry over: a service whose alerts were off and come back on while its kept
    /// alert fires announces it on its next anomalous window, as after a restart. The other
    /// settings shape what the detector has learned and apply only on a restart; the message
    /// names any that changed. Bad rules change nothing.
    pub fn reload(&mut self, cfg: DetectorConfig) -> Result<String, String> {
        cfg.check_rules()?;
        let (applied, restart) = self.cfg.take_rules(cfg);
        let mut what = if applied.is_empty() {
            "alert rules unchanged".to_owned()
        } else {
            format!("alert rules: {}", applied.join(", "))
        };
        if !restart.is_empty() {
            what.push_str(&format!(
                "; not applied until a restart: {} (they shape what was learned)",
                restart.join(", ")
            ));
        }
        Ok(what)
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

    fn reload(&mut self, cfg: DetectorConfig) -> Result<String, String> {
        Detector::reload(self, cfg)
    }

    async fn process(&mut self, batch: Vec<FeatureWindow>, out: &mut Emitter<DetectorOut>) -> Result<(), StageError> {
        self.handle_batch(&batch, out);
        Ok(())
    }

    async fn shutdown(&mut self, _out: &mut Emitter<DetectorOut>) -> Result<(), StageError> {
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, "final checkpoint failed; the previous one stays in force");
        }
        Ok(())
    }
}
