//! `homeostat`: the demo, the simulator, and queries over incidents.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use homeostat_cli::{demo, incidents, sim_cmd};

/// Homeostat keeps the services behind an API gateway healthy on its own: it learns what normal
/// looks like for each service from its telemetry, detects and predicts trouble, opens incidents,
/// and recovers them with actions it verifies, rolls back when they do not help, and learns from.
#[derive(Parser)]
#[command(name = "homeostat", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run everything in one process — simulator, ingest, features, detector, predictor, actuator —
    /// with incidents in a SQLite file. Needs no running service.
    Demo {
        /// How long to run, in wall-clock seconds: the fleet is simulated for `--duration` ×
        /// `--speed` seconds. A machine too slow to keep up takes longer, and the run is the same.
        #[arg(long, default_value_t = 120)]
        duration: u64,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 30.0)]
        speed: f64,
        /// Services in the simulated fleet (1–8).
        #[arg(long, default_value_t = 6)]
        services: usize,
        /// Faults to inject, `KIND:SERVICE@START_MIN[+DURATION_MIN]`, KIND one of memory_leak,
        /// latency_creep, error_burst. Default: a memory leak, a latency creep and an error burst.
        #[arg(long = "fault")]
        faults: Vec<String>,
        /// SQLite file for incidents (replaced at start).
        #[arg(long, default_value = "homeostat-demo.sqlite")]
        db: PathBuf,
        /// Random seed of the fleet. The same seed with the same options gives the same run: the
        /// same incidents at the same simulated times, however fast the machine (the stages run in
        /// lockstep, and simulated time starts at 09:00 UTC).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print event lines instead of the live view (the default when stdout is not a terminal).
        #[arg(long)]
        plain: bool,
        /// TOML config merged over the defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Produce simulated fleet telemetry onto telemetry.raw on a Kafka-API broker.
    Sim {
        /// Bootstrap servers.
        #[arg(long, env = "HOMEOSTAT__KAFKA__BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        /// Prefix before the topic name, as the stages' `kafka.topic_prefix`.
        #[arg(long, env = "HOMEOSTAT__KAFKA__TOPIC_PREFIX", default_value = "")]
        prefix: String,
        /// Services (1–8).
        #[arg(long, default_value_t = 4)]
        services: usize,
        /// Instances per service.
        #[arg(long, default_value_t = 3)]
        instances: u32,
        /// Requests per second per instance at the daily average.
        #[arg(long, default_value_t = 4.0)]
        rps: f64,
        /// Simulated seconds per wall-clock second; 0 produces as fast as the broker takes it.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Simulated minutes to produce.
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        /// Start simulated time this many minutes before now (so fast runs end near now).
        #[arg(long, default_value_t = 0.0)]
        start_ago: f64,
        /// Faults, as for `demo`.
        #[arg(long = "fault")]
        faults: Vec<String>,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write the summary (records produced, fault labels) as JSON to this file.
        #[arg(long)]
        summary: Option<PathBuf>,
    },
    /// Approve or deny actions waiting for a person (destructive strategies), or list them.
    /// The same decisions can be made over HTTP on the actuator's approval endpoint.
    Approvals {
        #[command(flatten)]
        store: Store,
        /// Who decides (recorded on the incident's timeline).
        #[arg(long, default_value = "cli")]
        by: String,
        #[command(subcommand)]
        what: Option<ApprovalCmd>,
    },
    /// Show or flip the kill switch: when on, the actuator takes no action at all (incidents are
    /// still recorded). Read by the actuator before every decision.
    KillSwitch {
        #[command(flatten)]
        store: Store,
        /// Who flips it (recorded).
        #[arg(long, default_value = "cli")]
        by: String,
        /// on or off; without it, show the state.
        #[arg(value_parser = ["on", "off"])]
        state: Option<String>,
    },
    /// List incidents, newest first; or, with --show ID, one incident's timeline: when it
    /// opened, each action and its result, verification, rollbacks, restores, resolution.
    Incidents {
        #[command(flatten)]
        store: Store,
        /// Most rows to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Show this incident's timeline instead of the list.
        #[arg(long, value_name = "ID")]
        show: Option<String>,
    },
    /// How well each recovery strategy has worked, per kind of incident: the verified outcomes
    /// the actuator learns from (view strategy_stats).
    Strategies {
        #[command(flatten)]
        store: Store,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what the detector's current checkpoint holds: the models' version, training span,
    /// shapes and hold-out metrics, and each service's learned windows and alert state (firing,
    /// since when; warming up; a lasting change taken as its new normal), then the checkpoint
    /// before it (the detector keeps one): the same models, or how a promotion moved their
    /// hold-out metrics. Reads the checkpoint directory only; the detector may be running.
    Models {
        /// The detector's `models_dir` (default: the one in the config, `state/detector`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// TOML config merged over the defaults, as the detector was given (for `models_dir` and
        /// `warmup_windows`, and to mark services with their own alert rules).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The manifest as JSON instead of a summary, with the previous checkpoint's as `previous`
        /// (null when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Evaluate detection quality.
    Eval {
        #[command(subcommand)]
        what: EvalCmd,
    },
    /// Run HAProxy's executor on the gateway host: carry out the traffic remedies the actuator
    /// publishes on actions.v1 for the services this HAProxy fronts (drain, weights, backup
    /// servers), undo them on rollback, restore servers once healthy, and answer on
    /// actions.results.v1. For when the actuator cannot reach the runtime API itself. Settings:
    /// the `[gateway_agent]` and `[kafka]` tables (see --print-config of any stage); stops cleanly on
    /// SIGTERM.
    GatewayAgent {
        /// TOML file merged over the built-in defaults, e.g. with
        /// `[gateway_agent.haproxy]` socket = "/run/haproxy/admin.sock", backends = { shop = "app" }.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create Homeostat's topics on a broker (existing ones are left alone).
    Topics {
        /// Bootstrap servers.
        #[arg(long, env = "HOMEOSTAT__KAFKA__BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        /// Partitions per topic.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Prefix before every topic name.
        #[arg(long, env = "HOMEOSTAT__KAFKA__TOPIC_PREFIX", default_value = "")]
        prefix: String,
    },
}

/// Where the incident store is (the same setting the actuator reads).
#[derive(clap::Args)]
struct Store {
    /// Incident store: postgres://… or sqlite://FILE.
    #[arg(
        long = "db",
        env = "HOMEOSTAT__ACTUATOR__DATABASE_URL",
        default_value = "sqlite://homeostat-demo.sqlite"
    )]
    url: String,
}

