//! The safety envelope in the actuator's decisions (mode `execute`, SQLite store): a destructive
//! remedy waits for approval and is published once approved; the kill switch blocks; no action on
//! sparse data; one action per service per cooldown. In dry-run nothing is withheld: the reason
//! says what the envelope would have done.

mod common;

use homeostat_actuator::{Actuator, ActuatorConfig, ActuatorIn, ActuatorOut, approvals, store};
use homeostat_schemas::{ActionMode, AnomalyScore, Contribution, Warmup};
use runtime::{Emitter, Stage, StageContext};
use sqlx::Row;

fn window(svc: &str, t: i64) -> ActuatorIn {
    common::window_of(svc, t, &[])
}

fn window_with(svc: &str, t: i64, p99: f64) -> ActuatorIn {
    common::window_of(svc, t, &[("latency_p99_ms", p99)])
}

fn errors(svc: &str, t: i64, rate: f64) -> ActuatorIn {
    common::window_of(svc, t, &[("error_rate", rate)])
}

fn anomaly(svc: &str, t: i64, alerting: bool, feature: &str) -> ActuatorIn {
    ActuatorIn::Anomaly(AnomalyScore {
        schema_version: 1,
        id: format!("a-{svc}-{t}"),
        event_time: t,
        service_id: svc.into(),
        window_id: format!("w-{svc}-{t}"),
        anomaly_score: if alerting { 0.95 } else { 0.05 },
        health_score: if alerting { 0.05 } else { 0.95 },
        degradation_trend: 0.0,
        warming_up: false,
        warmup: None,
        alerting,
        top_features: vec![Contribution {
            feature: feature.into(),
            value: 2.0,
            baseline: 1.0,
            deviation: 9.0,
        }],
    })
}

async fn actuator(mode: ActionMode, name: &str) -> (Actuator, sqlx::AnyPool) {
    let cfg: ActuatorConfig = common::actuator_config(&format!("decisions-{name}"), mode);
    let a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let pool = store::connect(&cfg.database_url).await.expect("store");
    (a, pool)
}

async fn feed(a: &mut Actuator, batch: Vec<ActuatorIn>) -> Vec<ActuatorOut> {
    let mut em = Emitter::default();
    a.process(batch, &mut em).await.expect("process");
    em.drain()
}

fn actions(out: &[ActuatorOut]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|o| match o {
            ActuatorOut::Action(c) => Some((c.service_id.clone(), c.strategy.as_str().to_owned())),
            ActuatorOut::Incident(_) => None,
        })
        .collect()
}

