//! The learned models of the online detector: an isolation forest and a Candle autoencoder over
//! the 47-feature vector of a window, normalized per service (each feature's deviation from the
//! service's own median in robust units). Both models are shared by the whole fleet, which is how
//! a new service gets useful scores early: the models know what normal looks like across its
//! peers; the new service only needs enough windows for its own medians (the detector's warm-up).
//!
//! Each model's raw output (reconstruction error, isolation score) is calibrated per service by a
//! peaks-over-threshold tail ([`Spot`]); a service whose own tail is not fitted yet uses the
//! fleet's. The surprise `−log10 p` of the more surprised model becomes the score.
//!
//! Training runs every `train_every` normal windows on the buffer of recent normal vectors. The
//! newest fifth of the buffer is held out and replayed: a candidate model replaces the current one
//! only if it scores those windows better (lower reconstruction error; lower mean isolation score).

use std::collections::{HashMap, VecDeque};

use homeostat_schemas::{Contribution, FeatureId, FeatureWindow, Timestamp};
use runtime::Counter;

use crate::autoencoder::Autoencoder;
use crate::iforest::IsolationForest;
use crate::spot::Spot;

/// Width of the feature vector.
pub const DIM: usize = 47;

/// Rows scored per forward pass.
pub const CHUNK: usize = 256;

/// Settings of the learned models (part of `[detector]`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnedConfig {
    /// Turn the learned models on.
    pub enabled: bool,
    /// Normal windows between training runs.
    pub train_every: usize,
    /// Recent normal vectors kept for training (across the fleet).
    pub buffer: usize,
    /// Vectors needed before the first training.
    pub min_train: usize,
    /// Trees in the isolation forest.
    pub forest_trees: usize,
    /// Points each tree is grown on.
    pub forest_sample: usize,
    /// Autoencoder hidden width.
    pub hidden: usize,
    /// Autoencoder code width.
    pub code: usize,
    /// Training passes per run.
    pub epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Surprise (−log10 of the tail probability) at which a learned model's score is 0.5.
    pub surprise_half: f64,
    /// Values a per-service tail needs before it replaces the fleet's.
    pub own_tail_after: usize,
}

impl Default for LearnedConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            train_every: 120,
            buffer: 4096,
            min_train: 240,
            forest_trees: 100,
            forest_sample: 256,
            hidden: 24,
            code: 8,
            epochs: 8,
            learning_rate: 0.005,
            surprise_half: 7.0,
            own_tail_after: 500,
        }
    }
}

/// Scales below which a feature's deviation is not measured more finely, per feature name.
fn floor_of(f: FeatureId, median: f64) -> f64 {
    let abs: f64 = match f.name() {
        n if n.starts_with("latency") => 2.0,
        n if n.starts_with("error") => 0.005,
        n if n.ends_with("_rps") => 0.2,
        n if n.ends_with("_ratio") => 0.01,
        _ => 1e-3,
    };
    abs.max(0.05 * median.abs())
}

/// Per-service robust normalization of the feature vector.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    /// Recent raw vectors (NaN where a feature was undefined).
    pub history: VecDeque<Vec<f32>>,
    /// Per-feature median.
    pub median: Vec<f64>,
    /// Per-feature scale.
    pub scale: Vec<f64>,
    since: usize,
    /// Bumped whenever the medians and scales change.
    pub generation: u64,
}

impl Normalizer {
    /// The raw vector of a window in catalogue order.
    pub fn raw(w: &FeatureWindow) -> Vec<f32> {
        FeatureId::ALL
            .iter()
            .map(|f| w.get(*f).map_or(f32::NAN, |v| v as f32))
            .collect()
    }

    /// Learn a raw vector; refresh the medians every 10 vectors (and for each of the first 30).
    pub fn learn(&mut self, raw: Vec<f32>, capacity: usize) {
        self.history.push_back(raw);
        while self.history.len() > capacity.max(1) {
            self.history.pop_front();
        }
        self.since += 1;
        if self.since >= 10 || self.history.len() <= 30 {
            self.refresh();
        }
    }

    /// Recompute medians and scales from the history.
    pub fn refresh(&mut self) {
        self.since = 0;
        self.generation += 1;
        let mut med = vec![0.0; DIM];
        let mut scale = vec![1.0; DIM];
        for (k, f) in FeatureId::ALL.iter().enumerate().take(DIM) {
            let mut v: Vec<f64> = self
                .history
                .iter()
                .map(|r| r[k] as f64)
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let m = v[v.len() / 2];
            let mut d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
            d.sort_by(f64::total_cmp);
            med[k] = m;
            scale[k] = (1.4826 * d[d.len() / 2]).max(floor_of(*f, m));
        }
        self.median = med;
        self.scale = scale;
    }

