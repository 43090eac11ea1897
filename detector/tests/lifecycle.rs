//! The detector's model lifecycle: checkpoints restored on restart, candidates promoted only when
//! they replay better, explanations carried by alerts, and clear errors for a broken checkpoint.

use homeostat_detector::fixtures::{quick_training, window};
use homeostat_detector::learned::{DIM, Learned, LearnedConfig};
use homeostat_detector::{Detector, DetectorConfig, DetectorOut};
use homeostat_schemas::{AlertState, FeatureWindow};
use runtime::{Emitter, StageContext};

fn cfg(dir: &std::path::Path) -> DetectorConfig {
    DetectorConfig {
        models_dir: dir.display().to_string(),
        checkpoint_every_s: 3600,
        ..quick_training()
    }
}

fn feed(d: &mut Detector, from: i64, to: i64) -> Vec<DetectorOut> {
    let mut em = Emitter::default();
    for t in from..to {
        let batch: Vec<FeatureWindow> = [("a", 1.0), ("b", 4.0), ("c", 0.5)]
            .iter()
            .enumerate()
            .map(|(k, (s, sc))| window(s, *sc, t, k as u64, 0.0))
            .collect();
        d.handle_batch(&batch, &mut em);
    }
    em.drain()
}

fn scores(outs: &[DetectorOut]) -> Vec<(String, f64, bool)> {
    outs.iter()
        .filter_map(|o| match o {
            DetectorOut::Score(s) => Some((s.window_id.clone(), s.anomaly_score, s.warming_up)),
            DetectorOut::Alert(_) => None,
        })
        .collect()
}

/// The manifest of the checkpoint `dir/CURRENT` names.
fn current_manifest(dir: &std::path::Path) -> String {
    let current = std::fs::read_to_string(dir.join("CURRENT")).expect("CURRENT");
    std::fs::read_to_string(dir.join(current.trim()).join("manifest.json")).expect("manifest")
}

