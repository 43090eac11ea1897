//! End to end on a real gateway: HAProxy in front of three backend processes, real requests
//! through it, and their telemetry (as the gateway saw each request, plus each backend process's
//! CPU and memory read from /proc) fed to the five binaries over the tansu broker. One backend
//! starts answering 500: the pipeline detects it, the actuator (mode execute) drains that server
//! through HAProxy's runtime API, the service's error rate recovers and the action is verified,
//! and once the backend is healthy again it is put back into rotation. The whole timeline is in
//! PostgreSQL. Needs the services of `scripts/services.sh up` and Debian's haproxy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use homeostat_actuator::haproxy::{Runtime, ServerState, Socket};
use homeostat_schemas::topics;
use homeostat_tests::{BROKERS, Proc, bin, create_topics, free_port, http_get, run_database};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::Row;

const SERVICE: &str = "shop";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the load generator saw, request by request: (time ms, status, server, latency ms).
type Seen = Arc<Mutex<Vec<(i64, u16, String, f64)>>>;

/// One request through the gateway: status, the server HAProxy chose (`X-Served-By`), bytes.
async fn request(client: &reqwest::Client, front: u16) -> (u16, String, u64) {
    match client.get(format!("http://127.0.0.1:{front}/")).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let server = r
                .headers()
                .get("x-served-by")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = r.bytes().await.map_or(0, |b| b.len() as u64);
            (status, server, bytes)
        }
        Err(_) => (0, String::new(), 0),
    }
}

/// CPU seconds and resident bytes of a process, from /proc.
fn proc_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks / 100.0, rss_pages * 4096))
}

