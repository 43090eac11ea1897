//! The HAProxy runtime API against a real HAProxy (Debian package `haproxy`, installed by
//! `scripts/services.sh up`) in front of three backends: read the servers, drain one and see that
//! no new request reaches it, take one to maintenance, change a weight, restore them, and get a
//! clear error for a server that does not exist.

mod common;
use common::{backend, free_port, haproxy};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use std::time::Duration;

use homeostat_actuator::haproxy::{HaproxyError, Runtime, ServerState, Socket};

#[tokio::test]
async fn drain_maint_weight_and_ready_through_the_runtime_api() {
    let up = Arc::new(AtomicBool::new(false));
    let ports = [
        backend("b1", up.clone()).await,
        backend("b2", up.clone()).await,
        backend("b3", up.clone()).await,
    ];
    let h = haproxy("api", ports).await;
    let (rt, front) = (&h.rt, h.front);
    let servers = rt.servers("app").await;
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
        *seen.entry(common::get(front).await.1).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    // Drain b2: no new request reaches it.
    rt.set_state("app", "b2", ServerState::Drain).await.expect("drain");
    let s = rt.servers("app").await.expect("servers");
    assert_eq!(s[1].state, ServerState::Drain, "{s:?}");
    for _ in 0..12 {
        assert_ne!(common::get(front).await.1, "b2");
    }

    // Maintenance on b3 and weight 0 on nobody else: only b1 serves.
    rt.set_state("app", "b3", ServerState::Maint).await.expect("maint");
    assert_eq!(rt.servers("app").await.expect("servers")[2].state, ServerState::Maint);
    for _ in 0..6 {
        assert_eq!(common::get(front).await.1, "b1");
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
        *seen.entry(common::get(front).await.1).or_insert(0) += 1;
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
    let _ = std::fs::remove_dir_all(&h.dir);
}
