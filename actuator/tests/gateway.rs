//! The closed loop through a real HAProxy in front of three backends, one of them failing: the
//! actuator (mode execute) drains the server with the 5xx responses through the runtime API, no
//! request reaches it afterwards, the service's error rate recovers and the action is verified,
//! and once the backend answers again it is put back into rotation. The whole timeline is in the
//! store. (The anomaly and the feature windows are given to the actuator directly; detecting
//! them from real telemetry is the pipeline's job, tested in tests/tests/e2e.rs.)

mod common;
use common::{backend, get};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use homeostat_actuator::haproxy::ServerState;
use homeostat_actuator::{Actuator, ActuatorConfig, ActuatorIn, store};
use homeostat_schemas::{ActionMode, AnomalyScore, Contribution};
use runtime::{Emitter, Stage, StageContext};
use sqlx::Row;

fn errors(t: i64, rate: f64) -> ActuatorIn {
    common::window_of("shop", t, &[("error_rate", rate)])
}

struct Rig {
    h: common::Haproxy,
    failing: Arc<AtomicBool>,
}

/// HAProxy in front of b1, b2 (failing) and b3, after 30 requests of which b2 failed 10.
async fn rig(name: &str) -> Rig {
    let failing = Arc::new(AtomicBool::new(true));
    let ok = Arc::new(AtomicBool::new(false));
    let ports = [
        backend("b1", ok.clone()).await,
        backend("b2", failing.clone()).await,
        backend("b3", ok.clone()).await,
    ];
    let h = common::haproxy(name, ports).await;
    let mut failed = 0;
    for _ in 0..30 {
        if get(h.front).await.0 == 500 {
            failed += 1;
        }
    }
    assert_eq!(failed, 10);
    Rig { h, failing }
}

async fn actuator(rig: &Rig) -> (Actuator, ActuatorConfig) {
    let mut acfg: ActuatorConfig = common::actuator_config(&format!("gateway-{}", rig.h.front), ActionMode::Execute);
    acfg.haproxy.socket = format!("127.0.0.1:{}", rig.h.admin);
    acfg.haproxy.backends.insert("shop".into(), "app".into());
    let a = Actuator::connect(acfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    (a, acfg)
}

fn incident() -> Vec<ActuatorIn> {
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| errors(k * 10_000, 0.001)).collect();
    batch.push(errors(80_000, 0.33));
    batch.push(ActuatorIn::Anomaly(AnomalyScore {
        schema_version: 1,
        id: "a-shop".into(),
        event_time: 85_000,
        service_id: "shop".into(),
        window_id: "w-85000".into(),
        anomaly_score: 0.97,
        health_score: 0.03,
        degradation_trend: 0.0,
        warming_up: false,
        alerting: true,
        top_features: vec![Contribution {
            feature: "error_rate".into(),
            value: 0.33,
            baseline: 0.001,
            deviation: 40.0,
        }],
    }));
    batch
}

