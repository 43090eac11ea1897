//! `homeostat incidents`: list incidents from PostgreSQL or SQLite.

use homeostat_actuator::store::{self, IncidentRow};

/// Format a time as RFC 3339 (UTC, seconds).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// Render incidents as a table.
pub fn table(rows: &[IncidentRow]) -> String {
    if rows.is_empty() {
        return "no incidents\n".into();
    }
    let mut s = format!(
        "{:<22} {:<10} {:<20} {:<9} {:<8} {:<20} {:<20} {:>5}  {}\n",
        "id", "service", "kind", "status", "severity", "opened", "resolved", "peak", "action"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<22} {:<10} {:<20} {:<9} {:<8} {:<20} {:<20} {:>5.2}  {}\n",
            r.id,
            r.service_id,
            format!("{}{}", r.kind, if r.predicted { "*" } else { "" }),
            r.status,
            r.severity,
            time(r.opened_at),
            r.resolved_at.map(time).unwrap_or_else(|| "-".into()),
            r.peak_score,
            r.action.as_deref().unwrap_or("-")
        ));
    }
    s.push_str("(* opened on a prediction)\n");
    s
}

/// Open the incident store at `url`, with a clear error when it is not there.
pub async fn open(url: &str) -> anyhow::Result<store::Pool> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        anyhow::ensure!(
            std::path::Path::new(file).exists(),
            "no incident store at {file} (run `homeostat demo` first, or pass --db postgres://…)"
        );
    }
    store::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the incident store at {url}: {e}"))
}

/// An incident's timeline as text, each entry with its time and the seconds since the first.
pub fn timeline_table(id: &str, entries: &[store::TimelineEntry]) -> String {
    let t0 = entries.first().map_or(0, |e| e.event_time);
    let mut s = format!(
        "incident {id}
"
    );
    for e in entries {
        s.push_str(&format!(
            "{}  {:>+8.1} s  {:<14} {}
",
            time(e.event_time),
            (e.event_time - t0) as f64 / 1000.0,
            e.kind,
            e.detail
        ));
    }
    s
}

/// Strategy effectiveness as a table.
pub fn strategies_table(stats: &[store::StrategyStat]) -> String {
    if stats.is_empty() {
        return "no verified outcomes yet (the actuator learns in shadow and execute modes)\n".into();
    }
    let mut s = format!(
        "{:<22} {:<34} {:>6} {:>9} {:>8} {:>9}\n",
        "incident kind", "strategy", "trials", "recovered", "rolled", "success"
    );
    for r in stats {
        let trials = r.successes + r.failures;
        s.push_str(&format!(
            "{:<22} {:<34} {:>6} {:>9} {:>8} {:>8.0}%\n",
            r.signature,
            r.strategy,
            trials,
            r.successes,
            r.failures,
            100.0 * r.successes as f64 / trials.max(1) as f64
        ));
    }
    s
}

/// List incidents at `url`.
pub async fn list(url: &str, limit: i64) -> anyhow::Result<Vec<IncidentRow>> {
    let pool = open(url).await?;
    let rows = store::list_incidents(&pool, limit).await?;
    pool.close().await;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times() {
        assert_eq!(super::time(1_795_953_600_000), "2026-11-29T12:00:00Z");
        assert_eq!(super::time(0), "1970-01-01T00:00:00Z");
    }
}
