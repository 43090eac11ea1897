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

impl Rig {
    /// b2's state in HAProxy now.
    async fn b2(&self) -> ServerState {
        self.h.rt.servers("app").await.expect("servers")[1].state
    }
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
    actuator_in(rig, ActionMode::Execute).await
}

async fn actuator_in(rig: &Rig, mode: ActionMode) -> (Actuator, ActuatorConfig) {
    let mut acfg: ActuatorConfig = common::actuator_config(&format!("gateway-{}", rig.h.front), mode);
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
        warmup: None,
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
    assert_eq!(r.b2().await, ServerState::Drain);
    // b2 is fixed: after three good probes it is back in rotation.
    failing.store(false, Ordering::SeqCst);
    for k in 0..3 {
        a.on_tick(400_000 + k, &mut em).await.expect("tick");
    }
    assert_eq!(r.b2().await, ServerState::Ready);
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
        "succeeded by haproxy: drained app/b2 (b2: 10 of 10 recent responses 5xx)"
    );
    assert!(event("verified").contains("helped: ErrorRate 0.3300 → 0.0020"));
    assert_eq!(
        event("restored"),
        "app/b2 healthy 3 times in a row: back in rotation (app/b2 ready)"
    );
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
    assert_eq!(r.b2().await, ServerState::Drain);
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
    // Weight 1 halved is 0: the shift takes b2 out of the round robin while staying ready.
    let expected_weight = if statuses[1].0 == "gradual_traffic_shift" { 0 } else { 1 };
    assert_eq!(
        (s[1].state, s[1].weight),
        (ServerState::Ready, expected_weight),
        "{s:?} after {statuses:?}"
    );
    let undone = common::text(&pool, "SELECT detail FROM incident_events WHERE kind = 'undone'").await;
    assert_eq!(undone, "app/b2 ready");
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
    assert_eq!(r.b2().await, ServerState::Ready, "b2 left alone");
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

