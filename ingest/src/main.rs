//! `homeostat-ingest`: raw telemetry in, normalized telemetry and dead letters out.

fn main() -> std::process::ExitCode {
    runtime::stage_main::<homeostat_ingest::Ingest>(
        "validates and normalizes telemetry.raw into telemetry.v1; rejected records go to telemetry.dlq with the reason",
    )
}