    /// True once medians exist.
    pub fn ready(&self) -> bool {
        !self.median.is_empty()
    }

    /// The normalized vector: deviations in robust units, clipped to ±10 and divided by 4; an
    /// undefined feature is 0 (no deviation).
    pub fn normalize(&self, raw: &[f32]) -> Vec<f32> {
        raw.iter()
            .enumerate()
            .map(|(k, x)| {
                if !x.is_finite() || k >= self.median.len() {
                    0.0
                } else {
                    ((((*x as f64) - self.median[k]) / self.scale[k]).clamp(-10.0, 10.0) / 4.0) as f32
                }
            })
            .collect()
    }
}

/// Per-service state of the learned models.
#[derive(Debug, Clone)]
pub struct ServiceState {
    /// Normalization.
    pub norm: Normalizer,
    /// Tails of reconstruction error and isolation score.
    pub tails: [Spot; 2],
}

/// What the learned models say about one window.
#[derive(Debug, Clone, Default)]
pub struct LearnedScore {
    /// Score in [0, 1].
    pub score: f64,
    /// Surprise of the autoencoder and the forest.
    pub surprise: [f64; 2],
    /// Features the autoencoder reconstructed worst, with their values and medians.
    pub contributions: Vec<Contribution>,
    /// True while the models cannot score this service yet.
    pub warming_up: bool,
    /// The models' raw outputs for this window, for [`Learned::learn`] to reuse.
    pub measured: Option<Measured>,
}

/// The models' raw outputs for a window (reconstruction error, isolation score), with the model
/// version and normalization they were measured under: valid for learning only while both hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    outputs: [f64; 2],
    version: u64,
    generation: u64,
}

/// Metrics of the current models, as recorded in the checkpoint manifest.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ModelMetrics {
    /// Mean reconstruction error on the replayed hold-out windows.
    pub ae_holdout_mse: f64,
    /// Mean isolation score on the replayed hold-out windows.
    pub forest_holdout_score: f64,
    /// Last training loss.
    pub ae_train_loss: f64,
    /// Candidates rejected because they replayed worse.
    pub rejected: u64,
}

/// The fleet's learned models and their per-service calibration.
pub struct Learned {
    /// Settings.
    pub cfg: LearnedConfig,
    /// The autoencoder, once trained.
    pub ae: Option<Autoencoder>,
    /// The isolation forest, once trained.
    pub forest: Option<IsolationForest>,
    /// Recent normal vectors (normalized) with their window times.
    pub buffer: VecDeque<(Timestamp, Vec<f32>)>,
    /// Per-service state.
    pub services: HashMap<String, ServiceState>,
    /// Fleet-wide tails, for services whose own tails are not fitted yet.
    pub fleet_tails: [Spot; 2],
    /// Model version (0 before the first promotion).
    pub version: u64,
    /// Event-time span of the windows the current models were trained on.
    pub span: (Timestamp, Timestamp),
    /// Vectors the current models were trained on.
    pub trained_on: usize,
    /// Metrics of the current models.
    pub metrics: ModelMetrics,
    /// Normal windows learned since the last training run.
    pub since_train: usize,
    history: usize,
    /// Failed forward passes of the autoencoder (see [`Learned::count_forward_failures_in`]).
    forward_failures: Counter,
}

/// Fresh per-model tails: heavy-tailed until enough peaks are seen to fit one.
pub fn tails() -> [Spot; 2] {
    let t = || Spot::new(0.98, 5000, 50).with_fallback_shape(0.5);
    [t(), t()]
}

impl Learned {
    /// Models that have seen nothing; `history` is the per-service normalization memory.
    pub fn new(cfg: LearnedConfig, history: usize) -> Self {
        Self {
            cfg,
            ae: None,
            forest: None,
            buffer: VecDeque::new(),
            services: HashMap::new(),
            fleet_tails: tails(),
            version: 0,
            span: (0, 0),
            trained_on: 0,
            metrics: ModelMetrics::default(),
            since_train: 0,
            history,
            forward_failures: Counter::default(),
        }
    }

