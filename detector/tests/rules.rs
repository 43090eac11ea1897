//! Per-service alert rules (`[detector.services.<id>]`): the same fault on three services alerts on
//! the one with the default rules, not on one that asks for longer evidence, and not on one whose
//! alerts are off — which is still scored and explained.

use homeostat_detector::fixtures::{quick_training, split, window};
use homeostat_detector::rules::ServiceRules;
use homeostat_detector::{Detector, DetectorConfig};
use homeostat_schemas::{Alert, AlertState, AnomalyScore};
use runtime::{Emitter, StageContext};

/// The fault's windows: 30, so 300 s at the fixture's 10 s step.
const FAULT: std::ops::Range<i64> = 400..430;

fn run(cfg: DetectorConfig) -> (Vec<Alert>, Vec<AnomalyScore>) {
    let mut d = Detector::new(cfg, &StageContext::new("detector")).expect("build");
    let mut em = Emitter::default();
    for t in 0..600 {
        let fault = if FAULT.contains(&t) { 1.5 } else { 0.0 };
        let batch = vec![
            window("plain", 1.0, t, 1, fault),
            window("patient", 2.0, t, 2, fault),
            window("muted", 4.0, t, 3, fault),
        ];
        d.handle_batch(&batch, &mut em);
    }
    split(em.drain())
}

/// `base` with the alerts of service `svc` off.
fn muted(base: &DetectorConfig) -> DetectorConfig {
    let mut muted = base.clone();
    muted.services.insert(
        "svc".into(),
        ServiceRules {
            alerts: Some(false),
            ..ServiceRules::default()
        },
    );
    muted
}

/// Feed service `svc` windows `from..to` (failing during [`FAULT`]); what was emitted.
fn feed(d: &mut Detector, from: i64, to: i64) -> (Vec<Alert>, Vec<AnomalyScore>) {
    let mut em = Emitter::default();
    for t in from..to {
        let fault = if FAULT.contains(&t) { 1.5 } else { 0.0 };
        d.handle_batch(&[window("svc", 1.0, t, 1, fault)], &mut em);
    }
    split(em.drain())
}

/// The alerts' windows (as fed) and states.
fn announced(alerts: &[Alert]) -> Vec<(i64, AlertState)> {
    alerts
        .iter()
        .map(|a| ((a.event_time - 1_700_000_000_000) / 10_000, a.state))
        .collect()
}

#[test]
fn each_service_alerts_by_its_own_rules() {
    let mut cfg = quick_training();
    cfg.services.insert(
        "patient".into(),
        ServiceRules {
            fire_after: Some(40),
            ..ServiceRules::default()
        },
    );
    cfg.services.insert(
        "muted".into(),
        ServiceRules {
            alerts: Some(false),
            ..ServiceRules::default()
        },
    );
    let (alerts, scores) = run(cfg);
    let seen: Vec<(&str, AlertState)> = alerts.iter().map(|a| (a.service_id.as_str(), a.state)).collect();
    assert_eq!(
        seen,
        vec![("plain", AlertState::Firing), ("plain", AlertState::Resolved)],
        "only the service with the default rules alerts"
    );

    // All three saw the fault in their scores, explained; only "plain" is marked alerting.
    for svc in ["plain", "patient", "muted"] {
        let during: Vec<&AnomalyScore> = scores
            .iter()
            .filter(|s| s.service_id == svc && FAULT.contains(&((s.event_time - 1_700_000_000_000) / 10_000)))
            .collect();
        let high = during.iter().filter(|s| s.anomaly_score >= 0.5).count();
        assert!(
            high >= 20,
            "{svc}: {high} of {} fault windows scored ≥ 0.5",
            during.len()
        );
        assert!(during.iter().any(|s| !s.top_features.is_empty()), "{svc}: explained");
        let alerting = scores.iter().any(|s| s.service_id == svc && s.alerting);
        assert_eq!(alerting, svc == "plain", "{svc}: alerting flag");
    }

    // The same fault, a patient service's rules asking for 40 windows in a row: a fault of 30
    // does not fire it, and with the defaults it would have.
    let (alerts, _) = run(quick_training());
    let mut fired: Vec<&str> = alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| a.service_id.as_str())
        .collect();
    fired.sort_unstable();
    assert_eq!(
        fired,
        vec!["muted", "patient", "plain"],
        "without the rules all three alert"
    );
}

