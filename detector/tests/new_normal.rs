//! A lasting change (a release that needs more memory and answers more slowly, say) is an
//! incident at first. Once its alert has fired for `adopt_after_s`, the service's current level
//! is taken as its new normal: the alert resolves, saying so, and later faults are measured from
//! the new level. With `adopt_after_s = 0` the alert stays firing for as long as the change lasts.

use homeostat_detector::fixtures::{quick_training, split, window};
use homeostat_detector::{Detector, DetectorConfig};
use homeostat_schemas::{Alert, AlertState, AnomalyScore, Warmup};
use runtime::{Emitter, StageContext};

/// Windows are 10 s apart: 180 windows are 30 minutes.
const ADOPT_AFTER_S: u64 = 1800;
const STEP_AT: i64 = 400;
const SPIKE: std::ops::Range<i64> = 1200..1230;
const END: i64 = 1500;

/// Service "c" steps up for good at `STEP_AT` (fault 0.5: latency 2.5×, memory and errors up),
/// and has a further fault on top of that during `SPIKE`; "a" and "b" stay healthy. Returns the
/// alerts and the scores.
fn run(adopt_after_s: u64) -> (Vec<Alert>, Vec<AnomalyScore>) {
    let cfg = DetectorConfig {
        adopt_after_s,
        ..quick_training()
    };
    let mut d = Detector::new(cfg, &StageContext::new("detector")).expect("build");
    let mut em = Emitter::default();
    for t in 0..END {
        let fault = match t {
            _ if SPIKE.contains(&t) => 1.5,
            _ if t >= STEP_AT => 0.5,
            _ => 0.0,
        };
        let batch = vec![
            window("a", 1.0, t, 1, 0.0),
            window("b", 4.0, t, 2, 0.0),
            window("c", 2.0, t, 3, fault),
        ];
        d.handle_batch(&batch, &mut em);
    }
    split(em.drain())
}

/// Window index of an event time (the fixture's windows start at 1.7e12 ms, 10 s apart).
fn at(event_time: i64) -> i64 {
    (event_time - 1_700_000_000_000) / 10_000
}

/// Window index of an alert.
fn index(a: &Alert) -> i64 {
    at(a.event_time)
}

/// The windows of `service` scored while warming up, as (first, last, why), one per warm-up.
fn warmups(scores: &[AnomalyScore], service: &str) -> Vec<(i64, i64, Option<Warmup>)> {
    let mut spans: Vec<(i64, i64, Option<Warmup>)> = Vec::new();
    for s in scores.iter().filter(|s| s.service_id == service && s.warming_up) {
        let t = at(s.event_time);
        match spans.last_mut() {
            Some((_, last, why)) if *last == t - 1 && *why == s.warmup => *last = t,
            _ => spans.push((t, t, s.warmup)),
        }
    }
    spans
}

/// The alerts as (service, state, window index, summary), for failure messages.
fn seen(alerts: &[Alert]) -> Vec<(String, AlertState, i64, String)> {
    alerts
        .iter()
        .map(|a| (a.service_id.clone(), a.state, index(a), a.summary.clone()))
        .collect()
}

#[test]
fn a_lasting_change_becomes_the_new_normal_and_later_faults_are_measured_from_it() {
    let (alerts, scores) = run(ADOPT_AFTER_S);
    let seen = seen(&alerts);
    assert!(
        alerts.iter().all(|a| a.service_id == "c"),
        "only the changed service alerts: {seen:?}"
    );
    assert_eq!(
        alerts.len(),
        4,
        "the step and the later fault, each fired and resolved once: {seen:?}"
    );

    let (step, adopted, spike, over) = (&alerts[0], &alerts[1], &alerts[2], &alerts[3]);
    assert_eq!(step.state, AlertState::Firing);
    assert!(
        (STEP_AT..STEP_AT + 5).contains(&index(step)),
        "the step fires at once: {seen:?}"
    );

    // Resolved once the alert has lasted ADOPT_AFTER_S and the service has warmed up again (its
    // scores are 0 while it does; the alert resolves after `resolve_after` calm windows).
    assert_eq!(adopted.state, AlertState::Resolved);
    let adopt_at = index(step) + (ADOPT_AFTER_S / 10) as i64;
    assert!(
        (adopt_at..adopt_at + 40).contains(&index(adopted)),
        "resolved about {ADOPT_AFTER_S} s after it fired: {seen:?}"
    );
    assert!(
        adopted.summary.contains("new normal"),
        "the resolution says why: {}",
        adopted.summary
    );

    // A fault on top of the new level is a new incident, measured from the new level, and it
    // resolves as any fault does.
    assert_eq!(spike.state, AlertState::Firing);
    assert!(
        (SPIKE.start..SPIKE.start + 5).contains(&index(spike)),
        "the later fault fires at once: {seen:?}"
    );
    assert!(
        spike
            .explanation
            .iter()
            .any(|c| c.feature.starts_with("latency") || c.feature.starts_with("memory")),
        "explained by what moved: {:?}",
        spike.explanation
    );
    assert_eq!(over.state, AlertState::Resolved);
    assert!(
        (SPIKE.end..SPIKE.end + 20).contains(&index(over)),
        "it resolves soon after the fault ends: {seen:?}"
    );
    assert!(over.summary.contains("back within its baseline"), "{}", over.summary);

    // The scores say why the detector is warming up, so the actuator can tell an adopted change
    // from a detector that lost its models: a service first seen warms up as new, and the changed
    // service warms up again, as a new normal, from the adoption: its alert resolves meanwhile.
    assert!(
        scores.iter().all(|s| s.warming_up == s.warmup.is_some()),
        "a reason exactly while warming up"
    );
    let c = warmups(&scores, "c");
    assert_eq!(c.len(), 2, "warmed up twice: {c:?}");
    assert_eq!((c[0].0, c[0].2), (0, Some(Warmup::New)), "{c:?}");
    assert_eq!(c[1].2, Some(Warmup::NewNormal), "{c:?}");
    assert!(
        (adopt_at..adopt_at + 5).contains(&c[1].0) && (c[1].0..=c[1].1).contains(&index(adopted)),
        "from the adoption, past the resolution at {}: {c:?}",
        index(adopted)
    );
    for healthy in ["a", "b"] {
        let w = warmups(&scores, healthy);
        assert!(
            w.len() == 1 && w[0].0 == 0 && w[0].2 == Some(Warmup::New),
            "{healthy} warms up once, as new: {w:?}"
        );
    }
}

#[test]
fn with_adoption_off_a_lasting_change_alerts_for_as_long_as_it_lasts() {
    let (alerts, _) = run(0);
    let seen = seen(&alerts);
    assert_eq!(alerts.len(), 1, "fired once and never resolved: {seen:?}");
    assert_eq!(alerts[0].service_id, "c");
    assert_eq!(alerts[0].state, AlertState::Firing);
}
