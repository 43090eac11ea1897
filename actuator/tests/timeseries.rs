//! Time series out, against the real servers on loopback (`scripts/services.sh up`): the v1 API
//! (`/write?db=`) into InfluxDB 1.x, the v2 API (`/api/v2/write?org=&bucket=`, token) into
//! VictoriaMetrics, and an unreachable server keeping the points and backing off.

mod common;
use common::free_port;

use homeostat_actuator::influx::{InfluxConfig, InfluxWriter, line};

const INFLUX: &str = "http://127.0.0.1:8086";
const VICTORIA: &str = "http://127.0.0.1:8428";

fn cfg(url: &str, api: &str, database: &str) -> InfluxConfig {
    InfluxConfig {
        enabled: true,
        url: url.into(),
        api: api.into(),
        database: database.into(),
        org: "homeostat".into(),
        bucket: "homeostat".into(),
        token: "homeostat-test-token".into(),
        batch_size: 100,
        max_buffer: 10_000,
        timeout_ms: 5_000,
    }
}

fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        % 1_000_000_007
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Flush until everything is written (the writer backs off after a failure, e.g. while a server
/// that just started is not ready yet), for at most 10 s; the points written.
async fn flush_all(w: &mut InfluxWriter) -> usize {
    let mut written = 0;
    for _ in 0..50 {
        written += w.flush().await;
        if w.pending() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    written
}

/// 250 points of measurement `m`, one a second up to now, field `x` = 0…249, tagged by service.
fn fill(w: &mut InfluxWriter, m: &str) {
    let start = now_ms() - 250_000;
    for i in 0..250 {
        let svc = if i % 2 == 0 { "payments" } else { "search" };
        w.push(line(m, &[("service", svc)], &[("x", i as f64)], start + i * 1000).expect("a line"));
    }
}

#[tokio::test]
async fn v1_api_points_reach_influxdb() {
    let db = format!("homeostat_ts_{}", nonce());
    let metrics = runtime::Metrics::new("actuator");
    let mut w = InfluxWriter::new(cfg(INFLUX, "v1", &db), &metrics);
    fill(&mut w, "homeostat_test");
    assert_eq!(
        flush_all(&mut w).await,
        250,
        "InfluxDB 1.x answers on {INFLUX}? (scripts/services.sh up)"
    );
    assert_eq!(w.pending(), 0);
    let client = reqwest::Client::new();
    let text = client
        .get(format!("{INFLUX}/query"))
        .query(&[
            ("db", db.as_str()),
            ("q", "SELECT count(x), sum(x) FROM homeostat_test GROUP BY service"),
        ])
        .send()
        .await
        .expect("query")
        .text()
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    let series = body["results"][0]["series"].as_array().expect("series").clone();
    let mut counts: Vec<(String, i64, f64)> = series
        .iter()
        .map(|s| {
            (
                s["tags"]["service"].as_str().unwrap_or_default().to_owned(),
                s["values"][0][1].as_i64().unwrap_or(-1),
                s["values"][0][2].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    // Even x (0, 2, …, 248) to payments: 125 points summing to 15 500; odd to search: 15 625.
    assert_eq!(
        counts,
        vec![("payments".into(), 125, 15_500.0), ("search".into(), 125, 15_625.0)]
    );
    assert!(
        metrics
            .render()
            .contains("homeostat_actuator_influx_points_written_total 250")
    );
    let _ = client
        .post(format!("{INFLUX}/query"))
        .form(&[("q", format!("DROP DATABASE \"{db}\""))])
        .send()
        .await;
}

#[tokio::test]
async fn v2_api_points_reach_victoriametrics() {
    let m = format!("homeostat_vm_{}", nonce());
    let metrics = runtime::Metrics::new("actuator");
    let mut w = InfluxWriter::new(cfg(VICTORIA, "v2", ""), &metrics);
    fill(&mut w, &m);
    assert_eq!(
        flush_all(&mut w).await,
        250,
        "VictoriaMetrics answers on {VICTORIA}? (scripts/services.sh up)"
    );
    let client = reqwest::Client::new();
    // Make the just-written samples searchable, then export them.
    client
        .get(format!("{VICTORIA}/internal/force_flush"))
        .send()
        .await
        .expect("force_flush");
    let mut samples = 0;
    let mut sum = 0.0;
    let mut services = Vec::new();
    for _ in 0..50 {
        let text = client
            .get(format!("{VICTORIA}/api/v1/export"))
            .query(&[("match[]", format!("{{__name__=\"{m}_x\"}}"))])
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("body");
        (samples, sum, services) = (0, 0.0, Vec::new());
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(l).expect("export line is JSON");
            services.push(v["metric"]["service"].as_str().unwrap_or_default().to_owned());
            for x in v["values"].as_array().expect("values") {
                samples += 1;
                sum += x.as_f64().unwrap_or(0.0);
            }
        }
        if samples >= 250 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    services.sort();
    assert_eq!(samples, 250, "samples of {m}_x in VictoriaMetrics");
    assert_eq!(sum, (0..250).sum::<i32>() as f64);
    assert_eq!(services, vec!["payments", "search"]);
}

#[tokio::test]
async fn an_unreachable_server_keeps_the_points_and_backs_off() {
    let port = free_port();
    let metrics = runtime::Metrics::new("actuator");
    let mut w = InfluxWriter::new(cfg(&format!("http://127.0.0.1:{port}"), "v2", ""), &metrics);
    fill(&mut w, "homeostat_down");
    assert_eq!(w.flush().await, 0);
    assert_eq!(w.pending(), 250, "nothing is lost while the server is down");
    // Within the backoff, a flush does not even try.
    assert_eq!(w.flush().await, 0);
    let text = metrics.render();
    assert!(
        text.contains("homeostat_actuator_influx_write_failures_total 1"),
        "{text}"
    );
    assert!(
        text.contains("homeostat_actuator_influx_points_dropped_total 0"),
        "{text}"
    );
}
