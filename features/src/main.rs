//! `homeostat-features`: normalized telemetry in, feature windows out.

fn main() -> std::process::ExitCode {
    runtime::stage_main::<homeostat_features::Features>(
        "keeps event-time windows per service over telemetry.v1 and computes the 47 features with DataFusion; writes features.v1",
    )
}
