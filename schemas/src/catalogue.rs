//! The catalogue of the 47 features computed for every service on every window.
//!
//! Two kinds: **window** features are aggregates over the events inside one window (computed by
//! the features stage with DataFusion); **baseline** features compare a window aggregate with the
//! service's own history (an exponentially weighted mean and variance over its past windows, or a
//! per-hour-of-day profile), kept as state by the features stage. `schemas/FEATURES.md` is
//! generated from this table; a test keeps them in step.

/// How a feature is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// An aggregate over the events of one window.
    Window,
    /// A comparison of a window aggregate with the service's own baseline.
    Baseline,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// Stable name, used as the key in `features.v1` and as the InfluxDB field.
    pub name: &'static str,
    /// Unit of the value.
    pub unit: &'static str,
    /// Group: latency, errors, throughput, saturation, trend, baseline.
    pub group: &'static str,
    /// How it is computed.
    pub kind: FeatureKind,
    /// Exact definition.
    pub definition: &'static str,
}

macro_rules! catalogue {
    ($( $id:ident = ($name:literal, $unit:literal, $group:literal, $kind:ident, $def:literal) ),* $(,)?) => {
        /// Index of a feature in the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, missing_docs)]
        pub enum FeatureId { $($id),* }

        /// The catalogue, in `FeatureId` order.
        pub const FEATURES: &[Feature] = &[
            $( Feature { name: $name, unit: $unit, group: $group, kind: FeatureKind::$kind, definition: $def } ),*
        ];

        impl FeatureId {
            /// Every feature id, in catalogue order.
            pub const ALL: &[FeatureId] = &[$(FeatureId::$id),*];
        }
    };
}

catalogue! {
    LatencyP50 = ("latency_p50_ms", "ms", "latency", Window, "50th percentile of request latency in the window, exact, linear interpolation between closest ranks (position p·(n−1) in the sorted latencies, the interpolation weight carried at 10⁻⁶ resolution); undefined with no requests."),
    LatencyP90 = ("latency_p90_ms", "ms", "latency", Window, "90th percentile of request latency, defined as latency_p50_ms."),
    LatencyP95 = ("latency_p95_ms", "ms", "latency", Window, "95th percentile of request latency, defined as latency_p50_ms."),
    LatencyP99 = ("latency_p99_ms", "ms", "latency", Window, "99th percentile of request latency, defined as latency_p50_ms."),
    LatencyP999 = ("latency_p999_ms", "ms", "latency", Window, "99.9th percentile of request latency, defined as latency_p50_ms."),
    LatencyMean = ("latency_mean_ms", "ms", "latency", Window, "Arithmetic mean of request latency."),
    LatencyMax = ("latency_max_ms", "ms", "latency", Window, "Largest request latency."),
    LatencyStddev = ("latency_stddev_ms", "ms", "latency", Window, "Population standard deviation of request latency."),
    LatencyCv = ("latency_cv", "ratio", "latency", Window, "Coefficient of variation: latency_stddev_ms / latency_mean_ms; undefined when the mean is 0."),
    LatencyTailRatio = ("latency_tail_ratio", "ratio", "latency", Window, "latency_p99_ms / latency_p50_ms; undefined when p50 is 0."),
    SlowRequestRatio = ("slow_request_ratio", "ratio", "latency", Window, "Fraction of requests slower than the SLO latency (config `slo_latency_ms`, default 500 ms)."),
    ErrorRate5xx = ("error_rate_5xx", "ratio", "errors", Window, "Fraction of requests with status 500–599."),
    ErrorRate4xx = ("error_rate_4xx", "ratio", "errors", Window, "Fraction of requests with status 400–499."),
    ErrorRateTimeout = ("error_rate_timeout", "ratio", "errors", Window, "Fraction of requests with status 408 or 504."),
    ErrorRateThrottled = ("error_rate_throttled", "ratio", "errors", Window, "Fraction of requests with status 429."),
    ErrorRateUnavailable = ("error_rate_unavailable", "ratio", "errors", Window, "Fraction of requests with status 502 or 503, or 0 (no response)."),
    ErrorRate = ("error_rate", "ratio", "errors", Window, "Fraction of failed requests: status 500–599 or 0 (no response)."),
    RequestCount = ("request_count", "requests", "throughput", Window, "Number of requests in the window (0 when none)."),
    RequestRate = ("request_rate_rps", "1/s", "throughput", Window, "request_count / window length in seconds."),
    BytesOutRate = ("bytes_out_rate_bps", "B/s", "throughput", Window, "Sum of response bytes / window length in seconds."),
    DistinctRoutes = ("distinct_routes", "routes", "throughput", Window, "Number of distinct route templates requested."),
    ActiveInstances = ("active_instances", "instances", "throughput", Window, "Number of distinct instances that sent any event (request or resource sample)."),
    RequestsPerInstance = ("requests_per_instance_rps", "1/s", "throughput", Window, "request_rate_rps / active_instances; undefined with no instance."),
    CpuMean = ("cpu_mean_ratio", "ratio", "saturation", Window, "Mean CPU ratio over the window's resource samples."),
    CpuMax = ("cpu_max_ratio", "ratio", "saturation", Window, "Largest CPU ratio among the window's resource samples."),
    MemoryMean = ("memory_mean_ratio", "ratio", "saturation", Window, "Mean memory ratio (resident / limit) over resource samples with a known limit."),
    MemoryMax = ("memory_max_ratio", "ratio", "saturation", Window, "Largest memory ratio among the window's resource samples."),
    MemoryMaxBytes = ("memory_max_bytes", "B", "saturation", Window, "Largest resident memory among the window's resource samples."),
    ConnectionsMean = ("connections_mean", "connections", "saturation", Window, "Mean open connections over resource samples."),
    ConnectionUtilizationMax = ("connection_utilization_max", "ratio", "saturation", Window, "Largest connections / connection_limit among samples with a known limit."),
    ResourceSampleCount = ("resource_sample_count", "samples", "saturation", Window, "Number of resource samples in the window (0 when none): low values mean sparse data."),
    LatencySlope = ("latency_slope_ms_per_s", "ms/s", "trend", Window, "Least-squares slope of request latency against event time in seconds."),
    ErrorRateSlope = ("error_rate_slope_per_s", "1/s", "trend", Window, "Least-squares slope of the failure indicator (1 when status is 500–599 or 0, else 0) against event time in seconds."),
    RequestRateSlope = ("request_rate_slope_rps_per_s", "1/s²", "trend", Window, "(request rate in the window's second half − rate in its first half) / (half the window length in seconds)."),
    MemorySlope = ("memory_slope_ratio_per_s", "1/s", "trend", Window, "Least-squares slope of the memory ratio against event time in seconds, over all instances' samples."),
    CpuSlope = ("cpu_slope_ratio_per_s", "1/s", "trend", Window, "Least-squares slope of the CPU ratio against event time in seconds."),
    ConnectionsSlope = ("connections_slope_per_s", "1/s", "trend", Window, "Least-squares slope of open connections against event time in seconds."),
    Staleness = ("staleness_s", "s", "trend", Window, "Window end minus the latest event time in the window, in seconds; the window length when the window is empty."),
    LatencyP99BaselineRatio = ("latency_p99_baseline_ratio", "ratio", "baseline", Baseline, "latency_p99_ms / its exponentially weighted mean over the service's previous windows (weight `baseline_alpha`, default 0.1)."),
    LatencyP99Zscore = ("latency_p99_zscore", "σ", "baseline", Baseline, "(latency_p99_ms − its EWMA) / the square root of its exponentially weighted variance; undefined until the variance is positive."),
    ErrorRateBaselineDelta = ("error_rate_baseline_delta", "ratio", "baseline", Baseline, "error_rate − its EWMA over previous windows."),
    RequestRateBaselineRatio = ("request_rate_baseline_ratio", "ratio", "baseline", Baseline, "request_rate_rps / its EWMA over previous windows."),
    RequestRateZscore = ("request_rate_zscore", "σ", "baseline", Baseline, "(request_rate_rps − its EWMA) / the square root of its exponentially weighted variance."),
    CpuBaselineRatio = ("cpu_baseline_ratio", "ratio", "baseline", Baseline, "cpu_mean_ratio / its EWMA over previous windows."),
    LatencyVarianceRatio = ("latency_variance_ratio", "ratio", "baseline", Baseline, "latency_stddev_ms² / the EWMA of latency_stddev_ms² over previous windows."),
    RequestRateSeasonalRatio = ("request_rate_seasonal_ratio", "ratio", "baseline", Baseline, "request_rate_rps / the EWMA of request_rate_rps in previous windows ending in the same hour of the day (UTC) — the seasonality residual as a ratio."),
    LatencyP50SeasonalRatio = ("latency_p50_seasonal_ratio", "ratio", "baseline", Baseline, "latency_p50_ms / the EWMA of latency_p50_ms in previous windows ending in the same hour of the day (UTC)."),
}