#[derive(Subcommand)]
enum ApprovalCmd {
    /// The actions waiting for approval (the default).
    List,
    /// Approve a waiting action.
    Approve {
        /// Action id.
        id: String,
    },
    /// Deny a waiting action.
    Deny {
        /// Action id.
        id: String,
    },
}

#[derive(Subcommand)]
enum EvalCmd {
    /// Run Homeostat's detector over a Numenta Anomaly Benchmark directory and score it beside the
    /// published detectors, all with the same NAB rules (probation, scaled sigmoid, three cost
    /// profiles, normalization against the null and perfect detectors).
    ///
    /// Homeostat's univariate path reads every series in DIR/data in time order, in one pass, never
    /// looking ahead. Its alert level per profile comes from the checked-in
    /// config/nab-homeostat.json (frozen: it was set on the development corpus and is not refitted
    /// on what it scores) unless --tune searches it on DIR. Each peer in DIR/peers is scored at its
    /// published threshold from DIR/config/thresholds.json. DIR may hold any subset of the files.
    Nab {
        /// NAB directory: data/, labels/combined_windows.json, peers/, config/thresholds.json.
        #[arg(long, default_value = "../shared/datasets/nab")]
        data: PathBuf,
        /// Show only this profile: standard, reward_low_FP_rate or reward_low_FN_rate.
        #[arg(long, value_parser = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"])]
        profile: Option<String>,
        /// Also write the table as JSON here (Homeostat's row carries its threshold per profile).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write Homeostat's per-row scores here, in the layout of `DIR/peers/<detector>/`.
        #[arg(long, value_name = "DIR")]
        scores_out: Option<PathBuf>,
        /// Draw one PNG per series here: value, score, alert level and label windows.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
        /// Search the alert levels on DIR instead of using the frozen ones (scores are then
        /// optimistic: the levels have seen the labels).
        #[arg(long)]
        tune: bool,
        /// Frozen settings to use instead of the checked-in config/nab-homeostat.json.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// With --tune, write the tuned settings here (to freeze them).
        #[arg(long, value_name = "FILE", requires = "tune")]
        save_settings: Option<PathBuf>,
        /// Also show, file by file, the windows detected, the detections outside windows and the
        /// raw score of Homeostat beside one peer (default: the peer with the best score), for
        /// the standard profile or the one given with --profile.
        #[arg(long, value_name = "PEER", num_args = 0..=1, default_missing_value = "")]
        per_file: Option<String>,
        /// Write, for the one series KEY (as in labels, e.g. realKnownCause/nyc_taxi.csv), every
        /// row's value, baseline, raw and emitted score and each signal's surprise as CSV to
        /// FILE: why it alarmed, or did not.
        #[arg(long, num_args = 2, value_names = ["KEY", "FILE"])]
        trace: Option<Vec<String>>,
    },
}