    /// Count failed forward passes of the autoencoder in `c` (a metric of the stage).
    pub fn count_forward_failures_in(&mut self, c: Counter) {
        self.forward_failures = c;
    }

    /// Per-row raw outputs for normalized rows: (reconstruction error, isolation score), and the
    /// per-element squared errors. `None` before the first training.
    pub fn raw_batch(&self, rows: &[f32]) -> Option<(Vec<[f64; 2]>, Vec<f32>)> {
        let (ae, forest) = (self.ae.as_ref()?, self.forest.as_ref()?);
        let mut out = Vec::with_capacity(rows.len() / DIM);
        let mut all_errors = Vec::with_capacity(rows.len());
        let mut iso = Vec::new();
        for chunk in rows.chunks(CHUNK * DIM) {
            let errors = ae
                .errors(chunk)
                .inspect_err(|e| forward_failed(&self.forward_failures, e))
                .ok()?;
            forest.score_batch(chunk, &mut iso);
            out.extend(
                errors
                    .chunks_exact(DIM)
                    .zip(&iso)
                    .map(|(e, s)| [e.iter().sum::<f32>() as f64 / DIM as f64, *s]),
            );
            all_errors.extend(errors);
        }
        Some((out, all_errors))
    }

    /// Fused scores of normalized rows against the fleet's tails (what [`Learned::score`] computes
    /// for a service whose own tails are not fitted yet, without explanations): one forward pass
    /// of the autoencoder, one pass of the forest, two tail lookups. `None` before training.
    pub fn fused_batch(&self, rows: &[f32]) -> Option<Vec<f64>> {
        self.fused_batch_named(None, rows)
    }

    /// [`Learned::fused_batch`] with the autoencoder's and the forest's kernels of that name
    /// (`Some("avx2")`: both AVX2, as a processor without AVX-512 scores), for benchmarks; `None`
    /// uses the fastest of each.
    pub fn fused_batch_named(&self, kernel: Option<&str>, rows: &[f32]) -> Option<Vec<f64>> {
        let (ae, forest) = (self.ae.as_ref()?, self.forest.as_ref()?);
        let mut out = Vec::with_capacity(rows.len() / DIM);
        let mut iso = Vec::with_capacity(CHUNK);
        // Chunks of 256 rows keep the activations and the rows in cache (measured: larger
        // batches are slower per vector, for the forward pass too).
        for chunk in rows.chunks(CHUNK * DIM) {
            let errors = match kernel {
                Some(k) => ae.row_errors_named(k, chunk),
                None => ae.row_errors(chunk),
            }
            .inspect_err(|e| forward_failed(&self.forward_failures, e))
            .ok()?;
            match kernel {
                Some(k) => forest.score_batch_named(k, chunk, &mut iso),
                None => forest.score_batch(chunk, &mut iso),
            }
            out.extend(errors.iter().zip(&iso).map(|(e, s)| {
                self.fuse([
                    self.fleet_tails[0].surprise(*e as f64),
                    self.fleet_tails[1].surprise(*s),
                ])
            }));
        }
        Some(out)
    }

    fn fuse(&self, surprise: [f64; 2]) -> f64 {
        let best = (surprise[0].max(surprise[1]) - 2f64.log10()).max(0.0);
        1.0 - 0.5f64.powf(best / self.cfg.surprise_half)
    }

