//! The embedded demo, driven at high speed: every injected fault is detected with an incident of
//! the right kind, no incident opens that no fault explains (on a healthy service, or on a faulty
//! one outside its fault's span), and the run stops cleanly.

use homeostat_cli::demo::{DemoOptions, run};

/// A plain-output demo of `services` services for `sim_minutes` at `speed`, with `faults`, its
/// incidents in a temporary SQLite file named after `name`.
fn options(faults: &[&str], name: &str, sim_minutes: f64, speed: f64, services: usize, seed: u64) -> DemoOptions {
    DemoOptions {
        sim_minutes,
        speed,
        services,
        faults: faults
            .iter()
            .map(|s| homeostat_sim::parse_fault(s).expect("fault"))
            .collect(),
        db: std::env::temp_dir().join(format!("homeostat-demo-{name}-{}.sqlite", std::process::id())),
        seed,
        live: false,
        config: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_detects_every_injected_fault_with_an_incident() {
    let faults = [
        "memory_leak:payments@8+20",
        "latency_creep:search@22+10",
        "error_burst:checkout@38+6",
    ];
    let opts = options(&faults, "test", 50.0, 400.0, 5, 11);
    let db = opts.db.clone();
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let report = run(opts, stop).await.expect("demo runs");
    for o in &report.outcomes {
        eprintln!("{} on {}: {:?}", o.label.incident_kind, o.label.service, o.incident);
    }
    assert!(!report.interrupted);
    assert!(report.all_detected(), "{:?}", report.outcomes);
    assert!(
        report.false_incidents.is_empty(),
        "incidents no fault explains: {:?}",
        report.false_incidents
    );
    let rows = homeostat_cli::incidents::list(&format!("sqlite://{}", db.display()), 100)
        .await
        .expect("list");
    assert!(rows.len() >= 3);
    assert!(
        rows.iter()
            .all(|r| r.action.as_deref().is_some_and(|a| a.contains("dry_run")))
    );
    let _ = std::fs::remove_file(&db);
}

/// The same seed gives the same run: the stages run in lockstep, so what each one sees does not
/// depend on how they were scheduled, and simulated time starts at the same time of day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_incidents_at_the_same_times() {
    async fn once(attempt: usize) -> Vec<String> {
        let faults = ["memory_leak:payments@6+12", "error_burst:checkout@20+5"];
        let opts = options(&faults, &format!("repeat-{attempt}"), 30.0, 2000.0, 4, 5);
        let db = opts.db.clone();
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let report = run(opts, stop).await.expect("demo runs");
        assert!(report.all_detected(), "{:?}", report.outcomes);
        let rows = homeostat_cli::incidents::list(&format!("sqlite://{}", db.display()), 100)
            .await
            .expect("list");
        let _ = std::fs::remove_file(&db);
        // Times relative to the start, so two runs either side of a day's start still compare.
        let at = |t: i64| t - report.start_ms;
        rows.iter()
            .map(|r| {
                format!(
                    "{} {} {} {} predicted={} opened=+{} resolved={:?} peak={} action={:?} summary={}",
                    r.service_id,
                    r.kind,
                    r.status,
                    r.severity,
                    r.predicted,
                    at(r.opened_at),
                    r.resolved_at.map(at),
                    r.peak_score,
                    r.action,
                    r.summary
                )
            })
            .collect()
    }
    let first = once(1).await;
    let second = once(2).await;
    for line in &first {
        eprintln!("{line}");
    }
    assert!(first.len() >= 2, "{first:?}");
    assert_eq!(first, second);
}
