//! SIGHUP: the detector binary, running against the tansu broker, reads its settings file again.
//! Good alert rules apply at once; a setting that shapes what was learned, or another section, is
//! named for a restart; a file that does not parse or holds a bad rule changes nothing; the process
//! keeps running throughout, and `/metrics` counts each outcome. Needs the broker of
//! `scripts/services.sh up` (scripts/test.sh starts it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use homeostat_tests::{BROKERS, Proc, bin, create_topics, free_port, http_get};

/// Write `text` as the settings file, send SIGHUP, and wait until the log has one more line
/// containing `outcome` (the message of a reload); return that line.
async fn reload(p: &Proc, file: &Path, text: &str, outcome: &str) -> String {
    let count = |log: &str| log.lines().filter(|l| l.contains(outcome)).count();
    let before = count(&std::fs::read_to_string(&p.log).unwrap_or_default());
    std::fs::write(file, text).expect("write settings");
    let sent = Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(&p.log).unwrap_or_default();
        if count(&log) > before {
            return log
                .lines()
                .rfind(|l| l.contains(outcome))
                .unwrap_or_default()
                .to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no \"{outcome}\" after SIGHUP; log:\n{}",
            p.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Start stage `stage` against the broker with the settings file `settings`, on its own topics;
/// wait until it is ready. Returns the process, its run directory, the file and its address.
async fn start(stage: &str, settings: &str) -> (Proc, std::path::PathBuf, std::path::PathBuf, String) {
    let run = format!(
        "reload{stage}{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let dir = std::env::temp_dir().join(format!("homeostat-{run}"));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let prefix = format!("{run}.");
    create_topics(&prefix);
    let file = dir.join("homeostat.toml");
    std::fs::write(&file, settings).expect("write settings");
    let addr = format!("127.0.0.1:{}", free_port());
    let env: Vec<(String, String)> = vec![
        ("HOMEOSTAT__KAFKA__BROKERS".into(), BROKERS.into()),
        ("HOMEOSTAT__KAFKA__TOPIC_PREFIX".into(), prefix),
        ("HOMEOSTAT__KAFKA__GROUP_PREFIX".into(), run.clone()),
        ("HOMEOSTAT__HTTP__LISTEN".into(), addr.clone()),
        ("HOMEOSTAT__LOG__LEVEL".into(), "info".into()),
    ];
    let path = file.display().to_string();
    let p = Proc::start(
        stage,
        bin(&format!("homeostat-{stage}")),
        &["--config", &path],
        &env,
        &dir,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(http_get(&addr, "/readyz"), Ok((200, _))) {
        assert!(Instant::now() < deadline, "{stage} not ready; log:\n{}", p.log_tail(20));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (p, dir, file, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_detectors_alert_rules_and_keeps_it_running() {
    let (mut p, dir, file, addr) = start("detector", "[detector.services.batch]\nalerts = false\n").await;
    let path = file.display().to_string();

    let applied = "SIGHUP: settings reloaded";
    let rejected = "SIGHUP: settings not reloaded";
    let line = reload(
        &p,
        &file,
        "[detector]\nfire_after = 3\nthreshold = 9.0\n\n[detector.services.jobs]\nfire_above = 0.8\n",
        applied,
    )
    .await;
    for part in [
        "fire_after 2 → 3",
        "services.jobs added",
        "services.batch removed",
        "not applied until a restart: threshold",
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }

    let line = reload(&p, &file, "[detector]\nfire_above = 2.0\n", rejected).await;
    assert!(line.contains("detector.fire_above must be in (0, 1]"), "{line}");
    let line = reload(&p, &file, "[detector\nfire_after = ", rejected).await;
    assert!(line.contains(&path), "the unreadable file is named: {line}");

    let line = reload(
        &p,
        &file,
        "[detector]\nfire_after = 3\nthreshold = 9.0\n\n[detector.services.jobs]\nfire_above = 0.8\n\n[kafka]\nlinger_ms = 7\n",
        applied,
    )
    .await;
    assert!(
        line.contains("alert rules unchanged") && line.contains("[kafka]"),
        "the rejected reloads left the rules as they were, and [kafka] waits for a restart: {line}"
    );

    let (status, body) = http_get(&addr, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("homeostat_detector_config_reloads_total{result=\"applied\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("homeostat_detector_config_reloads_total{result=\"rejected\"} 2"),
        "{body}"
    );
    assert_eq!(
        p.terminate(Duration::from_secs(20)),
        Some(0),
        "still running, stops cleanly"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stage that applies its settings only at start says so on SIGHUP, and keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_to_a_stage_without_reload_is_answered_and_harmless() {
    let (mut p, dir, file, addr) = start("ingest", "").await;
    let line = reload(&p, &file, "", "SIGHUP: settings not reloaded").await;
    assert!(
        line.contains("homeostat-ingest applies its settings only at start; restart it to apply them"),
        "{line}"
    );
    assert!(matches!(http_get(&addr, "/readyz"), Ok((200, _))), "still serving");
    assert_eq!(
        p.terminate(Duration::from_secs(20)),
        Some(0),
        "still running, stops cleanly"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
