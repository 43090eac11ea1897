//! `/metrics`, `/healthz` and `/readyz` on every binary: a minimal HTTP/1.1 responder on tokio.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Readiness flag: set by the runner once the stage is built and connected.
#[derive(Clone, Default)]
pub struct Ready(Arc<AtomicBool>);

impl Ready {
    /// Mark ready or not.
    pub fn set(&self, v: bool) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Whether ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Bind `addr` and serve the endpoints until the process exits. Returns the bound address.
pub async fn serve(addr: &str, metrics: Arc<Metrics>, ready: Ready) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = match sock.read(&mut buf).await {
                    Ok(n) => n,
                    Err(_) => return,
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, ctype, body) = match path {
                    "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                    "/healthz" => ("200 OK", "text/plain", "ok\n".to_owned()),
                    "/readyz" if ready.get() => ("200 OK", "text/plain", "ready\n".to_owned()),
                    "/readyz" => ("503 Service Unavailable", "text/plain", "not ready\n".to_owned()),
                    _ => (
                        "404 Not Found",
                        "text/plain",
                        "try /metrics, /healthz or /readyz\n".to_owned(),
                    ),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(local)
}