async fn status_of(pool: &sqlx::AnyPool, service: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT status, reason FROM actions WHERE service_id = $1 ORDER BY decided_at")
        .bind(service)
        .fetch_all(pool)
        .await
        .expect("actions")
        .iter()
        .map(|r| {
            (
                r.try_get("status").unwrap_or_default(),
                r.try_get("reason").unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_envelope_governs_what_the_actuator_does() {
    let (mut a, pool) = actuator(ActionMode::Execute, "execute").await;
    let data = |svc: &str| (0..8).map(|k| window(svc, k * 10_000)).collect::<Vec<_>>();
    for svc in ["payments", "search", "catalog"] {
        feed(&mut a, data(svc)).await;
    }

    // A memory leak: the restart is destructive, so it waits for a person.
    let out = feed(&mut a, vec![anomaly("payments", 100_000, true, "memory_max_ratio")]).await;
    assert!(actions(&out).is_empty(), "nothing published before approval");
    let s = status_of(&pool, "payments").await;
    assert_eq!(s[0].0, "awaiting_approval", "{s:?}");
    let pending = approvals::pending(&pool).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(
        approvals::decide(&pool, &pending[0].id, true, "alice", 110_000)
            .await
            .expect("approve")
    );
    let mut em = Emitter::default();
    a.on_tick(120_000, &mut em).await.expect("tick");
    assert_eq!(
        actions(&em.drain()),
        vec![("payments".to_owned(), "service_restart".to_owned())]
    );
    assert_eq!(status_of(&pool, "payments").await[0].0, "published");

    // The kill switch blocks a remedy that would otherwise go ahead.
    store::set_kill_switch(&pool, true, "ops", 130_000)
        .await
        .expect("kill switch");
    let out = feed(&mut a, vec![anomaly("search", 130_000, true, "latency_p99_ms")]).await;
    assert!(actions(&out).is_empty());
    let s = status_of(&pool, "search").await;
    assert_eq!(s[0].0, "blocked");
    assert!(s[0].1.contains("kill switch"), "{s:?}");
    store::set_kill_switch(&pool, false, "ops", 140_000)
        .await
        .expect("kill switch off");

    // No data for checkout: no action.
    let out = feed(&mut a, vec![anomaly("checkout", 150_000, true, "error_rate")]).await;
    assert!(actions(&out).is_empty());
    let s = status_of(&pool, "checkout").await;
    assert_eq!(s[0].0, "blocked");
    assert!(s[0].1.contains("sparse data"), "{s:?}");

    // catalog: a latency incident is acted on; resolved; a new one within the cooldown is not.
    let out = feed(&mut a, vec![anomaly("catalog", 200_000, true, "latency_p99_ms")]).await;
    assert_eq!(
        actions(&out),
        vec![("catalog".to_owned(), "gradual_traffic_shift".to_owned())]
    );
    let calm: Vec<ActuatorIn> = (1..=8)
        .map(|k| anomaly("catalog", 200_000 + k * 10_000, false, "latency_p99_ms"))
        .collect();
    feed(&mut a, calm).await;
    let out = feed(&mut a, vec![anomaly("catalog", 300_000, true, "error_rate")]).await;
    assert!(actions(&out).is_empty(), "within the 300 s cooldown");
    let s = status_of(&pool, "catalog").await;
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].0, "blocked");
    assert!(s[1].1.contains("cooldown"), "{s:?}");
}

#[tokio::test]
async fn in_dry_run_the_reason_says_what_the_envelope_would_do() {
    let (mut a, pool) = actuator(ActionMode::DryRun, "dry").await;
    let out = feed(&mut a, vec![anomaly("payments", 100_000, true, "memory_max_ratio")]).await;
    assert_eq!(
        actions(&out),
        vec![("payments".to_owned(), "service_restart".to_owned())]
    );
    let s = status_of(&pool, "payments").await;
    assert_eq!(s[0].0, "dry_run");
    assert!(s[0].1.contains("[envelope: would be blocked: sparse data"), "{s:?}");
}

#[tokio::test]
async fn actions_are_verified_and_the_ones_that_do_not_help_are_rolled_back() {
    let (mut a, pool) = actuator(ActionMode::Execute, "verify").await;
    for svc in ["api", "web"] {
        let mut batch: Vec<ActuatorIn> = (0..8).map(|k| window_with(svc, k * 10_000, 100.0)).collect();
        batch.push(window_with(svc, 80_000, 900.0));
        feed(&mut a, batch).await;
        let out = feed(&mut a, vec![anomaly(svc, 85_000, true, "latency_p99_ms")]).await;
        assert_eq!(
            actions(&out),
            vec![(svc.to_owned(), "gradual_traffic_shift".to_owned())]
        );
    }
    // api stays slow; web recovers. A gradual shift is judged 120 s after its last step could
    // have been taken (two more steps, 20 s apart): 160 s.
    let mut batch = Vec::new();
    for k in 1..=17 {
        batch.push(window_with("api", 80_000 + k * 10_000, 880.0));
        batch.push(window_with("web", 80_000 + k * 10_000, 120.0));
    }
    let out = feed(&mut a, batch).await;
    let rollbacks: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            ActuatorOut::Action(c) if c.parameters.contains_key("rollback_of") => Some(c.service_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        rollbacks,
        vec!["api".to_owned()],
        "only the remedy that did not help is undone"
    );
    assert_eq!(status_of(&pool, "api").await[0].0, "rolled_back");
    assert_eq!(status_of(&pool, "web").await[0].0, "published");
    let events: Vec<(String, String)> =
        sqlx::query("SELECT kind, detail FROM incident_events WHERE kind IN ('verified', 'rolled_back') ORDER BY kind")
            .fetch_all(&pool)
            .await
            .expect("events")
            .iter()
            .map(|r| {
                (
                    r.try_get("kind").unwrap_or_default(),
                    r.try_get("detail").unwrap_or_default(),
                )
            })
            .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].0 == "rolled_back" && events[0].1.contains("900.0000 → 880.0000"),
        "{events:?}"
    );
    assert!(
        events[1].0 == "verified" && events[1].1.contains("helped"),
        "{events:?}"
    );
    // The learner saw one failure and one success for this remedy on latency incidents.
    let arms = homeostat_actuator::bandit::arms(&pool, "latency_degradation", &["gradual_traffic_shift"])
        .await
        .expect("arms");
    assert_eq!((arms[0].successes, arms[0].failures), (1, 1));
}

