//! Synthetic feature windows for tests and benchmarks: a service whose traffic, latency, CPU and
//! memory move together at its own scale, with deterministic noise and an optional fault.

use std::collections::BTreeMap;

use homeostat_schemas::FeatureWindow;

use crate::iforest::Rng;

/// Noise in [−1, 1), the same for the same `(t, stream)`.
pub fn noise(t: i64, stream: u64) -> f64 {
    Rng::new(t as u64 * 131 + stream).unit() * 2.0 - 1.0
}

/// Window `t` (10 s apart) of service `svc` at `scale`; `fault` in [0, 1] raises latency, memory
/// and errors; `stream` picks the noise.
pub fn window(svc: &str, scale: f64, t: i64, stream: u64, fault: f64) -> FeatureWindow {
    let n = noise(t, stream);
    let rate = 50.0 * scale * (1.0 + 0.1 * n);
    let p50 = 20.0 * scale * (1.0 + 0.05 * noise(t, stream + 100)) + fault * 60.0 * scale;
    let features = BTreeMap::from([
        ("request_rate_rps".to_owned(), rate),
        ("latency_p50_ms".to_owned(), p50),
        ("latency_p99_ms".to_owned(), p50 * 3.0),
        ("latency_mean_ms".to_owned(), p50 * 1.2),
        ("cpu_mean_ratio".to_owned(), 0.3 + 0.02 * n),
        (
            "memory_max_ratio".to_owned(),
            0.5 + 0.01 * noise(t, stream + 200) + fault * 0.3,
        ),
        ("error_rate".to_owned(), 0.001 + fault * 0.05),
    ]);
    FeatureWindow {
        schema_version: 1,
        id: format!("{svc}-{t}"),
        event_time: 1_700_000_000_000 + t * 10_000,
        service_id: svc.to_owned(),
        window_start: 1_700_000_000_000 + t * 10_000 - 60_000,
        event_count: 100,
        late_events: 0,
        features,
    }
}
