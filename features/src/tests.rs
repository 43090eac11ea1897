//! One test per feature on windows whose answers are known.
//!
//! Fixture window `[T0, T0+60 s)`, service `svc`:
//! - 100 requests, request i at T0 + 0.6·i s with latency i+1 ms (1…100), 1000 bytes, route
//!   `/r{i%3}`, instance `a{i%2}`, status by i: i%10=0 → 500, i%10=1 → 404, i%20=2 → 429,
//!   i%20=3 → 504, i%20=4 → 503, i%20=5 → 0 (no response), else 200;
//! - 6 resource samples from instance `c` at T0 + 10·k s, k = 0…5: cpu 0.1(k+1),
//!   memory 100(k+1) MB of 1000 MB, connections 10(k+1) of 100.
//!
//! Percentiles interpolate at position p·(n−1) of the sorted latencies 1…100, so
//! p50 = 50.5, p90 = 90.1, p95 = 95.05, p99 = 99.01, p99.9 = 99.901.

use std::collections::BTreeMap;

use homeostat_schemas::{FeatureId as F, FeatureWindow, TelemetryBody, TelemetryEvent};
use runtime::{Emitter, StageContext};

use super::*;

const T0: i64 = 1_795_953_600_000;

fn status(i: i64) -> u16 {
    match (i % 10, i % 20) {
        (0, _) => 500,
        (1, _) => 404,
        (_, 2) => 429,
        (_, 3) => 504,
        (_, 4) => 503,
        (_, 5) => 0,
        _ => 200,
    }
}

fn req(i: i64) -> TelemetryEvent {
    TelemetryEvent {
        schema_version: 1,
        id: format!("q{i}"),
        event_time: T0 + 600 * i,
        service_id: "svc".into(),
        instance_id: format!("a{}", i % 2),
        body: TelemetryBody::Request {
            route: format!("/r{}", i % 3),
            method: "GET".into(),
            status: status(i),
            latency_ms: (i + 1) as f64,
            bytes_out: 1000,
        },
    }
}

fn res(k: i64, t: i64) -> TelemetryEvent {
    let x = (k + 1) as f64;
    TelemetryEvent {
        schema_version: 1,
        id: format!("r{k}-{t}"),
        event_time: t,
        service_id: "svc".into(),
        instance_id: "c".into(),
        body: TelemetryBody::Resource {
            cpu_ratio: 0.1 * x,
            memory_ratio: 0.1 * x,
            memory_bytes: 100_000_000 * (k as u64 + 1),
            connections: 10 * (k as u32 + 1),
            connection_limit: 100,
        },
    }
}

fn cfg() -> FeaturesConfig {
    FeaturesConfig {
        slo_latency_ms: 90.0,
        allowed_lateness_s: 0,
        ..FeaturesConfig::default()
    }
}

/// Run the fixture and return the window `[T0, T0+60 s)`.
fn fixture() -> FeatureWindow {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async {
        let mut f = Features::new(cfg(), &StageContext::new("features")).expect("build");
        let mut out = Emitter::default();
        let mut evs: Vec<TelemetryEvent> = (0..100).map(req).collect();
        evs.extend((0..6).map(|k| res(k, T0 + 10_000 * k)));
        evs.sort_by_key(|e| e.event_time);
        // An event of the same service at the window end moves its watermark past it.
        let mut marker = req(0);
        marker.event_time = T0 + 60_000;
        evs.push(marker);
        f.process(evs, &mut out).await.expect("process");
        let wins = out.drain();
        wins.into_iter()
            .find(|w| w.service_id == "svc" && w.event_time == T0 + 60_000)
            .expect("window closed")
    })
}

/// Ordinary least squares slope, written out independently of DataFusion.
fn ols(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}

fn close(f: F, expected: f64) {
    let w = fixture();
    let got = w.get(f).unwrap_or_else(|| {
        panic!(
            "{} undefined; window has {:?}",
            f.name(),
            w.features.keys().collect::<Vec<_>>()
        )
    });
    // Percentiles: the engine carries the interpolation weight at 10⁻⁶ resolution (see FEATURES.md).
    let tol = if f.name().starts_with("latency_p") {
        2e-6
    } else {
        1e-9 * expected.abs().max(1.0)
    };
    assert!(
        (got - expected).abs() <= tol,
        "{}: got {got}, expected {expected}",
        f.name()
    );
}

