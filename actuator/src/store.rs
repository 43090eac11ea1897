//! The incident store: PostgreSQL in production, SQLite for the demo, one sqlx code path (the
//! `Any` driver). Migrations are embedded and run at start. Every write is idempotent: rows are
//! keyed by ids derived from the message that caused them, inserted with `ON CONFLICT DO NOTHING`.

/// The incident store's connection pool (PostgreSQL or SQLite).
pub use sqlx::AnyPool as Pool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Embedded migrations, applied in order.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_incidents.sql")),
    (2, include_str!("../migrations/0002_strategy_outcomes.sql")),
    (3, include_str!("../migrations/0003_views.sql")),
    (4, include_str!("../migrations/0004_switches.sql")),
    (5, include_str!("../migrations/0005_event_order.sql")),
    (6, include_str!("../migrations/0006_not_applicable.sql")),
    (7, include_str!("../migrations/0007_gateway_state.sql")),
];

/// A store error. Handling: retry with backoff (the runner does, on `StageError::Transient`).
#[derive(Debug, thiserror::Error)]
#[error("incident store: {0}")]
pub struct StoreError(#[from] pub sqlx::Error);

/// One incident as operators see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IncidentRow {
    /// Id.
    pub id: String,
    /// Service.
    pub service_id: String,
    /// Kind (`memory_leak`, …).
    pub kind: String,
    /// `open` or `resolved`.
    pub status: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// Summary.
    pub summary: String,
    /// Opened on a prediction.
    pub predicted: bool,
    /// Opened, ms.
    pub opened_at: i64,
    /// Resolved, ms.
    pub resolved_at: Option<i64>,
    /// Highest anomaly score seen.
    pub peak_score: f64,
    /// First action's strategy and mode, if any.
    pub action: Option<String>,
}

/// A new incident.
pub struct NewIncident<'a> {
    /// Id.
    pub id: &'a str,
    /// Service.
    pub service_id: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Severity.
    pub severity: &'a str,
    /// Summary.
    pub summary: &'a str,
    /// On a prediction.
    pub predicted: bool,
    /// When.
    pub opened_at: i64,
    /// Score.
    pub score: f64,
    /// Explanation as JSON.
    pub explanation: &'a str,
}

/// A new action row.
pub struct NewAction<'a> {
    /// Id.
    pub id: &'a str,
    /// Incident.
    pub incident_id: &'a str,
    /// Service.
    pub service_id: &'a str,
    /// Strategy name.
    pub strategy: &'a str,
    /// Mode name.
    pub mode: &'a str,
    /// Status (`dry_run`, `published`, …).
    pub status: &'a str,
    /// Target.
    pub target: &'a str,
    /// Parameters as JSON.
    pub parameters: &'a str,
    /// Rollback plan.
    pub rollback_plan: &'a str,
    /// Reason.
    pub reason: &'a str,
    /// When.
    pub decided_at: i64,
}

/// Connect, creating a SQLite file if needed, and run the migrations.
pub async fn connect(url: &str) -> Result<AnyPool, StoreError> {
    install_default_drivers();
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
        format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
    } else {
        url.to_owned()
    };
    let pool = AnyPoolOptions::new().max_connections(4).connect(&url).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Apply the embedded migrations that have not run yet.
