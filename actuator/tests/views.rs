//! The SQL views operators query (docs/INCIDENTS.md), on PostgreSQL and SQLite through the same
//! code: open incidents, MTTR per service and per strategy, actions rolled back, incidents averted
//! by prediction.

mod common;

use homeostat_actuator::store::{self, NewAction, NewIncident};
use sqlx::{AnyPool, Row};

async fn incident(pool: &AnyPool, id: &str, service: &str, predicted: bool, opened: i64, strategy: &str) {
    store::open_incident(
        pool,
        &NewIncident {
            id,
            service_id: service,
            kind: "error_burst",
            severity: "critical",
            summary: "errors",
            predicted,
            opened_at: opened,
            score: 0.9,
            explanation: "[]",
        },
    )
    .await
    .expect("open");
    store::insert_action(
        pool,
        &NewAction {
            id: &format!("{id}-act"),
            incident_id: id,
            service_id: service,
            strategy,
            mode: "execute",
            status: "succeeded",
            target: service,
            parameters: "{}",
            rollback_plan: "restore",
            reason: "test",
            decided_at: opened + 1,
        },
    )
    .await
    .expect("action");
}

async fn rows(pool: &AnyPool, sql: &str) -> Vec<Vec<String>> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|k| r.try_get::<String, _>(k).unwrap_or_default())
                .collect()
        })
        .collect()
}

async fn exercise(url: &str) {
    let pool = store::connect(url).await.expect("connect and migrate");
    // checkout: two resolved incidents (60 s and 120 s), one still open; search: one resolved in 30 s.
    incident(&pool, "i1", "checkout", false, 0, "circuit_breaker_activation").await;
    store::resolve_incident(&pool, "i1", 60_000, "ok")
        .await
        .expect("resolve");
    incident(&pool, "i2", "checkout", false, 100_000, "gradual_traffic_shift").await;
    store::resolve_incident(&pool, "i2", 220_000, "ok")
        .await
        .expect("resolve");
    incident(&pool, "i3", "checkout", false, 300_000, "circuit_breaker_activation").await;
    incident(&pool, "i4", "search", false, 0, "circuit_breaker_activation").await;
    store::resolve_incident(&pool, "i4", 30_000, "ok")
        .await
        .expect("resolve");
    // Two predicted incidents: p1 resolved before any alert (averted), p2 confirmed by an alert.
    incident(&pool, "p1", "payments", true, 0, "service_restart").await;
    store::resolve_incident(&pool, "p1", 90_000, "forecast cleared")
        .await
        .expect("resolve");
    incident(&pool, "p2", "payments", true, 100_000, "service_restart").await;
    store::add_event(&pool, "p2-confirmed", "p2", 150_000, "confirmed", "alerted")
        .await
        .expect("event");
    store::resolve_incident(&pool, "p2", 200_000, "ok")
        .await
        .expect("resolve");
    // i3's first remedy did not apply: its first action is the one carried out.
    store::insert_action(
        &pool,
        &NewAction {
            id: "i3-not-applicable",
            incident_id: "i3",
            service_id: "checkout",
            strategy: "routing_table_update",
            mode: "execute",
            status: "not_applicable",
            target: "checkout",
            parameters: "{}",
            rollback_plan: "restore",
            reason: "error_burst: routing_table_update does not apply: the service has no backup endpoints",
            decided_at: 300_000,
        },
    )
    .await
    .expect("inapplicable action");
    // One action rolled back (as the closed loop records it).
    sqlx::query("UPDATE actions SET status = 'rolled_back', updated_at = 250000 WHERE id = 'i2-act'")
        .execute(&pool)
        .await
        .expect("update");

    assert_eq!(
        rows(
            &pool,
            "SELECT id, service_id, first_strategy FROM open_incidents ORDER BY opened_at"
        )
        .await,
        vec![vec![
            "i3".to_owned(),
            "checkout".into(),
            "circuit_breaker_activation".into()
        ]]
    );
    let mttr = rows(
        &pool,
        "SELECT service_id, CAST(incidents AS TEXT), CAST(CAST(mttr_s AS BIGINT) AS TEXT) FROM mttr_per_service ORDER BY service_id",
    )
    .await;
    assert_eq!(
        mttr,
        vec![
            vec!["checkout".to_owned(), "2".into(), "90".into()],
            vec!["payments".to_owned(), "2".into(), "95".into()],
            vec!["search".to_owned(), "1".into(), "30".into()],
        ]
    );
    let by_strategy = rows(
        &pool,
        "SELECT strategy, CAST(incidents AS TEXT), CAST(CAST(mttr_s AS BIGINT) AS TEXT) FROM mttr_per_strategy ORDER BY strategy",
    )
    .await;
    assert_eq!(
        by_strategy,
        vec![
            vec!["circuit_breaker_activation".to_owned(), "2".into(), "45".into()],
            vec!["gradual_traffic_shift".to_owned(), "1".into(), "120".into()],
            vec!["service_restart".to_owned(), "2".into(), "95".into()],
        ]
    );
    assert_eq!(
        rows(&pool, "SELECT id, strategy FROM actions_rolled_back").await,
        vec![vec!["i2-act".to_owned(), "gradual_traffic_shift".into()]]
    );
    assert_eq!(
        rows(&pool, "SELECT id, first_strategy FROM incidents_averted_by_prediction").await,
        vec![vec!["p1".to_owned(), "service_restart".into()]]
    );
    pool.close().await;
}

#[tokio::test]
async fn views_answer_on_postgres() {
    let (url, db) = common::postgres_db("views").await;
    exercise(&url).await;
    db.drop_now().await;
}

#[tokio::test]
async fn views_answer_on_sqlite() {
    let p = std::env::temp_dir().join(format!("homeostat-views-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&p);
    exercise(&format!("sqlite://{}", p.display())).await;
    let _ = std::fs::remove_file(&p);
}