    /// Score a batch of windows (in order). Services without medians yet are warming up.
    pub fn score(&mut self, windows: &[&FeatureWindow], top: usize) -> Vec<LearnedScore> {
        let mut rows = Vec::with_capacity(windows.len() * DIM);
        let mut raws = Vec::with_capacity(windows.len());
        let mut ready = Vec::with_capacity(windows.len());
        for w in windows {
            let raw = Normalizer::raw(w);
            let st = self.services.get(&w.service_id);
            let ok = st.is_some_and(|s| s.norm.ready());
            rows.extend(st.map_or_else(|| vec![0.0; DIM], |s| s.norm.normalize(&raw)));
            raws.push(raw);
            ready.push(ok);
        }
        let Some((raw_scores, errors)) = self.raw_batch(&rows) else {
            return windows
                .iter()
                .map(|_| LearnedScore {
                    warming_up: true,
                    ..LearnedScore::default()
                })
                .collect();
        };
        let mut out = Vec::with_capacity(windows.len());
        for (i, w) in windows.iter().enumerate() {
            if !ready[i] {
                out.push(LearnedScore {
                    warming_up: true,
                    ..LearnedScore::default()
                });
                continue;
            }
            let st = &self.services[&w.service_id];
            let mut surprise = [0.0; 2];
            for (m, s) in surprise.iter_mut().enumerate() {
                let tail = if st.tails[m].len() >= self.cfg.own_tail_after {
                    &st.tails[m]
                } else {
                    &self.fleet_tails[m]
                };
                *s = tail.surprise(raw_scores[i][m]);
            }
            let score = self.fuse(surprise);
            let e = &errors[i * DIM..(i + 1) * DIM];
            let mut order: Vec<usize> = (0..DIM).collect();
            order.sort_by(|a, b| e[*b].total_cmp(&e[*a]));
            // The features reconstructed worst that are themselves off their median (≥ 2 robust
            // units): what the model could not explain and what moved.
            let all: Vec<Contribution> = order
                .into_iter()
                .filter(|k| raws[i][*k].is_finite())
                .map(|k| Contribution {
                    feature: FeatureId::ALL[k].name().to_owned(),
                    value: raws[i][k] as f64,
                    baseline: st.norm.median[k],
                    deviation: (raws[i][k] as f64 - st.norm.median[k]) / st.norm.scale[k],
                })
                .collect();
            let moved: Vec<Contribution> = all.iter().filter(|c| c.deviation.abs() >= 2.0).cloned().collect();
            let mut contributions = if moved.is_empty() { all } else { moved };
            contributions.truncate(top);
            out.push(LearnedScore {
                score,
                surprise,
                contributions,
                warming_up: false,
                measured: Some(Measured {
                    outputs: raw_scores[i],
                    version: self.version,
                    generation: st.norm.generation,
                }),
            });
        }
        out
    }

    /// Forget a service's medians and scales, so that they are learned afresh from its next
    /// windows (it warms up again); the fleet's models and the service's tails are kept.
    pub fn restart_levels(&mut self, service: &str) {
        if let Some(st) = self.services.get_mut(service) {
            // A new generation, so that nothing measured under the old medians is reused.
            st.norm = Normalizer {
                generation: st.norm.generation + 1,
                ..Normalizer::default()
            };
        }
    }

    /// Learn a window: its service's medians always; the tails and the training buffer only when
    /// the window was judged normal. Trains when due.
    /// `measured`: what [`Learned::score`] measured for this window, reused when the models and
    /// the service's normalization have not changed since (otherwise measured again).
    pub fn learn(&mut self, w: &FeatureWindow, normal: bool, measured: Option<&Measured>) {
        let raw = Normalizer::raw(w);
        let history = self.history;
        let st = self
            .services
            .entry(w.service_id.clone())
            .or_insert_with(|| ServiceState {
                norm: Normalizer::default(),
                tails: tails(),
            });
        if normal && st.norm.ready() {
            let row = st.norm.normalize(&raw);
            let outputs = match (measured, &self.ae, &self.forest) {
                (Some(m), Some(_), Some(_)) if m.version == self.version && m.generation == st.norm.generation => {
                    Some(m.outputs)
                }
                (_, Some(ae), Some(forest)) => ae
                    .row_errors(&row)
                    .inspect_err(|e| forward_failed(&self.forward_failures, e))
                    .ok()
                    .and_then(|e| e.first().map(|e| [*e as f64, forest.score(&row)])),
                _ => None,
            };
            if let Some([err, iso]) = outputs {
                st.tails[0].learn(err);
                st.tails[1].learn(iso);
                self.fleet_tails[0].learn(err);
                self.fleet_tails[1].learn(iso);
            }
            self.buffer.push_back((w.event_time, row));
            while self.buffer.len() > self.cfg.buffer.max(1) {
                self.buffer.pop_front();
            }
            self.since_train += 1;
        }
        if normal || !st.norm.ready() {
            st.norm.learn(raw, history);
        }
        if self.buffer.len() >= self.cfg.min_train && (self.ae.is_none() || self.since_train >= self.cfg.train_every) {
            self.train();
        }
    }