pub async fn migrate(pool: &AnyPool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS homeostat_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for (version, sql) in MIGRATIONS {
        let done = sqlx::query("SELECT version FROM homeostat_migrations WHERE version = $1")
            .bind(*version)
            .fetch_optional(pool)
            .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        for stmt in sql.split(';') {
            let body: String = stmt
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if body.trim().is_empty() {
                continue;
            }
            sqlx::query(sqlx::AssertSqlSafe(body)).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO homeostat_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(*version)
            .bind(runtime::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Insert an incident (no-op when it exists) and its `opened` event.
pub async fn open_incident(pool: &AnyPool, i: &NewIncident<'_>) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO incidents (id, service_id, kind, status, severity, summary, predicted, opened_at, updated_at, resolved_at, peak_score, explanation)
         VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, NULL, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(i.id)
    .bind(i.service_id)
    .bind(i.kind)
    .bind(i.severity)
    .bind(i.summary)
    .bind(i64::from(i.predicted))
    .bind(i.opened_at)
    .bind(i.opened_at)
    .bind(i.score)
    .bind(i.explanation)
    .execute(pool)
    .await?
    .rows_affected();
    add_event(
        pool,
        &format!("{}-opened", i.id),
        i.id,
        i.opened_at,
        "opened",
        i.summary,
    )
    .await?;
    Ok(n > 0)
}

/// Append a timeline event (no-op when it exists).
pub async fn add_event(
    pool: &AnyPool,
    id: &str,
    incident_id: &str,
    t: i64,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let recorded_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    sqlx::query("INSERT INTO incident_events (id, incident_id, event_time, kind, detail, recorded_us) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(incident_id)
        .bind(t)
        .bind(kind)
        .bind(detail)
        .bind(recorded_us)
        .execute(pool)
        .await?;
    Ok(())
}

/// Raise the peak score and touch `updated_at`.
pub async fn touch_incident(pool: &AnyPool, id: &str, t: i64, score: f64) -> Result<(), StoreError> {
    sqlx::query("UPDATE incidents SET updated_at = $1, peak_score = CASE WHEN peak_score < $2 THEN $3 ELSE peak_score END WHERE id = $4 AND updated_at <= $5")
        .bind(t)
        .bind(score)
        .bind(score)
        .bind(id)
        .bind(t)
        .execute(pool)
        .await?;
    Ok(())
}

/// Mark an incident resolved and record the event.
pub async fn resolve_incident(pool: &AnyPool, id: &str, t: i64, detail: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE incidents SET status = 'resolved', resolved_at = $1, updated_at = $2 WHERE id = $3 AND status = 'open'",
    )
    .bind(t)
    .bind(t)
    .bind(id)
    .execute(pool)
    .await?;
    add_event(pool, &format!("{id}-resolved"), id, t, "resolved", detail).await
}

/// Record an action (no-op when it exists).
pub async fn insert_action(pool: &AnyPool, a: &NewAction<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO actions (id, incident_id, service_id, strategy, mode, status, target, parameters, rollback_plan, reason, decided_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(a.id)
    .bind(a.incident_id)
    .bind(a.service_id)
    .bind(a.strategy)
    .bind(a.mode)
    .bind(a.status)
    .bind(a.target)
    .bind(a.parameters)
    .bind(a.rollback_plan)
    .bind(a.reason)
    .bind(a.decided_at)
    .bind(a.decided_at)
    .execute(pool)
    .await?;
    add_event(
        pool,
        &format!("{}-decided", a.id),
        a.incident_id,
        a.decided_at,
        "action",
        &format!("{} ({})", a.strategy, a.mode),
    )
    .await
}

/// Record an executor's result and set the action's status.
pub async fn record_result(pool: &AnyPool, r: &homeostat_schemas::ActionResult) -> Result<(), StoreError> {
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let n = sqlx::query("INSERT INTO action_results (id, action_id, status, executor, detail, event_time) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
        .bind(&r.id)
        .bind(&r.action_id)
        .bind(&status)
        .bind(&r.executor)
        .bind(&r.detail)
        .bind(r.event_time)
        .execute(pool)
        .await?
        .rows_affected();
    if n > 0 {
        sqlx::query("UPDATE actions SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(&status)
            .bind(r.event_time)
            .bind(&r.action_id)
            .execute(pool)
            .await?;
        let incident: Option<String> = sqlx::query("SELECT incident_id FROM actions WHERE id = $1")
            .bind(&r.action_id)
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get::<String, _>("incident_id"))
            .transpose()?;
        if let Some(inc) = incident {
            // An executor reports putting servers back after a remedy worked as a succeeded
            // result whose detail starts with "restored: " (see the gateway agent).
            let (kind, detail) = match r.detail.strip_prefix("restored: ") {
                Some(d) if r.status == homeostat_schemas::ActionStatus::Succeeded => {
                    ("restored", format!("{d} (by {})", r.executor))
                }
                _ => ("action_result", format!("{status} by {}: {}", r.executor, r.detail)),
            };
            add_event(pool, &format!("{}-result", r.id), &inc, r.event_time, kind, &detail).await?;
        }
    }
    Ok(())
}

/// Open incidents: (service, incident id, kind).
pub async fn open_incidents(pool: &AnyPool) -> Result<Vec<(String, String, String)>, StoreError> {
    let rows = sqlx::query("SELECT service_id, id, kind FROM incidents WHERE status = 'open' ORDER BY opened_at")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("service_id")?, r.try_get("id")?, r.try_get("kind")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError)
}

/// Incidents, newest first, with their first action.
pub async fn list_incidents(pool: &AnyPool, limit: i64) -> Result<Vec<IncidentRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT i.id, i.service_id, i.kind, i.status, i.severity, i.summary, i.predicted, i.opened_at, i.resolved_at, i.peak_score,
                (SELECT a.strategy || ' (' || a.mode || ', ' || a.status || ')' FROM actions a WHERE a.incident_id = i.id AND a.status <> 'not_applicable' ORDER BY a.decided_at, a.id LIMIT 1) AS action
         FROM incidents i ORDER BY i.opened_at DESC, i.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(IncidentRow {
            id: r.try_get("id")?,
            service_id: r.try_get("service_id")?,
            kind: r.try_get("kind")?,
            status: r.try_get("status")?,
            severity: r.try_get("severity")?,
            summary: r.try_get("summary")?,
            predicted: r.try_get::<i64, _>("predicted")? != 0,
            opened_at: r.try_get("opened_at")?,
            resolved_at: r.try_get("resolved_at")?,
            peak_score: r.try_get("peak_score")?,
            action: r.try_get("action")?,
        });
    }
    Ok(out)
}

/// Is the kill switch on?
pub async fn kill_switch(pool: &AnyPool) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT enabled FROM switches WHERE name = 'kill_switch'")
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("enabled")? != 0,
        None => false,
    })
}