/// Send one telemetry record; true once the broker has it.
async fn produce(producer: FutureProducer, topic: String, record: serde_json::Value) -> bool {
    let payload = record.to_string();
    producer
        .send(
            FutureRecord::to(&topic).key(SERVICE).payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .is_ok()
}

/// Load through the gateway at a steady 50 requests/s (open loop: a slow answer does not slow
/// the arrivals), and the telemetry of what happened, until `stop`.
async fn load(
    front: u16,
    raw_topic: String,
    pids: Vec<(String, u32)>,
    seen: Seen,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", BROKERS)
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut last_cpu: BTreeMap<String, (f64, Instant)> = BTreeMap::new();
    let mut next_resource = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let (client, p, topic, seen) = (client.clone(), producer.clone(), raw_topic.clone(), seen.clone());
        tasks.spawn(async move {
            let t0 = Instant::now();
            let ts = now_ms();
            let (status, server, bytes) = request(&client, front).await;
            let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
            seen.lock()
                .expect("seen")
                .push((ts, status, server.clone(), latency_ms));
            let instance = if server.is_empty() {
                "gateway".to_owned()
            } else {
                format!("{SERVICE}-{server}")
            };
            let record = serde_json::json!({
                "schema_version": 1, "kind": "request", "service_id": SERVICE, "instance_id": instance,
                "timestamp": ts, "route": "/", "method": "GET", "status": status,
                "latency_ms": latency_ms, "bytes_out": bytes,
            });
            produce(p, topic, record).await
        });
        if Instant::now() >= next_resource {
            next_resource += Duration::from_secs(1);
            for (name, pid) in &pids {
                let Some((cpu_s, rss)) = proc_usage(*pid) else { continue };
                let now = Instant::now();
                let ratio = last_cpu.insert(name.clone(), (cpu_s, now)).map_or(0.0, |(c0, t)| {
                    ((cpu_s - c0) / now.duration_since(t).as_secs_f64().max(0.001)).max(0.0)
                });
                let record = serde_json::json!({
                    "schema_version": 1, "kind": "resource", "service_id": SERVICE,
                    "instance_id": format!("{SERVICE}-{name}"), "timestamp": now_ms(),
                    "cpu_ratio": ratio.min(64.0), "memory_bytes": rss, "memory_limit_bytes": 256u64 << 20,
                });
                tasks.spawn(produce(producer.clone(), raw_topic.clone(), record));
            }
        }
        while let Some(done) = tasks.try_join_next() {
            if done.unwrap_or(false) {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if done.unwrap_or(false) {
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Wait for `what` (checked every 250 ms) until `secs` pass; the stages' logs on failure.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, stages: &[Proc], mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            for p in stages {
                eprintln!("--- {} ---\n{}", p.name, p.log_tail(30));
            }
            panic!("{what}: not within {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn server_state(rt: &Runtime, name: &str) -> Option<(ServerState, u32)> {
    rt.servers("app")
        .await
        .ok()?
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| (s.state, s.weight))
}

async fn timeline(pool: &sqlx::PgPool) -> Vec<(i64, String, String)> {
    sqlx::query("SELECT event_time, kind, detail FROM incident_events ORDER BY event_time, recorded_us")
        .fetch_all(pool)
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r.try_get("event_time").unwrap_or_default(),
                        r.try_get("kind").unwrap_or_default(),
                        r.try_get("detail").unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One scenario at a time: each runs a whole pipeline, and the machine has two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_backend_behind_haproxy_is_detected_drained_verified_and_restored() {
    let _one = ONE_AT_A_TIME.lock().await;
    scenario(Executor::Actuator, Fault::Errors).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_through_the_gateway_agent_over_kafka() {
    let _one = ONE_AT_A_TIME.lock().await;
    scenario(Executor::Agent, Fault::Errors).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_has_its_traffic_shifted_away_step_by_step_and_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    scenario(Executor::Actuator, Fault::Slow).await;
}

/// What goes wrong with b2.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// It answers 500.
    Errors,
    /// It answers 400 ms late.
    Slow,
}

/// What a fault is switched on with, and what Homeostat is expected to make of it.
struct Expected {
    /// The backend's switch for it.
    switch: &'static str,
    /// The incident kind.
    kind: &'static str,
    /// The remedy chosen.
    strategy: &'static str,
    /// The indicator its verification names.
    indicator: &'static str,
    /// The remedy's result detail starts with this.
    result: &'static str,
}

impl Fault {
    fn expected(self) -> Expected {
        match self {
            Fault::Errors => Expected {
                switch: "/fault/errors",
                kind: "error_burst",
                strategy: "circuit_breaker_activation",
                indicator: "ErrorRate",
                result: "drained app/b2",
            },
            Fault::Slow => Expected {
                switch: "/fault/slow",
                kind: "latency_degradation",
                strategy: "gradual_traffic_shift",
                indicator: "LatencyP99",
                result: "weight of app/b2 10 → 5, then 2, 0 every 2 s",
            },
        }
    }
    /// Is b2 out of the traffic (drained, or its weight shifted down to 0)?
    fn out(self, state: Option<(ServerState, u32)>) -> bool {
        match self {
            Fault::Errors => state.is_some_and(|s| s.0 == ServerState::Drain),
            Fault::Slow => state.is_some_and(|s| s == (ServerState::Ready, 0)),
        }
    }
    /// A request that shows the fault.
    fn bad(self, status: u16, latency_ms: f64) -> bool {
        match self {
            Fault::Errors => status == 500,
            Fault::Slow => latency_ms >= 300.0,
        }
    }
}

/// Who talks to HAProxy's runtime API.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Executor {
    /// The actuator itself (`[actuator.haproxy]`).
    Actuator,
    /// `homeostat gateway-agent` on the gateway host, over actions.v1 and actions.results.v1.
    Agent,
}

async fn scenario(executor: Executor, fault: Fault) {
    let expected = fault.expected();
    let run = format!("gw{}x{}", std::process::id(), now_ms() % 1_000_000);
    let prefix = format!("{run}.");
    let dir = std::env::temp_dir().join(format!("homeostat-{run}"));
    std::fs::create_dir_all(&dir).expect("tmp dir");

    // Three backend processes and HAProxy in front of them.
    let mut backends = Vec::new();
    let mut ports = Vec::new();
    for name in ["b1", "b2", "b3"] {
        let port = free_port();
        let p = Proc::start(
            name,
            bin("homeostat-test-backend"),
            &[name, &port.to_string()],
            &[],
            &dir,
        );
        ports.push(port);
        backends.push(p);
    }
    for (p, port) in backends.iter().zip(&ports) {
        let addr = format!("127.0.0.1:{port}");
        wait_for(10, &format!("backend {} answering", p.name), &[], || {
            let addr = addr.clone();
            async move { http_get(&addr, "/").ok().filter(|r| r.0 == 200) }
        })
        .await;
    }
    let haproxy_bin = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("haproxy is installed (scripts/services.sh up installs Debian's package)");
    let (front, admin) = (free_port(), free_port());
    std::fs::write(
        dir.join("haproxy.cfg"),
        format!(
            "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend web\n  bind 127.0.0.1:{front}\n  default_backend app\n\
             backend app\n  balance roundrobin\n  http-response set-header X-Served-By %[srv_name]\n\
               server b1 127.0.0.1:{} weight 10\n  server b2 127.0.0.1:{} weight 10\n  server b3 127.0.0.1:{} weight 10\n",
            ports[0], ports[1], ports[2]
        ),
    )
    .expect("haproxy config");
    let haproxy = Proc::start(
        "haproxy",
        haproxy_bin.into(),
        &["-db", "-f", &dir.join("haproxy.cfg").display().to_string()],
        &[],
        &dir,
    );
    let rt = Runtime::new(Socket::Tcp(format!("127.0.0.1:{admin}")), Duration::from_secs(2));
    wait_for(10, "HAProxy's runtime API", std::slice::from_ref(&haproxy), || async {
        rt.servers("app").await.ok().filter(|s| s.len() == 3)
    })
    .await;

    // The pipeline, with short windows so the test takes a couple of minutes of real time.
    let (admin_db, db_url) = run_database(&run).await;
    create_topics(&prefix);
    let env: Vec<(String, String)> = [
        ("HOMEOSTAT__KAFKA__BROKERS", BROKERS.to_owned()),
        ("HOMEOSTAT__KAFKA__TOPIC_PREFIX", prefix.clone()),
        ("HOMEOSTAT__KAFKA__GROUP_PREFIX", run.clone()),
        ("HOMEOSTAT__KAFKA__TICK_MS", "500".into()),
        ("HOMEOSTAT__FEATURES__WINDOW_S", "5".into()),
        ("HOMEOSTAT__FEATURES__STEP_S", "1".into()),
        ("HOMEOSTAT__FEATURES__ALLOWED_LATENESS_S", "1".into()),
        ("HOMEOSTAT__DETECTOR__WARMUP_WINDOWS", "20".into()),
        ("HOMEOSTAT__ACTUATOR__MODE", "execute".into()),
        ("HOMEOSTAT__ACTUATOR__DATABASE_URL", db_url.clone()),
        ("HOMEOSTAT__ACTUATOR__INFLUX__ENABLED", "false".into()),
        ("HOMEOSTAT__ACTUATOR__VERIFICATION_WINDOW_S", "10".into()),
        ("HOMEOSTAT__LOG__LEVEL", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let haproxy_at = |section: &str| {
        vec![
            (
                format!("HOMEOSTAT__{section}__HAPROXY__SOCKET"),
                format!("127.0.0.1:{admin}"),
            ),
            (
                format!("HOMEOSTAT__{section}__HAPROXY__BACKENDS__SHOP"),
                "app".to_owned(),
            ),
            (format!("HOMEOSTAT__{section}__HAPROXY__SHIFT_STEP_S"), "2".to_owned()),
        ]
    };
    let mut stages = Vec::new();
    for stage in ["ingest", "features", "detector", "predictor", "actuator"] {
        let mut e = env.clone();
        e.push(("HOMEOSTAT__HTTP__LISTEN".into(), format!("127.0.0.1:{}", free_port())));
        if stage == "actuator" && executor == Executor::Actuator {
            e.extend(haproxy_at("ACTUATOR"));
        }
        stages.push(Proc::start(stage, bin(&format!("homeostat-{stage}")), &[], &e, &dir));
    }
    if executor == Executor::Agent {
        let mut e = env.clone();
        e.push(("HOMEOSTAT__HTTP__LISTEN".into(), format!("127.0.0.1:{}", free_port())));
        e.push(("HOMEOSTAT__GATEWAY_AGENT__GRACE_S".into(), "3".into()));
        e.extend(haproxy_at("GATEWAY_AGENT"));
        stages.push(Proc::start(
            "gateway-agent",
            bin("homeostat"),
            &["gateway-agent"],
            &e,
            &dir,
        ));
    }
    let executor_name = match executor {
        Executor::Actuator => "haproxy",
        Executor::Agent => "gateway-agent",
    };

    // Steady load through the gateway, with its telemetry.
    let seen: Seen = Arc::default();
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let pids: Vec<(String, u32)> = backends.iter().map(|p| (p.name.clone(), p.child.id())).collect();
    let loader = tokio::spawn(load(
        front,
        format!("{prefix}{}", topics::TELEMETRY_RAW),
        pids,
        seen.clone(),
        sent.clone(),
        stop.clone(),
    ));

    // A healthy service while the detector learns it: no incident.
    let pool = sqlx::PgPool::connect(&db_url).await.expect("run database");
    tokio::time::sleep(Duration::from_secs(40)).await;
    let early = timeline(&pool).await;
    assert!(early.is_empty(), "incident while every backend was healthy: {early:?}");

    // b2 starts failing.
    let b2 = format!("127.0.0.1:{}", ports[1]);
    assert_eq!(http_get(&b2, expected.switch).expect("fault switch").0, 200);
    let fault_at = now_ms();

    let (incident, kind, opened_at): (String, String, i64) = wait_for(90, "an incident for shop", &stages, || async {
        let r = sqlx::query("SELECT id, kind, opened_at FROM incidents WHERE service_id = $1")
            .bind(SERVICE)
            .fetch_optional(&pool)
            .await
            .ok()??;
        Some((
            r.try_get("id").ok()?,
            r.try_get("kind").ok()?,
            r.try_get("opened_at").ok()?,
        ))
    })
    .await;
    eprintln!(
        "incident {kind} opened {:.1} s after b2 began failing",
        (opened_at - fault_at) as f64 / 1000.0
    );
    assert_eq!(kind, expected.kind);

    // The actuator takes b2 out of the traffic through the runtime API (at once, or step by step).
    wait_for(60, "b2 out of the traffic", &stages, || async {
        fault.out(server_state(&rt, "b2").await).then_some(())
    })
    .await;
    let drained_at = now_ms();
    eprintln!(
        "b2 out of the traffic {:.1} s after it began failing",
        (drained_at - fault_at) as f64 / 1000.0
    );
    for name in ["b1", "b3"] {
        assert_eq!(
            server_state(&rt, name).await,
            Some((ServerState::Ready, 10)),
            "{name} is left alone"
        );
    }

    // The service recovers: nothing reaches b2 and every request is answered well.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after: Vec<(i64, u16, String, f64)> = seen
        .lock()
        .expect("seen")
        .iter()
        .filter(|r| r.0 > drained_at + 500)
        .cloned()
        .collect();
    assert!(after.len() >= 20, "load kept going: {} requests", after.len());
    assert!(
        after.iter().all(|r| r.1 == 200 && r.2 != "b2" && !fault.bad(r.1, r.3)),
        "{after:?}"
    );
    let before: Vec<(u16, f64)> = seen
        .lock()
        .expect("seen")
        .iter()
        .filter(|r| r.0 > fault_at && r.0 < drained_at)
        .map(|r| (r.1, r.3))
        .collect();
    let bad = before.iter().filter(|r| fault.bad(r.0, r.1)).count();
    eprintln!(
        "while b2 failed: {bad} of {} requests {}; afterwards: 0 of {}",
        before.len(),
        if fault == Fault::Errors {
            "answered 500"
        } else {
            "took 300 ms or more"
        },
        after.len()
    );

    // The recovery is verified.
    let verified = wait_for(60, "the action verified", &stages, || async {
        timeline(&pool)
            .await
            .into_iter()
            .find(|e| e.1 == "verified" || e.1 == "rolled_back")
    })
    .await;
    assert_eq!(verified.1, "verified", "{verified:?}");
    assert!(
        verified
            .2
            .starts_with(&format!("{} helped: {}", expected.strategy, expected.indicator)),
        "{verified:?}"
    );

    // b2 is still failing: the probes keep it out.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(fault.out(server_state(&rt, "b2").await));

    // b2 is fixed: it is put back into rotation and serves again.
    assert_eq!(http_get(&b2, "/fault/off").expect("fault switch").0, 200);
    let healthy_at = now_ms();
    wait_for(30, "b2 back in rotation", &stages, || async {
        (server_state(&rt, "b2").await == Some((ServerState::Ready, 10))).then_some(())
    })
    .await;
    eprintln!(
        "b2 restored {:.1} s after it was healthy again",
        (now_ms() - healthy_at) as f64 / 1000.0
    );
    let restored_at = now_ms();
    wait_for(10, "b2 serving again", &stages, || async {
        seen.lock()
            .expect("seen")
            .iter()
            .any(|r| r.0 > restored_at && r.2 == "b2" && r.1 == 200)
            .then_some(())
    })
    .await;

    // Once calm, the incident resolves; the whole timeline is in PostgreSQL.
    let status: String = wait_for(90, "the incident resolved", &stages, || async {
        let r = sqlx::query("SELECT status FROM incidents WHERE id = $1")
            .bind(&incident)
            .fetch_one(&pool)
            .await
            .ok()?;
        r.try_get::<String, _>("status").ok().filter(|s| s == "resolved")
    })
    .await;
    assert_eq!(status, "resolved");
    stop.store(true, Ordering::SeqCst);
    loader.await.expect("load generator");
    let events = timeline(&pool).await;
    eprintln!("timeline (s after b2 began failing):");
    for (t, kind, detail) in &events {
        eprintln!("  {:>6.1}  {kind:<14} {detail}", (t - fault_at) as f64 / 1000.0);
    }
    let order: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    let pos = |k: &str| {
        order
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("no {k} event in {order:?}"))
    };
    assert!(pos("opened") < pos("action"));
    assert!(pos("action") < pos("action_result"));
    assert!(pos("action_result") < pos("verified"));
    assert!(pos("verified") < pos("restored"));
    assert!(pos("restored") < pos("resolved"));
    let result = &events[pos("action_result")].2;
    assert!(
        result.starts_with(&format!("succeeded by {executor_name}: {}", expected.result)),
        "{result}"
    );
    let action: (String, String) = sqlx::query("SELECT strategy, mode FROM actions WHERE incident_id = $1")
        .bind(&incident)
        .fetch_one(&pool)
        .await
        .map(|r| {
            (
                r.try_get("strategy").unwrap_or_default(),
                r.try_get("mode").unwrap_or_default(),
            )
        })
        .expect("action");
    assert_eq!(action, (expected.strategy.into(), "execute".into()));
    eprintln!("{} telemetry records sent", sent.load(Ordering::Relaxed));
    // The operator's view of the same timeline, and of what the learner saw.
    for args in [vec!["incidents", "--show", incident.as_str()], vec!["strategies"]] {
        let out = std::process::Command::new(bin("homeostat"))
            .args(&args)
            .args(["--db", &db_url])
            .output()
            .expect("homeostat");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("$ homeostat {}\n{text}", args.join(" "));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected = if args[0] == "incidents" {
            "restored"
        } else {
            expected.strategy
        };
        assert!(text.contains(expected), "{text}");
    }

    for p in &mut stages {
        assert_eq!(
            p.terminate(Duration::from_secs(20)),
            Some(0),
            "{} log:\n{}",
            p.name,
            p.log_tail(20)
        );
    }
    pool.close().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {run}")))
        .execute(&admin_db)
        .await;
    drop(haproxy);
    drop(backends);
    let _ = std::fs::remove_dir_all(&dir);
}
