//! Configuration: the checked-in defaults (`config/homeostat.toml`), then an optional file, then
//! environment overrides named `HOMEOSTAT__<SECTION>__<KEY>` (nested keys joined by `__`; values
//! parsed as TOML when they parse, else taken as strings). Every struct denies unknown fields, so
//! a typo is an error at start, not a silently ignored setting.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// The checked-in defaults.
pub const DEFAULTS: &str = include_str!("../../config/homeostat.toml");

/// Top-level sections that may appear in a config file.
pub const SECTIONS: &[&str] = &[
    "kafka",
    "http",
    "log",
    "ingest",
    "features",
    "detector",
    "predictor",
    "actuator",
    "sim",
    "gateway_agent",
];

/// A configuration problem, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML did not parse.
    #[error("config {origin} is not valid TOML: {message}")]
    Parse {
        /// Where it came from.
        origin: String,
        /// Parser message.
        message: String,
    },
    /// A section or key does not exist or has the wrong type.
    #[error("config section [{section}]: {message}")]
    Invalid {
        /// Section.
        section: String,
        /// What is wrong.
        message: String,
    },
}

/// Kafka connection settings shared by every binary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Prefix put before every topic name on the broker (e.g. `staging.`), so several Homeostat
    /// deployments or test runs can share one cluster. Empty by default.
    pub topic_prefix: String,
    /// Partitions of topics the runners create when missing.
    pub partitions: i32,
    /// Consumer group prefix; each stage joins `<prefix>-<stage>`.
    pub group_prefix: String,
    /// Largest batch handed to a stage at once.
    pub max_batch: usize,
    /// How long to wait for more records after the first one of a batch, in milliseconds.
    pub linger_ms: u64,
    /// Where a new consumer group starts: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Interval between `on_tick` calls, in milliseconds.
    pub tick_ms: u64,
    /// First retry delay after a broker or database failure, in milliseconds (doubles up to 30 s).
    pub retry_initial_ms: u64,
    /// Extra librdkafka properties, passed through (numbers and booleans as their text).
    #[serde(default)]
    pub extra: std::collections::BTreeMap<String, Value>,
}

/// HTTP endpoint settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address of `/metrics`, `/healthz`, `/readyz`; empty means `127.0.0.1:<stage port>`
    /// (ingest 9101, features 9102, detector 9103, predictor 9104, actuator 9105).
    pub listen: String,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `plain` or `json`.
    pub format: String,
    /// Filter directive, e.g. `info` or `homeostat_detector=debug,info`.
    pub level: String,
}

/// Settings every binary shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Kafka.
    pub kafka: KafkaConfig,
    /// HTTP endpoints.
    pub http: HttpConfig,
    /// Logging.
    pub log: LogConfig,
}

impl HttpConfig {
    /// The address to bind for a stage.
    pub fn listen_for(&self, stage: &str) -> String {
        if !self.listen.is_empty() {
            return self.listen.clone();
        }
        let port = match stage {
            "ingest" => 9101,
            "features" => 9102,
            "detector" => 9103,
            "predictor" => 9104,
            "actuator" => 9105,
            _ => 9100,
        };
        format!("127.0.0.1:{port}")
    }
}

/// The merged configuration tree.
#[derive(Debug, Clone)]
pub struct Config {
    table: Table,
    /// The file it was read from, read again on a reload.
    file: Option<std::path::PathBuf>,
}

fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn parse(origin: &str, text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Parse {
        origin: origin.to_owned(),
        message: e.to_string(),
    })
}

fn env_value(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.to_owned())),
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// Load defaults, then `file` if given, then `HOMEOSTAT__…` variables from `env`.
pub fn load_config(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut table = parse("defaults", DEFAULTS)?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        merge(&mut table, parse(&path.display().to_string(), &text)?);
    }
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("HOMEOSTAT__") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            continue;
        }
        merge(&mut table, nested(&path, env_value(&v)));
    }
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            return Err(ConfigError::Invalid {
                section: key.clone(),
                message: format!("unknown section; known sections are {}", SECTIONS.join(", ")),
            });
        }
    }
    Ok(Config {
        table,
        file: file.map(Path::to_path_buf),
    })
}

/// A table holding `value` at `path` (`["kafka", "brokers"]` → `{kafka = {brokers = value}}`).
fn nested<S: AsRef<str>>(path: &[S], value: Value) -> Table {
    let mut v = value;
    for key in path.iter().rev() {
        let mut t = Table::new();
        t.insert(key.as_ref().to_owned(), v);
        v = Value::Table(t);
    }
    match v {
        Value::Table(t) => t,
        _ => Table::new(),
    }
}

