//! The webhook and command executors: only allow-listed destinations and programs run, arguments
//! are never given to a shell, failures and timeouts are errors that say what happened.

mod common;

use std::time::Duration;

use homeostat_actuator::hooks::{HookError, Hooks, HooksConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A one-route HTTP server: answers `status` and echoes the request body; returns the port.
async fn server(status: u16, delay: Duration) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = req.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
                tokio::time::sleep(delay).await;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

fn hooks(port: u16) -> Hooks {
    Hooks::new(HooksConfig {
        webhook_allow: vec![format!("http://127.0.0.1:{port}/hooks/")],
        command_allow: vec!["/bin/echo".into(), "/bin/sh".into(), "/bin/false".into()],
        timeout_s: 1,
        run: Default::default(),
    })
}

#[tokio::test]
async fn webhooks_go_only_to_allowed_destinations() {
    let port = server(200, Duration::ZERO).await;
    let h = hooks(port);
    let body = serde_json::json!({"strategy": "service_restart", "service": "payments", "instance": "payments-2"});
    let ok = h
        .webhook(&format!("http://127.0.0.1:{port}/hooks/restart"), &body)
        .await
        .expect("allowed hook");
    assert_eq!(ok.code, 200);
    assert!(
        ok.output.contains("payments-2"),
        "the action reached the hook: {}",
        ok.output
    );
    for url in [
        format!("http://127.0.0.1:{port}/admin"),
        format!("http://127.0.0.1:{port}/hooksevil"),
        format!("http://127.0.0.1:{port}/hooks/../admin"),
        format!("http://127.0.0.1:{port}/hooks/%2e%2e/admin"),
        format!("http://127.0.0.1:{}/hooks/restart", common::free_port()),
        "http://example.invalid/hooks/".to_owned(),
    ] {
        assert_eq!(
            h.webhook(&url, &body).await,
            Err(HookError::NotAllowed(url.clone())),
            "{url}"
        );
    }
    let bad = server(503, Duration::ZERO).await;
    let h = hooks(bad);
    assert!(matches!(
        h.webhook(&format!("http://127.0.0.1:{bad}/hooks/x"), &body).await,
        Err(HookError::Refused(..))
    ));
    let slow = server(200, Duration::from_secs(3)).await;
    let h = hooks(slow);
    assert!(matches!(
        h.webhook(&format!("http://127.0.0.1:{slow}/hooks/x"), &body).await,
        Err(HookError::Timeout(..))
    ));
}

#[tokio::test]
async fn commands_run_only_if_allowed_and_without_a_shell() {
    let h = hooks(1);
    let out = h
        .command("/bin/echo", &["scale".into(), "payments; rm -rf /".into()])
        .await
        .expect("allowed");
    assert_eq!(out.code, 0);
    assert_eq!(
        out.output, "scale payments; rm -rf /\n",
        "arguments are passed as they are"
    );
    assert_eq!(
        h.command("/bin/rm", &["-rf".into(), "/tmp/x".into()]).await,
        Err(HookError::NotAllowed("/bin/rm".into()))
    );
    assert_eq!(
        h.command("echo", &[]).await,
        Err(HookError::NotAllowed("echo".into())),
        "programs are matched by their configured path"
    );
    assert!(matches!(h.command("/bin/false", &[]).await, Err(HookError::Refused(_, ref c, _)) if c == "exit 1"));
    assert!(matches!(
        h.command("/bin/sh", &["-c".into(), "sleep 5".into()]).await,
        Err(HookError::Timeout(..))
    ));
}

#[tokio::test]
async fn the_actuator_restarts_through_a_webhook_once_a_person_approves() {
    use homeostat_actuator::{Actuator, ActuatorConfig, ActuatorIn, approvals, store};
    use homeostat_schemas::ActionMode;
    use runtime::{Emitter, Stage, StageContext};
    use sqlx::Row;
    use std::sync::{Arc, Mutex};

    // A hook receiver that keeps what it was sent.
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Ok(mut g) = sink.lock() {
                g.push(req.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned());
            }
            let _ = s
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });

    let mut cfg: ActuatorConfig = common::actuator_config("hooks", ActionMode::Execute);
    cfg.hooks.webhook_allow = vec![format!("http://127.0.0.1:{port}/hooks/")];
    cfg.hooks.timeout_s = 2;
    cfg.hooks.run.insert(
        "service_restart".into(),
        homeostat_actuator::hooks::HookTarget {
            webhook: Some(format!("http://127.0.0.1:{port}/hooks/restart")),
            command: None,
        },
    );
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| common::window_of("payments", k * 10_000, &[])).collect();
    batch.push(common::alert("payments", 90_000, "memory_max_ratio", 0.97, 0.5));
    let mut em = Emitter::default();
    a.process(batch, &mut em).await.expect("process");
    assert!(got.lock().expect("lock").is_empty(), "nothing runs before approval");
    let pool = store::connect(&cfg.database_url).await.expect("store");
    let pending = approvals::pending(&pool).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(
        approvals::decide(&pool, &pending[0].id, true, "alice", 95_000)
            .await
            .expect("approve")
    );
    a.on_tick(100_000, &mut em).await.expect("tick");
    let bodies = got.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let sent: serde_json::Value = serde_json::from_str(&bodies[0]).expect("JSON action");
    assert_eq!(sent["service_id"], "payments");
    assert_eq!(sent["strategy"], "service_restart");
    let row = sqlx::query("SELECT status FROM actions WHERE id = $1")
        .bind(&pending[0].id)
        .fetch_one(&pool)
        .await
        .expect("action");
    assert_eq!(row.try_get::<String, _>("status").expect("status"), "succeeded");
}