    /// Train candidates on the buffer and promote them if they replay the held-out windows better.
    /// Returns true when a candidate was promoted.
    pub fn train(&mut self) -> bool {
        self.since_train = 0;
        let n = self.buffer.len();
        if n < 10 {
            return false;
        }
        let hold = (n / 5).max(1);
        let train: Vec<f32> = self
            .buffer
            .iter()
            .take(n - hold)
            .flat_map(|(_, r)| r.iter().copied())
            .collect();
        let holdout: Vec<f32> = self
            .buffer
            .iter()
            .skip(n - hold)
            .flat_map(|(_, r)| r.iter().copied())
            .collect();
        let seed = self.version * 7919 + n as u64;
        let candidate_ae = match &self.ae {
            Some(cur) => cur.try_clone(self.cfg.learning_rate),
            None => Autoencoder::new(DIM, self.cfg.hidden, self.cfg.code, self.cfg.learning_rate, seed),
        };
        let Ok(mut cand) = candidate_ae else {
            return false;
        };
        let Ok(loss) = cand.train(&train, self.cfg.epochs, 64) else {
            return false;
        };
        let Some(forest) = IsolationForest::fit(&train, DIM, self.cfg.forest_trees, self.cfg.forest_sample, seed)
        else {
            return false;
        };
        let mean = |v: &[f32]| v.iter().map(|x| *x as f64).sum::<f64>() / v.len().max(1) as f64;
        let cand_mse = cand.row_errors(&holdout).map(|e| mean(&e)).unwrap_or(f64::INFINITY);
        let mut iso = Vec::new();
        forest.score_batch(&holdout, &mut iso);
        let cand_iso = iso.iter().sum::<f64>() / iso.len().max(1) as f64;
        let (cur_mse, cur_iso) = match (&self.ae, &self.forest) {
            (Some(ae), Some(f)) => {
                let m = ae.row_errors(&holdout).map(|e| mean(&e)).unwrap_or(f64::INFINITY);
                f.score_batch(&holdout, &mut iso);
                (m, iso.iter().sum::<f64>() / iso.len().max(1) as f64)
            }
            _ => (f64::INFINITY, f64::INFINITY),
        };
        // The forest is regrown from scratch each time; a fresh one on newer data is kept unless
        // it isolates the held-out windows clearly more easily than the current one.
        let better = cand_mse <= cur_mse && cand_iso <= cur_iso + 0.01;
        if !better {
            self.metrics.rejected += 1;
            tracing::info!(
                candidate_mse = cand_mse,
                current_mse = cur_mse,
                candidate_iso = cand_iso,
                current_iso = cur_iso,
                "candidate models replayed worse; the current ones stay"
            );
            return false;
        }
        let first = self.buffer.front().map_or(0, |b| b.0);
        let last = self.buffer.get(n - hold - 1).map_or(0, |b| b.0);
        self.ae = Some(cand);
        self.forest = Some(forest);
        self.version += 1;
        self.span = (first, last);
        self.trained_on = n - hold;
        self.metrics = ModelMetrics {
            ae_holdout_mse: cand_mse,
            forest_holdout_score: cand_iso,
            ae_train_loss: loss as f64,
            rejected: self.metrics.rejected,
        };
        // The tails measured the old models' outputs: start them again from the buffer.
        self.recalibrate();
        tracing::info!(
            version = self.version,
            holdout_mse = cand_mse,
            holdout_iso = cand_iso,
            "promoted new models"
        );
        true
    }

    /// Bring every derived quantity (medians, tail fits) up to date with the data, as a restore
    /// from a checkpoint would: called before a checkpoint so the restored detector and this one
    /// are in the same state.
    pub fn settle(&mut self) {
        for st in self.services.values_mut() {
            if !st.norm.history.is_empty() {
                st.norm.refresh();
            }
            for t in &mut st.tails {
                t.refit();
            }
        }
        for t in &mut self.fleet_tails {
            t.refit();
        }
    }

    /// Refit the fleet tail on the training buffer under the current models, and clear the
    /// per-service tails (they refill from the next normal windows).
    fn recalibrate(&mut self) {
        let rows: Vec<f32> = self.buffer.iter().flat_map(|(_, r)| r.iter().copied()).collect();
        if let Some((raw, _)) = self.raw_batch(&rows) {
            let mut fleet = tails();
            for r in &raw {
                fleet[0].learn(r[0]);
                fleet[1].learn(r[1]);
            }
            self.fleet_tails = fleet;
        }
        for st in self.services.values_mut() {
            st.tails = tails();
        }
    }
}

/// A forward pass of the autoencoder (Candle, or a compiled kernel) failed: the windows concerned
/// get no learned score (the robust baselines still score them). Counted in `failures`, and
/// logged on the 1st, 10th, 100th, … failure, so a lasting fault is seen without flooding the log.
fn forward_failed(failures: &Counter, e: &candle_core::Error) {
    let n = failures.inc();
    if is_power_of_ten(n) {
        tracing::warn!(failures = n, error = %e, "the autoencoder's forward pass failed; the windows concerned get no learned score");
    }
}