#[tokio::test]
async fn the_first_remedy_fails_is_rolled_back_and_the_second_succeeds() {
    let (mut a, pool) = actuator(ActionMode::Execute, "second").await;
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| errors("shop", k * 10_000, 0.001)).collect();
    batch.push(errors("shop", 80_000, 0.30));
    feed(&mut a, batch).await;
    let out = feed(&mut a, vec![anomaly("shop", 85_000, true, "error_rate")]).await;
    let first = actions(&out);
    assert_eq!(first.len(), 1, "{first:?}");
    // The first remedy does not help: errors stay at 29 % through its 120 s window.
    let out = feed(
        &mut a,
        (1..=13).map(|k| errors("shop", 80_000 + k * 10_000, 0.29)).collect(),
    )
    .await;
    let published: Vec<(String, bool)> = out
        .iter()
        .filter_map(|o| match o {
            ActuatorOut::Action(c) => Some((c.strategy.as_str().to_owned(), c.parameters.contains_key("rollback_of"))),
            _ => None,
        })
        .collect();
    assert_eq!(published.len(), 2, "the rollback, then the next remedy: {published:?}");
    assert_eq!(published[0], (first[0].1.clone(), true));
    let second = published[1].0.clone();
    assert!(!published[1].1 && second != first[0].1, "{published:?}");
    // Nothing is known of the remedies left, so the next in the usual order is explored first.
    assert_eq!(
        (first[0].1.as_str(), second.as_str()),
        ("circuit_breaker_activation", "gradual_traffic_shift")
    );
    // The second helps: errors fall to 0.2 % and the incident resolves within its window (a
    // traffic remedy's is 120 s, a page's 300 s: it is judged by the incident resolving).
    let mut batch = Vec::new();
    for k in 14..=45 {
        batch.push(errors("shop", 80_000 + k * 10_000, 0.002));
        if k <= 20 {
            batch.push(anomaly("shop", 80_000 + k * 10_000 + 1, false, "error_rate"));
        }
    }
    feed(&mut a, batch).await;

    let statuses = status_of(&pool, "shop").await;
    assert_eq!(
        statuses.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        vec!["rolled_back", "published"],
        "{statuses:?}"
    );
    assert!(statuses[1].1.contains("did not help"), "{statuses:?}");
    let arms = homeostat_actuator::bandit::arms(&pool, "error_burst", &[first[0].1.as_str(), second.as_str()])
        .await
        .expect("arms");
    assert_eq!((arms[0].successes, arms[0].failures), (0, 1), "{arms:?}");
    assert_eq!((arms[1].successes, arms[1].failures), (1, 0), "{arms:?}");
    let stats: Vec<(String, i64)> = sqlx::query(
        "SELECT strategy, CAST(successes AS BIGINT) AS s FROM strategy_stats WHERE signature = 'error_burst' ORDER BY strategy",
    )
    .fetch_all(&pool)
    .await
    .expect("stats")
    .iter()
    .map(|r| (r.try_get("strategy").unwrap_or_default(), r.try_get("s").unwrap_or_default()))
    .collect();
    assert_eq!(stats.len(), 2, "{stats:?}");
    println!(
        "first {} rolled back, then {second} verified; strategy_stats successes: {stats:?}",
        first[0].1
    );
}