macro_rules! known {
    ($($test:ident: $f:expr => $v:expr;)*) => {$(
        #[test]
        fn $test() { close($f, $v); }
    )*};
}

const SD: f64 = 28.866_070_047_722_12; // sqrt((100² − 1) / 12)

known! {
    latency_p50_ms: F::LatencyP50 => 50.5;
    latency_p90_ms: F::LatencyP90 => 90.1;
    latency_p95_ms: F::LatencyP95 => 95.05;
    latency_p99_ms: F::LatencyP99 => 99.01;
    latency_p999_ms: F::LatencyP999 => 99.901;
    latency_mean_ms: F::LatencyMean => 50.5;
    latency_max_ms: F::LatencyMax => 100.0;
    latency_stddev_ms: F::LatencyStddev => SD;
    latency_cv: F::LatencyCv => SD / 50.5;
    latency_tail_ratio: F::LatencyTailRatio => 99.01 / 50.5;
    slow_request_ratio: F::SlowRequestRatio => 0.10;
    error_rate_5xx: F::ErrorRate5xx => 0.20;
    error_rate_4xx: F::ErrorRate4xx => 0.15;
    error_rate_timeout: F::ErrorRateTimeout => 0.05;
    error_rate_throttled: F::ErrorRateThrottled => 0.05;
    error_rate_unavailable: F::ErrorRateUnavailable => 0.10;
    error_rate: F::ErrorRate => 0.25;
    request_count: F::RequestCount => 100.0;
    request_rate_rps: F::RequestRate => 100.0 / 60.0;
    bytes_out_rate_bps: F::BytesOutRate => 100_000.0 / 60.0;
    distinct_routes: F::DistinctRoutes => 3.0;
    active_instances: F::ActiveInstances => 3.0;
    requests_per_instance_rps: F::RequestsPerInstance => 100.0 / 60.0 / 3.0;
    cpu_mean_ratio: F::CpuMean => 0.35;
    cpu_max_ratio: F::CpuMax => 0.6;
    memory_mean_ratio: F::MemoryMean => 0.35;
    memory_max_ratio: F::MemoryMax => 0.6;
    memory_max_bytes: F::MemoryMaxBytes => 600_000_000.0;
    connections_mean: F::ConnectionsMean => 35.0;
    connection_utilization_max: F::ConnectionUtilizationMax => 0.6;
    resource_sample_count: F::ResourceSampleCount => 6.0;
    latency_slope_ms_per_s: F::LatencySlope => 1.0 / 0.6;
    memory_slope_ratio_per_s: F::MemorySlope => 0.01;
    cpu_slope_ratio_per_s: F::CpuSlope => 0.01;
    connections_slope_per_s: F::ConnectionsSlope => 1.0;
    staleness_s: F::Staleness => 0.6;
    request_rate_slope_rps_per_s: F::RequestRateSlope => 0.0;
}

#[test]
fn error_rate_slope_per_s() {
    let pts: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let s = status(i);
            (
                0.6 * i as f64,
                if (500..=599).contains(&s) || s == 0 { 1.0 } else { 0.0 },
            )
        })
        .collect();
    close(F::ErrorRateSlope, ols(&pts));
}

#[test]
fn request_rate_slope_when_traffic_doubles() {
    // 20 requests in the first half, 40 in the second: rates 2/3 and 4/3 rps over 30 s halves.
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let w = rt.block_on(async {
        let mut f = Features::new(cfg(), &StageContext::new("features")).expect("build");
        let mut out = Emitter::default();
        let mut evs = Vec::new();
        for i in 0..20 {
            let mut e = req(0);
            e.event_time = T0 + 1500 * i;
            evs.push(e);
        }
        for i in 0..40 {
            let mut e = req(0);
            e.event_time = T0 + 30_000 + 750 * i;
            evs.push(e);
        }
        let mut marker = req(0);
        marker.event_time = T0 + 60_000;
        evs.push(marker);
        f.process(evs, &mut out).await.expect("process");
        out.drain()
            .into_iter()
            .find(|w| w.service_id == "svc" && w.event_time == T0 + 60_000)
            .expect("window")
    });
    let got = w.get(F::RequestRateSlope).expect("defined");
    assert!((got - (4.0 / 3.0 - 2.0 / 3.0) / 30.0).abs() < 1e-12, "{got}");
}