/// Turn the kill switch on or off.
pub async fn set_kill_switch(pool: &AnyPool, on: bool, by: &str, t: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO switches (name, enabled, changed_at, changed_by) VALUES ('kill_switch', $1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET enabled = $4, changed_at = $5, changed_by = $6",
    )
    .bind(i64::from(on))
    .bind(t)
    .bind(by)
    .bind(i64::from(on))
    .bind(t)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

/// An approved action not yet published.
#[derive(Debug, Clone)]
pub struct ApprovedAction {
    /// Id.
    pub id: String,
    /// Incident.
    pub incident_id: String,
    /// Service.
    pub service_id: String,
    /// Strategy name.
    pub strategy: String,
    /// Target.
    pub target: String,
    /// Parameters (JSON object).
    pub parameters: String,
    /// Rollback plan.
    pub rollback_plan: String,
    /// Reason.
    pub reason: String,
    /// The incident's kind.
    pub kind: String,
}

/// Actions approved by a person and not yet published.
pub async fn approved_actions(pool: &AnyPool) -> Result<Vec<ApprovedAction>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id, a.incident_id, a.service_id, a.strategy, a.target, a.parameters, a.rollback_plan, a.reason, \
         COALESCE(i.kind, 'anomaly') AS kind \
         FROM actions a LEFT JOIN incidents i ON i.id = a.incident_id WHERE a.status = 'approved' ORDER BY a.decided_at, a.id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApprovedAction {
                id: r.try_get("id")?,
                incident_id: r.try_get("incident_id")?,
                service_id: r.try_get("service_id")?,
                strategy: r.try_get("strategy")?,
                target: r.try_get("target")?,
                parameters: r.try_get("parameters")?,
                rollback_plan: r.try_get("rollback_plan")?,
                reason: r.try_get("reason")?,
                kind: r.try_get("kind")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError)
}

/// Mark an approved action as published (once).
pub async fn mark_published(pool: &AnyPool, id: &str, t: i64) -> Result<bool, StoreError> {
    let n =
        sqlx::query("UPDATE actions SET status = 'published', updated_at = $1 WHERE id = $2 AND status = 'approved'")
            .bind(t)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(n > 0)
}

/// Set an action's status (e.g. `rolled_back`).
pub async fn set_action_status(pool: &AnyPool, id: &str, status: &str, t: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE actions SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(t)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimelineEntry {
    /// Event time, ms.
    pub event_time: i64,
    /// `opened`, `action`, `action_result`, `verified`, `rolled_back`, …
    pub kind: String,
    /// What happened.
    pub detail: String,
}

/// An incident's timeline, in the order it happened.
pub async fn timeline(pool: &AnyPool, incident_id: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT event_time, kind, detail FROM incident_events WHERE incident_id = $1 ORDER BY event_time, recorded_us, id",
    )
    .bind(incident_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TimelineEntry {
                event_time: r.try_get("event_time")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// One row of the `strategy_stats` view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StrategyStat {
    /// Failure signature (incident kind).
    pub signature: String,
    /// Strategy.
    pub strategy: String,
    /// Verified recoveries.
    pub successes: i64,
    /// Rolled back.
    pub failures: i64,
}

/// Strategy effectiveness per failure signature, best first within each.
pub async fn strategy_stats(pool: &AnyPool) -> Result<Vec<StrategyStat>, StoreError> {
    let rows = sqlx::query(
        "SELECT signature, strategy, CAST(successes AS BIGINT) AS s, CAST(failures AS BIGINT) AS f
         FROM strategy_stats ORDER BY signature, 1.0 * successes / trials DESC, strategy",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StrategyStat {
                signature: r.try_get("signature")?,
                strategy: r.try_get("strategy")?,
                successes: r.try_get("s")?,
                failures: r.try_get("f")?,
            })
        })
        .collect()
}

/// Save a piece of the actuator's state (JSON) under `name`: `haproxy` (what its HAProxy
/// executor changed and has not put back), `closed_loop` (actions under verification, remedies
/// tried per incident).
pub async fn save_state(pool: &AnyPool, name: &str, state: &str, t: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gateway_state (name, state, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(state)
    .bind(t)
    .execute(pool)
    .await?;
    Ok(())
}

/// A saved piece of the actuator's state, if any.
pub async fn state(pool: &AnyPool, name: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT state FROM gateway_state WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("state")).transpose()?)
}