#[tokio::test]
async fn the_same_remedy_repeating_on_a_service_is_escalated_to_people() {
    let mut cfg: ActuatorConfig = common::actuator_config("decisions-loop", ActionMode::Execute);
    cfg.safety.cooldown_s = 0;
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let pool = store::connect(&cfg.database_url).await.expect("store");
    feed(&mut a, (0..8).map(|k| window("web", k * 10_000)).collect()).await;
    // Three latency incidents in a row, each met with the same remedy and each resolving...
    for n in 0..3 {
        let t = 100_000 + n * 100_000;
        let out = feed(&mut a, vec![anomaly("web", t, true, "latency_p99_ms")]).await;
        assert_eq!(
            actions(&out),
            vec![("web".to_owned(), "gradual_traffic_shift".to_owned())]
        );
        let calm = (1..=6)
            .map(|k| anomaly("web", t + k * 1_000, false, "latency_p99_ms"))
            .collect();
        feed(&mut a, calm).await;
    }
    // ...the fourth time within the hour, people are asked instead.
    let out = feed(&mut a, vec![anomaly("web", 400_000, true, "latency_p99_ms")]).await;
    assert!(actions(&out).is_empty(), "{:?}", actions(&out));
    let s = status_of(&pool, "web").await;
    assert_eq!(s.len(), 4, "{s:?}");
    assert_eq!(s[3].0, "escalated");
    assert!(s[3].1.contains("escalated to people"), "{s:?}");
    assert!(s[3].1.contains("3 times"), "{s:?}");
}

#[tokio::test]
async fn off_the_gateway_a_remedy_is_checked_on_the_facts_known_and_passed_over_when_it_does_not_apply() {
    let mut cfg: ActuatorConfig = common::actuator_config("decisions-facts", ActionMode::Execute);
    cfg.services.insert(
        "api".into(),
        homeostat_actuator::remedy::ServiceFacts {
            max_instances: Some(3),
            ..Default::default()
        },
    );
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let pool = store::connect(&cfg.database_url).await.expect("store");
    let busy = |t| common::window_of("api", t, &[("active_instances", 3.0), ("cpu_max_ratio", 0.97)]);
    feed(&mut a, (0..8).map(|k| busy(k * 10_000)).collect()).await;
    let out = feed(&mut a, vec![anomaly("api", 90_000, true, "cpu_max_ratio")]).await;
    // Saturation: scaling out is the usual first remedy, but api already runs its maximum of 3.
    let s = status_of(&pool, "api").await;
    assert_eq!(s.len(), 2, "{s:?}");
    let by = |status: &str| {
        s.iter()
            .find(|x| x.0 == status)
            .unwrap_or_else(|| panic!("no {status} in {s:?}"))
    };
    assert_eq!(
        by("not_applicable").1,
        "saturation: instance_scaling does not apply: already at the maximum of 3 instances"
    );
    // The next candidate goes ahead, its parameters typed on what is known: predictive scaling
    // needs a traffic forecast the actuator does not have, so its executor decides.
    assert_eq!(actions(&out), vec![("api".to_owned(), "predictive_scaling".to_owned())]);
    assert!(by("published").1.contains("instance_scaling does not apply"), "{s:?}");
}

#[tokio::test]
async fn an_action_its_executor_could_not_carry_out_is_not_verified_and_the_next_is_tried() {
    let (mut a, pool) = actuator(ActionMode::Execute, "failed").await;
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| errors("shop", k * 10_000, 0.001)).collect();
    batch.push(errors("shop", 80_000, 0.30));
    feed(&mut a, batch).await;
    let out = feed(&mut a, vec![anomaly("shop", 85_000, true, "error_rate")]).await;
    let first = match out.iter().find_map(|o| match o {
        ActuatorOut::Action(c) => Some(c.clone()),
        ActuatorOut::Incident(_) => None,
    }) {
        Some(c) => c,
        None => panic!("an action on actions.v1"),
    };
    // The gateway agent that took it from actions.v1 answers that it could not.
    let out = feed(
        &mut a,
        vec![ActuatorIn::Result(homeostat_schemas::ActionResult {
            schema_version: 1,
            id: "agent-1".into(),
            event_time: 86_000,
            service_id: "shop".into(),
            action_id: first.id.clone(),
            status: homeostat_schemas::ActionStatus::Failed,
            executor: "edge-agent".into(),
            detail: "backend pool is locked by a deploy".into(),
        })],
    )
    .await;
    let next = actions(&out);
    assert_eq!(next.len(), 1, "{next:?}");
    assert_ne!(next[0].1, first.strategy.as_str(), "another remedy");
    let s = status_of(&pool, "shop").await;
    assert!(s.iter().any(|x| x.0 == "failed"), "{s:?}");
    assert!(
        s.iter()
            .any(|x| x.1.contains("was not carried out: backend pool is locked by a deploy")),
        "{s:?}"
    );
    // The failed action is never judged: no outcome for the learner.
    let arms = homeostat_actuator::bandit::arms(&pool, "error_burst", &[first.strategy.as_str()])
        .await
        .expect("arms");
    assert_eq!((arms[0].successes, arms[0].failures), (0, 0));
    feed(
        &mut a,
        (1..=14).map(|k| errors("shop", 86_000 + k * 10_000, 0.30)).collect(),
    )
    .await;
    let arms = homeostat_actuator::bandit::arms(&pool, "error_burst", &[first.strategy.as_str()])
        .await
        .expect("arms");
    assert_eq!((arms[0].successes, arms[0].failures), (0, 0), "still never judged");
}