#[tokio::test]
async fn a_failing_backend_is_drained_verified_and_restored_once_healthy() {
    let r = rig("restore").await;
    let (rt, front, failing) = (&r.h.rt, r.h.front, r.failing.clone());
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");

    // b2 is drained, and no request reaches it any more.
    let servers = rt.servers("app").await.expect("servers");
    assert_eq!(servers[1].name, "b2");
    assert_eq!(servers[1].state, ServerState::Drain, "{servers:?}");
    for _ in 0..12 {
        let (code, who) = get(front).await;
        assert_eq!(code, 200, "no failed request once b2 is drained");
        assert_ne!(who, "b2");
    }

    // The service's error rate recovers within the verification window: the action is verified.
    let recovered: Vec<ActuatorIn> = (1..=14).map(|k| errors(80_000 + k * 10_000, 0.002)).collect();
    a.process(recovered, &mut em).await.expect("process");
    // b2 is still failing: probes keep it out.
    for k in 0..4 {
        a.on_tick(300_000 + k, &mut em).await.expect("tick");
    }
    assert_eq!(rt.servers("app").await.expect("servers")[1].state, ServerState::Drain);
    // b2 is fixed: after three good probes it is back in rotation.
    failing.store(false, Ordering::SeqCst);
    for k in 0..3 {
        a.on_tick(400_000 + k, &mut em).await.expect("tick");
    }
    assert_eq!(rt.servers("app").await.expect("servers")[1].state, ServerState::Ready);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let (code, who) = get(front).await;
        assert_eq!(code, 200);
        seen.insert(who);
    }
    assert!(seen.contains("b2"), "b2 serves again: {seen:?}");

    // The whole timeline is in the store.
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let timeline: Vec<(String, String)> =
        sqlx::query("SELECT kind, detail FROM incident_events ORDER BY event_time, recorded_us")
            .fetch_all(&pool)
            .await
            .expect("timeline")
            .iter()
            .map(|r| {
                (
                    r.try_get("kind").unwrap_or_default(),
                    r.try_get("detail").unwrap_or_default(),
                )
            })
            .collect();
    let event = |kind: &str| {
        timeline
            .iter()
            .find(|e| e.0 == kind)
            .map(|e| e.1.clone())
            .unwrap_or_else(|| panic!("no {kind} event in {timeline:?}"))
    };
    assert_eq!(timeline.len(), 5, "{timeline:?}");
    assert!(event("opened").contains("error_rate"));
    assert_eq!(event("action"), "circuit_breaker_activation (execute)");
    assert_eq!(
        event("action_result"),
        "succeeded by haproxy: drained app/b2 (10 5xx responses)"
    );
    assert!(event("verified").contains("helped: ErrorRate 0.3300 → 0.0020"));
    assert_eq!(event("restored"), "app/b2 healthy 3 times in a row: back in rotation");
    // Verified before restored.
    let pos = |kind: &str| timeline.iter().position(|e| e.0 == kind);
    assert!(pos("verified") < pos("restored"));
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn a_remedy_that_does_not_help_is_undone_through_haproxy_and_the_next_is_tried() {
    let r = rig("undo").await;
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");
    assert_eq!(
        r.h.rt.servers("app").await.expect("servers")[1].state,
        ServerState::Drain
    );
    // Errors stay high (the fault is elsewhere): the drain is undone exactly, and the next
    // remedy is decided.
    let still: Vec<ActuatorIn> = (1..=14).map(|k| errors(80_000 + k * 10_000, 0.30)).collect();
    a.process(still, &mut em).await.expect("process");
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let statuses: Vec<(String, String)> = sqlx::query("SELECT strategy, status FROM actions ORDER BY decided_at, id")
        .fetch_all(&pool)
        .await
        .expect("actions")
        .iter()
        .map(|x| {
            (
                x.try_get("strategy").unwrap_or_default(),
                x.try_get("status").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(
        statuses[0],
        ("circuit_breaker_activation".to_owned(), "rolled_back".to_owned())
    );
    assert_ne!(statuses[1].0, "circuit_breaker_activation", "a different remedy next");
    let s = r.h.rt.servers("app").await.expect("servers");
    let expected_weight = if statuses[1].0 == "gradual_traffic_shift" { 0 } else { 1 };
    assert_eq!(
        (s[1].state, s[1].weight),
        (ServerState::Ready, expected_weight),
        "{s:?} after {statuses:?}"
    );
    let undone: String = sqlx::query("SELECT detail FROM incident_events WHERE kind = 'undone'")
        .fetch_one(&pool)
        .await
        .expect("undone event")
        .try_get("detail")
        .expect("detail");
    assert_eq!(undone, "app/b2 back to weight 1 and Ready");
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn no_remedy_takes_out_more_than_a_third_of_the_instances() {
    let r = rig("blast").await;
    // b3 is already in maintenance: draining b2 as well would leave one server of three.
    r.h.rt.set_state("app", "b3", ServerState::Maint).await.expect("maint");
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");
    assert_eq!(
        r.h.rt.servers("app").await.expect("servers")[1].state,
        ServerState::Ready,
        "b2 left alone"
    );
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let row = sqlx::query("SELECT status, reason FROM actions")
        .fetch_one(&pool)
        .await
        .expect("action");
    assert_eq!(row.try_get::<String, _>("status").expect("status"), "blocked");
    let reason: String = row.try_get("reason").expect("reason");
    assert!(
        reason.contains("blast radius: 2 instances asked, at most 1 at once"),
        "{reason}"
    );
    let _ = std::fs::remove_dir_all(&r.h.dir);
}
