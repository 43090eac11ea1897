//! Features: keeps event-time sliding windows per service and computes the 47 features of the
//! catalogue for each closed window (window aggregates with DataFusion over Arrow batches,
//! baseline comparisons from per-service state), writing `features.v1`.
//!
//! Windows are `[end − window_s, end)` with `end` a multiple of `step_s`. Each service has its own
//! watermark — its largest event time minus `allowed_lateness_s` — because a service's events are
//! ordered on one partition while partitions drift apart; a service's window closes once its
//! watermark passes the window's end. A service that goes silent (a crash) still gets windows:
//! they also close once the largest event time of any service is `idle_close_s` past their end.
//! Late rule: an event behind its service's watermark is folded in when some window containing it
//! is still open (counted in `late_events` and `homeostat_features_late_events_total{action="folded"}`),
//! and dropped when every window containing it has closed (`action="dropped"`).

mod baseline;
mod sql;
mod window;

pub use baseline::Baselines;
pub use window::{Req, Res, WindowData};

use std::collections::HashMap;

use homeostat_schemas::{FeatureWindow, TelemetryBody, TelemetryEvent, Timestamp};
use runtime::{BuildError, Counter, Emitter, Stage, StageContext, StageError};
use serde::Deserialize;

/// `[features]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Window length in seconds.
    pub window_s: u64,
    /// Step between window ends in seconds; must divide `window_s`.
    pub step_s: u64,
    /// How far behind the largest event time the watermark trails, in seconds.
    pub allowed_lateness_s: u64,
    /// Latency above which a request counts as slow (`slow_request_ratio`), in ms.
    pub slo_latency_ms: f64,
    /// Weight of the newest window in the baselines' exponentially weighted means (0–1].
    pub baseline_alpha: f64,
    /// A silent service's window closes once any service's events are this many seconds past its end.
    pub idle_close_s: u64,
    /// A service that sent nothing for this many seconds stops getting windows.
    pub service_idle_timeout_s: u64,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            window_s: 60,
            step_s: 10,
            allowed_lateness_s: 5,
            slo_latency_ms: 500.0,
            baseline_alpha: 0.1,
            idle_close_s: 30,
            service_idle_timeout_s: 600,
        }
    }
}

struct ServiceState {
    reqs: std::collections::VecDeque<Req>,
    res: std::collections::VecDeque<Res>,
    baselines: Baselines,
    last_seen: Timestamp,
    next_end: Timestamp,
    late_folded: u64,
}

/// The features stage.
pub struct Features {
    cfg: FeaturesConfig,
    services: HashMap<String, ServiceState>,
    max_event_time: Option<Timestamp>,
    engine: sql::Engine,
    late_folded: Counter,
    late_dropped: Counter,
    windows_out: Counter,
}

impl Features {
    /// Build without a runner.
    pub fn new(cfg: FeaturesConfig, cx: &StageContext) -> Result<Self, BuildError> {
        if cfg.step_s == 0 || cfg.window_s == 0 || !cfg.window_s.is_multiple_of(cfg.step_s) {
            return Err(BuildError::Config(format!(
                "features.window_s ({}) must be a positive multiple of features.step_s ({})",
                cfg.window_s, cfg.step_s
            )));
        }
        if cfg.baseline_alpha.is_nan() || cfg.baseline_alpha <= 0.0 || cfg.baseline_alpha > 1.0 {
            return Err(BuildError::Config("features.baseline_alpha must be in (0, 1]".into()));
        }
        let late = |a: &str| {
            cx.metrics.counter(
                "late_events_total",
                &format!("action=\"{a}\""),
                "Events behind the watermark, folded in or dropped.",
            )
        };
        Ok(Self {
            services: HashMap::new(),
            max_event_time: None,
            engine: sql::Engine::new(cfg.slo_latency_ms),
            late_folded: late("folded"),
            late_dropped: late("dropped"),
            windows_out: cx.metrics.counter("windows_total", "", "Feature windows emitted."),
            cfg,
        })
    }

    fn step_ms(&self) -> i64 {
        self.cfg.step_s as i64 * 1000
    }
    fn window_ms(&self) -> i64 {
        self.cfg.window_s as i64 * 1000
    }