#[tokio::test]
async fn a_remedy_that_does_not_apply_is_recorded_with_its_reason_and_the_next_is_tried() {
    // Every backend fails alike: no server stands out, so neither draining nor down-weighting one
    // applies; the next candidate, a configuration rollback, waits for a person's approval.
    let failing = Arc::new(AtomicBool::new(true));
    let ports = [
        backend("b1", failing.clone()).await,
        backend("b2", failing.clone()).await,
        backend("b3", failing.clone()).await,
    ];
    let h = common::haproxy("skip", ports).await;
    for _ in 0..30 {
        assert_eq!(get(h.front).await.0, 500);
    }
    let r = Rig { h, failing };
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let rows: Vec<(String, String, String)> =
        sqlx::query("SELECT strategy, status, reason FROM actions ORDER BY decided_at, status DESC")
            .fetch_all(&pool)
            .await
            .expect("actions")
            .iter()
            .map(|x| {
                (
                    x.try_get("strategy").unwrap_or_default(),
                    x.try_get("status").unwrap_or_default(),
                    x.try_get("reason").unwrap_or_default(),
                )
            })
            .collect();
    let find = |s: &str| {
        rows.iter()
            .find(|r| r.0 == s)
            .unwrap_or_else(|| panic!("no {s} in {rows:?}"))
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
    let cb = find("circuit_breaker_activation");
    assert_eq!(cb.1, "not_applicable");
    assert_eq!(
        cb.2,
        "error_burst: circuit_breaker_activation does not apply: no instance stands out as faulty"
    );
    assert_eq!(find("gradual_traffic_shift").1, "not_applicable");
    let next = find("configuration_rollback");
    assert_eq!(next.1, "awaiting_approval");
    assert!(next.2.contains("gradual_traffic_shift does not apply"), "{next:?}");
    for s in r.h.rt.servers("app").await.expect("servers") {
        assert_eq!((s.state, s.weight), (ServerState::Ready, 1), "nothing changed: {s:?}");
    }
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn every_gateway_remedy_is_carried_out_and_undone_exactly_through_the_runtime_api() {
    use homeostat_actuator::gateway::{Gateway, GatewayConfig};
    use homeostat_actuator::remedy::{Indicators, Remedy};
    use homeostat_schemas::Strategy;
    let failing = Arc::new(AtomicBool::new(true));
    let ok = Arc::new(AtomicBool::new(false));
    let ports = [
        backend("b1", ok.clone()).await,
        backend("b2", failing.clone()).await,
        backend("b3", ok.clone()).await,
    ];
    let spare = backend("spare", ok.clone()).await;
    let h = common::haproxy_with_backup("remedies", ports, Some(spare)).await;
    for _ in 0..30 {
        get(h.front).await;
    }
    let mut g = Gateway::new(GatewayConfig {
        socket: format!("127.0.0.1:{}", h.admin),
        backends: [("shop".to_owned(), "app".to_owned())].into(),
        restore_after_probes: 3,
        shift_step_s: 1,
    })
    .expect("gateway");
    let state = || async {
        h.rt.servers("app")
            .await
            .expect("servers")
            .into_iter()
            .map(|s| (s.name, s.state, s.weight))
            .collect::<Vec<_>>()
    };
    let initial = state().await;
    assert_eq!(initial[3], ("spare".into(), ServerState::Maint, 1), "{initial:?}");
    let now = Indicators {
        error_rate: 0.33,
        ..Indicators::default()
    };

    // Routing to the backup: b2 drained, spare enabled; undone: b2 ready, spare in maintenance.
    let p = g
        .propose("shop", Strategy::RoutingTableUpdate, now)
        .await
        .expect("applies");
    assert_eq!(
        p.remedy,
        Remedy::RoutingTableUpdate {
            enable: vec!["spare".into()],
            drain: vec!["b2".into()]
        }
    );
    assert_eq!((p.instances, p.instances_total), (1, 3));
    let done = g.execute("a1", "i1", "shop", p).await.expect("routed");
    assert_eq!(
        done,
        "routed app to its backups (drained b2; enabled spare) (b2: 10 of 10 recent responses 5xx)"
    );
    let s = state().await;
    assert_eq!((s[1].1, s[3].1), (ServerState::Drain, ServerState::Ready), "{s:?}");
    assert_eq!(
        g.undo("a1").await.expect("undo"),
        "app/b2 ready, app/spare in maintenance"
    );
    assert_eq!(state().await, initial);

    // Load-balancer reconfiguration favours the healthy servers; undone: the recorded weights.
    let p = g
        .propose("shop", Strategy::LoadBalancerReconfiguration, now)
        .await
        .expect("applies");
    assert_eq!(p.instances, 0, "nothing taken out of rotation");
    let done = g.execute("a2", "i1", "shop", p).await.expect("weights");
    assert!(done.starts_with("weights of app: b1 2, b2 1, b3 2"), "{done}");
    let s = state().await;
    assert_eq!((s[0].2, s[1].2, s[2].2), (2, 1, 2));
    g.undo("a2").await.expect("undo");
    assert_eq!(state().await, initial);

    // A gradual shift halves the faulty server's weight (here set to 10 first).
    h.rt.set_weight("app", "b2", 10).await.expect("weight");
    let p = g
        .propose("shop", Strategy::GradualTrafficShift, now)
        .await
        .expect("applies");
    let done = g.execute("a3", "i1", "shop", p).await.expect("shift");
    assert!(
        done.starts_with("weight of app/b2 10 → 5, then 2, 0 every 1 s"),
        "{done}"
    );
    // Step by step (one per second here) while it is not judged.
    g.observe().await;
    assert_eq!(state().await[1].2, 5, "not yet due");
    for expected in [2, 0] {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        g.observe().await;
        assert_eq!(state().await[1].2, expected);
    }
    assert_eq!(g.undo("a3").await.expect("undo"), "weights of app: b2 10");
    assert_eq!(state().await[1], ("b2".into(), ServerState::Ready, 10));

    // Nothing of the sort applies to a service whose servers all answer alike.
    failing.store(false, Ordering::SeqCst);
    g.observe().await;
    for _ in 0..30 {
        get(h.front).await;
    }
    let e = g
        .propose("shop", Strategy::CircuitBreakerActivation, now)
        .await
        .expect_err("b2's errors are older than the last sample");
    assert_eq!(
        e,
        "circuit_breaker_activation does not apply: no instance stands out as faulty"
    );
    let _ = std::fs::remove_dir_all(&h.dir);
}

#[tokio::test]
async fn in_shadow_mode_the_action_is_published_but_the_gateway_is_left_alone() {
    let r = rig("shadow").await;
    let (mut a, acfg) = actuator_in(&r, ActionMode::Shadow).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");
    let published: Vec<_> = em
        .drain()
        .into_iter()
        .filter_map(|o| match o {
            homeostat_actuator::ActuatorOut::Action(c) => Some(c),
            homeostat_actuator::ActuatorOut::Incident(_) => None,
        })
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].mode, ActionMode::Shadow);
    assert_eq!(published[0].strategy.as_str(), "circuit_breaker_activation");
    // The typed remedy, proposed on the live state, travels with the command.
    assert_eq!(published[0].parameters["remedy"], "circuit_breaker_activation");
    assert_eq!(published[0].parameters["instance"], "b2");
    for s in r.h.rt.servers("app").await.expect("servers") {
        assert_eq!(s.state, ServerState::Ready, "shadow changes nothing: {s:?}");
    }
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let status = common::text(&pool, "SELECT status FROM actions").await;
    assert_eq!(status, "published");
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn the_gateway_agent_carries_out_undoes_and_only_describes_shadow_actions() {
    use homeostat_actuator::agent::{AgentConfig, GatewayAgent};
    use homeostat_schemas::{ActionCommand, ActionResult, ActionStatus, Strategy};
    let r = rig("agent").await;
    let mut backends = std::collections::HashMap::new();
    backends.insert("shop".to_owned(), "app".to_owned());
    let cfg = AgentConfig {
        haproxy: homeostat_actuator::gateway::GatewayConfig {
            socket: format!("127.0.0.1:{}", r.h.admin),
            backends,
            restore_after_probes: 3,
            shift_step_s: 1,
        },
        grace_s: 0,
        name: "edge-1".into(),
        state_file: r.h.dir.join("agent-state.json").display().to_string(),
    };
    let mut agent = GatewayAgent::build(cfg.clone(), &StageContext::new("gateway_agent"))
        .await
        .expect("agent");
    let command = |id: &str, service: &str, mode: ActionMode, rollback_of: Option<&str>| {
        let mut parameters = serde_json::Map::new();
        if let Some(of) = rollback_of {
            parameters.insert("rollback_of".into(), serde_json::json!(of));
        }
        ActionCommand {
            schema_version: 1,
            id: id.into(),
            event_time: 0,
            service_id: service.into(),
            incident_id: "inc-1".into(),
            strategy: Strategy::CircuitBreakerActivation,
            target: service.into(),
            parameters,
            mode,
            rollback_plan: String::new(),
            verification_window_s: 60,
            reason: "error_burst".into(),
        }
    };
    let mut em: Emitter<ActionResult> = Emitter::default();

    // Shadow: described, not done.
    agent
        .process(vec![command("a0", "shop", ActionMode::Shadow, None)], &mut em)
        .await
        .expect("process");
    let out = em.drain();
    assert_eq!(out[0].status, ActionStatus::Skipped);
    assert_eq!(
        out[0].detail,
        r#"shadow: would carry out {"remedy":"circuit_breaker_activation","instance":"b2","open_for_s":60}"#
    );
    assert_eq!(r.b2().await, ServerState::Ready);

    // Execute: done and answered; another service's action is left to other executors.
    agent
        .process(
            vec![
                command("a1", "shop", ActionMode::Execute, None),
                command("x1", "billing", ActionMode::Execute, None),
            ],
            &mut em,
        )
        .await
        .expect("process");
    let out = em.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].action_id.as_str(), out[0].status),
        ("a1", ActionStatus::Succeeded)
    );
    assert_eq!(out[0].executor, "edge-1");
    assert!(out[0].detail.starts_with("drained app/b2"), "{out:?}");
    assert_eq!(r.b2().await, ServerState::Drain);

    // The agent restarts; the new one takes over from its state file. The actuator rolls the
    // action back: undone exactly, answered on the rollback's id.
    drop(agent);
    let mut agent = GatewayAgent::build(cfg.clone(), &StageContext::new("gateway_agent"))
        .await
        .expect("restarted agent");
    agent
        .process(
            vec![command("a1-rollback", "shop", ActionMode::Execute, Some("a1"))],
            &mut em,
        )
        .await
        .expect("process");
    let out = em.drain();
    assert_eq!(
        (out[0].action_id.as_str(), out[0].status, out[0].detail.as_str()),
        ("a1-rollback", ActionStatus::Succeeded, "undone: app/b2 ready")
    );
    assert_eq!(r.b2().await, ServerState::Ready);
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn a_slow_server_is_found_by_probing_and_its_traffic_shifted_away() {
    let ok = Arc::new(AtomicBool::new(false));
    let slow = Arc::new(AtomicBool::new(true));
    let ports = [
        backend("b1", ok.clone()).await,
        common::slow_backend("b2", slow.clone()).await,
        backend("b3", ok.clone()).await,
    ];
    let h = common::haproxy("slow", ports).await;
    h.rt.set_weight("app", "b2", 10).await.expect("weight");
    let r = Rig { h, failing: slow };
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    // A latency incident: p99 up from 20 ms to 310 ms; no server answers 5xx.
    let mut batch: Vec<ActuatorIn> = (0..8)
        .map(|k| common::window_of("shop", k * 10_000, &[("latency_p99_ms", 20.0)]))
        .collect();
    batch.push(common::window_of("shop", 80_000, &[("latency_p99_ms", 310.0)]));
    batch.push(common::alert("shop", 85_000, "latency_p99_ms", 310.0, 20.0));
    a.process(batch, &mut em).await.expect("process");
    let s = r.h.rt.servers("app").await.expect("servers");
    assert_eq!((s[1].name.as_str(), s[1].weight), ("b2", 5), "{s:?}");
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let detail = common::text(&pool, "SELECT detail FROM incident_events WHERE kind = 'action_result'").await;
    assert!(
        detail.starts_with("succeeded by haproxy: weight of app/b2 10 → 5, then 2, 0 every 20 s (b2: 3"),
        "{detail}"
    );
    assert!(
        detail.contains("ms to answer a probe (median of 3), others"),
        "{detail}"
    );
    let _ = std::fs::remove_dir_all(&r.h.dir);
}

