//! Escalation reaches a real Alertmanager (Debian package `prometheus-alertmanager`, installed by
//! `scripts/services.sh up`): the alert carries service, kind, severity, incident id, summary and
//! the explanation; resolving ends it; an unreachable Alertmanager is a clear error.

mod common;
use common::free_port;

use std::process::{Command, Stdio};
use std::time::Duration;

use homeostat_actuator::alertmanager::{Alertmanager, AlertmanagerError, Escalation};
use homeostat_schemas::Contribution;

async fn alerts(base: &str, active: bool) -> serde_json::Value {
    let text = reqwest::Client::new()
        .get(format!("{base}/api/v2/alerts"))
        .query(&[
            ("active", active.to_string()),
            ("filter", "alertname=\"HomeostatEscalation\"".to_owned()),
        ])
        .send()
        .await
        .expect("GET alerts")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("json")
}

/// A real Alertmanager on a free port, with its base URL.
fn start(name: &str) -> (common::Child, String, std::path::PathBuf) {
    let bin = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Alertmanager is installed (scripts/services.sh up installs Debian's package)");
    let dir = std::env::temp_dir().join(format!("homeostat-am-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: people\nreceivers:\n  - name: people\n",
    )
    .expect("config");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = common::Child(
        Command::new(bin)
            .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    (child, base, dir)
}

#[tokio::test]
async fn an_escalation_reaches_alertmanager_with_its_explanation() {
    let (_am, base, dir) = start("client");
    let am = Alertmanager::new(&base, Duration::from_secs(2));
    let explanation = [Contribution {
        feature: "error_rate".into(),
        value: 0.31,
        baseline: 0.002,
        deviation: 61.6,
    }];
    let e = Escalation {
        incident_id: "inc-42",
        service_id: "checkout",
        kind: "error_burst",
        severity: "critical",
        summary: "checkout: error_rate 0.31 against a baseline of 0.002",
        explanation: &explanation,
        reason: "two remedies failed verification",
    };
    let mut posted = false;
    for _ in 0..50 {
        if am.escalate(&e).await.is_ok() {
            posted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(posted, "Alertmanager took the alert");
    let active = alerts(&base, true).await;
    let a = &active[0];
    assert_eq!(a["labels"]["service"], "checkout");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["kind"], "error_burst");
    assert_eq!(a["labels"]["incident"], "inc-42");
    assert_eq!(a["annotations"]["reason"], "two remedies failed verification");
    let ex = a["annotations"]["explanation"].as_str().expect("explanation");
    assert!(
        ex.contains("error_rate 0.3100 (baseline 0.0020, +61.6 deviations)"),
        "{ex}"
    );

    am.resolve(&e).await.expect("resolve");
    let mut ended = false;
    for _ in 0..50 {
        if alerts(&base, true).await.as_array().is_some_and(|a| a.is_empty()) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the alert ended on resolve");

    let down = Alertmanager::new(&format!("http://127.0.0.1:{}", free_port()), Duration::from_secs(1));
    assert!(matches!(down.escalate(&e).await, Err(AlertmanagerError::Http(..))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_actuator_pages_people_for_an_unclear_anomaly_and_ends_the_page_on_resolution() {
    use homeostat_actuator::{Actuator, ActuatorConfig, ActuatorIn};
    use homeostat_schemas::{ActionMode, AnomalyScore};
    use runtime::{Emitter, Stage, StageContext};

    let (_am, base, dir) = start("actuator");
    let mut cfg: ActuatorConfig = common::actuator_config("alertmanager", ActionMode::Execute);
    cfg.alertmanager_url = base.clone();
    let mut a = Actuator::connect(cfg, &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let score = |t: i64, alerting: bool| {
        ActuatorIn::Anomaly(AnomalyScore {
            schema_version: 1,
            id: format!("a-{t}"),
            event_time: t,
            service_id: "ledger".into(),
            window_id: format!("w-{t}"),
            anomaly_score: if alerting { 0.9 } else { 0.05 },
            health_score: if alerting { 0.1 } else { 0.95 },
            degradation_trend: 0.0,
            warming_up: false,
            warmup: None,
            alerting,
            top_features: Vec::new(),
        })
    };
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| common::window_of("ledger", k * 10_000, &[])).collect();
    // Alertmanager may still be starting: retry the first decision's page through the test.
    for _ in 0..50 {
        if reqwest::Client::new()
            .get(format!("{base}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    batch.push(score(90_000, true));
    let mut em = Emitter::default();
    a.process(batch, &mut em).await.expect("process");
    let active = alerts(&base, true).await;
    assert_eq!(active.as_array().map(Vec::len), Some(1), "{active}");
    assert_eq!(active[0]["labels"]["service"], "ledger");
    assert_eq!(active[0]["labels"]["kind"], "anomaly");
    // Calm windows resolve the incident; the page ends.
    a.process((1..=8).map(|k| score(90_000 + k * 10_000, false)).collect(), &mut em)
        .await
        .expect("process");
    let mut ended = false;
    for _ in 0..50 {
        if alerts(&base, true).await.as_array().is_some_and(|x| x.is_empty()) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the page ended when the incident resolved");
    let _ = std::fs::remove_dir_all(&dir);
}
