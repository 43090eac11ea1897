//! End to end: the five binaries as separate processes against the tansu broker, PostgreSQL and
//! InfluxDB, fed by `homeostat sim` with one memory leak among healthy services and by malformed
//! records. Needs the services of `scripts/services.sh up` (scripts/test.sh starts them).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use homeostat_schemas::{ActionCommand, ActionMode, DeadLetter, TelemetryEvent, topics};
use homeostat_tests::{BROKERS, Proc, bin, consume, create_topics, free_port, http_get, run_database};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::Row;

const INFLUX: &str = "http://127.0.0.1:8086";

const MALFORMED: &[&[u8]] = &[
    b"{not json",
    b"[1, 2, 3]",
    br#"{"schema_version": 1, "kind": "request", "service_id": "payments", "instance_id": "payments-0", "timestamp": "yesterday", "route": "/x", "status": 200, "latency_ms": 5}"#,
    br#"{"schema_version": 9, "kind": "request"}"#,
    br#"{"schema_version": 1, "kind": "request", "service_id": "bad id!", "instance_id": "i", "timestamp": 1795953600, "route": "/x", "status": 200, "latency_ms": 5}"#,
    br#"{"schema_version": 1, "kind": "request", "service_id": "checkout", "instance_id": "checkout-0", "timestamp": 1795953600, "route": "/x", "status": 200, "latency_ms": -4}"#,
    b"\xff\xfe\x00garbage",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_end_to_end_over_kafka_postgres_and_influxdb() {
    let run = format!("e2e{}x{}", std::process::id(), runtime_nonce());
    let prefix = format!("{run}.");
    let dir = std::env::temp_dir().join(format!("homeostat-{run}"));
    std::fs::create_dir_all(&dir).expect("tmp dir");

    // Isolated database per run.
    let (admin, db_url) = run_database(&run).await;

    let mut env: Vec<(String, String)> = vec![
        ("HOMEOSTAT__KAFKA__BROKERS".into(), BROKERS.into()),
        ("HOMEOSTAT__KAFKA__TOPIC_PREFIX".into(), prefix.clone()),
        ("HOMEOSTAT__KAFKA__GROUP_PREFIX".into(), run.clone()),
        ("HOMEOSTAT__KAFKA__TICK_MS".into(), "500".into()),
        ("HOMEOSTAT__ACTUATOR__DATABASE_URL".into(), db_url.clone()),
        ("HOMEOSTAT__ACTUATOR__INFLUX__URL".into(), INFLUX.into()),
        ("HOMEOSTAT__ACTUATOR__INFLUX__DATABASE".into(), run.clone()),
        ("HOMEOSTAT__ACTUATOR__INFLUX__BATCH_SIZE".into(), "500".into()),
        // The detector's default warm-up (30 windows: five minutes of simulated time) before the
        // leak starts at six. With three minutes, a healthy service's chance spike of its CPU
        // maximum over so short a baseline alerted about one run in six.
        ("HOMEOSTAT__LOG__LEVEL".into(), "info".into()),
    ];
    create_topics(&prefix);

    let mut stages = Vec::new();
    let mut ports = BTreeMap::new();
    for stage in ["ingest", "features", "detector", "predictor", "actuator"] {
        let port = free_port();
        ports.insert(stage, port);
        let mut e = env.clone();
        e.push(("HOMEOSTAT__HTTP__LISTEN".into(), format!("127.0.0.1:{port}")));
        stages.push(Proc::start(stage, bin(&format!("homeostat-{stage}")), &[], &e, &dir));
    }
    let stage_env = env.clone();
    env.clear();

    // Every binary serves /healthz, and /metrics in the Prometheus text format.
    for (stage, port) in &ports {
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(&addr, "/healthz") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{stage} /healthz never answered; log:\n{}",
                stages
                    .iter()
                    .find(|p| p.name == *stage)
                    .map(|p| p.log_tail(30))
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (code, body) = http_get(&addr, "/metrics").expect("metrics");
        assert_eq!(code, 200);
        assert!(
            body.contains(&format!("homeostat_{stage}_records_in_total")),
            "{stage} metrics:\n{body}"
        );
    }

    // Malformed records first, then the fleet.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", BROKERS)
        .create()
        .expect("producer");
    let raw_topic = format!("{prefix}{}", topics::TELEMETRY_RAW);
    for (i, bad) in MALFORMED.iter().enumerate() {
        producer
            .send(
                FutureRecord::to(&raw_topic).key(&format!("bad{i}")).payload(*bad),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produce malformed");
    }
    let summary_path = dir.join("sim.json");
    let sim = std::process::Command::new(bin("homeostat"))
        .args([
            "sim",
            "--brokers",
            BROKERS,
            "--prefix",
            &prefix,
            "--services",
            "4",
            "--instances",
            "3",
            "--rps",
            "3",
            "--minutes",
            "14",
            "--speed",
            "30",
            "--start-ago",
            "14",
            "--seed",
            "7",
            "--fault",
            "memory_leak:payments@6",
            "--summary",
        ])
        .arg(&summary_path)
        .output()
        .expect("homeostat sim");
    assert!(
        sim.status.success(),
        "sim failed: {}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_path).expect("summary")).expect("summary json");
    let sim_records = summary["records"].as_u64().expect("records");
    assert!(sim_records > 10_000, "{summary}");

    // An incident of the right kind for the leaking service, within a bounded time.
    let pool = sqlx::PgPool::connect(&db_url).await.expect("run database");
    let deadline = Instant::now() + Duration::from_secs(120);
    let incident = loop {
        let row = sqlx::query("SELECT id, kind, predicted, opened_at FROM incidents WHERE service_id = 'payments' ORDER BY opened_at LIMIT 1")
            .fetch_optional(&pool)
            .await;
        if let Ok(Some(r)) = row {
            break r;
        }
        if Instant::now() > deadline {
            for p in &stages {
                eprintln!("--- {} ---\n{}", p.name, p.log_tail(40));
            }
            panic!("no incident for payments within 120 s of the simulation's end");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let kind: String = incident.try_get("kind").expect("kind");
    let opened_at: i64 = incident.try_get("opened_at").expect("opened_at");
    let fault_start = summary["labels"][0]["start_ms"].as_i64().expect("label");
    eprintln!(
        "incident {kind} (predicted: {:?}) opened {} s after the leak began",
        incident.try_get::<i64, _>("predicted").ok(),
        (opened_at - fault_start) / 1000
    );
    assert_eq!(kind, "memory_leak");
    assert!(opened_at >= fault_start, "opened before the fault began");
    let inc_id: String = incident.try_get("id").expect("id");
    let timeline: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incident_events WHERE incident_id = $1")
        .bind(&inc_id)
        .fetch_one(&pool)
        .await
        .expect("timeline")
        .try_get("n")
        .expect("n");
    assert!(timeline >= 2, "opened and action events expected, got {timeline}");

    // Give the pipeline time to drain, then: no incident for the healthy services.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let others: Vec<String> =
        sqlx::query("SELECT service_id || ':' || kind AS s FROM incidents WHERE service_id <> 'payments'")
            .fetch_all(&pool)
            .await
            .expect("others")
            .iter()
            .map(|r| r.try_get::<String, _>("s").unwrap_or_default())
            .collect();
    assert!(others.is_empty(), "incidents on healthy services: {others:?}");

    // A dry-run action on actions.v1 for the incident.
    let mut actions = Vec::new();
    consume(
        BROKERS,
        &format!("{prefix}{}", topics::ACTIONS_V1),
        &format!("{run}-check-actions"),
        1,
        Duration::from_secs(20),
        |p| {
            if let Ok(a) = serde_json::from_slice::<ActionCommand>(p) {
                actions.push(a);
            }
        },
    )
    .await;
    let a = actions
        .iter()
        .find(|a| a.service_id == "payments")
        .expect("an action for payments on actions.v1");
    assert_eq!(a.mode, ActionMode::DryRun);
    assert_eq!(a.incident_id, inc_id);
    assert!(!a.rollback_plan.is_empty());

    // Records in = telemetry.v1 out + DLQ out; every rejection has a reason and the original bytes.
    let mut valid = 0u64;
    let n_v1 = consume(
        BROKERS,
        &format!("{prefix}{}", topics::TELEMETRY_V1),
        &format!("{run}-check-v1"),
        sim_records,
        Duration::from_secs(60),
        |p| {
            if serde_json::from_slice::<TelemetryEvent>(p).is_ok() {
                valid += 1;
            }
        },
    )
    .await;
    let mut dead = Vec::new();
    let n_dlq = consume(
        BROKERS,
        &format!("{prefix}{}", topics::TELEMETRY_DLQ),
        &format!("{run}-check-dlq"),
        MALFORMED.len() as u64,
        Duration::from_secs(20),
        |p| {
            dead.push(serde_json::from_slice::<DeadLetter>(p).expect("dead letters parse"));
        },
    )
    .await;
    eprintln!(
        "in: {} sim + {} malformed; out: {n_v1} telemetry.v1 + {n_dlq} dlq",
        sim_records,
        MALFORMED.len()
    );
    assert_eq!(valid, n_v1, "everything on telemetry.v1 parses");
    assert_eq!(
        n_v1, sim_records,
        "every valid record reached telemetry.v1 exactly once"
    );
    assert_eq!(n_dlq, MALFORMED.len() as u64, "every malformed record reached the DLQ");
    assert_eq!(n_v1 + n_dlq, sim_records + MALFORMED.len() as u64);
    for d in &dead {
        assert!(!d.reason.is_empty() && !d.reason_code.is_empty());
    }
    assert!(
        dead.iter()
            .any(|d| d.original == "{not json" && d.reason_code == "invalid_json")
    );
    assert!(
        dead.iter().any(|d| d.original_lossy),
        "non-UTF-8 bytes are kept, lossily marked"
    );

    // Feature points for every service in InfluxDB.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let services = loop {
        let v = influx_query(
            &client,
            &run,
            "SHOW TAG VALUES FROM homeostat_features WITH KEY = \"service\"",
        )
        .await;
        let found: Vec<String> = v["results"][0]["series"][0]["values"]
            .as_array()
            .map(|values| values.iter().filter_map(|x| x[1].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if found.len() >= 4 || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        services,
        vec!["catalog", "checkout", "payments", "search"],
        "services with feature points in InfluxDB"
    );
    // Scores too, marked while the detector was still learning each service's baseline.
    let v = influx_query(
        &client,
        &run,
        "SELECT max(warming_up), min(warming_up), max(anomaly_score), max(alerting) FROM homeostat_scores",
    )
    .await;
    let row = &v["results"][0]["series"][0]["values"][0];
    assert_eq!(
        (row[1].as_f64(), row[2].as_f64()),
        (Some(1.0), Some(0.0)),
        "homeostat_scores has warm-up windows and scored ones: {v}"
    );
    assert!(
        row[3].as_f64().is_some_and(|m| m > 0.5) && row[4].as_f64() == Some(1.0),
        "and the leak's high scores, alerting: {v}"
    );

    // Graceful shutdown on SIGTERM: every stage exits 0.
    for p in &mut stages {
        let code = p.terminate(Duration::from_secs(20));
        assert_eq!(
            code,
            Some(0),
            "{} did not stop cleanly; log:\n{}",
            p.name,
            p.log_tail(20)
        );
    }
    // The detector learned online and checkpointed its models on the way out; a new detector
    // process on the same directory restores them.
    let models = dir.join("state/detector");
    let current = std::fs::read_to_string(models.join("CURRENT")).expect("the detector wrote a checkpoint");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(models.join(current.trim()).join("manifest.json")).expect("manifest"),
    )
    .expect("manifest is JSON");
    assert!(
        manifest["version"].as_u64().unwrap_or(0) >= 1,
        "the learned models were trained and promoted online: {manifest}"
    );
    assert_eq!(
        manifest["services"],
        serde_json::json!(["catalog", "checkout", "payments", "search"]),
        "{manifest}"
    );
    println!(
        "detector checkpoint: models v{} trained on {} windows, hold-out mse {:.4}",
        manifest["version"], manifest["trained_on"], manifest["metrics"]["ae_holdout_mse"]
    );
    let mut e = stage_env.clone();
    e.push(("HOMEOSTAT__HTTP__LISTEN".into(), format!("127.0.0.1:{}", free_port())));
    let mut again = Proc::start("detector-restart", bin("homeostat-detector"), &[], &e, &dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !again.log_tail(50).contains("restored models") {
        assert!(
            Instant::now() < deadline,
            "the restarted detector did not restore its checkpoint; log:\n{}",
            again.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(again.terminate(Duration::from_secs(20)), Some(0));

    pool.close().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {run}")))
        .execute(&admin)
        .await;
    let _ = client
        .post(format!("{INFLUX}/query"))
        .form(&[("q", format!("DROP DATABASE \"{run}\""))])
        .send()
        .await;
}

/// The answer of the run's InfluxDB database to `q` (JSON; null when it could not be had).
async fn influx_query(client: &reqwest::Client, db: &str, q: &str) -> serde_json::Value {
    let Ok(r) = client
        .get(format!("{INFLUX}/query"))
        .query(&[("db", db), ("q", q)])
        .send()
        .await
    else {
        return serde_json::Value::Null;
    };
    serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default()
}

fn runtime_nonce() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}
