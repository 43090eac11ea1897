//! Alert rules: when a service's scores fire and resolve its alert, and when an alert that lasts
//! makes its level the service's new normal. The `[detector]` settings are the defaults; a service
//! can have its own under `[detector.services.<service_id>]`, e.g. a batch service whose spikes are
//! its work fires only on stronger evidence, and a service being built scores without alerting.
//!
//! ```toml
//! [detector.services.batch-reports]
//! fire_above = 0.8        # a window counts as anomalous from score 0.8 (default 0.5)
//! fire_after = 6          # six such windows in a row before the alert fires
//!
//! [detector.services."checkout-v2-*"]
//! alerts = false          # every checkout-v2-… service: scored and explained, never alerted
//! ```
//!
//! A key ending in `*` covers every service whose id starts with what comes before it; a
//! service's own id wins over patterns, and a longer pattern over a shorter one.
//!
//! The rules change only what alerts; what the detector learns does not depend on them (a window
//! is learned as normal below score 0.5 while no alert fires). With `alerts = false` the alert
//! state is still kept, so a lasting change still becomes the new normal, but it is never
//! announced: no message on `alerts.v1`, `alerting` false on `anomalies.v1`, so the actuator opens
//! no incident from the detector (the predictor's forecasts still can). Alerts turned back on
//! (a restart or a reload with the rule removed) while that kept state fires announce it as firing
//! on its first anomalous window; an alert announced before they were turned off still announces
//! its resolution.
//!
//! The rules are read at start and again on SIGHUP ([`crate::Detector::reload`]); the other
//! `[detector]` settings shape what was learned and apply only on a restart.

use serde::Deserialize;

use crate::DetectorConfig;

/// One service's overrides of the `[detector]` alert settings; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRules {
    /// Score from which a window counts as anomalous.
    pub fire_above: Option<f64>,
    /// Consecutive anomalous windows before the alert fires.
    pub fire_after: Option<u32>,
    /// Consecutive calm windows before a firing alert resolves.
    pub resolve_after: Option<u32>,
    /// Score under which a window is calm.
    pub resolve_below: Option<f64>,
    /// Seconds an alert may fire before the level is taken as the new normal (0: never).
    pub adopt_after_s: Option<u64>,
    /// False: the service is scored and explained, but its alert is never announced.
    pub alerts: Option<bool>,
}

/// The alert rules in force for one service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRules {
    /// Score from which a window counts as anomalous.
    pub fire_above: f64,
    /// Consecutive anomalous windows before the alert fires.
    pub fire_after: u32,
    /// Consecutive calm windows before a firing alert resolves.
    pub resolve_after: u32,
    /// Score under which a window is calm.
    pub resolve_below: f64,
    /// Seconds an alert may fire before the level is taken as the new normal (0: never).
    pub adopt_after_s: u64,
    /// Whether the alert is announced.
    pub alerts: bool,
}

impl AlertRules {
    /// Check the rules; `at` names where they were set (for the message).
    fn check(&self, at: &str) -> Result<(), String> {
        if !(self.fire_above > 0.0 && self.fire_above <= 1.0) {
            return Err(format!("{at}.fire_above must be in (0, 1], not {}", self.fire_above));
        }
        if !(self.resolve_below >= 0.0 && self.resolve_below < self.fire_above) {
            return Err(format!(
                "{at}.resolve_below must be at least 0 and below fire_above ({}), not {}",
                self.fire_above, self.resolve_below
            ));
        }
        if self.fire_after == 0 || self.resolve_after == 0 {
            return Err(format!("{at}.fire_after and resolve_after must be at least 1"));
        }
        Ok(())
    }
}

impl DetectorConfig {
    /// The `[detector]` alert rules, for services without their own.
    fn default_rules(&self) -> AlertRules {
        AlertRules {
            fire_above: self.fire_above,
            fire_after: self.fire_after,
            resolve_after: self.resolve_after,
            resolve_below: self.resolve_below,
            adopt_after_s: self.adopt_after_s,
            alerts: true,
        }
    }

    /// A service's own rules: those under its id, or else under the longest pattern ending in `*`
    /// that its id starts with (`batch-*`).
    pub fn own_rules(&self, service: &str) -> Option<&ServiceRules> {
        self.services.get(service).or_else(|| {
            self.services
                .iter()
                .filter_map(|(k, r)| Some((k.strip_suffix('*')?, r)))
                .filter(|(prefix, _)| service.starts_with(prefix))
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, r)| r)
        })
    }

    /// The alert rules for `service`: its own settings under `services`, the defaults elsewhere.
    pub fn rules(&self, service: &str) -> AlertRules {
        let d = self.default_rules();
        let Some(own) = self.own_rules(service) else {
            return d;
        };
        AlertRules {
            fire_above: own.fire_above.unwrap_or(d.fire_above),
            fire_after: own.fire_after.unwrap_or(d.fire_after),
            resolve_after: own.resolve_after.unwrap_or(d.resolve_after),
            resolve_below: own.resolve_below.unwrap_or(d.resolve_below),
            adopt_after_s: own.adopt_after_s.unwrap_or(d.adopt_after_s),
            alerts: own.alerts.unwrap_or(d.alerts),
        }
    }

    /// Check the default rules and every service's, naming the first bad setting.
    pub fn check_rules(&self) -> Result<(), String> {
        self.default_rules().check("detector")?;
        for service in self.services.keys() {
            self.rules(service).check(&format!("detector.services.{service}"))?;
        }
        Ok(())
    }
}

