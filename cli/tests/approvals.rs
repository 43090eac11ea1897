//! `homeostat approvals`: list the actions waiting for a person, approve or deny one, and refuse
//! to decide twice — on the same store the actuator writes (SQLite here).

mod common;

use homeostat_actuator::store::{self, NewAction};

fn homeostat(db: &str, args: &[&str]) -> (bool, String, String) {
    let all: Vec<&str> = ["approvals", "--db", db]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    common::homeostat(&all)
}

#[tokio::test]
async fn approve_and_deny_from_the_command_line() {
    let path = std::env::temp_dir().join(format!("homeostat-approvals-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = format!("sqlite://{}", path.display());
    let pool = store::connect(&db).await.expect("store");
    for id in ["act-a", "act-b"] {
        store::insert_action(
            &pool,
            &NewAction {
                id,
                incident_id: "inc-1",
                service_id: "payments",
                strategy: "service_restart",
                mode: "execute",
                status: "awaiting_approval",
                target: "payments-2",
                parameters: "{}",
                rollback_plan: "none",
                reason: "memory_leak",
                decided_at: 1000,
            },
        )
        .await
        .expect("action");
    }
    pool.close().await;

    let (ok, out, _) = homeostat(&db, &[]);
    assert!(ok && out.contains("act-a") && out.contains("act-b"), "{out}");
    let (ok, out, _) = homeostat(&db, &["--by", "alice", "approve", "act-a"]);
    assert!(ok && out.contains("act-a approved by alice"), "{out}");
    let (ok, _, err) = homeostat(&db, &["deny", "act-a"]);
    assert!(!ok && err.contains("not waiting for approval"), "{err}");
    let (ok, out, _) = homeostat(&db, &["deny", "act-b"]);
    assert!(ok && out.contains("act-b denied by cli"), "{out}");
    let (ok, out, _) = homeostat(&db, &["list"]);
    assert!(ok && out.contains("no action is waiting"), "{out}");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn the_kill_switch_flips_from_the_command_line() {
    let path = std::env::temp_dir().join(format!("homeostat-kill-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = format!("sqlite://{}", path.display());
    let run = |args: &[&str]| {
        let all: Vec<&str> = ["kill-switch", "--db", &db]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let (ok, out, err) = common::homeostat(&all);
        assert!(ok, "{err}");
        out
    };
    assert!(run(&[]).contains("kill switch is off"));
    assert!(run(&["on"]).contains("ON: no action will be taken"));
    let pool = store::connect(&db).await.expect("store");
    assert!(store::kill_switch(&pool).await.expect("read"), "the actuator sees it");
    pool.close().await;
    assert!(run(&["off"]).contains("kill switch is off"));
    let _ = std::fs::remove_file(&path);
}
