//! Time series out: InfluxDB line protocol, batched, retried with backoff, in a bounded buffer.
//! Points past the bound are dropped oldest-first and counted
//! (`homeostat_actuator_influx_points_dropped_total`) — never silently.

use std::collections::VecDeque;
use std::time::Duration;

use runtime::Counter;
use serde::Deserialize;

/// `[actuator.influx]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxConfig {
    /// Write time series at all.
    pub enabled: bool,
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// `v1` (`/write?db=`) or `v2` (`/api/v2/write?org=&bucket=`, token auth).
    pub api: String,
    /// v1 database (created at start when missing).
    pub database: String,
    /// v2 organisation.
    pub org: String,
    /// v2 bucket.
    pub bucket: String,
    /// v2 token.
    pub token: String,
    /// Points per request.
    pub batch_size: usize,
    /// Most points held while InfluxDB is unreachable.
    pub max_buffer: usize,
    /// Request timeout, ms.
    pub timeout_ms: u64,
}

/// Escape a tag key or value, or a measurement name.
pub fn escape_tag(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// One line: `measurement,tag=v,… field=1.5,… <ms>`; non-finite fields are skipped. `None`
/// when no field is left.
pub fn line(measurement: &str, tags: &[(&str, &str)], fields: &[(&str, f64)], t_ms: i64) -> Option<String> {
    let fields: Vec<String> = fields
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| format!("{}={v:?}", escape_tag(k)))
        .collect();
    if fields.is_empty() {
        return None;
    }
    let mut s = escape_tag(measurement);
    for (k, v) in tags {
        s.push_str(&format!(",{}={}", escape_tag(k), escape_tag(v)));
    }
    Some(format!("{s} {} {t_ms}", fields.join(",")))
}

/// The buffered writer.
pub struct InfluxWriter {
    cfg: InfluxConfig,
    client: reqwest::Client,
    buffer: VecDeque<String>,
    dropped: Counter,
    written: Counter,
    failures: Counter,
    backoff_until: Option<tokio::time::Instant>,
    delay: Duration,
    db_ready: bool,
}

impl InfluxWriter {
    /// A writer; nothing is sent until [`flush`](Self::flush).
    pub fn new(cfg: InfluxConfig, metrics: &runtime::Metrics) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .build()
            .unwrap_or_default();
        Self {
            client,
            buffer: VecDeque::new(),
            dropped: metrics.counter(
                "influx_points_dropped_total",
                "",
                "Points dropped past the buffer bound.",
            ),
            written: metrics.counter("influx_points_written_total", "", "Points acknowledged by InfluxDB."),
            failures: metrics.counter("influx_write_failures_total", "", "Failed write requests (retried)."),
            backoff_until: None,
            delay: Duration::from_millis(200),
            db_ready: false,
            cfg,
        }
    }

    /// Queue a line.
    pub fn push(&mut self, line: String) {
        if !self.cfg.enabled {
            return;
        }
        self.buffer.push_back(line);
        while self.buffer.len() > self.cfg.max_buffer {
            self.buffer.pop_front();
            self.dropped.inc();
        }
    }

    /// Points waiting.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    fn write_url(&self) -> String {
        let base = self.cfg.url.trim_end_matches('/');
        if self.cfg.api == "v2" {
            format!(
                "{base}/api/v2/write?org={}&bucket={}&precision=ms",
                self.cfg.org, self.cfg.bucket
            )
        } else {
            format!("{base}/write?db={}&precision=ms", self.cfg.database)
        }
    }

    async fn ensure_db(&mut self) -> Result<(), String> {
        if self.db_ready || self.cfg.api == "v2" {
            self.db_ready = true;
            return Ok(());
        }
        let url = format!("{}/query", self.cfg.url.trim_end_matches('/'));
        let q = format!("CREATE DATABASE \"{}\"", self.cfg.database.replace('"', ""));
        let resp = self
            .client
            .post(url)
            .form(&[("q", q.as_str())])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            self.db_ready = true;
            Ok(())
        } else {
            Err(format!("CREATE DATABASE answered {}", resp.status()))
        }
    }

    /// Send buffered points in batches. On failure the points stay buffered and the next flush
    /// waits out an exponential backoff. Returns the number of points written.
    pub async fn flush(&mut self) -> usize {
        if !self.cfg.enabled || self.buffer.is_empty() {
            return 0;
        }
        if self.backoff_until.is_some_and(|t| tokio::time::Instant::now() < t) {
            return 0;
        }
        if let Err(e) = self.ensure_db().await {
            self.fail(&e);
            return 0;
        }
        let mut written = 0;
        while !self.buffer.is_empty() {
            let n = self.buffer.len().min(self.cfg.batch_size.max(1));
            let body: String = self
                .buffer
                .iter()
                .take(n)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n");
            let mut req = self.client.post(self.write_url()).body(body);
            if self.cfg.api == "v2" && !self.cfg.token.is_empty() {
                req = req.header("Authorization", format!("Token {}", self.cfg.token));
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    self.buffer.drain(..n);
                    self.written.add(n as u64);
                    written += n;
                    self.delay = Duration::from_millis(200);
                    self.backoff_until = None;
                }
                Ok(r) if r.status().as_u16() == 400 => {
                    // The server rejected the points themselves: retrying cannot help. Count them.
                    let text = r.text().await.unwrap_or_default();
                    tracing::warn!(%text, points = n, "InfluxDB rejected a batch; dropping it");
                    self.buffer.drain(..n);
                    self.dropped.add(n as u64);
                }
                Ok(r) => {
                    self.fail(&format!("write answered {}", r.status()));
                    break;
                }
                Err(e) => {
                    self.fail(&e.to_string());
                    break;
                }
            }
        }
        written
    }

    fn fail(&mut self, e: &str) {
        self.failures.inc();
        tracing::warn!(error = %e, pending = self.buffer.len(), retry_in = ?self.delay, "InfluxDB write failed; keeping points");
        self.backoff_until = Some(tokio::time::Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_protocol_escapes_and_skips_non_finite() {
        let l = line(
            "homeostat_features",
            &[("service", "a b,c")],
            &[("x", 1.5), ("y", f64::NAN), ("z", 2.0)],
            42,
        );
        assert_eq!(
            l.as_deref(),
            Some("homeostat_features,service=a\\ b\\,c x=1.5,z=2.0 42")
        );
        assert_eq!(line("m", &[], &[("y", f64::INFINITY)], 1), None);
    }

    #[test]
    fn buffer_is_bounded_and_counts_drops() {
        let m = runtime::Metrics::new("actuator");
        let cfg = InfluxConfig {
            enabled: true,
            url: "http://127.0.0.1:1".into(),
            api: "v1".into(),
            database: "d".into(),
            org: String::new(),
            bucket: String::new(),
            token: String::new(),
            batch_size: 10,
            max_buffer: 3,
            timeout_ms: 100,
        };
        let mut w = InfluxWriter::new(cfg, &m);
        for i in 0..5 {
            w.push(format!("m x={i} {i}"));
        }
        assert_eq!(w.pending(), 3);
        assert!(m.render().contains("homeostat_actuator_influx_points_dropped_total 2"));
    }
}