impl DetectorConfig {
    /// Take the alert rules of `new` (settings read again, as on SIGHUP): `fire_above`,
    /// `fire_after`, `resolve_after`, `resolve_below`, `adopt_after_s` and `services`. Returns
    /// what changed (each as `key old → new`, or a service's rules added, removed or changed), and
    /// the other settings `new` changes, which are left as they are because they shape what the
    /// detector has learned (its baselines, models and checkpoints) and apply only on a restart.
    pub fn take_rules(&mut self, new: DetectorConfig) -> (Vec<String>, Vec<String>) {
        fn take<T: PartialEq + std::fmt::Display>(out: &mut Vec<String>, key: &str, mine: &mut T, new: T) {
            if *mine != new {
                out.push(format!("{key} {mine} → {new}"));
                *mine = new;
            }
        }
        let mut restart = Vec::new();
        let mut at_start = |key: &str, same: bool| {
            if !same {
                restart.push(key.to_owned());
            }
        };
        at_start("warmup_windows", self.warmup_windows == new.warmup_windows);
        at_start("history_windows", self.history_windows == new.history_windows);
        at_start("threshold", self.threshold == new.threshold);
        at_start("top_features", self.top_features == new.top_features);
        at_start("models_dir", self.models_dir == new.models_dir);
        at_start("checkpoint_every_s", self.checkpoint_every_s == new.checkpoint_every_s);
        let json = |c: &crate::learned::LearnedConfig| serde_json::to_value(c).ok();
        at_start("learned", json(&self.learned) == json(&new.learned));

        let mut applied = Vec::new();
        take(&mut applied, "fire_above", &mut self.fire_above, new.fire_above);
        take(&mut applied, "fire_after", &mut self.fire_after, new.fire_after);
        take(
            &mut applied,
            "resolve_after",
            &mut self.resolve_after,
            new.resolve_after,
        );
        take(
            &mut applied,
            "resolve_below",
            &mut self.resolve_below,
            new.resolve_below,
        );
        take(
            &mut applied,
            "adopt_after_s",
            &mut self.adopt_after_s,
            new.adopt_after_s,
        );
        for (key, rules) in &new.services {
            match self.services.get(key) {
                None => applied.push(format!("services.{key} added")),
                Some(r) if r != rules => applied.push(format!("services.{key} changed")),
                Some(_) => {}
            }
        }
        for key in self.services.keys().filter(|k| !new.services.contains_key(*k)) {
            applied.push(format!("services.{key} removed"));
        }
        self.services = new.services;
        (applied, restart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_overrides_only_what_it_sets() {
        let path = std::env::temp_dir().join(format!("homeostat-rules-{}.toml", std::process::id()));
        let toml = "[detector.services.batch]\nfire_above = 0.8\nfire_after = 6\n\n[detector.services.new]\nalerts = false\n\n[detector.services.\"jobs-*\"]\nresolve_after = 12\n";
        std::fs::write(&path, toml).expect("write");
        let loaded = runtime::config::load_config(Some(&path), []);
        let _ = std::fs::remove_file(&path);
        let cfg: DetectorConfig = loaded.expect("loads").section("detector").expect("parses");
        let default = cfg.rules("checkout");
        assert_eq!((default.fire_above, default.fire_after, default.alerts), (0.5, 2, true));
        let batch = cfg.rules("batch");
        assert_eq!((batch.fire_above, batch.fire_after), (0.8, 6));
        assert_eq!(
            (
                batch.resolve_after,
                batch.resolve_below,
                batch.adopt_after_s,
                batch.alerts
            ),
            (
                default.resolve_after,
                default.resolve_below,
                default.adopt_after_s,
                true
            ),
            "the rest from [detector]"
        );
        assert!(!cfg.rules("new").alerts);
        assert_eq!(cfg.rules("jobs-nightly").resolve_after, 12, "a quoted pattern key");
        assert_eq!(cfg.check_rules(), Ok(()));
    }

    #[test]
    fn patterns_cover_families_and_the_most_specific_wins() {
        let mut cfg = DetectorConfig::default();
        let rules = |fire_after| ServiceRules {
            fire_after: Some(fire_after),
            ..ServiceRules::default()
        };
        cfg.services.insert("batch-*".into(), rules(4));
        cfg.services.insert("batch-eu-*".into(), rules(8));
        cfg.services.insert("batch-eu-7".into(), rules(16));
        cfg.services.insert("*".into(), rules(3));
        assert_eq!(cfg.rules("batch-us-1").fire_after, 4);
        assert_eq!(cfg.rules("batch-eu-1").fire_after, 8);
        assert_eq!(cfg.rules("batch-eu-7").fire_after, 16, "its own id first");
        assert_eq!(cfg.rules("checkout").fire_after, 3, "`*` is every other service");
        cfg.services.remove("*");
        assert_eq!(cfg.rules("checkout").fire_after, 2, "the default");
        assert!(cfg.own_rules("checkout").is_none());
    }

    #[test]
    fn bad_rules_are_named() {
        let mut cfg = DetectorConfig::default();
        cfg.services.insert(
            "batch".into(),
            ServiceRules {
                fire_above: Some(0.2),
                ..ServiceRules::default()
            },
        );
        let e = cfg
            .check_rules()
            .expect_err("resolve_below 0.3 is not below fire_above 0.2");
        assert!(e.starts_with("detector.services.batch.resolve_below"), "{e}");
        cfg.services.clear();
        cfg.fire_above = 1.5;
        assert!(
            cfg.check_rules()
                .expect_err("too high")
                .starts_with("detector.fire_above")
        );
    }
}
