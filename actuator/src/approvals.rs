//! Approval of destructive actions by a person: actions waiting in the store with status
//! `awaiting_approval` are approved or denied through `homeostat approvals` or an HTTP endpoint
//! that requires a bearer token. Each decision is recorded once (the first wins) on the action and
//! on its incident's timeline.
//!
//! HTTP (all answers JSON):
//! - `GET /approvals` — the waiting actions;
//! - `POST /approvals/<action id>/approve` or `/deny` — decide; header
//!   `Authorization: Bearer <token>`; optional `?by=<name>`.
//!
//! 401 without the right token, 404 for an action that is not waiting, 200 with the decision.

use std::sync::Arc;

use sqlx::{AnyPool, Row};
use tokio::io::AsyncWriteExt;

use crate::store::{StoreError, add_event};

/// An action waiting for a person.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pending {
    /// Action id.
    pub id: String,
    /// Incident.
    pub incident_id: String,
    /// Service.
    pub service_id: String,
    /// Strategy.
    pub strategy: String,
    /// Why it was proposed.
    pub reason: String,
    /// When it was decided, ms.
    pub decided_at: i64,
}

/// The actions waiting for approval, oldest first.
pub async fn pending(pool: &AnyPool) -> Result<Vec<Pending>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, incident_id, service_id, strategy, reason, decided_at FROM actions WHERE status = 'awaiting_approval' ORDER BY decided_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Pending {
                id: r.try_get("id")?,
                incident_id: r.try_get("incident_id")?,
                service_id: r.try_get("service_id")?,
                strategy: r.try_get("strategy")?,
                reason: r.try_get("reason")?,
                decided_at: r.try_get("decided_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError)
}

/// Approve or deny a waiting action. `Ok(false)` when it is not waiting (unknown, or already
/// decided): the first decision stands.
pub async fn decide(pool: &AnyPool, action_id: &str, approve: bool, by: &str, t: i64) -> Result<bool, StoreError> {
    let status = if approve { "approved" } else { "denied" };
    let n =
        sqlx::query("UPDATE actions SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'awaiting_approval'")
            .bind(status)
            .bind(t)
            .bind(action_id)
            .execute(pool)
            .await?
            .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    let row = sqlx::query("SELECT incident_id, strategy FROM actions WHERE id = $1")
        .bind(action_id)
        .fetch_one(pool)
        .await?;
    let incident: String = row.try_get("incident_id")?;
    let strategy: String = row.try_get("strategy")?;
    add_event(
        pool,
        &format!("{action_id}-{status}"),
        &incident,
        t,
        status,
        &format!("{strategy} {status} by {by}"),
    )
    .await?;
    Ok(true)
}

fn respond(status: &str, body: &serde_json::Value) -> String {
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Equal without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn route(pool: &AnyPool, token: &str, head: &str) -> String {
    let mut first = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (first.next().unwrap_or_default(), first.next().unwrap_or("/"));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let by = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("by="))
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)))
        .unwrap_or("http");
    let authorized = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("authorization")
                && v.trim().strip_prefix("Bearer ").is_some_and(|t| same(t.trim(), token))
        })
    });
    if !authorized || token.is_empty() {
        return respond(
            "401 Unauthorized",
            &serde_json::json!({"error": "a valid bearer token is required"}),
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["approvals"]) => match pending(pool).await {
            Ok(p) => respond("200 OK", &serde_json::json!({ "pending": p })),
            Err(e) => respond("503 Service Unavailable", &serde_json::json!({"error": e.to_string()})),
        },
        ("POST", ["approvals", id, verb @ ("approve" | "deny")]) => {
            match decide(pool, id, *verb == "approve", by, runtime::now_ms()).await {
                Ok(true) => respond(
                    "200 OK",
                    &serde_json::json!({"action": id, "decision": if *verb == "approve" { "approved" } else { "denied" }, "by": by}),
                ),
                Ok(false) => respond(
                    "404 Not Found",
                    &serde_json::json!({"error": format!("action {id} is not waiting for approval")}),
                ),
                Err(e) => respond("503 Service Unavailable", &serde_json::json!({"error": e.to_string()})),
            }
        }
        _ => respond(
            "404 Not Found",
            &serde_json::json!({"error": "try GET /approvals or POST /approvals/<id>/approve|deny"}),
        ),
    }
}

/// Serve the approval endpoint on `addr` until the process exits; returns the bound address.
pub async fn serve(addr: &str, pool: AnyPool, token: String) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let token = Arc::new(token);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let (pool, token) = (pool.clone(), token.clone());
            tokio::spawn(async move {
                let head = runtime::http::read_head(&mut sock).await;
                let resp = route(&pool, &token, &head).await;
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(local)
}
