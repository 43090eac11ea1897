//! The robust baseline model: for each service and monitored feature, the median and the scaled
//! median absolute deviation (MAD) of its recent normal windows. A feature deviates in the
//! direction that hurts users (latency up, traffic down, …); its robust deviation is
//! `(value − median) / max(1.4826·MAD, floor)`, where the floor keeps near-constant features
//! (an error rate that is always 0) from alerting on noise.
//!
//! Two refinements make the threshold adaptive per service and feature:
//!
//! - **Seasonality**: each feature keeps the median of every past hour, by hour of the day (last
//!   7 days) and hour of the week (last 3 weeks). Once an hour of the week was seen twice, or else
//!   an hour of the day twice, the expected value is the median of those hours, not the last
//!   hour's: Monday's 9 o'clock peak is compared with earlier Mondays at 9.
//! - **Extreme-value tail**: the deviations of normal windows feed a peaks-over-threshold tail
//!   ([`Spot`]); a feature whose deviations are heavy-tailed raises its own threshold to the
//!   deviation it reaches with probability 10⁻⁴ per window, never below the configured one and
//!   never above three times it.

use std::collections::{HashMap, VecDeque};

use homeostat_schemas::{Contribution, FeatureId as F, FeatureWindow, Timestamp};

use crate::spot::Spot;
use crate::{DetectorConfig, Model, ModelScore};

/// Risk per window at which a feature's tail sets its threshold.
pub const TAIL_RISK: f64 = 1e-4;

/// A tail raises a feature's threshold at most this many times the configured one.
pub const MAX_RAISE: f64 = 3.0;

const HOUR_MS: i64 = 3_600_000;
const DAYS: usize = 7;
const WEEKS: usize = 3;

/// Hourly medians of one feature by hour of the day and of the week.
#[derive(Debug, Clone, Default)]
pub struct Seasonal {
    hour: i64,
    bucket: Vec<f64>,
    daily: Vec<VecDeque<f64>>,
    weekly: Vec<VecDeque<f64>>,
}

impl Seasonal {
    fn slots(&mut self) {
        if self.daily.is_empty() {
            self.daily = vec![VecDeque::new(); 24];
            self.weekly = vec![VecDeque::new(); 168];
        }
    }

    /// Fold in a value at `t` (ms); a finished hour's median goes to its slots.
    pub fn learn(&mut self, t: Timestamp, x: f64) {
        self.slots();
        let hour = t.div_euclid(HOUR_MS);
        if hour != self.hour && !self.bucket.is_empty() {
            let m = median(&self.bucket);
            let (d, w) = (self.hour.rem_euclid(24) as usize, self.hour.rem_euclid(168) as usize);
            self.daily[d].push_back(m);
            if self.daily[d].len() > DAYS {
                self.daily[d].pop_front();
            }
            self.weekly[w].push_back(m);
            if self.weekly[w].len() > WEEKS {
                self.weekly[w].pop_front();
            }
            self.bucket.clear();
        }
        self.hour = hour;
        self.bucket.push(x);
    }

    /// The expected value at `t`: the median of the same hour on past weeks (two or more), else
    /// on past days (two or more).
    pub fn expect(&self, t: Timestamp) -> Option<f64> {
        if self.daily.is_empty() {
            return None;
        }
        let hour = t.div_euclid(HOUR_MS);
        let w = &self.weekly[hour.rem_euclid(168) as usize];
        let d = &self.daily[hour.rem_euclid(24) as usize];
        let pick = if w.len() >= 2 {
            w
        } else if d.len() >= 2 {
            d
        } else {
            return None;
        };
        Some(median(&pick.iter().copied().collect::<Vec<_>>()))
    }

    /// Flat form for checkpoints: [hour, n, bucket…, daily 24×7, weekly 168×3] (NaN = empty).
    pub fn export(&self) -> Vec<f64> {
        let mut v = vec![self.hour as f64, self.bucket.len() as f64];
        v.extend(&self.bucket);
        for (slots, depth) in [(&self.daily, DAYS), (&self.weekly, WEEKS)] {
            for slot in slots.iter() {
                for j in 0..depth {
                    v.push(slot.get(j).copied().unwrap_or(f64::NAN));
                }
            }
        }
        v
    }

