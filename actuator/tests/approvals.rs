//! Approval of destructive actions, on PostgreSQL: the HTTP endpoint refuses requests without the
//! bearer token, lists what waits, records the first decision on the action and its timeline, and
//! refuses to decide twice.

mod common;

use homeostat_actuator::approvals;
use homeostat_actuator::store::{self, NewAction, NewIncident};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let code = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("null");
    (code, serde_json::from_str(body).expect("json body"))
}

#[tokio::test]
async fn approve_and_deny_over_authenticated_http() {
    let (url, db) = common::postgres_db("approvals").await;
    let pool = store::connect(&url).await.expect("connect");
    store::open_incident(
        &pool,
        &NewIncident {
            id: "inc-1",
            service_id: "payments",
            kind: "memory_leak",
            severity: "critical",
            summary: "memory rising",
            predicted: false,
            opened_at: 1000,
            score: 0.9,
            explanation: "[]",
        },
    )
    .await
    .expect("incident");
    for id in ["act-restart", "act-rollback"] {
        store::insert_action(
            &pool,
            &NewAction {
                id,
                incident_id: "inc-1",
                service_id: "payments",
                strategy: if id == "act-restart" {
                    "service_restart"
                } else {
                    "configuration_rollback"
                },
                mode: "execute",
                status: "awaiting_approval",
                target: "payments-2",
                parameters: "{}",
                rollback_plan: "none",
                reason: "memory_leak",
                decided_at: 2000,
            },
        )
        .await
        .expect("action");
    }

    let port = common::free_port();
    approvals::serve(&format!("127.0.0.1:{port}"), pool.clone(), "s3cret".into())
        .await
        .expect("serve");
    assert_eq!(http(port, "GET", "/approvals", None).await.0, 401);
    assert_eq!(
        http(port, "POST", "/approvals/act-restart/approve", Some("wrong"))
            .await
            .0,
        401
    );
    let (code, body) = http(port, "GET", "/approvals", Some("s3cret")).await;
    assert_eq!(code, 200);
    assert_eq!(body["pending"].as_array().map(Vec::len), Some(2), "{body}");

    let (code, body) = http(port, "POST", "/approvals/act-restart/approve?by=alice", Some("s3cret")).await;
    assert_eq!((code, body["decision"].as_str()), (200, Some("approved")), "{body}");
    let (code, _) = http(port, "POST", "/approvals/act-restart/deny", Some("s3cret")).await;
    assert_eq!(code, 404, "the first decision stands");
    let (code, body) = http(port, "POST", "/approvals/act-rollback/deny?by=bob", Some("s3cret")).await;
    assert_eq!((code, body["decision"].as_str()), (200, Some("denied")));
    assert_eq!(
        http(port, "POST", "/approvals/nope/approve", Some("s3cret")).await.0,
        404
    );
    assert!(approvals::pending(&pool).await.expect("pending").is_empty());

    let statuses: Vec<(String, String)> = sqlx::query("SELECT id, status FROM actions ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("actions")
        .iter()
        .map(|r| {
            (
                r.try_get("id").unwrap_or_default(),
                r.try_get("status").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("act-restart".to_owned(), "approved".to_owned()),
            ("act-rollback".to_owned(), "denied".to_owned())
        ]
    );
    let timeline: Vec<String> =
        sqlx::query("SELECT detail FROM incident_events WHERE kind IN ('approved', 'denied') ORDER BY kind")
            .fetch_all(&pool)
            .await
            .expect("events")
            .iter()
            .map(|r| r.try_get("detail").unwrap_or_default())
            .collect();
    assert_eq!(
        timeline,
        vec![
            "service_restart approved by alice".to_owned(),
            "configuration_rollback denied by bob".to_owned()
        ]
    );
    pool.close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn the_actuator_serves_approvals_only_with_a_real_token() {
    use homeostat_actuator::{Actuator, ActuatorConfig};
    let mut cfg: ActuatorConfig = common::actuator_config("approvals-stage", homeostat_schemas::ActionMode::DryRun);
    let port = common::free_port();
    cfg.approvals_listen = format!("127.0.0.1:{port}");
    cfg.approval_token = "short".into();
    let cx = runtime::StageContext::new("actuator");
    let err = Actuator::connect(cfg.clone(), &cx).await.err().expect("refused");
    assert!(err.to_string().contains("approval_token"), "{err}");
    cfg.approval_token = "a-long-enough-token".into();
    let _actuator = Actuator::connect(cfg, &cx).await.expect("starts");
    assert_eq!(http(port, "GET", "/approvals", None).await.0, 401);
    let (code, body) = http(port, "GET", "/approvals", Some("a-long-enough-token")).await;
    assert_eq!((code, body["pending"].as_array().map(Vec::len)), (200, Some(0)));
}