fn parse_faults(specs: &[String]) -> anyhow::Result<Vec<homeostat_sim::Fault>> {
    specs
        .iter()
        .map(|s| homeostat_sim::parse_fault(s).map_err(anyhow::Error::msg))
        .collect()
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Demo {
            duration,
            speed,
            services,
            faults,
            db,
            seed,
            plain,
            config,
        } => {
            let faults = if faults.is_empty() {
                parse_faults(&[
                    "memory_leak:payments@8+20".into(),
                    "latency_creep:search@22+10".into(),
                    "error_burst:checkout@38+6".into(),
                ])?
            } else {
                parse_faults(&faults)?
            };
            use std::io::IsTerminal;
            let live = !plain && std::io::stdout().is_terminal();
            if !live {
                runtime::logging::init("plain", "warn");
            }
            let opts = demo::DemoOptions {
                sim_minutes: duration as f64 * speed / 60.0,
                speed,
                services,
                faults,
                db: db.clone(),
                seed,
                live,
                config,
            };
            let (_tx, stop) = runtime::shutdown::on_signals();
            let report = demo::run(opts, stop).await?;
            println!(
                "\nHomeostat demo, seed {seed}: {} telemetry records simulated from {}. Incidents are in {} (try `homeostat incidents --db sqlite://{}`).",
                report.records,
                homeostat_cli::incidents::time(report.start_ms),
                db.display(),
                db.display()
            );
            println!(
                "\n{:<22} {:<10} {:<22} first action",
                "injected fault", "service", "incident opened"
            );
            for o in &report.outcomes {
                let (mark, opened, action) = match &o.incident {
                    Some((kind, at, action)) if *kind == o.label.incident_kind => (
                        "✓",
                        format!("{kind} after {:+}s", (at - o.label.start_ms) / 1000),
                        action.clone().unwrap_or_default(),
                    ),
                    Some((kind, at, _)) => (
                        "✗",
                        format!("{kind} (wrong kind) {:+}s", (at - o.label.start_ms) / 1000),
                        String::new(),
                    ),
                    None => ("✗", "none".to_owned(), String::new()),
                };
                println!(
                    "{mark} {:<20} {:<10} {:<22} {}",
                    o.label.incident_kind, o.label.service, opened, action
                );
            }
            if !report.false_incidents.is_empty() {
                println!(
                    "\nIncidents no injected fault explains ({}): {}",
                    report.false_incidents.len(),
                    report.false_incidents.join(", ")
                );
            }
            if report.interrupted {
                println!("\nStopped early (Ctrl-C); faults not yet injected could not be detected.");
                return Ok(ExitCode::SUCCESS);
            }
            if report.all_detected() {
                println!("\nEvery injected fault was detected and has an incident.");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("\nSome injected faults were not detected (a longer --duration gives later faults time).");
                Ok(ExitCode::FAILURE)
            }
        }
        Cmd::Sim {
            brokers,
            prefix,
            services,
            instances,
            rps,
            speed,
            minutes,
            start_ago,
            faults,
            seed,
            summary,
        } => {
            runtime::logging::init("plain", "warn"); // delivery retries are reported as warnings
            let opts = sim_cmd::SimOptions {
                brokers,
                prefix,
                services,
                instances,
                rps,
                speed,
                minutes,
                start_ago_min: start_ago,
                faults: parse_faults(&faults)?,
                seed,
            };
            let s = sim_cmd::run(&opts, true).await?;
            let json = serde_json::to_string_pretty(&s)?;
            if let Some(path) = summary {
                std::fs::write(&path, &json)?;
            }
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Approvals { store, by, what } => {
            use homeostat_actuator::approvals;
            let pool = homeostat_actuator::store::connect(&store.url).await?;
            let (id, approve) = match what.unwrap_or(ApprovalCmd::List) {
                ApprovalCmd::List => {
                    let p = approvals::pending(&pool).await?;
                    if p.is_empty() {
                        println!("no action is waiting for approval");
                    }
                    for a in p {
                        println!(
                            "{}  {}  {} on {} ({}), waiting since {}",
                            a.id,
                            a.incident_id,
                            a.strategy,
                            a.service_id,
                            a.reason,
                            incidents::time(a.decided_at)
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                ApprovalCmd::Approve { id } => (id, true),
                ApprovalCmd::Deny { id } => (id, false),
            };
            if approvals::decide(&pool, &id, approve, &by, runtime::now_ms()).await? {
                println!("{id} {} by {by}", if approve { "approved" } else { "denied" });
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{id} is not waiting for approval (unknown, or already decided)");
                Ok(ExitCode::FAILURE)
            }
        }
        Cmd::KillSwitch { store, by, state } => {
            let pool = homeostat_actuator::store::connect(&store.url).await?;
            if let Some(s) = state {
                homeostat_actuator::store::set_kill_switch(&pool, s == "on", &by, runtime::now_ms()).await?;
            }
            let on = homeostat_actuator::store::kill_switch(&pool).await?;
            println!(
                "kill switch is {}",
                if on { "ON: no action will be taken" } else { "off" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Incidents {
            store,
            json,
            show: Some(id),
            ..
        } => {
            let pool = incidents::open(&store.url).await?;
            let entries = homeostat_actuator::store::timeline(&pool, &id).await?;
            if entries.is_empty() {
                eprintln!("no incident {id} in {} (see `homeostat incidents` for ids)", store.url);
                return Ok(ExitCode::FAILURE);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                print!("{}", incidents::timeline_table(&id, &entries));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Strategies { store, json } => {
            let pool = incidents::open(&store.url).await?;
            let stats = homeostat_actuator::store::strategy_stats(&pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", incidents::strategies_table(&stats));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Models { dir, config, json } => {
            let config = runtime::config::Config::from_process(config.as_deref())?;
            let cfg: homeostat_detector::DetectorConfig = config.section("detector")?;
            let dir = dir.unwrap_or_else(|| PathBuf::from(&cfg.models_dir));
            if dir.as_os_str().is_empty() {
                eprintln!("no models directory: detector.models_dir is empty (checkpoints are off); give --dir");
                return Ok(ExitCode::FAILURE);
            }
            let Some((path, manifest)) = homeostat_detector::checkpoint::current(&dir)
                .map_err(|e| anyhow::anyhow!("cannot read the checkpoint under {}: {e}", dir.display()))?
            else {
                eprintln!(
                    "no checkpoint under {} yet: the detector writes one after each model promotion, every detector.checkpoint_every_s and when it stops",
                    dir.display()
                );
                return Ok(ExitCode::FAILURE);
            };
            // The one before it, to show what the last promotion changed; unreadable is not fatal.
            let previous = homeostat_detector::checkpoint::previous(&dir, &path).unwrap_or_else(|e| {
                eprintln!("(the previous checkpoint under {} cannot be read: {e})", dir.display());
                None
            });
            if json {
                let previous = previous.map(|(p, m)| serde_json::json!({ "checkpoint": p, "manifest": m }));
                let v = serde_json::json!({ "checkpoint": path, "manifest": manifest, "previous": previous });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let now = runtime::now_ms();
                print!("{}", homeostat_cli::models::summary(&path, &manifest, &cfg, now));
                if let Some((p, m)) = previous {
                    println!("{}", homeostat_cli::models::compared(&p, &m, &manifest, now));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Incidents { store, limit, json, .. } => {
            let rows = incidents::list(&store.url, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", incidents::table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Eval {
            what:
                EvalCmd::Nab {
                    data,
                    profile,
                    json,
                    scores_out,
                    plots,
                    tune,
                    settings,
                    save_settings,
                    per_file,
                    trace,
                },
        } => {
            use homeostat_cli::nab::{self, homeostat as ours};
            let started = std::time::Instant::now();
            let mut frozen = ours::Frozen::load(settings.as_deref())?;
            let corpus = nab::Corpus::load(&data)?;
            anyhow::ensure!(!corpus.series.is_empty(), "{}: no series under data/", data.display());
            let runs = ours::run_all(&corpus, &frozen.detector, true)?;
            let raws: Vec<Vec<f64>> = runs.iter().map(|r| r.scores()).collect();
            if tune {
                frozen.thresholds = ours::tune(&corpus, &raws, &frozen.detector);
                frozen.note = format!(
                    "levels tuned by `homeostat eval nab --tune` on {} files of {} on {}",
                    corpus.series.len(),
                    data.display(),
                    chrono::Utc::now().format("%Y-%m-%d")
                );
                eprintln!(
                    "tuned alert levels on these files (optimistic): {:?}",
                    frozen.thresholds
                );
                if let Some(p) = &save_settings {
                    std::fs::write(p, serde_json::to_string_pretty(&frozen)? + "\n")?;
                    eprintln!("wrote {}", p.display());
                }
            }
            let s = ours::evaluate(&corpus, &raws, &frozen.thresholds, &frozen.detector);
            let mut report = nab::eval::peers(&data, true)?;
            report.detectors.push(nab::eval::DetectorRow {
                name: "homeostat".into(),
                standard: s[0],
                reward_low_fp_rate: s[1],
                reward_low_fn_rate: s[2],
                threshold: Some(frozen.thresholds.clone()),
            });
            report.detectors.sort_by(|a, b| b.standard.total_cmp(&a.standard));
            print!("{}", nab::eval::table(&report, profile.as_deref()));
            println!(
                "\nhomeostat levels {} ({}); {:.1} s",
                frozen
                    .thresholds
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if tune { "tuned on these files" } else { "frozen" },
                started.elapsed().as_secs_f64()
            );
            if let Some(peer) = per_file {
                let profile = profile.as_deref().unwrap_or("standard");
                let peer = if peer.is_empty() {
                    let i = nab::PROFILES.iter().position(|p| p.name == profile).unwrap_or(0);
                    let best = report
                        .detectors
                        .iter()
                        .filter(|d| d.name != "homeostat")
                        .max_by(|a, b| a.score(i).total_cmp(&b.score(i)));
                    best.map(|d| d.name.clone())
                        .ok_or_else(|| anyhow::anyhow!("{}: no peer to compare with", data.display()))?
                } else {
                    peer
                };
                let level = frozen.thresholds.get(profile).copied().unwrap_or(0.5);
                let ours: Vec<Vec<f64>> = raws.iter().map(|r| ours::held(r, level, &frozen.detector)).collect();
                println!(
                    "\n{}",
                    nab::eval::per_file(&data, &corpus, &ours, level, &peer, profile)?
                );
            }
            let std_level = frozen.thresholds.get("standard").copied().unwrap_or(0.5);
            if let Some([key, file]) = trace.as_deref() {
                let i = corpus
                    .series
                    .iter()
                    .position(|s| &s.key == key)
                    .ok_or_else(|| anyhow::anyhow!("{key}: no such series under {}/data", data.display()))?;
                let text = ours::trace(&corpus.series[i], &runs[i], std_level, &frozen.detector);
                std::fs::write(file, text).map_err(|e| anyhow::anyhow!("writing {file}: {e}"))?;
                println!("wrote the trace of {key} to {file}");
            }
            if let Some(dir) = scores_out {
                ours::write_scores(&dir, &corpus, &raws, std_level, &frozen.detector)?;
                println!("wrote per-row scores to {}", dir.display());
            }
            if let Some(dir) = plots {
                homeostat_cli::nab::plot::all(&dir, &corpus, &runs, std_level, &frozen.detector)?;
                println!("wrote {} plots to {}", corpus.series.len(), dir.display());
            }
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::GatewayAgent { config } => {
            let config = runtime::config::Config::from_process(config.as_deref())?;
            let log = config.runtime()?.log;
            runtime::logging::init(&log.format, &log.level);
            runtime::kafka::run::<homeostat_actuator::agent::GatewayAgent>(&config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Topics {
            brokers,
            partitions,
            prefix,
        } => {
            let config = runtime::config::Config::from_process(None)?;
            let mut k = config.runtime()?.kafka;
            k.brokers = brokers;
            k.partitions = partitions;
            k.topic_prefix = prefix;
            runtime::kafka::ensure_topics(&k, &homeostat_schemas::topics::ALL).await?;
            println!("topics ready: {}", homeostat_schemas::topics::ALL.join(", "));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("homeostat: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(real_main(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("homeostat: {e:#}");
            ExitCode::FAILURE
        }
    }
}