    /// Rebuild from [`Seasonal::export`].
    pub fn import(v: &[f64]) -> Self {
        let mut s = Seasonal::default();
        if v.len() < 2 {
            return s;
        }
        s.hour = v[0] as i64;
        let n = (v[1] as usize).min(v.len() - 2);
        s.bucket = v[2..2 + n].to_vec();
        let rest = &v[2 + n..];
        if rest.len() == 24 * DAYS + 168 * WEEKS {
            s.slots();
            for k in 0..24 {
                s.daily[k] = rest[k * DAYS..(k + 1) * DAYS]
                    .iter()
                    .copied()
                    .filter(|x| !x.is_nan())
                    .collect();
            }
            let off = 24 * DAYS;
            for k in 0..168 {
                s.weekly[k] = rest[off + k * WEEKS..off + (k + 1) * WEEKS]
                    .iter()
                    .copied()
                    .filter(|x| !x.is_nan())
                    .collect();
            }
        }
        s
    }
}

fn tail() -> Spot {
    Spot::new(0.98, 2000, 50).with_fallback_shape(0.5)
}

/// Which way a feature goes bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// Higher is worse.
    Up,
    /// Lower is worse.
    Down,
}

/// A monitored feature with its deviation floor (absolute, and relative to the median).
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// Feature.
    pub feature: F,
    /// Bad direction.
    pub direction: Direction,
    /// Smallest scale, in the feature's unit.
    pub abs_floor: f64,
    /// Smallest scale as a fraction of the median.
    pub rel_floor: f64,
}

/// The features the baseline model watches.
pub const WATCHED: &[Watched] = &[
    Watched {
        feature: F::LatencyP50,
        direction: Direction::Up,
        abs_floor: 2.0,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::LatencyP99,
        direction: Direction::Up,
        abs_floor: 5.0,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::LatencyMean,
        direction: Direction::Up,
        abs_floor: 2.0,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::ErrorRate,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::ErrorRate5xx,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::ErrorRateTimeout,
        direction: Direction::Up,
        abs_floor: 0.005,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::RequestRate,
        direction: Direction::Down,
        abs_floor: 0.2,
        rel_floor: 0.1,
    },
    Watched {
        feature: F::MemoryMax,
        direction: Direction::Up,
        abs_floor: 0.01,
        rel_floor: 0.0,
    },
    Watched {
        feature: F::MemorySlope,
        direction: Direction::Up,
        abs_floor: 2e-5,
        rel_floor: 0.0,
    },
    Watched {
        feature: F::CpuMax,
        direction: Direction::Up,
        abs_floor: 0.03,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::ConnectionUtilizationMax,
        direction: Direction::Up,
        abs_floor: 0.03,
        rel_floor: 0.05,
    },
    Watched {
        feature: F::Staleness,
        direction: Direction::Up,
        abs_floor: 3.0,
        rel_floor: 0.0,
    },
];

/// Median of a non-empty slice (sorts a copy).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Default)]
struct ServiceHistory {
    windows: usize,
    values: HashMap<&'static str, VecDeque<f64>>,
    tails: HashMap<&'static str, Spot>,
    seasons: HashMap<&'static str, Seasonal>,
}

/// A feature's baseline at a time: expected value, scale, and the deviation that is its threshold.
struct FeatureBaseline {
    median: f64,
    scale: f64,
}

fn baseline_of(spec: &Watched, hist: &VecDeque<f64>, season: Option<&Seasonal>, t: Timestamp) -> FeatureBaseline {
    let xs: Vec<f64> = hist.iter().copied().collect();
    let recent = median(&xs);
    let devs: Vec<f64> = xs.iter().map(|v| (v - recent).abs()).collect();
    let med = season.and_then(|s| s.expect(t)).unwrap_or(recent);
    let scale = (1.4826 * median(&devs))
        .max(spec.abs_floor)
        .max(spec.rel_floor * med.abs());
    FeatureBaseline { median: med, scale }
}