/// Baseline features: applied to a window's aggregates with a known history.
fn baseline_after(history: &[(F, f64)], current: &[(F, f64)], alpha: f64) -> BTreeMap<String, f64> {
    let mut b = Baselines::default();
    for (f, x) in history {
        let mut v = BTreeMap::new();
        v.insert(f.name().to_owned(), *x);
        b.apply(&mut v, T0, alpha);
    }
    let mut v: BTreeMap<String, f64> = current.iter().map(|(f, x)| (f.name().to_owned(), *x)).collect();
    b.apply(&mut v, T0, alpha);
    v
}

fn get(v: &BTreeMap<String, f64>, f: F) -> f64 {
    *v.get(f.name()).unwrap_or_else(|| panic!("{} undefined", f.name()))
}

#[test]
fn latency_p99_baseline_ratio() {
    // EWMA with α = 0.5 over 10, 20 is 15; the current 30 is twice that.
    let v = baseline_after(
        &[(F::LatencyP99, 10.0), (F::LatencyP99, 20.0)],
        &[(F::LatencyP99, 30.0)],
        0.5,
    );
    assert!((get(&v, F::LatencyP99BaselineRatio) - 2.0).abs() < 1e-12);
}

#[test]
fn latency_p99_zscore() {
    // After 10, 20 with α = 0.5: mean 15, variance 0.5·(0 + 0.5·100) = 25, sd 5; z(30) = 3.
    let v = baseline_after(
        &[(F::LatencyP99, 10.0), (F::LatencyP99, 20.0)],
        &[(F::LatencyP99, 30.0)],
        0.5,
    );
    assert!((get(&v, F::LatencyP99Zscore) - 3.0).abs() < 1e-12);
    // No history: undefined, not zero.
    let v = baseline_after(&[], &[(F::LatencyP99, 30.0)], 0.5);
    assert!(!v.contains_key(F::LatencyP99Zscore.name()));
}

#[test]
fn error_rate_baseline_delta() {
    let v = baseline_after(
        &[(F::ErrorRate, 0.01), (F::ErrorRate, 0.03)],
        &[(F::ErrorRate, 0.5)],
        0.5,
    );
    assert!((get(&v, F::ErrorRateBaselineDelta) - 0.48).abs() < 1e-12);
}

#[test]
fn request_rate_baseline_ratio() {
    let v = baseline_after(&[(F::RequestRate, 10.0)], &[(F::RequestRate, 2.5)], 0.1);
    assert!((get(&v, F::RequestRateBaselineRatio) - 0.25).abs() < 1e-12);
}

#[test]
fn request_rate_zscore() {
    let v = baseline_after(
        &[(F::RequestRate, 10.0), (F::RequestRate, 20.0)],
        &[(F::RequestRate, 5.0)],
        0.5,
    );
    assert!((get(&v, F::RequestRateZscore) - (-2.0)).abs() < 1e-12);
}

#[test]
fn cpu_baseline_ratio() {
    let v = baseline_after(&[(F::CpuMean, 0.2), (F::CpuMean, 0.4)], &[(F::CpuMean, 0.9)], 0.5);
    assert!((get(&v, F::CpuBaselineRatio) - 3.0).abs() < 1e-12);
}

#[test]
fn latency_variance_ratio() {
    // Variances 4 and 16 (sd 2, 4), EWMA α = 0.5 → 10; current sd 10 → variance 100 → ratio 10.
    let v = baseline_after(
        &[(F::LatencyStddev, 2.0), (F::LatencyStddev, 4.0)],
        &[(F::LatencyStddev, 10.0)],
        0.5,
    );
    assert!((get(&v, F::LatencyVarianceRatio) - 10.0).abs() < 1e-12);
}

