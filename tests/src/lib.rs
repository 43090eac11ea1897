//! Helpers for Homeostat's end-to-end tests: finding the binaries, starting them as child
//! processes with their logs kept, and reaching the real services.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

/// Where the built binaries are: `$HOMEOSTAT_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else the
/// workspace's `target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HOMEOSTAT_BIN_DIR") {
        return d.into();
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d).join("debug");
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../target/debug")
}

/// Path of a binary, with a clear message when it was not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// A free loopback port for a child process to bind, taken from 20000–31999: below the range the
/// kernel hands out to outgoing connections (32768–60999 by default), so that none of the many
/// connections a test makes can take the port between this check and the child's bind (which
/// happened with ports from `bind(":0")`). Each test process starts at its own offset and never
/// hands out the same port twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(7919);
    for _ in 0..12_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (offset.wrapping_add(n) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A child process run in a given directory, its stderr in a log file there, killed on drop.
pub struct Proc {
    /// Name.
    pub name: String,
    /// The child.
    pub child: Child,
    /// Its log.
    pub log: PathBuf,
}

impl Proc {
    /// Start `program` with `args` and extra environment.
    pub fn start(name: &str, program: PathBuf, args: &[&str], env: &[(String, String)], dir: &std::path::Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create log");
        let mut cmd = Command::new(program);
        // The child works in the run's own directory, so relative paths (a broker's storage file)
        // never land in the repository or leak between runs.
        cmd.args(args).current_dir(dir).stdout(Stdio::null()).stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Send SIGTERM and wait up to `timeout` for a clean exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The tail of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET a URL on loopback, returning status and body (HTTP/1.0, no keep-alive).
pub fn http_get(host_port: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host_port)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").as_bytes())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Read `topic` from the beginning with a new consumer group, calling `f` on each payload, until
/// `expect` messages were seen and 3 s pass without more, or `timeout` runs out. Returns the count.
pub async fn consume<F: FnMut(&[u8])>(
    brokers: &str,
    topic: &str,
    group: &str,
    expect: u64,
    timeout: Duration,
    mut f: F,
) -> u64 {
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let deadline = std::time::Instant::now() + timeout;
    let mut n = 0;
    while std::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(3), c.recv()).await {
            Ok(Ok(m)) => {
                n += 1;
                f(m.payload().unwrap_or_default());
            }
            Ok(Err(e)) => eprintln!("consume {topic}: {e}"),
            Err(_) if n >= expect => break,
            Err(_) => {}
        }
    }
    n
}

/// The broker and PostgreSQL the end-to-end tests use (`scripts/services.sh up`).
pub const BROKERS: &str = "127.0.0.1:9092";
/// PostgreSQL server URL, without a database.
pub const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh database named `run` for one test run, and the connection to `postgres` that drops it
/// afterwards: (admin pool, the run database's URL).
pub async fn run_database(run: &str) -> (sqlx::PgPool, String) {
    let admin = sqlx::PgPool::connect(&format!("{PG}/postgres"))
        .await
        .expect("PostgreSQL is not reachable on 127.0.0.1:5432; start it with scripts/services.sh up");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {run}")))
        .execute(&admin)
        .await
        .expect("create database");
    (admin, format!("{PG}/{run}"))
}

/// Create Homeostat's topics under `prefix` with `homeostat topics`.
pub fn create_topics(prefix: &str) {
    let status = Command::new(bin("homeostat"))
        .args(["topics", "--brokers", BROKERS, "--prefix", prefix])
        .status()
        .expect("homeostat topics");
    assert!(
        status.success(),
        "creating topics failed: is the broker up on {BROKERS}? (scripts/services.sh up)"
    );
}