    /// Take one event into its service's open windows.
    pub fn push(&mut self, ev: TelemetryEvent) {
        let t = ev.event_time;
        let step = self.step_ms();
        let window = self.window_ms();
        let lateness = self.cfg.allowed_lateness_s as i64 * 1000;
        let st = self
            .services
            .entry(ev.service_id.clone())
            .or_insert_with(|| ServiceState {
                reqs: Default::default(),
                res: Default::default(),
                baselines: Baselines::default(),
                last_seen: t,
                next_end: (t.div_euclid(step) + 1) * step,
                late_folded: 0,
            });
        if t < st.next_end - window {
            self.late_dropped.inc();
            return;
        }
        if t < st.last_seen - lateness {
            st.late_folded += 1;
            self.late_folded.inc();
        }
        st.last_seen = st.last_seen.max(t);
        self.max_event_time = Some(self.max_event_time.map_or(t, |m| m.max(t)));
        match ev.body {
            TelemetryBody::Request {
                route,
                status,
                latency_ms,
                bytes_out,
                ..
            } => st.reqs.push_back(Req {
                t,
                instance: ev.instance_id,
                route,
                status,
                latency_ms,
                bytes_out,
            }),
            TelemetryBody::Resource {
                cpu_ratio,
                memory_ratio,
                memory_bytes,
                connections,
                connection_limit,
            } => st.res.push_back(Res {
                t,
                instance: ev.instance_id,
                cpu_ratio,
                memory_ratio,
                memory_bytes,
                connections,
                connection_limit,
            }),
        }
    }

    /// Close every window whose end its service's watermark (or the idle rule) has passed, and
    /// emit its features. Windows with the same end are computed in one query.
    pub async fn close_ready(&mut self, out: &mut Emitter<FeatureWindow>) -> Result<(), StageError> {
        let Some(max_t) = self.max_event_time else {
            return Ok(());
        };
        let lateness = self.cfg.allowed_lateness_s as i64 * 1000;
        let idle_close = self.cfg.idle_close_s as i64 * 1000;
        let idle_ms = self.cfg.service_idle_timeout_s as i64 * 1000;
        self.services.retain(|_, s| s.last_seen >= max_t - idle_ms);
        loop {
            // The earliest end any service is ready to close, and which services are ready for it.
            let ready = |s: &ServiceState| s.next_end <= s.last_seen - lateness || s.next_end <= max_t - idle_close;
            let Some(end) = self.services.values().filter(|s| ready(s)).map(|s| s.next_end).min() else {
                break;
            };
            let mut names: Vec<String> = self
                .services
                .iter()
                .filter(|(_, s)| s.next_end == end && ready(s))
                .map(|(k, _)| k.clone())
                .collect();
            names.sort();
            self.close_window(end, &names, out).await?;
        }
        Ok(())
    }

    async fn close_window(
        &mut self,
        end: Timestamp,
        names: &[String],
        out: &mut Emitter<FeatureWindow>,
    ) -> Result<(), StageError> {
        let start = end - self.window_ms();
        let mut data = WindowData::new(start, end);
        for svc in names {
            if let Some(st) = self.services.get(svc) {
                data.add_service(
                    svc,
                    st.reqs.iter().filter(|r| r.t >= start && r.t < end),
                    st.res.iter().filter(|r| r.t >= start && r.t < end),
                );
            }
        }
        let mut computed = self
            .engine
            .compute(&data)
            .await
            .map_err(|e| StageError::Fatal(format!("feature query failed: {e}")))?;
        let keep_from = end + self.step_ms() - self.window_ms();
        let step = self.step_ms();
        for svc in names {
            let Some(st) = self.services.get_mut(svc) else {
                continue;
            };
            let mut features = computed.remove(svc).unwrap_or_default();
            sql::fill_empty(&mut features, self.cfg.window_s as f64, end, &data, svc);
            st.baselines.apply(&mut features, end, self.cfg.baseline_alpha);
            let late_events = std::mem::take(&mut st.late_folded);
            out.emit(FeatureWindow {
                schema_version: homeostat_schemas::SCHEMA_VERSION,
                id: homeostat_schemas::stable_id("win", &[svc.as_bytes(), &end.to_le_bytes()]),
                event_time: end,
                service_id: svc.clone(),
                window_start: start,
                event_count: data.event_count(svc),
                late_events,
                features,
            });
            self.windows_out.inc();
            st.next_end = end + step;
            // Drop what no later window needs.
            while st.reqs.front().is_some_and(|r| r.t < keep_from) {
                st.reqs.pop_front();
            }
            while st.res.front().is_some_and(|r| r.t < keep_from) {
                st.res.pop_front();
            }
        }
        Ok(())
    }
}

impl Stage for Features {
    type In = TelemetryEvent;
    type Out = FeatureWindow;
    type Config = FeaturesConfig;
    const NAME: &'static str = "features";

    async fn build(cfg: FeaturesConfig, cx: &StageContext) -> Result<Self, BuildError> {
        Features::new(cfg, cx)
    }

    async fn process(
        &mut self,
        batch: Vec<TelemetryEvent>,
        out: &mut Emitter<FeatureWindow>,
    ) -> Result<(), StageError> {
        for ev in batch {
            self.push(ev);
        }
        self.close_ready(out).await
    }
}

#[cfg(test)]
mod tests;
