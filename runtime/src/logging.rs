//! `tracing` logs to stderr, plain or JSON.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `format` is `plain` or `json`; `level` is an `EnvFilter`
/// directive (`info`, `homeostat_detector=debug`), overridden by `RUST_LOG` when set.
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
