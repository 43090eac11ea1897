//! The incident store through the same sqlx code as production, on SQLite: migrations run once,
//! every write is idempotent on its message id, results update their action and the timeline.

use homeostat_actuator::store::{self, NewAction, NewIncident};
use homeostat_schemas::{ActionResult, ActionStatus};
use sqlx::Row;

fn db(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("homeostat-store-{name}-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&p);
    format!("sqlite://{}", p.display())
}

#[tokio::test]
async fn writes_are_idempotent_and_results_reach_the_timeline() {
    let url = db("idem");
    let pool = store::connect(&url).await.expect("connect and migrate");
    // Connecting again re-runs nothing.
    store::migrate(&pool).await.expect("second migration run is a no-op");

    let inc = NewIncident {
        id: "inc-1",
        service_id: "payments",
        kind: "memory_leak",
        severity: "critical",
        summary: "memory rising",
        predicted: true,
        opened_at: 1000,
        score: 0.9,
        explanation: "[]",
    };
    assert!(store::open_incident(&pool, &inc).await.expect("open"));
    assert!(
        !store::open_incident(&pool, &inc).await.expect("redelivered"),
        "a redelivered message changes nothing"
    );
    let act = NewAction {
        id: "act-1",
        incident_id: "inc-1",
        service_id: "payments",
        strategy: "service_restart",
        mode: "dry_run",
        status: "dry_run",
        target: "payments",
        parameters: "{}",
        rollback_plan: "none",
        reason: "test",
        decided_at: 1000,
    };
    store::insert_action(&pool, &act).await.expect("action");
    store::insert_action(&pool, &act).await.expect("action again");
    let result = ActionResult {
        schema_version: 1,
        id: "res-1".into(),
        event_time: 2000,
        service_id: "payments".into(),
        action_id: "act-1".into(),
        status: ActionStatus::Skipped,
        executor: "dry-run".into(),
        detail: "nothing changed".into(),
    };
    store::record_result(&pool, &result).await.expect("result");
    store::record_result(&pool, &result).await.expect("result again");
    store::touch_incident(&pool, "inc-1", 2500, 0.97).await.expect("touch");
    store::resolve_incident(&pool, "inc-1", 3000, "healthy")
        .await
        .expect("resolve");
    store::resolve_incident(&pool, "inc-1", 3000, "healthy")
        .await
        .expect("resolve again");

    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .expect("count")
                .try_get::<i64, _>("n")
                .expect("n")
        }
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM incidents").await, 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM actions").await, 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM action_results").await, 1);
    // opened, action, action_result, resolved: each once.
    assert_eq!(count("SELECT COUNT(*) AS n FROM incident_events").await, 4);

    let rows = store::list_incidents(&pool, 10).await.expect("list");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.status.as_str(), r.resolved_at, r.predicted),
        ("resolved", Some(3000), true)
    );
    assert!((r.peak_score - 0.97).abs() < 1e-12);
    assert_eq!(r.action.as_deref(), Some("service_restart (dry_run, skipped)"));
    assert!(store::open_incidents(&pool).await.expect("open").is_empty());
    pool.close().await;
}
