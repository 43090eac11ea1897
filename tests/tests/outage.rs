//! A broker outage is retried, never turned into loss: the ingest binary keeps running while its
//! tansu broker (durable `sqlite://` storage) is killed and restarted, and every record produced
//! before and after the outage reaches `telemetry.v1` (at-least-once: duplicates are allowed).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use homeostat_schemas::TelemetryEvent;
use homeostat_tests::{Proc, bin, consume, free_port};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn tansu() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let p = home.join("bin/tansu");
    assert!(p.exists(), "tansu is not installed: scripts/services.sh up installs it");
    p
}

fn start_broker(port: u16, dir: &std::path::Path, n: u32) -> Proc {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut p = Proc::start(
        &format!("tansu{n}"),
        tansu(),
        &[
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ],
        &[],
        dir,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not start:\n{}", p.log_tail(20));
        assert!(
            p.child.try_wait().ok().flatten().is_none(),
            "tansu exited:\n{}",
            p.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    p
}

fn record(i: u32) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        r#"{{"schema_version":1,"kind":"request","id":"r{}-{i}","service_id":"svc{}","instance_id":"i1","timestamp":{ts},"route":"/x","status":200,"latency_ms":5}}"#,
        std::process::id(),
        i % 3
    )
}

async fn produce(brokers: &str, topic: &str, range: std::ops::Range<u32>) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer");
    for i in range {
        let payload = record(i);
        p.send(
            FutureRecord::to(topic).key(&format!("svc{}", i % 3)).payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_survives_a_broker_restart_without_losing_records() {
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("homeostat-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut broker = start_broker(port, &dir, 1);
    let status = std::process::Command::new(bin("homeostat"))
        .args(["topics", "--brokers", &brokers, "--partitions", "1"])
        .status()
        .expect("topics");
    assert!(status.success());

    let env = vec![
        ("HOMEOSTAT__KAFKA__BROKERS".to_owned(), brokers.clone()),
        ("HOMEOSTAT__KAFKA__RETRY_INITIAL_MS".to_owned(), "100".to_owned()),
        (
            "HOMEOSTAT__HTTP__LISTEN".to_owned(),
            format!("127.0.0.1:{}", free_port()),
        ),
    ];
    let mut ingest = Proc::start("ingest", bin("homeostat-ingest"), &[], &env, &dir);

    produce(&brokers, "telemetry.raw", 0..2000).await;

    // The outage, while ingest is still working through those records: the broker dies hard,
    // stays down, and comes back on the same storage.
    let _ = broker.child.kill();
    let _ = broker.child.wait();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        ingest.child.try_wait().ok().flatten().is_none(),
        "ingest exited during the outage:\n{}",
        ingest.log_tail(20)
    );
    let _broker2 = start_broker(port, &dir, 2);
    produce(&brokers, "telemetry.raw", 2000..2500).await;

    let mut ids = BTreeSet::new();
    let total = consume(
        &brokers,
        "telemetry.v1",
        "outage-check",
        2500,
        Duration::from_secs(90),
        |p| {
            let ev: TelemetryEvent = serde_json::from_slice(p).expect("telemetry.v1 parses");
            ids.insert(ev.id);
        },
    )
    .await as usize;
    eprintln!(
        "{} distinct of 2500 records on telemetry.v1 ({total} messages, {} duplicates)",
        ids.len(),
        total - ids.len()
    );
    assert_eq!(
        ids.len(),
        2500,
        "records lost across the broker restart; ingest log:\n{}",
        ingest.log_tail(30)
    );
    assert_eq!(
        ingest.terminate(Duration::from_secs(20)),
        Some(0),
        "ingest did not stop cleanly:\n{}",
        ingest.log_tail(20)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
