//! The HAProxy runtime API against a real HAProxy (Debian package `haproxy`, installed by
//! `scripts/services.sh up`) in front of three backends: read the servers, drain one and see that
//! no new request reaches it, take one to maintenance, change a weight, restore them, and get a
//! clear error for a server that does not exist.

mod common;
use common::free_port;

use std::process::{Command, Stdio};
use std::time::Duration;

use homeostat_actuator::haproxy::{HaproxyError, Runtime, ServerState, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend answering every request with its own name.
async fn backend(name: &'static str) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

async fn get(port: u16) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to haproxy");
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out.rsplit("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn drain_maint_weight_and_ready_through_the_runtime_api() {
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("haproxy is installed (scripts/services.sh up installs Debian's package)");
    let ports = [backend("b1").await, backend("b2").await, backend("b3").await];
    let (front, admin) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("homeostat-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = format!(
        "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{front}\n  default_backend app\n\
         backend app\n  balance roundrobin\n\
           server b1 127.0.0.1:{} weight 1\n  server b2 127.0.0.1:{} weight 1\n  server b3 127.0.0.1:{} weight 1\n",
        ports[0], ports[1], ports[2]
    );
    std::fs::write(dir.join("haproxy.cfg"), cfg).expect("config");
    let _h = common::Child(
        Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(dir.join("haproxy.cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    let rt = Runtime::new(Socket::Tcp(format!("127.0.0.1:{admin}")), Duration::from_secs(2));
    let mut servers = None;
    for _ in 0..50 {
        if let Ok(s) = rt.servers("app").await {
            servers = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let servers = servers.expect("haproxy answers on its stats socket");
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b1", "b2", "b3"]);
    assert!(
        servers.iter().all(|s| s.state == ServerState::Ready && s.weight == 1),
        "{servers:?}"
    );

    // Round robin reaches all three.
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..9 {
        *seen.entry(get(front).await).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    // Drain b2: no new request reaches it.
    rt.set_state("app", "b2", ServerState::Drain).await.expect("drain");
    let s = rt.servers("app").await.expect("servers");
    assert_eq!(s[1].state, ServerState::Drain, "{s:?}");
    for _ in 0..12 {
        assert_ne!(get(front).await, "b2");
    }

    // Maintenance on b3 and weight 0 on nobody else: only b1 serves.
    rt.set_state("app", "b3", ServerState::Maint).await.expect("maint");
    assert_eq!(rt.servers("app").await.expect("servers")[2].state, ServerState::Maint);
    for _ in 0..6 {
        assert_eq!(get(front).await, "b1");
    }

    // Back to ready; b1's weight to 3 shifts traffic toward it.
    rt.set_state("app", "b2", ServerState::Ready).await.expect("ready");
    rt.set_state("app", "b3", ServerState::Ready).await.expect("ready");
    rt.set_weight("app", "b1", 3).await.expect("weight");
    let s = rt.servers("app").await.expect("servers");
    assert!(s.iter().all(|x| x.state == ServerState::Ready), "{s:?}");
    assert_eq!(s[0].weight, 3);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..25 {
        *seen.entry(get(front).await).or_insert(0) += 1;
    }
    assert_eq!(seen.get("b1"), Some(&15), "weights 3:1:1 over 25 requests: {seen:?}");

    // Clear errors.
    let err = rt
        .set_state("app", "b9", ServerState::Drain)
        .await
        .expect_err("no such server");
    assert!(matches!(err, HaproxyError::Refused(..)), "{err}");
    assert!(err.to_string().contains("b9"), "{err}");
    assert!(matches!(rt.servers("nope").await, Err(HaproxyError::Refused(..))));
    let down = Runtime::new(
        Socket::Tcp(format!("127.0.0.1:{}", free_port())),
        Duration::from_secs(1),
    );
    assert!(matches!(down.servers("app").await, Err(HaproxyError::Io(..))));
    let _ = std::fs::remove_dir_all(&dir);
}
