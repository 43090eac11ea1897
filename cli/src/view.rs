//! The demo's terminal view: a live table of service health, predictions and incidents, and the
//! latest alerts, incidents and actions. Without a terminal it prints event lines only.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;

use homeostat_schemas::{
    ActionCommand, Alert, AlertState, AnomalyScore, DeadLetter, IncidentEvent, IncidentStatus, Prediction, topics,
};
use homeostat_sim::FaultLabel;
use runtime::codec::SourceRecord;

#[derive(Default, Clone)]
struct Row {
    health: f64,
    score: f64,
    top: String,
    p15: f64,
    eta_s: Option<i64>,
    incident: String,
    warming: bool,
}

/// The view state.
pub struct View {
    live: bool,
    labels: Vec<FaultLabel>,
    start: i64,
    now: i64,
    rows: BTreeMap<String, Row>,
    events: VecDeque<String>,
    pending: Vec<String>,
    dead_letters: u64,
    expected_services: usize,
}

/// `t` as `+HH:MM:SS` after `start` (both ms since the epoch).
pub(crate) fn hms(start: i64, t: i64) -> String {
    let s = ((t - start) / 1000).max(0);
    format!("+{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn bar(x: f64) -> String {
    let n = (x.clamp(0.0, 1.0) * 10.0).round() as usize;
    format!("{}{}", "█".repeat(n), "·".repeat(10 - n))
}

impl View {
    /// A view; `live` redraws the screen, otherwise event lines are printed as they come.
    pub fn new(live: bool, labels: Vec<FaultLabel>, start: i64, services: usize) -> Self {
        Self {
            live,
            labels,
            start,
            now: start,
            rows: BTreeMap::new(),
            events: VecDeque::new(),
            pending: Vec::new(),
            dead_letters: 0,
            expected_services: services,
        }
    }

    fn event(&mut self, t: i64, text: String) {
        let line = format!("{} {text}", hms(self.start, t));
        self.events.push_back(line.clone());
        while self.events.len() > 12 {
            self.events.pop_front();
        }
        self.pending.push(line);
    }

    /// Take one record from the bus.
    pub fn take(&mut self, rec: &SourceRecord) {
        match rec.topic.as_str() {
            topics::ANOMALIES_V1 => {
                if let Ok(a) = serde_json::from_slice::<AnomalyScore>(&rec.payload) {
                    self.now = self.now.max(a.event_time);
                    let r = self.rows.entry(a.service_id.clone()).or_default();
                    r.health = a.health_score;
                    r.score = a.anomaly_score;
                    r.warming = a.warming_up;
                    r.top = a
                        .top_features
                        .first()
                        .filter(|_| a.anomaly_score > 0.2)
                        .map(|c| format!("{} {:.3} (base {:.3})", c.feature, c.value, c.baseline))
                        .unwrap_or_default();
                }
            }
            topics::PREDICTIONS_V1 => {
                if let Ok(p) = serde_json::from_slice::<Prediction>(&rec.payload) {
                    let r = self.rows.entry(p.service_id.clone()).or_default();
                    r.p15 = p.probability(15);
                    r.eta_s = p.predicted_failure_time.map(|t| (t - p.event_time) / 1000);
                }
            }
            topics::ALERTS_V1 => {
                if let Ok(a) = serde_json::from_slice::<Alert>(&rec.payload) {
                    let what = if a.state == AlertState::Firing {
                        "ALERT   "
                    } else {
                        "resolved"
                    };
                    self.event(a.event_time, format!("{what} {}", a.summary));
                }
            }
            topics::INCIDENTS_V1 => {
                if let Ok(i) = serde_json::from_slice::<IncidentEvent>(&rec.payload) {
                    let r = self.rows.entry(i.service_id.clone()).or_default();
                    match i.status {
                        IncidentStatus::Resolved => {
                            r.incident.clear();
                            self.event(
                                i.event_time,
                                format!("INCIDENT resolved {} on {}", i.kind.as_str(), i.service_id),
                            );
                        }
                        _ => {
                            r.incident =
                                format!("{}{}", i.kind.as_str(), if i.predicted { " (predicted)" } else { "" });
                            self.event(
                                i.event_time,
                                format!(
                                    "INCIDENT opened {} on {}{}: {}",
                                    i.kind.as_str(),
                                    i.service_id,
                                    if i.predicted { " (predicted)" } else { "" },
                                    i.summary
                                ),
                            );
                        }
                    }
                }
            }
            topics::ACTIONS_V1 => {
                if let Ok(a) = serde_json::from_slice::<ActionCommand>(&rec.payload) {
                    self.event(
                        a.event_time,
                        format!(
                            "ACTION   {} on {} ({}); rollback: {}",
                            a.strategy.as_str(),
                            a.service_id,
                            a.mode.as_str(),
                            a.rollback_plan
                        ),
                    );
                }
            }
            topics::TELEMETRY_DLQ if serde_json::from_slice::<DeadLetter>(&rec.payload).is_ok() => {
                self.dead_letters += 1;
            }
            _ => {}
        }
    }

    /// Redraw (live) or print new event lines (plain).
    pub fn draw(&mut self) {
        let mut out = std::io::stdout().lock();
        if !self.live {
            for l in self.pending.drain(..) {
                let _ = writeln!(out, "{l}");
            }
            return;
        }
        self.pending.clear();
        let mut s = String::from("\x1b[H\x1b[2J");
        s.push_str(&format!(
            "Homeostat demo — simulated time {}  ·  {} services  ·  dead letters {}  ·  Ctrl-C stops\n\n",
            hms(self.start, self.now),
            self.rows.len().max(self.expected_services),
            self.dead_letters
        ));
        s.push_str(&format!(
            "{:<10} {:<12} {:>6}  {:<10} {:<22} {:<46}\n",
            "service", "health", "score", "p(fail15m)", "incident", "top feature"
        ));
        for (svc, r) in &self.rows {
            let health = if r.warming {
                "learning…".to_owned()
            } else {
                bar(r.health)
            };
            let p = if r.eta_s.is_some() {
                format!("{:.2} eta {}s", r.p15, r.eta_s.unwrap_or(0))
            } else {
                format!("{:.2}", r.p15)
            };
            s.push_str(&format!(
                "{:<10} {:<12} {:>6.2}  {:<10} {:<22} {:<46}\n",
                svc, health, r.score, p, r.incident, r.top
            ));
        }
        s.push_str("\nInjected faults:\n");
        for l in &self.labels {
            let state = if self.now < l.start_ms {
                "pending"
            } else if self.now < l.end_ms {
                "active"
            } else {
                "over"
            };
            s.push_str(&format!(
                "  {:<20} on {:<10} from {}  [{state}]\n",
                l.incident_kind,
                l.service,
                hms(self.start, l.start_ms)
            ));
        }
        s.push_str("\nLatest events:\n");
        for e in &self.events {
            let line: String = e.chars().take(150).collect();
            s.push_str(&format!("  {line}\n"));
        }
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    /// Final draw.
    pub fn finish(&mut self) {
        self.draw();
    }
}
