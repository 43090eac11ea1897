//! What the bandit learns is kept in the incident store: outcomes idempotent on action ids, the
//! `strategy_stats` view, and the arms read back for a signature — on PostgreSQL (production) and
//! SQLite (demo) through the same code.

mod common;

use homeostat_actuator::bandit::{self, Arm};
use homeostat_actuator::store;
use sqlx::Row;

async fn exercise(url: &str) {
    let pool = store::connect(url).await.expect("connect and migrate");
    for (i, ok) in [true, true, false, true].iter().enumerate() {
        bandit::record(
            &pool,
            &format!("act-{i}"),
            "error_burst",
            "circuit_breaker_activation",
            *ok,
            1000 + i as i64,
        )
        .await
        .expect("record");
    }
    // The same outcome delivered twice counts once.
    bandit::record(&pool, "act-0", "error_burst", "circuit_breaker_activation", true, 1000)
        .await
        .expect("replay");
    bandit::record(&pool, "act-9", "error_burst", "service_restart", false, 2000)
        .await
        .expect("record");
    bandit::record(&pool, "act-10", "memory_leak", "service_restart", true, 2000)
        .await
        .expect("record");

    let arms = bandit::arms(
        &pool,
        "error_burst",
        &["circuit_breaker_activation", "service_restart", "gradual_traffic_shift"],
    )
    .await
    .expect("arms");
    assert_eq!(
        arms,
        vec![
            Arm {
                strategy: "circuit_breaker_activation".into(),
                successes: 3,
                failures: 1
            },
            Arm {
                strategy: "service_restart".into(),
                successes: 0,
                failures: 1
            },
            Arm::new("gradual_traffic_shift"),
        ]
    );
    let row = sqlx::query(
        "SELECT CAST(trials AS BIGINT) AS n, CAST(success_rate AS DOUBLE PRECISION) AS r FROM strategy_stats WHERE signature = 'error_burst' AND strategy = 'circuit_breaker_activation'",
    )
    .fetch_one(&pool)
    .await
    .expect("view");
    assert_eq!(row.try_get::<i64, _>("n").expect("n"), 4);
    assert!((row.try_get::<f64, _>("r").expect("r") - 0.75).abs() < 1e-9);
    pool.close().await;
}

#[tokio::test]
async fn outcomes_and_stats_on_postgres() {
    let (url, db) = common::postgres_db("bandit").await;
    exercise(&url).await;
    db.drop_now().await;
}

#[tokio::test]
async fn outcomes_and_stats_on_sqlite() {
    let p = std::env::temp_dir().join(format!("homeostat-bandit-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&p);
    exercise(&format!("sqlite://{}", p.display())).await;
    let _ = std::fs::remove_file(&p);
}
