//! `homeostat models`: what the detector's current checkpoint holds, read from a checkpoint a real
//! detector wrote — models, training span, metrics, and each service's baseline and alert state.

mod common;

use homeostat_detector::fixtures::{quick_training, window};
use homeostat_detector::{Detector, DetectorConfig};
use homeostat_schemas::FeatureWindow;
use runtime::{Emitter, StageContext};

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("homeostat-models-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A detector on `dir` that saw 400 windows of "api", "web" and "batch" (its models trained), the
/// last 40 of them with "web" and "batch" failing ("batch" with its alerts off, so silently), and
/// the last 10 of a new service "jobs"; then checkpointed.
fn checkpointed(dir: &std::path::Path) {
    let mut cfg = DetectorConfig {
        models_dir: dir.display().to_string(),
        checkpoint_every_s: 3600,
        ..quick_training()
    };
    cfg.services.insert(
        "batch".into(),
        homeostat_detector::rules::ServiceRules {
            alerts: Some(false),
            ..Default::default()
        },
    );
    let mut d = Detector::new(cfg, &StageContext::new("detector")).expect("build");
    let mut em = Emitter::default();
    for t in 0..400 {
        let mut batch: Vec<FeatureWindow> = vec![
            window("api", 1.0, t, 1, 0.0),
            window("web", 4.0, t, 2, if t >= 360 { 1.5 } else { 0.0 }),
            window("batch", 2.0, t, 4, if t >= 360 { 1.5 } else { 0.0 }),
        ];
        if t >= 390 {
            batch.push(window("jobs", 2.0, t, 3, 0.0));
        }
        d.handle_batch(&batch, &mut em);
    }
    d.checkpoint().expect("checkpoint");
}

#[test]
fn models_summarizes_the_current_checkpoint() {
    let dir = tempdir("summary");
    checkpointed(&dir);
    let dir_s = dir.display().to_string();
    // The config the detector runs with marks services with their own alert rules.
    let config = dir.join("homeostat.toml");
    std::fs::write(
        &config,
        "[detector.services.api]\nalerts = false\n\n[detector.services.jobs]\nfire_after = 5\n",
    )
    .expect("write config");
    let config_s = config.display().to_string();
    let (ok, out, err) = common::homeostat(&["models", "--dir", &dir_s, "--config", &config_s]);
    assert!(ok, "{err}");
    let line = |start: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
            .to_owned()
    };
    assert!(line("checkpoint").contains("ckpt-"), "{out}");
    let models = line("models:");
    assert!(
        models.contains("version ") && models.contains("trained on ") && models.contains(" windows from "),
        "{out}"
    );
    assert!(line("autoencoder").contains("isolation forest of"), "{out}");
    assert!(line("on held-out windows").contains("reconstruction error"), "{out}");
    assert!(line("services (4)").ends_with(':'), "{out}");
    assert!(
        line("api ").ends_with(" quiet [alerts off: detector.services]"),
        "{out}"
    );
    let web = line("web ");
    assert!(
        web.contains("FIRING since 2023-11-14T") && !web.contains("not announced"),
        "the failing service's alert and when it began (the fixture's clock starts 2023-11-14):\n{out}"
    );
    // "batch" fired with its alerts off; this config turns them back on, and the line says that
    // the alert will be announced then.
    assert!(
        line("batch ").contains("FIRING since 2023-11-14T")
            && line("batch ").contains("(not announced: its alerts were off)"),
        "{out}"
    );
    assert!(
        line("jobs ").contains("warming up: 10 of 30 windows) [own alert rules: detector.services]"),
        "a service seen for 10 windows is still warming up:\n{out}"
    );

    // The checkpoint before it (the detector writes one at each promotion).
    let previous = line("previous checkpoint ckpt-");
    assert!(previous.contains("the same models (version "), "{out}");

    let (ok, json, err) = common::homeostat(&["models", "--dir", &dir_s, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert!(v["manifest"]["version"].as_u64().is_some_and(|n| n >= 1), "{json}");
    assert_eq!(v["manifest"]["alerts"]["web"]["firing"], true, "{json}");
    assert!(v["checkpoint"].as_str().is_some_and(|p| p.contains("ckpt-")), "{json}");
    assert_eq!(v["previous"]["manifest"]["version"], v["manifest"]["version"], "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn models_says_plainly_when_there_is_no_checkpoint() {
    let dir = tempdir("empty");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (ok, _, err) = common::homeostat(&["models", "--dir", &dir.display().to_string()]);
    assert!(!ok);
    assert!(
        err.contains("no checkpoint under") && err.contains("checkpoint_every_s"),
        "{err}"
    );

    // A checkpoint that cannot be read is an error naming it, not an empty summary.
    std::fs::write(dir.join("CURRENT"), "ckpt-000001").expect("write");
    let (ok, _, err) = common::homeostat(&["models", "--dir", &dir.display().to_string()]);
    assert!(!ok);
    assert!(err.contains("cannot read the checkpoint under"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