#[tokio::test]
async fn a_restarted_actuator_judges_and_restores_what_its_predecessor_drained() {
    let r = rig("resume").await;
    let (mut a, acfg) = actuator(&r).await;
    let mut em = Emitter::default();
    a.process(incident(), &mut em).await.expect("process");
    assert_eq!(r.b2().await, ServerState::Drain);
    // The actuator stops before judging its action; a new one starts on the same store, and
    // judges it: the error rate recovered, so it is verified.
    drop(a);
    let mut b = Actuator::connect(acfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("second actuator");
    let recovered: Vec<ActuatorIn> = (1..=14).map(|k| errors(80_000 + k * 10_000, 0.002)).collect();
    b.process(recovered, &mut em).await.expect("process");
    // b2 still fails: it stays out. Once fixed, the new actuator puts it back.
    for k in 0..3 {
        b.on_tick(300_000 + k, &mut em).await.expect("tick");
    }
    assert_eq!(r.b2().await, ServerState::Drain);
    r.failing.store(false, Ordering::SeqCst);
    for k in 0..3 {
        b.on_tick(400_000 + k, &mut em).await.expect("tick");
    }
    assert_eq!(r.b2().await, ServerState::Ready);
    let pool = store::connect(&acfg.database_url).await.expect("store");
    let restored = common::text(&pool, "SELECT detail FROM incident_events WHERE kind = 'restored'").await;
    assert_eq!(
        restored,
        "app/b2 healthy 3 times in a row: back in rotation (app/b2 ready)"
    );
    let verified = common::text(&pool, "SELECT detail FROM incident_events WHERE kind = 'verified'").await;
    assert!(verified.contains("helped: ErrorRate 0.3300 → 0.0020"), "{verified}");
    // Nothing is left to take over.
    let c = Actuator::connect(acfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("third actuator");
    drop(c);
    let saved = store::state(&pool, "haproxy").await.expect("state").expect("saved");
    assert_eq!(saved, r#"{"applied":{},"waiting":[]}"#);
    let _ = std::fs::remove_dir_all(&r.h.dir);
}