#[test]
fn bad_rules_stop_the_detector_with_the_setting_named() {
    let mut cfg = DetectorConfig::default();
    cfg.services.insert(
        "batch".into(),
        ServiceRules {
            fire_above: Some(1.5),
            ..ServiceRules::default()
        },
    );
    let err = Detector::new(cfg, &StageContext::new("detector"))
        .err()
        .expect("fire_above 1.5 is refused")
        .to_string();
    assert!(
        err.contains("detector.services.batch.fire_above must be in (0, 1]"),
        "{err}"
    );
}

/// Alerts turned back on, by a restart without the rule, while the kept state of a muted service
/// fires: the alert is announced as firing on the first (anomalous) window, then resolves as any
/// other.
#[test]
fn alerts_turned_back_on_while_firing_are_announced_before_they_resolve() {
    let dir = std::env::temp_dir().join(format!("homeostat-unmute-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let base = DetectorConfig {
        models_dir: dir.display().to_string(),
        checkpoint_every_s: 3600,
        ..quick_training()
    };
    let muted = muted(&base);
    let cx = StageContext::new("detector");
    let mut first = Detector::new(muted, &cx).expect("build");
    let (alerts, scores) = feed(&mut first, 0, 415);
    assert!(alerts.is_empty(), "muted: nothing announced");
    assert!(
        scores
            .iter()
            .rev()
            .take(5)
            .all(|s| s.anomaly_score >= 0.5 && !s.alerting),
        "the fault is seen, silently"
    );
    first.checkpoint().expect("checkpoint");

    let mut second = Detector::new(base, &cx).expect("restart with alerts on");
    let (alerts, scores) = feed(&mut second, 415, 600);
    let seen = announced(&alerts);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], (415, AlertState::Firing), "announced on the first window");
    assert_eq!(seen[1].1, AlertState::Resolved);
    assert!(seen[1].0 >= FAULT.end, "resolved after the fault: {seen:?}");
    assert!(scores[0].alerting, "and marked alerting from then on");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reloaded settings (SIGHUP) change the alert rules in place: the kept alert of a muted service
/// is announced once its alerts are back on, before it resolves; bad rules change nothing; a
/// setting that shapes what was learned is named and left for a restart.
#[test]
fn reloaded_rules_apply_at_once_and_bad_ones_change_nothing() {
    let base = quick_training();
    let muted = muted(&base);
    let cx = StageContext::new("detector");
    let mut d = Detector::new(muted.clone(), &cx).expect("build");
    let (alerts, _) = feed(&mut d, 0, 410);
    assert!(alerts.is_empty(), "muted: nothing announced");

    let mut bad = base.clone();
    bad.services.insert(
        "svc".into(),
        ServiceRules {
            fire_above: Some(0.2),
            ..ServiceRules::default()
        },
    );
    let e = d
        .reload(bad)
        .expect_err("resolve_below 0.3 is not below fire_above 0.2");
    assert!(e.starts_with("detector.services.svc.resolve_below"), "{e}");
    let (alerts, scores) = feed(&mut d, 410, 415);
    assert!(alerts.is_empty(), "still muted after a rejected reload");
    assert!(scores.iter().all(|s| !s.alerting));

    let mut unmuted = base.clone();
    unmuted.threshold = base.threshold * 2.0;
    let what = d.reload(unmuted).expect("good rules");
    assert!(what.contains("services.svc removed"), "{what}");
    assert!(what.contains("not applied until a restart: threshold"), "{what}");
    let (alerts, scores) = feed(&mut d, 415, 600);
    let seen = announced(&alerts);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        (415, AlertState::Firing),
        "announced on the first window after the reload"
    );
    assert_eq!(seen[1].1, AlertState::Resolved);
    assert!(seen[1].0 >= FAULT.end, "resolved after the fault: {seen:?}");
    assert!(scores[0].alerting);

    let what = d.reload(muted).expect("muting again");
    assert_eq!(
        what, "alert rules: services.svc added",
        "the threshold was never applied, so it has not changed"
    );
}
