//! The HAProxy runtime API (the stats socket at admin level): read the servers of a backend with
//! their state and weight, and change them — weight, drain, maintenance, ready. These are the
//! moves behind traffic shifts, circuit breakers, load-balancer reconfiguration and routing to
//! backup servers.
//!
//! Each command is one connection: write the command line, read the answer to the end. A set
//! command answers nothing on success and a message on failure, which becomes the error.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the stats socket listens.
#[derive(Debug, Clone, PartialEq)]
pub enum Socket {
    /// `ipv4@host:port` in the HAProxy configuration.
    Tcp(String),
    /// A unix socket path.
    Unix(std::path::PathBuf),
}

impl Socket {
    /// `unix:/run/haproxy/admin.sock`, `/run/haproxy/admin.sock` or `127.0.0.1:9999`.
    pub fn parse(s: &str) -> Self {
        if let Some(p) = s.strip_prefix("unix:") {
            Socket::Unix(p.into())
        } else if s.starts_with('/') {
            Socket::Unix(s.into())
        } else {
            Socket::Tcp(s.trim_start_matches("tcp:").to_owned())
        }
    }
}

/// Errors of the runtime API.
#[derive(Debug, thiserror::Error)]
pub enum HaproxyError {
    /// Could not talk to the socket.
    #[error("HAProxy runtime API at {0:?}: {1}")]
    Io(Socket, std::io::Error),
    /// No answer in time.
    #[error("HAProxy runtime API at {0:?}: no answer within {1:?}")]
    Timeout(Socket, Duration),
    /// HAProxy refused the command.
    #[error("HAProxy refused `{0}`: {1}")]
    Refused(String, String),
    /// A name with characters the runtime API cannot carry.
    #[error("invalid backend or server name {0:?}")]
    InvalidName(String),
    /// The answer was not what the command returns.
    #[error("unexpected answer to `{0}`: {1}")]
    Unexpected(String, String),
}

/// Administrative state of a server, as `show stat` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ServerState {
    /// Taking traffic (UP, or no check configured).
    Ready,
    /// Draining: keeps its sessions, gets no new ones.
    Drain,
    /// In maintenance: no traffic at all.
    Maint,
    /// Failing its health checks.
    Down,
}

/// One server of a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Server name.
    pub name: String,
    /// State.
    pub state: ServerState,
    /// Current weight.
    pub weight: u32,
    /// Sessions served so far.
    pub sessions: u64,
    /// Responses with a 5xx status so far.
    pub errors_5xx: u64,
    /// A backup server (takes traffic only when no primary can).
    pub backup: bool,
    /// Average response time over the last 1024 requests, ms (0 when unknown).
    pub rtime_ms: u64,
}

/// A client of one HAProxy runtime API socket.
#[derive(Debug, Clone)]
pub struct Runtime {
    socket: Socket,
    timeout: Duration,
}

fn check_name(s: &str) -> Result<(), HaproxyError> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
        return Err(HaproxyError::InvalidName(s.to_owned()));
    }
    Ok(())
}

impl Runtime {
    /// A client of `socket`, each command bounded by `timeout`.
    pub fn new(socket: Socket, timeout: Duration) -> Self {
        Self { socket, timeout }
    }