fn bad_deviation(spec: &Watched, x: f64, b: &FeatureBaseline) -> f64 {
    let signed = (x - b.median) / b.scale;
    match spec.direction {
        Direction::Up => signed,
        Direction::Down => -signed,
    }
}

/// The robust baseline model.
pub struct RobustBaseline {
    warmup: usize,
    history: usize,
    threshold: f64,
    services: HashMap<String, ServiceHistory>,
}

impl RobustBaseline {
    /// A model with the detector's settings.
    pub fn new(cfg: &DetectorConfig) -> Self {
        Self {
            warmup: cfg.warmup_windows,
            history: cfg.history_windows,
            threshold: cfg.threshold,
            services: HashMap::new(),
        }
    }
}

impl RobustBaseline {
    /// Forget a service's levels (its recent values and its daily and weekly profiles) so that
    /// they are learned afresh from its next windows, as a new service's are (it warms up again).
    /// Its tails, which are in robust units, are kept: what counts as a rare deviation has not
    /// changed, only the level it is measured from.
    pub fn restart_levels(&mut self, service: &str) {
        if let Some(h) = self.services.get_mut(service) {
            h.windows = 0;
            h.values.clear();
            h.seasons.clear();
        }
    }

    /// Services with a history.
    pub fn service_ids(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// A service's learned windows and its per-feature state (for checkpoints): keys
    /// `values.<feature>`, `tail.<feature>`, `season.<feature>`.
    pub fn export(&self, service: &str) -> (usize, Vec<(String, Vec<f64>)>) {
        let Some(h) = self.services.get(service) else {
            return (0, Vec::new());
        };
        let mut out = Vec::new();
        for (k, v) in &h.values {
            out.push((format!("values.{k}"), v.iter().copied().collect()));
        }
        for (k, t) in &h.tails {
            out.push((format!("tail.{k}"), t.history().collect()));
        }
        for (k, s) in &h.seasons {
            out.push((format!("season.{k}"), s.export()));
        }
        (h.windows, out)
    }

    /// Bring derived state up to date (tail fits), as a restore would.
    pub fn settle(&mut self) {
        for h in self.services.values_mut() {
            for t in h.tails.values_mut() {
                t.refit();
            }
        }
    }

    /// Restore what [`RobustBaseline::export`] returned; features not watched are ignored.
    pub fn import(&mut self, service: &str, windows: usize, state: Vec<(String, Vec<f64>)>) {
        let history = self.history;
        let h = self.services.entry(service.to_owned()).or_default();
        h.windows = windows;
        for (key, values) in state {
            let Some((kind, name)) = key.split_once('.') else {
                continue;
            };
            let Some(spec) = WATCHED.iter().find(|w| w.feature.name() == name) else {
                continue;
            };
            let name = spec.feature.name();
            match kind {
                "values" => {
                    let mut q: VecDeque<f64> = values.into();
                    while q.len() > history {
                        q.pop_front();
                    }
                    h.values.insert(name, q);
                }
                "tail" => {
                    let mut t = tail();
                    t.restore(values);
                    h.tails.insert(name, t);
                }
                "season" => {
                    h.seasons.insert(name, Seasonal::import(&values));
                }
                _ => {}
            }
        }
    }
}

/// Map a robust deviation to a score in [0, 1]: 0.5 at the threshold, logistic around it.
pub fn score_of(deviation: f64, threshold: f64) -> f64 {
    if deviation <= 0.0 {
        return 0.0;
    }
    let s = 1.0 / (1.0 + (-(deviation - threshold) / (threshold / 6.0)).exp());
    // Below a third of the threshold, nothing at all.
    if deviation < threshold / 3.0 { 0.0 } else { s }
}

impl Model for RobustBaseline {
    fn name(&self) -> &'static str {
        "robust_baseline"
    }

