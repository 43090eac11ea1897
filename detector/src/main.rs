//! `homeostat-detector`: feature windows in, anomaly scores and alerts out.

fn main() -> std::process::ExitCode {
    runtime::stage_main::<homeostat_detector::Detector>(
        "scores features.v1 against each service's own baseline; writes anomalies.v1 and alerts.v1",
    )
}
