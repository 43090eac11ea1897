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

/// Read a request head: everything up to the blank line (clients may send it in pieces), at most
/// 8 KiB or 5 s. Shared by every small HTTP endpoint of Homeostat.
pub async fn read_head<S: tokio::io::AsyncRead + Unpin>(sock: &mut S) -> String {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
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
                let head = read_head(&mut sock).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn answers_a_request_sent_in_pieces() {
        let m = Arc::new(Metrics::new("t"));
        m.counter("x_total", "", "x").inc();
        let addr = serve("127.0.0.1:0", m, Ready::default()).await.expect("bind");
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        for piece in ["GET ", "/metrics", " HTTP/1.0\r\n", "\r\n"] {
            s.write_all(piece.as_bytes()).await.expect("write");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.expect("read");
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.contains("homeostat_t_x_total 1"), "{resp}");
        let (code, _) = get(addr, "/readyz").await;
        assert_eq!(code, 503, "not ready until the runner says so");
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.expect("read");
        (
            resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0),
            resp,
        )
    }
}