    fn score(&mut self, w: &FeatureWindow) -> ModelScore {
        let Some(h) = self.services.get(&w.service_id) else {
            return ModelScore {
                warming_up: true,
                ..ModelScore::default()
            };
        };
        let mut contributions = Vec::new();
        let mut top: f64 = 0.0;
        for spec in WATCHED {
            let name = spec.feature.name();
            let (Some(x), Some(hist)) = (w.get(spec.feature), h.values.get(name)) else {
                continue;
            };
            if hist.len() < self.warmup.min(10) {
                continue;
            }
            let b = baseline_of(spec, hist, h.seasons.get(name), w.event_time);
            let bad = bad_deviation(spec, x, &b);
            // The feature's own threshold: the configured one, or higher where its tail is heavy.
            let own = h
                .tails
                .get(name)
                .and_then(|t| t.quantile(TAIL_RISK))
                .map_or(self.threshold, |q| q.clamp(self.threshold, MAX_RAISE * self.threshold));
            top = top.max(bad * self.threshold / own);
            contributions.push(Contribution {
                feature: name.to_owned(),
                value: x,
                baseline: b.median,
                deviation: bad,
            });
        }
        contributions.sort_by(|a, b| b.deviation.total_cmp(&a.deviation));
        contributions.retain(|c| c.deviation > 0.0);
        ModelScore {
            score: score_of(top, self.threshold),
            contributions,
            warming_up: h.windows < self.warmup,
        }
    }