#[tokio::test]
async fn the_hourly_budget_caps_actions_across_the_fleet() {
    let mut cfg: ActuatorConfig = common::actuator_config("decisions-budget", ActionMode::Execute);
    cfg.safety.budget_per_hour = 2;
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let pool = store::connect(&cfg.database_url).await.expect("store");
    for (n, svc) in ["api", "web", "search"].into_iter().enumerate() {
        feed(&mut a, (0..8).map(|k| window(svc, k * 10_000)).collect()).await;
        let t = 100_000 + n as i64 * 60_000;
        feed(&mut a, vec![anomaly(svc, t, true, "latency_p99_ms")]).await;
    }
    assert_eq!(status_of(&pool, "api").await[0].0, "published");
    assert_eq!(status_of(&pool, "web").await[0].0, "published");
    let s = status_of(&pool, "search").await;
    assert_eq!(s[0].0, "blocked", "{s:?}");
    assert!(s[0].1.contains("budget"), "{s:?}");
}

#[tokio::test]
async fn a_restarted_actuator_still_judges_the_actions_of_its_predecessor() {
    let cfg: ActuatorConfig = common::actuator_config("decisions-restart", ActionMode::Execute);
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| window_with("api", k * 10_000, 100.0)).collect();
    batch.push(window_with("api", 80_000, 900.0));
    feed(&mut a, batch).await;
    let out = feed(&mut a, vec![anomaly("api", 85_000, true, "latency_p99_ms")]).await;
    assert_eq!(
        actions(&out),
        vec![("api".to_owned(), "gradual_traffic_shift".to_owned())]
    );
    drop(a);
    // A new actuator on the same store: api stays slow through the window, so it rolls the
    // action back and tries the next remedy, not the same one again.
    let mut b = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("second actuator");
    let out = feed(
        &mut b,
        (1..=17)
            .map(|k| window_with("api", 80_000 + k * 10_000, 880.0))
            .collect(),
    )
    .await;
    let published: Vec<(String, bool)> = out
        .iter()
        .filter_map(|o| match o {
            ActuatorOut::Action(c) => Some((c.strategy.as_str().to_owned(), c.parameters.contains_key("rollback_of"))),
            ActuatorOut::Incident(_) => None,
        })
        .collect();
    assert_eq!(published.len(), 2, "{published:?}");
    assert_eq!(published[0], ("gradual_traffic_shift".to_owned(), true));
    assert_ne!(published[1].0, "gradual_traffic_shift", "{published:?}");
}