#[test]
fn request_rate_seasonal_ratio() {
    let v = baseline_after(&[(F::RequestRate, 8.0)], &[(F::RequestRate, 12.0)], 0.5);
    assert!((get(&v, F::RequestRateSeasonalRatio) - 1.5).abs() < 1e-12);
    // A different hour of the day has its own slot: no history there yet.
    let mut b = Baselines::default();
    let mut v = BTreeMap::from([(F::RequestRate.name().to_owned(), 8.0)]);
    b.apply(&mut v, T0, 0.5);
    let mut v = BTreeMap::from([(F::RequestRate.name().to_owned(), 12.0)]);
    b.apply(&mut v, T0 + 3_600_000, 0.5);
    assert!(!v.contains_key(F::RequestRateSeasonalRatio.name()));
}

#[test]
fn latency_p50_seasonal_ratio() {
    let v = baseline_after(&[(F::LatencyP50, 40.0)], &[(F::LatencyP50, 10.0)], 0.5);
    assert!((get(&v, F::LatencyP50SeasonalRatio) - 0.25).abs() < 1e-12);
}

#[test]
fn every_feature_has_a_test_here() {
    let src = include_str!("tests.rs");
    for f in homeostat_schemas::FEATURES {
        assert!(
            src.contains(&format!("fn {}(", f.name)) || src.contains(&format!("{}:", f.name)),
            "no test for {}",
            f.name
        );
    }
}

#[test]
fn empty_window_has_zero_counts_and_full_staleness() {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let wins = rt.block_on(async {
        let mut f = Features::new(cfg(), &StageContext::new("features")).expect("build");
        let mut out = Emitter::default();
        let mut e = req(0);
        e.service_id = "quiet".into();
        let mut later = req(0);
        later.service_id = "busy".into();
        later.event_time = T0 + 200_000;
        f.process(vec![e, later], &mut out).await.expect("process");
        out.drain()
    });
    let w = wins
        .iter()
        .find(|w| w.service_id == "quiet" && w.event_time == T0 + 120_000)
        .expect("quiet window");
    assert_eq!(w.get(F::RequestCount), Some(0.0));
    assert_eq!(w.get(F::RequestRate), Some(0.0));
    assert_eq!(w.get(F::Staleness), Some(60.0));
    assert_eq!(w.get(F::LatencyP99), None, "undefined without requests");
}

#[test]
fn late_events_are_folded_or_dropped_by_the_rule() {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let cx = StageContext::new("features");
    let wins = rt.block_on(async {
        let cfg = FeaturesConfig {
            allowed_lateness_s: 5,
            ..cfg()
        };
        let mut f = Features::new(cfg, &cx).expect("build");
        let mut out = Emitter::default();
        let mut evs = vec![req(0)];
        let mut ahead = req(0);
        ahead.event_time = T0 + 30_000;
        evs.push(ahead);
        // Behind the watermark (T0+25 s) but inside open windows: folded.
        let mut late = req(0);
        late.event_time = T0 + 20_000;
        evs.push(late);
        f.process(evs, &mut out).await.expect("process");
        // Far ahead: closes windows up to T0+95 s after the batch; then, in the next batch, an
        // event from before every open window.
        let mut far = req(0);
        far.event_time = T0 + 100_000;
        f.process(vec![far], &mut out).await.expect("process");
        let mut too_late = req(0);
        too_late.event_time = T0 + 1_000;
        f.process(vec![too_late], &mut out).await.expect("process");
        out.drain()
    });
    let text = cx.metrics.render();
    assert!(
        text.contains("homeostat_features_late_events_total{action=\"folded\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("homeostat_features_late_events_total{action=\"dropped\"} 1"),
        "{text}"
    );
    let first = wins.iter().find(|w| w.event_time == T0 + 60_000).expect("window");
    assert_eq!(first.get(F::RequestCount), Some(3.0), "the folded event counts");
    assert!(wins.iter().any(|w| w.late_events == 1));
}