/// A detector on `dir` that has seen 400 windows of each service (its models trained).
fn trained(dir: &std::path::Path, cx: &StageContext) -> Detector {
    let mut d = Detector::new(cfg(dir), cx).expect("build");
    feed(&mut d, 0, 400);
    d
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("homeostat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_restart_restores_models_and_thresholds() {
    let dir = tempdir("restore");
    let cx = StageContext::new("detector");
    let mut first = trained(&dir, &cx);
    let version = first.learned().expect("learned").version;
    assert!(version >= 1, "models were trained and promoted");
    first.checkpoint().expect("checkpoint");
    let manifest = current_manifest(&dir);
    for key in [
        "\"version\"",
        "\"training_span_ms\"",
        "\"metrics\"",
        "\"ae_holdout_mse\"",
    ] {
        assert!(manifest.contains(key), "manifest lacks {key}: {manifest}");
    }

    // A second detector on the same directory continues where the first stopped: same models,
    // same thresholds, no warm-up, the same scores for the same next windows.
    let mut second = Detector::new(cfg(&dir), &cx).expect("restart");
    assert_eq!(second.learned().expect("learned").version, version);
    let a = scores(&feed(&mut first, 400, 420));
    let b = scores(&feed(&mut second, 400, 420));
    assert_eq!(a.len(), 60);
    assert!(b.iter().all(|s| !s.2), "no warm-up after a restore");
    assert_eq!(a, b, "restored detector scores exactly as the original");
    // And it goes on learning as the original would: each training round trains a copy of the
    // current network with a fresh optimizer, so nothing the checkpoint leaves out is missed.
    let a = scores(&feed(&mut first, 420, 700));
    let b = scores(&feed(&mut second, 420, 700));
    let (va, vb) = (
        first.learned().expect("learned").version,
        second.learned().expect("learned").version,
    );
    assert!(
        va > version,
        "a training round ran after the restart ({version} → {va})"
    );
    assert_eq!(va, vb);
    assert_eq!(a, b, "restored detector trains and scores exactly as the original");

    // Without the checkpoint, a fresh detector warms up again.
    let mut fresh = Detector::new(cfg(&tempdir("fresh")), &cx).expect("fresh");
    assert!(scores(&feed(&mut fresh, 400, 401)).iter().all(|s| s.2));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_fault_alert_carries_its_explanation() {
    let cx = StageContext::new("detector");
    let mut d = trained(&tempdir("explain"), &cx);
    let mut em = Emitter::default();
    for t in 400..404 {
        d.handle_batch(&[window("b", 4.0, t, 1, 1.0)], &mut em);
    }
    let alert = em
        .drain()
        .into_iter()
        .find_map(|o| match o {
            DetectorOut::Alert(a) if a.state == AlertState::Firing => Some(a),
            _ => None,
        })
        .expect("an alert fires");
    assert_eq!(alert.service_id, "b");
    let first = alert.explanation.first().expect("explained");
    assert!(
        [
            "latency_p50_ms",
            "latency_p99_ms",
            "latency_mean_ms",
            "error_rate",
            "memory_max_ratio"
        ]
        .contains(&first.feature.as_str()),
        "{:?}",
        alert.explanation
    );
    assert!(first.value > first.baseline, "{first:?}");
}

/// Alert changes in `outs`, as (service, state).
fn alerts(outs: &[DetectorOut]) -> Vec<(String, AlertState)> {
    outs.iter()
        .filter_map(|o| match o {
            DetectorOut::Alert(a) => Some((a.service_id.clone(), a.state)),
            DetectorOut::Score(_) => None,
        })
        .collect()
}

#[test]
fn an_alert_firing_across_a_restart_still_resolves() {
    let dir = tempdir("alerts");
    let cx = StageContext::new("detector");
    let mut first = trained(&dir, &cx);
    let mut em = Emitter::default();
    for t in 400..404 {
        first.handle_batch(&[window("b", 4.0, t, 1, 1.0)], &mut em);
    }
    assert!(alerts(&em.drain()).contains(&("b".to_owned(), AlertState::Firing)));
    first.checkpoint().expect("checkpoint");
    let manifest = current_manifest(&dir);
    assert!(manifest.contains("\"alerts\""), "{manifest}");

    // The detector stops while "b" is firing; "b" recovers; the restarted detector resolves the
    // alert (a detector that forgot it would never say so) and does not fire it again.
    let mut second = Detector::new(cfg(&dir), &cx).expect("restart");
    let changes = alerts(&feed(&mut second, 404, 440));
    assert_eq!(changes, vec![("b".to_owned(), AlertState::Resolved)]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_broken_checkpoint_is_a_clear_error() {
    let dir = tempdir("broken");
    std::fs::create_dir_all(dir.join("ckpt-000001")).expect("mkdir");
    std::fs::write(dir.join("CURRENT"), "ckpt-000001").expect("write");
    std::fs::write(dir.join("ckpt-000001/manifest.json"), "{ not json").expect("write");
    let err = Detector::new(cfg(&dir), &StageContext::new("detector"))
        .err()
        .expect("refuses to start");
    let msg = err.to_string();
    assert!(msg.contains("cannot restore") && msg.contains("manifest"), "{msg}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn structured(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut r = homeostat_detector::iforest::Rng::new(seed);
    (0..n)
        .map(|_| {
            let f = [r.unit() as f32 - 0.5, r.unit() as f32 - 0.5];
            (0..DIM)
                .map(|k| 0.4 * f[k % 2] + 0.02 * (r.unit() as f32 - 0.5))
                .collect()
        })
        .collect()
}

#[test]
fn a_candidate_that_replays_worse_is_not_promoted() {
    let mut m = Learned::new(LearnedConfig::default(), 360);
    for (i, r) in structured(2000, 1).into_iter().enumerate() {
        m.buffer.push_back((i as i64, r));
    }
    assert!(m.train());
    assert_eq!(m.version, 1);
    // Training data now unlike the recent (held-out) windows: the candidate replays them worse.
    let mut r = homeostat_detector::iforest::Rng::new(9);
    m.buffer.clear();
    for i in 0..1600 {
        let row: Vec<f32> = (0..DIM).map(|_| 2.0 * (r.unit() as f32 - 0.5)).collect();
        m.buffer.push_back((i, row));
    }
    for (i, row) in structured(400, 2).into_iter().enumerate() {
        m.buffer.push_back((1600 + i as i64, row));
    }
    assert!(!m.train(), "worse candidate rejected");
    assert_eq!(m.version, 1);
    assert_eq!(m.metrics.rejected, 1);
    // Data like the held-out windows again: a candidate is promoted.
    m.buffer.clear();
    for (i, row) in structured(2000, 3).into_iter().enumerate() {
        m.buffer.push_back((i as i64, row));
    }
    assert!(m.train());
    assert_eq!(m.version, 2);
}
