//! A service whose metrics sit perfectly still (a fixed pool, a quiet replica) is the case where
//! robust scales and extreme-value tails degenerate: every departure from a constant looks
//! infinitely rare. The detector must still neither alarm when such a service merely starts to
//! vary a little, nor miss a real fault on it.

use homeostat_detector::fixtures::{noise, quick_training, window};
use homeostat_detector::{Detector, DetectorOut};
use homeostat_schemas::{AlertState, FeatureWindow};
use runtime::{Emitter, StageContext};

/// Window `t` of "flat": constant until `still_until`, then varying by ±1 %; latency four times
/// higher during `faults`.
fn flat(t: i64, still_until: i64, faults: &[std::ops::Range<i64>]) -> FeatureWindow {
    let mut w = window("flat", 1.0, t, 9, 0.0);
    for (i, (k, v)) in w.features.iter_mut().enumerate() {
        let base = match k.as_str() {
            "request_rate_rps" => 50.0,
            "latency_p50_ms" => 20.0,
            "latency_p99_ms" => 60.0,
            "latency_mean_ms" => 24.0,
            "cpu_mean_ratio" => 0.3,
            "memory_max_ratio" => 0.5,
            _ => 0.001,
        };
        *v = if t < still_until {
            base
        } else {
            base * (1.0 + 0.01 * noise(t, 77 + i as u64))
        };
        if k.starts_with("latency") && faults.iter().any(|f| f.contains(&t)) {
            *v *= 4.0;
        }
    }
    w
}

#[test]
fn a_still_service_that_starts_to_vary_is_not_an_incident_but_its_faults_are() {
    let cfg = quick_training();
    let mut d = Detector::new(cfg, &StageContext::new("detector")).expect("build");
    let faults = [400..430, 1500..1530];
    let mut em = Emitter::default();
    for t in 0..1800 {
        let batch = vec![
            window("a", 1.0, t, 1, 0.0),
            window("b", 4.0, t, 2, 0.0),
            flat(t, 600, &faults),
        ];
        d.handle_batch(&batch, &mut em);
    }
    let (mut alerts, mut high) = (Vec::new(), Vec::new());
    for o in em.drain() {
        match o {
            DetectorOut::Alert(a) => alerts.push((a.service_id, a.state)),
            DetectorOut::Score(s) if s.service_id == "flat" && s.anomaly_score >= 0.5 => {
                high.push(s.window_id.trim_start_matches("flat-").parse::<i64>().expect("t"));
            }
            DetectorOut::Score(_) => {}
        }
    }
    // One incident per fault (one while still, one after it started to vary), nothing else.
    let f = "flat".to_owned();
    assert_eq!(
        alerts,
        vec![
            (f.clone(), AlertState::Firing),
            (f.clone(), AlertState::Resolved),
            (f.clone(), AlertState::Firing),
            (f, AlertState::Resolved),
        ]
    );
    assert!(
        high.iter().all(|t| faults.iter().any(|f| f.contains(t))),
        "high scores outside the faults: {high:?}"
    );
    for f in &faults {
        assert!(
            high.iter().filter(|t| f.contains(t)).count() >= 20,
            "fault {f:?} mostly seen: {high:?}"
        );
    }
}