#[tokio::test]
async fn the_actuator_scales_out_through_an_allow_listed_command() {
    use homeostat_actuator::{Actuator, ActuatorConfig, ActuatorIn, store};
    use homeostat_schemas::ActionMode;
    use runtime::{Emitter, Stage, StageContext};
    use sqlx::Row;

    // The operator's scaling script: it records what it was asked to do.
    let dir = std::env::temp_dir().join(format!("homeostat-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("scale.sh");
    let log = dir.join("scaled.txt");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display())).expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let program = script.display().to_string();
    let mut cfg: ActuatorConfig = common::actuator_config("hooks-scale", ActionMode::Execute);
    cfg.hooks.command_allow = vec![program.clone()];
    cfg.hooks.timeout_s = 5;
    cfg.hooks.run.insert(
        "instance_scaling".into(),
        homeostat_actuator::hooks::HookTarget {
            webhook: None,
            command: Some(vec![program, "{service}".into(), "+1".into(), "{incident}".into()]),
        },
    );
    let mut a = Actuator::connect(cfg.clone(), &StageContext::new("actuator"))
        .await
        .expect("actuator");
    let mut batch: Vec<ActuatorIn> = (0..8).map(|k| common::window_of("search", k * 10_000, &[])).collect();
    batch.push(common::alert("search", 90_000, "cpu_max_ratio", 0.97, 0.4));
    let mut em = Emitter::default();
    a.process(batch, &mut em).await.expect("process");

    // Saturation: scaling out is the first remedy, needs no approval, and runs at once.
    let pool = store::connect(&cfg.database_url).await.expect("store");
    let row = sqlx::query("SELECT id, incident_id, strategy, status FROM actions")
        .fetch_one(&pool)
        .await
        .expect("action");
    let strategy: String = row.try_get("strategy").expect("strategy");
    let incident: String = row.try_get("incident_id").expect("incident");
    assert_eq!(strategy, "instance_scaling");
    assert_eq!(row.try_get::<String, _>("status").expect("status"), "succeeded");
    assert_eq!(
        std::fs::read_to_string(&log).expect("the script ran"),
        format!("search +1 {incident}\n")
    );
    let executor: String = sqlx::query("SELECT executor FROM action_results WHERE action_id = $1")
        .bind(row.try_get::<String, _>("id").expect("id"))
        .fetch_one(&pool)
        .await
        .expect("result")
        .try_get("executor")
        .expect("executor");
    assert_eq!(executor, "hook");
    let _ = std::fs::remove_dir_all(&dir);
}