    /// Send one command line and return the whole answer.
    pub async fn command(&self, cmd: &str) -> Result<String, HaproxyError> {
        let io = |e| HaproxyError::Io(self.socket.clone(), e);
        let run = async {
            let mut out = Vec::new();
            match &self.socket {
                Socket::Tcp(addr) => {
                    let mut s = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
                    s.write_all(format!("{cmd}\n").as_bytes()).await.map_err(io)?;
                    s.read_to_end(&mut out).await.map_err(io)?;
                }
                Socket::Unix(path) => {
                    let mut s = tokio::net::UnixStream::connect(path).await.map_err(io)?;
                    s.write_all(format!("{cmd}\n").as_bytes()).await.map_err(io)?;
                    s.read_to_end(&mut out).await.map_err(io)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| HaproxyError::Timeout(self.socket.clone(), self.timeout))?
    }

    async fn set(&self, cmd: String) -> Result<(), HaproxyError> {
        let answer = self.command(&cmd).await?;
        let answer = answer.trim();
        if answer.is_empty() {
            Ok(())
        } else {
            Err(HaproxyError::Refused(cmd, answer.to_owned()))
        }
    }

    /// The servers of `backend`, from `show stat`.
    pub async fn servers(&self, backend: &str) -> Result<Vec<Server>, HaproxyError> {
        check_name(backend)?;
        let cmd = "show stat";
        let text = self.command(cmd).await?;
        let mut lines = text.lines();
        let header = lines
            .next()
            .and_then(|h| h.strip_prefix("# "))
            .ok_or_else(|| HaproxyError::Unexpected(cmd.into(), text.chars().take(200).collect()))?;
        let col = |name: &str| header.split(',').position(|c| c == name);
        let (Some(px), Some(sv), Some(st), Some(wt), Some(stot)) =
            (col("pxname"), col("svname"), col("status"), col("weight"), col("stot"))
        else {
            return Err(HaproxyError::Unexpected(cmd.into(), header.to_owned()));
        };
        let e5 = col("hrsp_5xx");
        let (bck, rtime) = (col("bck"), col("rtime"));
        let num = |k: Option<usize>, f: &[&str]| {
            k.and_then(|k| f.get(k))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let mut out = Vec::new();
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() <= px.max(sv).max(st).max(wt).max(stot) || f[px] != backend {
                continue;
            }
            if f[sv] == "BACKEND" || f[sv] == "FRONTEND" {
                continue;
            }
            let state = match f[st] {
                s if s.starts_with("DRAIN") => ServerState::Drain,
                s if s.starts_with("MAINT") => ServerState::Maint,
                s if s.starts_with("DOWN") => ServerState::Down,
                _ => ServerState::Ready,
            };
            out.push(Server {
                name: f[sv].to_owned(),
                state,
                weight: f[wt].parse().unwrap_or(0),
                sessions: f[stot].parse().unwrap_or(0),
                errors_5xx: num(e5, &f),
                backup: num(bck, &f) == 1,
                rtime_ms: num(rtime, &f),
            });
        }
        if out.is_empty() {
            return Err(HaproxyError::Refused(
                format!("show stat ({backend})"),
                format!("no backend {backend} with servers"),
            ));
        }
        Ok(out)
    }

    /// Each server's address (`ip:port`) in `backend`, from `show servers state`.
    pub async fn addresses(&self, backend: &str) -> Result<Vec<(String, String)>, HaproxyError> {
        check_name(backend)?;
        let cmd = format!("show servers state {backend}");
        let text = self.command(&cmd).await?;
        let header = text
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .ok_or_else(|| HaproxyError::Unexpected(cmd.clone(), text.chars().take(200).collect()))?;
        let col = |name: &str| header.split_whitespace().position(|c| c == name);
        let (Some(name), Some(addr), Some(port)) = (col("srv_name"), col("srv_addr"), col("srv_port")) else {
            return Err(HaproxyError::Unexpected(cmd, header.to_owned()));
        };
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() > name.max(addr).max(port))
            .map(|f| (f[name].to_owned(), format!("{}:{}", f[addr], f[port])))
            .collect())
    }

    /// Set a server's weight (0–256).
    pub async fn set_weight(&self, backend: &str, server: &str, weight: u32) -> Result<(), HaproxyError> {
        check_name(backend)?;
        check_name(server)?;
        self.set(format!("set server {backend}/{server} weight {}", weight.min(256)))
            .await
    }

    /// Set a server's administrative state: ready, drain or maint.
    pub async fn set_state(&self, backend: &str, server: &str, state: ServerState) -> Result<(), HaproxyError> {
        check_name(backend)?;
        check_name(server)?;
        let s = match state {
            ServerState::Ready => "ready",
            ServerState::Drain => "drain",
            ServerState::Maint | ServerState::Down => "maint",
        };
        self.set(format!("set server {backend}/{server} state {s}")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_parse() {
        assert_eq!(
            Socket::parse("/run/haproxy/admin.sock"),
            Socket::Unix("/run/haproxy/admin.sock".into())
        );
        assert_eq!(Socket::parse("unix:/x.sock"), Socket::Unix("/x.sock".into()));
        assert_eq!(Socket::parse("127.0.0.1:9999"), Socket::Tcp("127.0.0.1:9999".into()));
    }

    #[test]
    fn names_that_could_inject_commands_are_refused() {
        assert!(check_name("app_backend-1.x").is_ok());
        for bad in ["", "a b", "a;shutdown", "a/b", "a\nshow"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
