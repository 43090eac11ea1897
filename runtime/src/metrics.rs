//! A small Prometheus registry: counters and gauges, rendered in the text exposition format.
//! Names follow `homeostat_<stage>_<noun>_<unit>_total`; labels are bounded (never a service id).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonically increasing counter.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Add `n`; the new total (so that a caller acting on the count sees its own increment).
    pub fn add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, Ordering::Relaxed) + n
    }
    /// Add one; the new total.
    pub fn inc(&self) -> u64 {
        self.add(1)
    }
    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (stored as f64 bits).
#[derive(Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Set the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    /// Current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

enum Metric {
    Counter(Counter),
    Gauge(Gauge),
}

struct Entry {
    name: String,
    labels: String,
    help: String,
    metric: Metric,
}

/// The registry of one process.
pub struct Metrics {
    stage: String,
    entries: Mutex<Vec<Entry>>,
}

impl Metrics {
    /// A registry whose metric names start with `homeostat_<stage>_`.
    pub fn new(stage: &str) -> Self {
        Self {
            stage: stage.to_owned(),
            entries: Mutex::new(Vec::new()),
        }
    }

    fn full(&self, noun: &str) -> String {
        format!("homeostat_{}_{}", self.stage, noun)
    }

    /// A counter named `homeostat_<stage>_<noun>` with fixed labels (`k="v",…` or empty).
    /// Asking twice for the same name and labels returns the same counter.
    pub fn counter(&self, noun: &str, labels: &str, help: &str) -> Counter {
        let name = self.full(noun);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for e in entries.iter() {
            if e.name == name
                && e.labels == labels
                && let Metric::Counter(c) = &e.metric
            {
                return c.clone();
            }
        }
        let c = Counter::default();
        entries.push(Entry {
            name,
            labels: labels.to_owned(),
            help: help.to_owned(),
            metric: Metric::Counter(c.clone()),
        });
        c
    }

    /// A gauge named `homeostat_<stage>_<noun>`.
    pub fn gauge(&self, noun: &str, help: &str) -> Gauge {
        let name = self.full(noun);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for e in entries.iter() {
            if e.name == name
                && let Metric::Gauge(g) = &e.metric
            {
                return g.clone();
            }
        }
        let g = Gauge::default();
        entries.push(Entry {
            name,
            labels: String::new(),
            help: help.to_owned(),
            metric: Metric::Gauge(g.clone()),
        });
        g
    }

    /// Render in the Prometheus text format.
    pub fn render(&self) -> String {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut seen: Vec<&str> = Vec::new();
        for e in entries.iter() {
            if !seen.contains(&e.name.as_str()) {
                seen.push(&e.name);
                let kind = match e.metric {
                    Metric::Counter(_) => "counter",
                    Metric::Gauge(_) => "gauge",
                };
                out.push_str(&format!("# HELP {} {}\n# TYPE {} {}\n", e.name, e.help, e.name, kind));
            }
            let labels = if e.labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", e.labels)
            };
            match &e.metric {
                Metric::Counter(c) => out.push_str(&format!("{}{} {}\n", e.name, labels, c.get())),
                Metric::Gauge(g) => out.push_str(&format!("{}{} {}\n", e.name, labels, g.get())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = Metrics::new("ingest");
        m.counter("records_in_total", "", "Records read.").add(3);
        m.counter("dead_letters_total", "reason=\"invalid_json\"", "Rejected.")
            .inc();
        m.counter("records_in_total", "", "Records read.").inc();
        m.gauge("lag_seconds", "Lag.").set(1.5);
        let text = m.render();
        assert!(text.contains("homeostat_ingest_records_in_total 4\n"));
        assert!(text.contains("homeostat_ingest_dead_letters_total{reason=\"invalid_json\"} 1\n"));
        assert!(text.contains("# TYPE homeostat_ingest_lag_seconds gauge\nhomeostat_ingest_lag_seconds 1.5\n"));
    }
}
