//! Helpers shared by the actuator's tests against real services.

#![allow(dead_code)]

/// A free TCP port on loopback, outside the range outgoing connections take theirs from.
pub use homeostat_tests::free_port;

/// A child process killed when the test ends, however it ends.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A backend answering every request with its name, or 500 while `failing` is set.
pub async fn backend(name: &'static str, failing: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    serve(name, failing, std::sync::Arc::default()).await
}

/// A backend answering every request with its name, 300 ms late while `slow` is set.
pub async fn slow_backend(name: &'static str, slow: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    serve(name, std::sync::Arc::default(), slow).await
}

async fn serve(
    name: &'static str,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (failing, slow) = (failing.clone(), slow.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                if slow.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                let status = if failing.load(std::sync::atomic::Ordering::SeqCst) {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

/// One request through the gateway on `port`: status code and body.
pub async fn get(port: u16) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to haproxy");
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let code = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out.rsplit("\r\n\r\n").next().unwrap_or_default().to_owned())
}

/// A real HAProxy (`haproxy -db`) with frontend `web` and backend `app` of servers b1, b2, b3 on
/// `ports`, its runtime API at admin level; waits until the API answers.
pub struct Haproxy {
    _child: Child,
    /// Runtime API client.
    pub rt: homeostat_actuator::haproxy::Runtime,
    /// Frontend port.
    pub front: u16,
    /// Runtime API port.
    pub admin: u16,
    /// Working directory (configuration, stores).
    pub dir: std::path::PathBuf,
}

pub async fn haproxy(name: &str, ports: [u16; 3]) -> Haproxy {
    haproxy_with_backup(name, ports, None).await
}

/// [`haproxy`], plus a backup server `spare` on `backup`, out of rotation (maintenance) at start.
pub async fn haproxy_with_backup(name: &str, ports: [u16; 3], backup: Option<u16>) -> Haproxy {
    use homeostat_actuator::haproxy::{Runtime, Socket};
    let bin = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("haproxy is installed (scripts/services.sh up installs Debian's package)");
    let (front, admin) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("homeostat-haproxy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = format!(
        "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{front}\n  default_backend app\n\
         backend app\n  balance roundrobin\n\
           server b1 127.0.0.1:{} weight 1\n  server b2 127.0.0.1:{} weight 1\n  server b3 127.0.0.1:{} weight 1\n",
        ports[0], ports[1], ports[2]
    ) + &backup.map_or(String::new(), |p| {
        format!("  server spare 127.0.0.1:{p} weight 1 backup disabled\n")
    });
    std::fs::write(dir.join("haproxy.cfg"), cfg).expect("config");
    let child = Child(
        std::process::Command::new(bin)
            .args(["-db", "-f"])
            .arg(dir.join("haproxy.cfg"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    let rt = Runtime::new(
        Socket::Tcp(format!("127.0.0.1:{admin}")),
        std::time::Duration::from_secs(2),
    );
    for _ in 0..50 {
        if rt.servers("app").await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Haproxy {
        _child: child,
        rt,
        front,
        admin,
        dir,
    }
}

/// A fresh PostgreSQL database on 127.0.0.1:5432 for one test: its URL, and a guard to drop it.
pub async fn postgres_db(name: &str) -> (String, PgDrop) {
    let admin_url = "postgres://postgres@127.0.0.1:5432/postgres";
    let db = format!("homeostat_{name}_{}", std::process::id());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(admin_url)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (scripts/services.sh up)");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(&admin)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .expect("create database");
    (format!("postgres://postgres@127.0.0.1:5432/{db}"), PgDrop { admin, db })
}

/// Drops the test database (call `drop_now` after closing every pool on it).
pub struct PgDrop {
    admin: sqlx::AnyPool,
    db: String,
}

impl PgDrop {
    /// Drop the database.
    pub async fn drop_now(self) {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {}", self.db)))
            .execute(&self.admin)
            .await;
    }
}

/// The actuator's default configuration on a fresh SQLite store, without InfluxDB.
pub fn actuator_config(name: &str, mode: homeostat_schemas::ActionMode) -> homeostat_actuator::ActuatorConfig {
    let config = runtime::config::Config::from_process(None).expect("defaults");
    let mut cfg: homeostat_actuator::ActuatorConfig = config.section("actuator").expect("actuator section");
    let path = std::env::temp_dir().join(format!("homeostat-{name}-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    cfg.database_url = format!("sqlite://{}", path.display());
    cfg.influx.enabled = false;
    cfg.mode = mode;
    cfg
}

/// A feature window of `svc` at `t` (ms) with 100 events and the given features.
pub fn window_of(svc: &str, t: i64, features: &[(&str, f64)]) -> homeostat_actuator::ActuatorIn {
    homeostat_actuator::ActuatorIn::Features(homeostat_schemas::FeatureWindow {
        schema_version: 1,
        id: format!("w-{svc}-{t}"),
        event_time: t,
        service_id: svc.into(),
        window_start: t - 60_000,
        event_count: 100,
        late_events: 0,
        features: features.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
    })
}

/// An alerting detector score for `svc` at `t`, explained by `feature` at `value` (against
/// `baseline`).
pub fn alert(svc: &str, t: i64, feature: &str, value: f64, baseline: f64) -> homeostat_actuator::ActuatorIn {
    homeostat_actuator::ActuatorIn::Anomaly(homeostat_schemas::AnomalyScore {
        schema_version: 1,
        id: format!("a-{svc}-{t}"),
        event_time: t,
        service_id: svc.into(),
        window_id: format!("w-{svc}-{t}"),
        anomaly_score: 0.95,
        health_score: 0.05,
        degradation_trend: 0.0,
        warming_up: false,
        warmup: None,
        alerting: true,
        top_features: vec![homeostat_schemas::Contribution {
            feature: feature.into(),
            value,
            baseline,
            deviation: 12.0,
        }],
    })
}

/// The one text value `sql` selects (its first row's first column), with the query in the
/// message when there is none.
pub async fn text(pool: &sqlx::AnyPool, sql: &str) -> String {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .try_get(0)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
