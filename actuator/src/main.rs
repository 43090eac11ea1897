//! `homeostat-actuator`: incidents, actions and time series.

fn main() -> std::process::ExitCode {
    runtime::stage_main::<homeostat_actuator::Actuator>(
        "opens and resolves incidents in PostgreSQL, writes time series to InfluxDB, publishes recovery actions on actions.v1",
    )
}
