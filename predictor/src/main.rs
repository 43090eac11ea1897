//! `homeostat-predictor`: feature windows in, failure forecasts out.

fn main() -> std::process::ExitCode {
    runtime::stage_main::<homeostat_predictor::Predictor>(
        "forecasts failure times and per-horizon failure probabilities from features.v1; writes predictions.v1",
    )
}