/// 1, 10, 100, …
fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::window;

    #[test]
    fn forward_failures_are_logged_at_powers_of_ten() {
        let logged: Vec<u64> = (1..=1000).filter(|n| is_power_of_ten(*n)).collect();
        assert_eq!(logged, [1, 10, 100, 1000]);
        assert!(!is_power_of_ten(0) && !is_power_of_ten(11) && !is_power_of_ten(110));
    }

    #[test]
    fn normalizer_measures_in_robust_units_and_ignores_missing() {
        let mut n = Normalizer::default();
        for i in 0..100 {
            n.learn(Normalizer::raw(&window("a", 1.0, i, 1, 0.0)), 360);
        }
        let z = n.normalize(&Normalizer::raw(&window("a", 1.0, 200, 1, 0.0)));
        assert!(z.iter().all(|x| x.abs() < 1.0), "{z:?}");
        let f = n.normalize(&Normalizer::raw(&window("a", 1.0, 201, 1, 1.0)));
        let k = FeatureId::ALL
            .iter()
            .position(|f| f.name() == "latency_p50_ms")
            .expect("p50");
        assert!(f[k] >= 2.0, "latency deviation {}", f[k]);
        let missing = FeatureId::ALL
            .iter()
            .position(|f| f.name() == "latency_max_ms")
            .expect("max");
        assert_eq!(f[missing], 0.0);
    }

    #[test]
    fn every_kernel_gives_the_fused_score_of_the_fastest() {
        let m = crate::fixtures::trained(&crate::fixtures::latent_rows(1024, 5));
        // Typical rows and rows far outside training, 300 of them (a whole chunk and a part).
        let mut rows = crate::fixtures::latent_rows(300, 6);
        for row in rows.chunks_exact_mut(DIM).step_by(3) {
            row.iter_mut().for_each(|x| *x *= 8.0);
        }
        let fastest = m.fused_batch(&rows).expect("trained");
        assert_eq!(fastest.len(), 300);
        assert!(
            fastest.iter().any(|s| *s > 0.5) && fastest.iter().any(|s| *s < 0.5),
            "{fastest:?}"
        );
        for kernel in crate::autoencoder::Autoencoder::kernels().into_iter().chain(["candle"]) {
            let named = m.fused_batch_named(Some(kernel), &rows).expect("trained");
            let worst = fastest
                .iter()
                .zip(&named)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-4, "{kernel}: fused scores differ by up to {worst}");
        }
    }

    #[test]
    fn a_new_service_is_scored_by_models_learned_on_its_peers() {
        let cfg = LearnedConfig {
            train_every: 200,
            ..LearnedConfig::default()
        };
        let mut m = Learned::new(cfg, 360);
        // Three services at different scales, 400 windows each.
        for i in 0..400 {
            for (k, (svc, scale)) in [("a", 1.0), ("b", 3.0), ("c", 0.5)].iter().enumerate() {
                m.learn(&window(svc, *scale, i, k as u64, 0.0), true, None);
            }
        }
        assert!(m.version >= 1, "models trained");
        // A new service at a scale never seen: 30 windows (five minutes) for its medians.
        for i in 0..30 {
            m.learn(&window("new", 10.0, i, 9, 0.0), true, None);
        }
        let mut normal_max: f64 = 0.0;
        for i in 30..90 {
            let w = window("new", 10.0, i, 9, 0.0);
            let s = m.score(&[&w], 3).remove(0);
            assert!(!s.warming_up);
            normal_max = normal_max.max(s.score);
            m.learn(&w, true, s.measured.as_ref());
        }
        let bad = window("new", 10.0, 90, 9, 1.0);
        let s = m.score(&[&bad], 3).remove(0);
        assert!(
            normal_max < 0.5,
            "normal windows of the new service peaked at {normal_max}"
        );
        assert!(s.score >= 0.5, "fault scored {s:?}");
        let top: Vec<&str> = s.contributions.iter().map(|c| c.feature.as_str()).collect();
        assert!(
            top.iter()
                .any(|f| f.starts_with("latency") || *f == "error_rate" || *f == "memory_max_ratio"),
            "explanation {top:?}"
        );
    }
}