impl Config {
    /// Load from the process environment and an optional file.
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        load_config(file, std::env::vars())
    }

    /// The same file and the process environment, read again (a stage's reload on SIGHUP).
    pub fn reread(&self) -> Result<Self, ConfigError> {
        load_config(self.file.as_deref(), std::env::vars())
    }

    /// The sections other than `stage`'s whose settings differ in `other` (for a reload, which
    /// applies only the stage's own section).
    pub fn changed_besides(&self, other: &Config, stage: &str) -> Vec<String> {
        SECTIONS
            .iter()
            .filter(|s| **s != stage && self.table.get(**s) != other.table.get(**s))
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// Deserialize one section.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T, ConfigError> {
        let v = self.table.get(name).cloned().unwrap_or(Value::Table(Table::new()));
        v.try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
            section: name.to_owned(),
            message: e.message().to_owned(),
        })
    }

    /// The shared runtime settings.
    pub fn runtime(&self) -> Result<RuntimeConfig, ConfigError> {
        Ok(RuntimeConfig {
            kafka: self.section("kafka")?,
            http: self.section("http")?,
            log: self.section("log")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_into_runtime_config() {
        let c = load_config(None, Vec::new()).expect("defaults load");
        let r = c.runtime().expect("runtime section");
        assert_eq!(r.kafka.brokers, "127.0.0.1:9092");
        assert_eq!(r.http.listen_for("detector"), "127.0.0.1:9103");
    }

    #[test]
    fn env_overrides_nested_keys_with_typed_values() {
        let env = vec![
            ("HOMEOSTAT__KAFKA__MAX_BATCH".to_owned(), "7".to_owned()),
            ("HOMEOSTAT__KAFKA__BROKERS".to_owned(), "b1:9092,b2:9092".to_owned()),
            (
                "HOMEOSTAT__KAFKA__EXTRA__SOCKET.TIMEOUT.MS".to_owned(),
                "5000".to_owned(),
            ),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let c = load_config(None, env).expect("load");
        let r = c.runtime().expect("runtime");
        assert_eq!(r.kafka.max_batch, 7);
        assert_eq!(r.kafka.brokers, "b1:9092,b2:9092");
        assert_eq!(r.kafka.extra.get("socket.timeout.ms"), Some(&Value::Integer(5000)));
    }

    #[test]
    fn unknown_keys_and_sections_are_errors() {
        let env = vec![("HOMEOSTAT__KAFKA__BROKRS".to_owned(), "x".to_owned())];
        let c = load_config(None, env).expect("load");
        let err = c.runtime().expect_err("typo must fail").to_string();
        assert!(err.contains("brokrs"), "{err}");
        let env = vec![("HOMEOSTAT__DETECTR__X".to_owned(), "1".to_owned())];
        let err = load_config(None, env).expect_err("unknown section").to_string();
        assert!(err.contains("unknown section"), "{err}");
    }

    #[test]
    fn a_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("homeostat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("c.toml");
        std::fs::write(&f, "[log]\nformat = \"json\"\n").expect("write");
        let c = load_config(Some(&f), Vec::new()).expect("load");
        assert_eq!(c.runtime().expect("rt").log.format, "json");
        assert_eq!(c.runtime().expect("rt").log.level, "info");
    }

    #[test]
    fn a_reread_sees_the_file_as_it_is_now_and_names_the_other_sections_that_changed() {
        let dir = std::env::temp_dir().join(format!("homeostat-cfg-reread-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("c.toml");
        std::fs::write(&f, "[detector]\nfire_after = 3\n").expect("write");
        let before = load_config(Some(&f), Vec::new()).expect("load");
        std::fs::write(&f, "[detector]\nfire_after = 4\n\n[kafka]\nlinger_ms = 7\n").expect("write");
        let after = before.reread().expect("reread");
        let fire_after = |c: &Config| c.table["detector"]["fire_after"].as_integer();
        assert_eq!((fire_after(&before), fire_after(&after)), (Some(3), Some(4)));
        assert_eq!(before.changed_besides(&after, "detector"), vec!["kafka".to_owned()]);
        assert!(before.changed_besides(&before, "detector").is_empty());
        std::fs::write(&f, "[kafka\n").expect("write");
        let err = before.reread().expect_err("does not parse").to_string();
        assert!(err.contains("c.toml"), "names the file: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