#[tokio::test]
async fn a_restart_does_not_reset_the_hourly_budget() {
    let mut cfg: ActuatorConfig = common::actuator_config("decisions-budget-restart", ActionMode::Execute);
    cfg.safety.budget_per_hour = 2;
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    for (n, svc) in ["api", "web"].into_iter().enumerate() {
        feed(&mut a, (0..8).map(|k| window(svc, k * 10_000)).collect()).await;
        feed(
            &mut a,
            vec![anomaly(svc, 100_000 + n as i64 * 60_000, true, "latency_p99_ms")],
        )
        .await;
    }
    drop(a);
    let mut b = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("second actuator");
    feed(&mut b, (0..8).map(|k| window("search", k * 10_000)).collect()).await;
    let out = feed(&mut b, vec![anomaly("search", 220_000, true, "latency_p99_ms")]).await;
    assert!(actions(&out).is_empty(), "{:?}", actions(&out));
    let pool = store::connect(&cfg.database_url).await.expect("store");
    let s = status_of(&pool, "search").await;
    assert_eq!(s[0].0, "blocked", "{s:?}");
    assert!(s[0].1.contains("hourly action budget spent (2 actions)"), "{s:?}");
}

#[tokio::test]
async fn an_incident_the_detector_rebaselined_says_so_when_it_resolves() {
    let (mut a, pool) = actuator(ActionMode::DryRun, "rebaselined").await;
    let calm = |svc: &str, t: i64, warmup: Option<Option<Warmup>>| {
        let ActuatorIn::Anomaly(mut s) = anomaly(svc, t, false, "memory_max_ratio") else {
            unreachable!("anomaly() builds an anomaly score")
        };
        s.warming_up = warmup.is_some();
        s.warmup = warmup.flatten();
        s.anomaly_score = 0.0;
        ActuatorIn::Anomaly(s)
    };
    // "orders" changed for good, and the detector took its level as the new normal: its scores
    // come while it learns the service's levels afresh, saying why. "carts" calmed while a
    // detector that lost its checkpoint learned it anew. "legacy" calmed while a detector too old
    // to say why was warming up. "billing" simply recovered.
    let cases = [
        ("orders", Some(Some(Warmup::NewNormal))),
        ("carts", Some(Some(Warmup::New))),
        ("legacy", Some(None)),
        ("billing", None),
    ];
    for (svc, warmup) in cases {
        feed(&mut a, vec![anomaly(svc, 100_000, true, "memory_max_ratio")]).await;
        let calm: Vec<ActuatorIn> = (1..=6).map(|k| calm(svc, 100_000 + k * 10_000, warmup)).collect();
        feed(&mut a, calm).await;
    }
    let resolved = |svc: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "SELECT e.detail FROM incident_events e JOIN incidents i ON i.id = e.incident_id
                 WHERE i.service_id = $1 AND e.kind = 'resolved' AND i.status = 'resolved'",
            )
            .bind(svc)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{svc}'s incident resolved: {e}"))
            .try_get::<String, _>("detail")
            .expect("detail")
        }
    };
    assert_eq!(
        resolved("orders").await,
        "the detector took the service's lasting change as its new normal (detector.adopt_after_s) and learned its baseline afresh"
    );
    assert_eq!(
        resolved("carts").await,
        "the detector learned the service's baseline afresh: it had none for it, as after a restart without its checkpoint"
    );
    assert_eq!(
        resolved("legacy").await,
        "the detector learned the service's baseline afresh: a lasting change taken as its new normal, or a restart without its models"
    );
    assert_eq!(resolved("billing").await, "indicators back within baseline");
}

#[tokio::test]
async fn an_incident_follows_its_alert_whatever_the_score() {
    // A service with its own alert rules (say `fire_above = 0.8`, `resolve_below = 0.6`): its
    // alert resolved while its scores still sit at 0.55. The incident resolves with the alert,
    // not at a fixed score.
    let (mut a, pool) = actuator(ActionMode::DryRun, "follows").await;
    feed(&mut a, vec![anomaly("reports", 100_000, true, "latency_p99_ms")]).await;
    let after: Vec<ActuatorIn> = (1..=6)
        .map(|k| {
            let ActuatorIn::Anomaly(mut s) = anomaly("reports", 100_000 + k * 10_000, false, "latency_p99_ms") else {
                unreachable!("anomaly() builds an anomaly score")
            };
            s.anomaly_score = 0.55;
            ActuatorIn::Anomaly(s)
        })
        .collect();
    feed(&mut a, after).await;
    let status: String = sqlx::query("SELECT status FROM incidents WHERE service_id = 'reports'")
        .fetch_one(&pool)
        .await
        .expect("the incident")
        .try_get("status")
        .expect("status");
    assert_eq!(status, "resolved");
}