    fn learn(&mut self, w: &FeatureWindow, normal: bool) {
        let h = self.services.entry(w.service_id.clone()).or_default();
        // The hourly profile records every window: what happens at an hour is what the hour looks
        // like, and the median over past days outvotes one bad day.
        for spec in WATCHED {
            if let Some(x) = w.get(spec.feature) {
                h.seasons.entry(spec.feature.name()).or_default().learn(w.event_time, x);
            }
        }
        if !normal && h.windows >= self.warmup {
            return;
        }
        h.windows += 1;
        for spec in WATCHED {
            let name = spec.feature.name();
            if let Some(x) = w.get(spec.feature) {
                if normal
                    && let Some(hist) = h.values.get(name)
                    && hist.len() >= self.warmup.min(10)
                {
                    let b = baseline_of(spec, hist, h.seasons.get(name), w.event_time);
                    let dev = bad_deviation(spec, x, &b);
                    h.tails.entry(name).or_insert_with(tail).learn(dev.max(0.0));
                }
                let q = h.values.entry(name).or_default();
                q.push_back(x);
                while q.len() > self.history {
                    q.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn window(t: i64, p99: f64, rate: f64) -> FeatureWindow {
        FeatureWindow {
            schema_version: 1,
            id: format!("w{t}"),
            event_time: t,
            service_id: "svc".into(),
            window_start: t - 60_000,
            event_count: 1,
            late_events: 0,
            features: BTreeMap::from([("latency_p99_ms".into(), p99), ("request_rate_rps".into(), rate)]),
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn scores_in_the_bad_direction_only_and_explains() {
        let cfg = DetectorConfig {
            warmup_windows: 20,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        for i in 0..40 {
            // p99 around 100 ms ± 5, rate around 50 rps ± 2.
            let w = window(
                i,
                100.0 + ((i % 5) as f64 - 2.0) * 2.5,
                50.0 + ((i % 3) as f64 - 1.0) * 2.0,
            );
            assert!(m.score(&w).score < 0.5);
            m.learn(&w, true);
        }
        let calm = m.score(&window(41, 101.0, 50.0));
        assert!(calm.score < 0.1 && !calm.warming_up, "{calm:?}");
        let faster = m.score(&window(42, 20.0, 50.0));
        assert!(faster.score < 0.1, "lower latency is not an anomaly: {faster:?}");
        let slow = m.score(&window(43, 400.0, 50.0));
        assert!(slow.score > 0.99, "{slow:?}");
        assert_eq!(slow.contributions[0].feature, "latency_p99_ms");
        assert_eq!(slow.contributions[0].baseline, 100.0);
        let drop = m.score(&window(44, 100.0, 5.0));
        assert!(
            drop.score > 0.9 && drop.contributions[0].feature == "request_rate_rps",
            "{drop:?}"
        );
    }

    #[test]
    fn abnormal_windows_do_not_teach_the_baseline() {
        let cfg = DetectorConfig {
            warmup_windows: 10,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        for i in 0..20 {
            m.learn(&window(i, 100.0 + (i % 3) as f64, 50.0), true);
        }
        for i in 20..200 {
            m.learn(&window(i, 900.0, 50.0), false);
        }
        assert!(m.score(&window(300, 900.0, 50.0)).score > 0.99);
    }

    fn at(t: i64, svc: &str, rate: f64) -> FeatureWindow {
        FeatureWindow {
            schema_version: 1,
            id: format!("{svc}-{t}"),
            event_time: t,
            service_id: svc.into(),
            window_start: t - 60_000,
            event_count: 1,
            late_events: 0,
            features: BTreeMap::from([("request_rate_rps".into(), rate)]),
        }
    }

    #[test]
    fn a_quiet_night_is_expected_after_two_days_of_quiet_nights() {
        // Traffic 100 rps by day (8–20 h), 10 rps by night, one window a minute for three days.
        let cfg = DetectorConfig {
            warmup_windows: 10,
            history_windows: 60,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        let rate = |t: i64| {
            let h = (t / 3_600_000) % 24;
            if (8..20).contains(&h) { 100.0 } else { 10.0 }
        };
        let minute = 60_000;
        let mut last_day_falls = Vec::new();
        for i in 0..(3 * 24 * 60) {
            let t = i * minute;
            let w = at(t, "svc", rate(t) * (1.0 + 0.02 * ((i % 7) as f64 - 3.0) / 3.0));
            let s = m.score(&w);
            // The evening drop at 20:00–20:30, when the last hour was all daytime traffic.
            let h = (t / 3_600_000) % 24;
            if h == 20 && (t / minute) % 60 < 30 {
                last_day_falls.push((t / 86_400_000, s.score));
            }
            m.learn(&w, s.score < 0.5);
        }
        let day0 = last_day_falls
            .iter()
            .filter(|d| d.0 == 0)
            .map(|d| d.1)
            .fold(0.0, f64::max);
        let day2 = last_day_falls
            .iter()
            .filter(|d| d.0 == 2)
            .map(|d| d.1)
            .fold(0.0, f64::max);
        assert!(day0 > 0.9, "the first evening drop is news: {day0}");
        assert!(day2 < 0.5, "by the third evening it is expected: {day2}");
        // But daytime traffic falling to the night level at noon is still an anomaly.
        let noon = 3 * 86_400_000 + 12 * 3_600_000;
        assert!(m.score(&at(noon, "svc", 10.0)).score > 0.9);
    }

    #[test]
    fn a_heavy_tailed_feature_raises_its_own_threshold() {
        let cfg = DetectorConfig {
            warmup_windows: 10,
            ..DetectorConfig::default()
        };
        let mut m = RobustBaseline::new(&cfg);
        // p99 around 100 ± 2, with a burst to 100 + 8·scale about one window in 25: normal here.
        for i in 0..5000 {
            let p99 = if i % 25 == 0 {
                100.0 + 8.0 * 5.0 * (1.0 + (i % 3) as f64 * 0.1)
            } else {
                100.0 + (i % 5) as f64 - 2.0
            };
            m.learn(&window(i * 10_000, p99, 50.0), true);
        }
        let burst = m.score(&window(5001 * 10_000, 140.0, 50.0));
        assert!(burst.score < 0.5, "a routine burst does not alert: {burst:?}");
        let worse = m.score(&window(5002 * 10_000, 400.0, 50.0));
        assert!(worse.score > 0.9, "{worse:?}");
    }

    /// `cpu_max_ratio` of a small service, as its 60 s windows see it every 10 s: the largest of
    /// the last 36 CPU samples (3 instances, 5 s apart), each 0.15 + 0.35·load + noise, the load a
    /// Poisson count of requests (about 20 per sample). A burst of requests now and then lifts one
    /// sample well above the rest, and the six windows that hold it all read its value.
    struct BurstyCpu {
        rng: homeostat_sim::Rng,
        samples: VecDeque<f64>,
    }

    impl BurstyCpu {
        fn next_max(&mut self) -> f64 {
            for _ in 0..6 {
                let served = f64::from(self.rng.poisson(20.0));
                let noise = self.rng.normal();
                self.samples.push_back(0.15 + 0.35 * served / 5.0 / 5.4 + 0.03 * noise);
            }
            while self.samples.len() > 36 {
                self.samples.pop_front();
            }
            self.samples.iter().copied().fold(f64::MIN, f64::max)
        }
    }

    #[test]
    fn a_burst_held_in_overlapping_maxima_does_not_alert_but_a_saturation_does() {
        use crate::state::{AlertState, Evidence};
        use homeostat_schemas::AlertState as Wire;
        let cfg = DetectorConfig::default();
        let rules = cfg.rules("svc");
        let mut m = RobustBaseline::new(&cfg);
        let mut st = AlertState::default();
        let mut cpu = BurstyCpu {
            rng: homeostat_sim::Rng::new(2),
            samples: VecDeque::new(),
        };
        let window = |i: i64, x: f64| FeatureWindow {
            features: BTreeMap::from([(F::CpuMax.name().to_owned(), x)]),
            event_time: i * 10_000,
            window_start: i * 10_000 - 60_000,
            ..window(i * 10_000, 100.0, 50.0)
        };
        let judge = |m: &mut RobustBaseline, st: &mut AlertState, i: i64, x: f64| {
            let w = window(i, x);
            let s = m.score(&w);
            let evidence = Evidence::of(&s.contributions, 60_000);
            let change = st.observe(s.score, w.event_time, evidence.as_ref(), &rules);
            m.learn(&w, !st.firing && s.score < 0.5);
            (s.score, change)
        };
        // Eight days of windows, the first one to learn from.
        let (mut high, mut runs, mut run, mut fired) = (0, 0, 0, 0);
        for i in 0..8 * 8_640 {
            let (score, change) = judge(&mut m, &mut st, i, cpu.next_max());
            if i < 8_640 {
                continue;
            }
            high += usize::from(score >= 0.5);
            run = if score >= 0.5 { run + 1 } else { 0 };
            runs += usize::from(run == 2);
            fired += usize::from(change == Some(Wire::Firing));
        }
        // Bursts reach the alert level now and then, each for the six windows that hold it: two
        // windows in a row, which would fire `fire_after = 2` if every window counted.
        assert!(
            high >= 6 && runs >= 1,
            "{high} windows at 0.5 or above, {runs} runs of two"
        );
        assert_eq!(fired, 0, "a held burst is one piece of evidence");
        // A saturation far beyond the bursts (this feature's tail has raised its threshold), whose
        // maximum moves from window to window.
        let start = 8 * 8_640;
        let fired_at = (0..12).find(|k| {
            let x = 1.4 + 0.02 * (*k % 3) as f64;
            judge(&mut m, &mut st, start + k, x).1 == Some(Wire::Firing)
        });
        assert_eq!(fired_at, Some(1), "fires on its second window");
    }

    #[test]
    fn export_and_import_round_trip() {
        let cfg = DetectorConfig::default();
        let mut a = RobustBaseline::new(&cfg);
        for i in 0..3000 {
            a.learn(&window(i * 60_000, 100.0 + (i % 9) as f64, 50.0), true);
        }
        a.settle();
        let (n, state) = a.export("svc");
        let mut b = RobustBaseline::new(&cfg);
        b.import("svc", n, state);
        for x in [90.0, 110.0, 160.0, 400.0] {
            let w = window(3001 * 60_000, x, 50.0);
            assert_eq!(a.score(&w).score, b.score(&w).score);
        }
    }
}
