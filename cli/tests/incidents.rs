//! `homeostat incidents --show ID` and `homeostat strategies`: an incident's timeline and the
//! strategies' record, read from the store the actuator writes (SQLite here).

mod common;
use common::homeostat;

use homeostat_actuator::{bandit, store};

#[tokio::test]
async fn an_incident_timeline_and_the_strategies_record_from_the_command_line() {
    let path = std::env::temp_dir().join(format!("homeostat-cli-incidents-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = format!("sqlite://{}", path.display());

    let (ok, out, _) = homeostat(&["strategies", "--db", &db]);
    assert!(!ok || out.contains("no verified outcomes"), "{out}");

    let pool = store::connect(&db).await.expect("store");
    let t0 = 1_795_953_600_000;
    store::open_incident(
        &pool,
        &store::NewIncident {
            id: "inc-1",
            service_id: "shop",
            kind: "error_burst",
            severity: "critical",
            summary: "error_rate 0.1130 against baseline 0.0000",
            predicted: false,
            opened_at: t0,
            score: 0.97,
            explanation: "[]",
        },
    )
    .await
    .expect("incident");
    for (k, (dt, kind, detail)) in [
        (0, "action", "circuit_breaker_activation (execute)"),
        (0, "action_result", "succeeded by haproxy: drained app/b2"),
        (
            10_000,
            "verified",
            "circuit_breaker_activation helped: ErrorRate 0.1130 → 0.0000",
        ),
        (
            16_500,
            "restored",
            "app/b2 healthy 3 times in a row: back in rotation (app/b2 ready)",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        store::add_event(&pool, &format!("e{k}"), "inc-1", t0 + dt, kind, detail)
            .await
            .expect("event");
    }
    for (id, strategy, ok) in [
        ("a1", "circuit_breaker_activation", true),
        ("a2", "circuit_breaker_activation", true),
        ("a3", "circuit_breaker_activation", false),
        ("a4", "gradual_traffic_shift", true),
    ] {
        bandit::record(&pool, id, "error_burst", strategy, ok, t0)
            .await
            .expect("outcome");
    }
    pool.close().await;

    let (ok, out, err) = homeostat(&["incidents", "--db", &db, "--show", "inc-1"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "incident inc-1");
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(3).unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["opened", "action", "action_result", "verified", "restored"],
        "{out}"
    );
    assert!(
        lines[5].starts_with("2026-11-29T12:00:16Z     +16.5 s  restored"),
        "{out}"
    );
    let (ok, _, err) = homeostat(&["incidents", "--db", &db, "--show", "inc-404"]);
    assert!(!ok && err.contains("no incident inc-404"), "{err}");

    let (ok, out, err) = homeostat(&["strategies", "--db", &db]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["error_burst", "gradual_traffic_shift", "1", "1", "0", "100%"],
            vec!["error_burst", "circuit_breaker_activation", "3", "2", "1", "67%"],
        ],
        "{out}"
    );
    let (ok, out, _) = homeostat(&["strategies", "--db", &db, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(ok && v[1]["successes"] == 2, "{out}");
    let _ = std::fs::remove_file(&path);
}