/// Number of features in the catalogue.
pub const FEATURE_COUNT: usize = 47;

const _: () = assert!(FEATURES.len() == FEATURE_COUNT);

impl FeatureId {
    /// The catalogue entry.
    pub fn meta(self) -> &'static Feature {
        &FEATURES[self as usize]
    }
    /// The stable name.
    pub fn name(self) -> &'static str {
        self.meta().name
    }
    /// Look a feature up by name.
    pub fn from_name(name: &str) -> Option<FeatureId> {
        FeatureId::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// Renders `schemas/FEATURES.md` from the catalogue.
pub fn features_markdown() -> String {
    let mut s = String::from(
        "# The 47 features\n\n\
         Generated from `schemas/src/catalogue.rs` (`cargo run -p homeostat-cli -- schemas write`); a test fails when they differ.\n\n\
         Every window is `[end − window, end)` in event time (default 60 s, a new window every 10 s step).\n\
         **window** features are aggregates over that window's events, computed with DataFusion SQL over an Arrow batch.\n\
         **baseline** features compare a window aggregate with the service's own history, kept as state by the features stage;\n\
         they are undefined (absent from the message) until the service has a history.\n\
         A feature that is undefined on a window (for example a percentile with no requests) is absent from that window's `features` map.\n\n\
         | # | name | unit | group | kind | definition |\n|---|---|---|---|---|---|\n",
    );
    for (i, f) in FEATURES.iter().enumerate() {
        let kind = match f.kind {
            FeatureKind::Window => "window",
            FeatureKind::Baseline => "baseline",
        };
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            i + 1,
            f.name,
            f.unit,
            f.group,
            kind,
            f.definition
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_seven_unique_names() {
        let mut names: Vec<_> = FEATURES.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 47);
        assert_eq!(FeatureId::ALL.len(), 47);
        for id in FeatureId::ALL {
            assert_eq!(FeatureId::from_name(id.name()), Some(*id));
        }
    }
}
