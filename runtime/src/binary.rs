//! The whole `main` of a stage binary: flags, config, logging, the Kafka runner, exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::stage::Stage;

fn usage(name: &str, about: &str) -> String {
    format!(
        "homeostat-{name}: {about}\n\n\
         Usage: homeostat-{name} [--config FILE]\n\n\
         Options:\n  \
           --config FILE   TOML file merged over the built-in defaults (config/homeostat.toml)\n  \
           --print-config  print the built-in defaults and exit\n  \
           -h, --help      print this help\n\n\
         Environment:\n  \
           HOMEOSTAT__<SECTION>__<KEY>=VALUE overrides any setting, e.g.\n  \
           HOMEOSTAT__KAFKA__BROKERS=127.0.0.1:9092  HOMEOSTAT__LOG__FORMAT=json\n  \
           RUST_LOG overrides the log filter.\n\n\
         Serves /metrics, /healthz and /readyz (see [http] listen). Stops cleanly on SIGTERM or SIGINT,\n\
         finishing the batch in flight and committing its offsets. SIGHUP reads the settings again\n\
         (the same file and environment): the detector applies its alert rules at once, the other\n\
         stages only on a restart; the log says what changed, or why nothing did.\n"
    )
}

/// Run stage `S` as a binary. Exit code 0 on a clean stop, 1 on a fatal error, 2 on bad usage.
pub fn stage_main<S: Stage>(about: &str) -> ExitCode {
    let mut file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{}", usage(S::NAME, about));
                return ExitCode::SUCCESS;
            }
            "--print-config" => {
                print!("{}", crate::config::DEFAULTS);
                return ExitCode::SUCCESS;
            }
            "--config" => match args.next() {
                Some(f) => file = Some(PathBuf::from(f)),
                None => {
                    eprintln!("--config needs a file\n\n{}", usage(S::NAME, about));
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}\n\n{}", usage(S::NAME, about));
                return ExitCode::from(2);
            }
        }
    }
    let config = match Config::from_process(file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("homeostat-{}: {e}", S::NAME);
            return ExitCode::from(2);
        }
    };
    let log = match config.runtime() {
        Ok(r) => r.log,
        Err(e) => {
            eprintln!("homeostat-{}: {e}", S::NAME);
            return ExitCode::from(2);
        }
    };
    crate::logging::init(&log.format, &log.level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(crate::kafka::run::<S>(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(stage = S::NAME, error = %e, "stopped");
            eprintln!("homeostat-{}: {e}", S::NAME);
            ExitCode::FAILURE
        }
    }
}
