//! Synthetic feature windows for tests and benchmarks: a service whose traffic, latency, CPU and
//! memory move together at its own scale, with deterministic noise and an optional fault; and
//! normalized feature rows with a few latent factors, with the models trained on them.

use std::collections::BTreeMap;

use homeostat_schemas::FeatureWindow;

use crate::iforest::Rng;
use crate::learned::{DIM, Learned, LearnedConfig};

/// Detector settings for tests: the defaults, except that the learned models train every 150
/// normal windows, so a few hundred windows of a small fleet train and promote them.
pub fn quick_training() -> crate::DetectorConfig {
    crate::DetectorConfig {
        learned: LearnedConfig {
            train_every: 150,
            ..LearnedConfig::default()
        },
        ..crate::DetectorConfig::default()
    }
}

/// A detector's outputs split into its alerts and its scores, each in order.
pub fn split(outs: Vec<crate::DetectorOut>) -> (Vec<homeostat_schemas::Alert>, Vec<homeostat_schemas::AnomalyScore>) {
    let (mut alerts, mut scores) = (Vec::new(), Vec::new());
    for o in outs {
        match o {
            crate::DetectorOut::Alert(a) => alerts.push(a),
            crate::DetectorOut::Score(s) => scores.push(s),
        }
    }
    (alerts, scores)
}

/// Noise in [−1, 1), the same for the same `(t, stream)`.
pub fn noise(t: i64, stream: u64) -> f64 {
    Rng::new(t as u64 * 131 + stream).unit() * 2.0 - 1.0
}

/// Window `t` (10 s apart) of service `svc` at `scale`; `fault` in [0, 1] raises latency, memory
/// and errors; `stream` picks the noise.
pub fn window(svc: &str, scale: f64, t: i64, stream: u64, fault: f64) -> FeatureWindow {
    let n = noise(t, stream);
    let rate = 50.0 * scale * (1.0 + 0.1 * n);
    let p50 = 20.0 * scale * (1.0 + 0.05 * noise(t, stream + 100)) + fault * 60.0 * scale;
    let features = BTreeMap::from([
        ("request_rate_rps".to_owned(), rate),
        ("latency_p50_ms".to_owned(), p50),
        ("latency_p99_ms".to_owned(), p50 * 3.0),
        ("latency_mean_ms".to_owned(), p50 * 1.2),
        ("cpu_mean_ratio".to_owned(), 0.3 + 0.02 * n),
        (
            "memory_max_ratio".to_owned(),
            0.5 + 0.01 * noise(t, stream + 200) + fault * 0.3,
        ),
        ("error_rate".to_owned(), 0.001 + fault * 0.05),
    ]);
    FeatureWindow {
        schema_version: 1,
        id: format!("{svc}-{t}"),
        event_time: 1_700_000_000_000 + t * 10_000,
        service_id: svc.to_owned(),
        window_start: 1_700_000_000_000 + t * 10_000 - 60_000,
        event_count: 100,
        late_events: 0,
        features,
    }
}

/// `n` rows of [`DIM`] values with the structure of normalized feature vectors: three latent
/// factors plus noise, the same for the same `seed`.
pub fn latent_rows(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let f: [f32; 3] = [r.unit() as f32 - 0.5, r.unit() as f32 - 0.5, r.unit() as f32 - 0.5];
        for k in 0..DIM {
            out.push(0.3 * f[k % 3] + 0.1 * (r.unit() as f32 - 0.5));
        }
    }
    out
}

/// Models with the default configuration after their first training, on `rows` (rows of
/// [`DIM`] values, in order).
pub fn trained(rows: &[f32]) -> Learned {
    let mut m = Learned::new(LearnedConfig::default(), 360);
    for (i, r) in rows.chunks_exact(DIM).enumerate() {
        m.buffer.push_back((i as i64, r.to_vec()));
    }
    assert!(m.train(), "the first training promotes");
    m
}
