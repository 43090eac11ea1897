//! Per-service alert state with hysteresis, and the recent health trend.

use std::collections::VecDeque;

use homeostat_schemas::{AlertState as Wire, Timestamp};

use crate::rules::AlertRules;

/// Alert state of one service (kept in checkpoints, so that an alert firing when the detector
/// stops still resolves after it restarts).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertState {
    /// True while the alert fires.
    pub firing: bool,
    /// When (event time) the alert began firing; cleared once its level has been taken as the
    /// service's new normal (see `DetectorConfig::adopt_after_s`).
    #[serde(default)]
    pub firing_since: Option<Timestamp>,
    /// The alert's level was taken as the service's new normal (its resolution says so); cleared
    /// when the next alert fires.
    #[serde(default)]
    pub adopted: bool,
    /// The firing alert was announced on `alerts.v1` (its service's alerts were on when it fired,
    /// or were turned on while it fired), so its resolution is announced too. States saved before
    /// this was kept read as announced: until then a firing alert always was, except on a service
    /// whose alerts were off.
    #[serde(default = "announced_before")]
    pub announced: bool,
    above: u32,
    below: u32,
    recent: VecDeque<(Timestamp, f64)>,
    /// The evidence the current run of high windows last counted, and when it was first seen.
    /// Kept in checkpoints, so a spike still held in the windows when the detector restarts is not
    /// counted a second time; states saved before it was kept hold none.
    #[serde(default)]
    held: Option<(Vec<(String, f64)>, Timestamp)>,
}

/// What a window's score rests on: the features that stand out in it (its strongest, and any other
/// at least half as far from its baseline), with their values, and the span of time the window
/// covers (`event_time − window_start`).
///
/// Windows overlap (60 s windows every 10 s), and a window's maximum holds one spike for as long
/// as the spike stays in the window: one CPU sample at 0.82 makes six windows in a row anomalous
/// on `cpu_max_ratio` = 0.82 and nothing else. Such windows are one piece of evidence, so
/// `fire_after` counts them once, until the same readings have lasted longer than one window (then
/// they are not one sample, and each further window counts again). Any other value, or another
/// feature standing out, is new evidence: a fault moves its readings from window to window.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The features that stand out and their values, in the order of the features' names.
    pub readings: Vec<(String, f64)>,
    /// The window's span, ms.
    pub span_ms: i64,
}

impl Evidence {
    /// The evidence of a window scored with these contributions (none: no evidence).
    pub fn of(contributions: &[homeostat_schemas::Contribution], span_ms: i64) -> Option<Self> {
        let strongest = contributions.iter().map(|c| c.deviation.abs()).fold(0.0, f64::max);
        let mut readings: Vec<(String, f64)> = contributions
            .iter()
            .filter(|c| c.deviation.abs() >= strongest / 2.0)
            .map(|c| (c.feature.clone(), c.value))
            .collect();
        readings.sort_by(|a, b| a.0.cmp(&b.0));
        (!readings.is_empty()).then_some(Self { readings, span_ms })
    }
}

fn announced_before() -> bool {
    true
}

impl AlertState {
    /// Fold in a window's score, and what it rests on, under the service's alert rules; return
    /// the state change to announce on `alerts.v1`, if any. A high window counts toward
    /// `fire_after` unless it repeats the evidence already counted (see [`Evidence`]); without
    /// evidence every high window counts. With the rules' `alerts` off the state changes all the
    /// same but nothing is announced; an alert that fired then is announced on its first anomalous
    /// window once they are on again.
    pub fn observe(&mut self, score: f64, t: Timestamp, evidence: Option<&Evidence>, cfg: &AlertRules) -> Option<Wire> {
        let change = self.transition(score, t, evidence, cfg);
        self.announce(change, cfg.alerts)
    }

    /// Whether the service's alert fires and is announced: `alerting` on `anomalies.v1`.
    pub fn alerting(&self, cfg: &AlertRules) -> bool {
        self.firing && self.announced && cfg.alerts
    }

    /// The state change a window's score makes, announced or not.
    fn transition(&mut self, score: f64, t: Timestamp, evidence: Option<&Evidence>, cfg: &AlertRules) -> Option<Wire> {
        self.recent.push_back((t, 1.0 - score));
        while self.recent.len() > 6 {
            self.recent.pop_front();
        }
        if score >= cfg.fire_above {
            match (evidence, &self.held) {
                // The same readings still in the window: the evidence already counted.
                (Some(e), Some((readings, since)))
                    if *readings == e.readings && t.saturating_sub(*since) < e.span_ms => {}
                // The same readings for longer than a window are lasting: they count again.
                (Some(e), Some((readings, _))) if *readings == e.readings => self.above += 1,
                // New evidence counts, and is held (only finite readings: a checkpoint keeps
                // what is held, and JSON has no NaN).
                _ => {
                    self.above += 1;
                    self.held = evidence
                        .filter(|e| e.readings.iter().all(|(_, v)| v.is_finite()))
                        .map(|e| (e.readings.clone(), t));
                }
            }
        } else {
            self.above = 0;
            self.held = None;
        }
        if score < cfg.resolve_below {
            self.below += 1;
        } else {
            self.below = 0;
        }
        if !self.firing && self.above >= cfg.fire_after {
            self.firing = true;
            self.firing_since = Some(t);
            self.adopted = false;
            self.below = 0;
            return Some(Wire::Firing);
        }
        if self.firing && self.below >= cfg.resolve_after {
            self.firing = false;
            self.firing_since = None;
            self.above = 0;
            return Some(Wire::Resolved);
        }
        None
    }

    /// What of a state change is announced on `alerts.v1`, given whether the service's alerts
    /// are on. A firing alert is announced when alerts are on, and also later, on the first
    /// anomalous window after they were turned on while it still fires (so no `resolved` comes
    /// without its `firing`, and none is announced on a calm window). A resolution is announced
    /// when its firing was, even if the alerts were turned off since, so no announced alert is
    /// left open.
    fn announce(&mut self, change: Option<Wire>, alerts: bool) -> Option<Wire> {
        match change {
            Some(Wire::Firing) => {
                self.announced = alerts;
                alerts.then_some(Wire::Firing)
            }
            Some(Wire::Resolved) => std::mem::take(&mut self.announced).then_some(Wire::Resolved),
            None if self.firing && alerts && !self.announced && self.above > 0 => {
                self.announced = true;
                Some(Wire::Firing)
            }
            None => None,
        }
    }

    /// Whether a firing alert has now lasted `adopt_after_s` (0: never), so that the service's
    /// current level is to be taken as its new normal. True once per alert.
    pub fn take_adoption(&mut self, t: Timestamp, cfg: &AlertRules) -> bool {
        if self.firing && self.firing_since.is_none() && !self.adopted {
            // Restored from a checkpoint written before alerts kept their start: count from now.
            self.firing_since = Some(t);
        }
        let after_ms = i64::try_from(cfg.adopt_after_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        match self.firing_since {
            Some(since) if cfg.adopt_after_s > 0 && t.saturating_sub(since) >= after_ms => {
                self.firing_since = None;
                self.adopted = true;
                true
            }
            _ => false,
        }
    }

    /// Least-squares slope of the health score over the recent windows, per minute.
    pub fn trend_per_minute(&self) -> f64 {
        let n = self.recent.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let t0 = self.recent[0].0;
        let xs: Vec<f64> = self.recent.iter().map(|(t, _)| (t - t0) as f64 / 60_000.0).collect();
        let mx = xs.iter().sum::<f64>() / n;
        let my = self.recent.iter().map(|r| r.1).sum::<f64>() / n;
        let sxy: f64 = xs.iter().zip(&self.recent).map(|(x, r)| (x - mx) * (r.1 - my)).sum();
        let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
        if sxx > 0.0 { sxy / sxx } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DetectorConfig;

    #[test]
    fn fires_after_consecutive_highs_and_resolves_after_consecutive_lows() {
        let cfg = DetectorConfig {
            fire_after: 2,
            resolve_after: 3,
            resolve_below: 0.3,
            ..DetectorConfig::default()
        }
        .rules("any");
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, None, &cfg), None);
        assert_eq!(s.observe(0.1, 1, None, &cfg), None, "one high window does not fire");
        assert_eq!(s.observe(0.9, 2, None, &cfg), None);
        assert_eq!(s.observe(0.8, 3, None, &cfg), Some(Wire::Firing));
        assert_eq!(s.observe(0.2, 4, None, &cfg), None);
        assert_eq!(
            s.observe(0.4, 5, None, &cfg),
            None,
            "between thresholds: no flapping, count restarts"
        );
        assert_eq!(s.observe(0.2, 6, None, &cfg), None);
        assert_eq!(s.observe(0.2, 7, None, &cfg), None);
        assert_eq!(s.observe(0.2, 8, None, &cfg), Some(Wire::Resolved));
    }

    /// Rules that fire on the second high window.
    fn fire_after_two() -> AlertRules {
        DetectorConfig {
            fire_after: 2,
            ..DetectorConfig::default()
        }
        .rules("any")
    }

    /// A 60 s window whose evidence is one feature alone, at `value`.
    fn only(feature: &str, value: f64) -> Evidence {
        Evidence {
            readings: vec![(feature.into(), value)],
            span_ms: 60_000,
        }
    }

    /// A 60 s window whose evidence is the CPU maximum alone, at `value`.
    fn cpu(value: f64) -> Evidence {
        only("cpu_max_ratio", value)
    }

    #[test]
    fn one_spike_held_in_overlapping_windows_is_one_piece_of_evidence() {
        let cfg = fire_after_two();
        // One CPU sample at 0.82 stays in six 60 s windows, 10 s apart: no alert.
        let mut s = AlertState::default();
        for t in 0..6 {
            assert_eq!(s.observe(0.9, t * 10_000, Some(&cpu(0.82)), &cfg), None, "window {t}");
        }
        assert_eq!(s.observe(0.1, 60_000, Some(&cpu(0.55)), &cfg), None);
        // A second, different reading while the first is held is new evidence: it fires.
        assert_eq!(s.observe(0.9, 70_000, Some(&cpu(0.82)), &cfg), None);
        assert_eq!(s.observe(0.9, 80_000, Some(&cpu(0.91)), &cfg), Some(Wire::Firing));
        // So does another feature.
        let mut s = AlertState::default();
        let latency = only("latency_mean_ms", 80.0);
        assert_eq!(s.observe(0.9, 0, Some(&cpu(0.82)), &cfg), None);
        assert_eq!(s.observe(0.9, 10_000, Some(&latency), &cfg), Some(Wire::Firing));
        // A value pinned for longer than a window (a CPU stuck at its limit) is not one sample: it
        // fires once it has outlasted the window.
        let mut s = AlertState::default();
        for t in 0..6 {
            assert_eq!(s.observe(0.9, t * 10_000, Some(&cpu(1.0)), &cfg), None, "window {t}");
        }
        assert_eq!(s.observe(0.9, 60_000, Some(&cpu(1.0)), &cfg), Some(Wire::Firing));
        // Values that move, as a fault's do, fire as before: on the second high window.
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, Some(&cpu(0.82)), &cfg), None);
        assert_eq!(s.observe(0.9, 10_000, Some(&cpu(0.84)), &cfg), Some(Wire::Firing));
        // A quantile can hold one slow request's latency too, but in a fault another feature that
        // stands out moves beside it. One that does not stand out is not part of the evidence.
        let window = |p99: f64, mean: f64, errors: f64| {
            let c = |feature: &str, value: f64, deviation: f64| homeostat_schemas::Contribution {
                feature: feature.into(),
                value,
                baseline: 0.0,
                deviation,
            };
            let readings = [
                c("latency_p99_ms", p99, 9.0),
                c("latency_mean_ms", mean, 6.0),
                c("error_rate", errors, 0.5),
            ];
            Evidence::of(&readings, 60_000).expect("evidence")
        };
        assert_eq!(window(240.0, 50.0, 0.001).readings.len(), 2);
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, Some(&window(240.0, 50.0, 0.001)), &cfg), None);
        assert_eq!(s.observe(0.9, 10_000, Some(&window(240.0, 50.0, 0.002)), &cfg), None);
        assert_eq!(
            s.observe(0.9, 20_000, Some(&window(240.0, 52.0, 0.002)), &cfg),
            Some(Wire::Firing)
        );
        assert_eq!(Evidence::of(&[], 60_000), None);
    }

    #[test]
    fn held_evidence_survives_a_checkpoint() {
        let cfg = fire_after_two();
        let spike = cpu(0.82);
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, Some(&spike), &cfg), None);
        // The detector stops and restarts from its checkpoint while the spike is still in the
        // windows: the restored state knows it was counted.
        let saved = serde_json::to_string(&s).expect("save");
        let mut restored: AlertState = serde_json::from_str(&saved).expect("restore");
        assert_eq!(restored, s);
        for t in 1..6 {
            assert_eq!(
                restored.observe(0.9, t * 10_000, Some(&spike), &cfg),
                None,
                "window {t}"
            );
        }
        // A state saved before evidence was kept holds none: its next high window counts.
        let mut old: AlertState =
            serde_json::from_str(r#"{"firing":false,"above":1,"below":0,"recent":[]}"#).expect("old state");
        assert_eq!(old.observe(0.9, 10_000, Some(&spike), &cfg), Some(Wire::Firing));
        // Readings that are not numbers are not held (JSON could not keep them); they count each
        // time, as without evidence.
        let odd = cpu(f64::NAN);
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, Some(&odd), &cfg), None);
        serde_json::from_str::<AlertState>(&serde_json::to_string(&s).expect("save")).expect("restore");
        assert_eq!(s.observe(0.9, 10_000, Some(&odd), &cfg), Some(Wire::Firing));
    }

    #[test]
    fn a_firing_alert_is_adopted_once_after_adopt_after_s() {
        let cfg = DetectorConfig {
            fire_after: 1,
            adopt_after_s: 60,
            ..DetectorConfig::default()
        }
        .rules("any");
        let mut s = AlertState::default();
        assert!(!s.take_adoption(0, &cfg), "nothing fires");
        assert_eq!(s.observe(0.9, 1_000, None, &cfg), Some(Wire::Firing));
        assert!(!s.take_adoption(60_999, &cfg), "59.999 s: not yet");
        assert!(s.take_adoption(61_000, &cfg));
        assert!(s.adopted);
        assert!(!s.take_adoption(200_000, &cfg), "once per alert");
        for t in 0..6 {
            s.observe(0.0, 210_000 + t, None, &cfg);
        }
        assert!(!s.firing, "it resolves on calm windows as any alert does");
        let off = AlertRules {
            adopt_after_s: 0,
            ..cfg
        };
        let mut s = AlertState::default();
        s.observe(0.9, 0, None, &off);
        assert!(!s.take_adoption(i64::MAX, &off), "0: never");
        // A firing alert restored from a checkpoint that did not keep its start counts from the
        // first window after the restart.
        let mut s: AlertState =
            serde_json::from_str(r#"{"firing":true,"above":3,"below":0,"recent":[]}"#).expect("old state");
        assert!(!s.take_adoption(500_000, &cfg));
        assert!(s.take_adoption(560_000, &cfg));
    }

    #[test]
    fn an_alert_is_announced_once_fired_and_resolved_only_if_announced() {
        let on = DetectorConfig {
            fire_after: 1,
            resolve_after: 1,
            ..DetectorConfig::default()
        }
        .rules("any");
        let muted = AlertRules { alerts: false, ..on };
        // Fired while muted: nothing announced, then announced on the first anomalous window
        // after the alerts were turned on, once; its resolution follows.
        let mut s = AlertState::default();
        assert_eq!(s.observe(0.9, 0, None, &muted), None);
        assert_eq!(
            s.observe(0.4, 1, None, &on),
            None,
            "turned on while firing, but on a window that is not anomalous"
        );
        assert!(s.firing && !s.announced && !s.alerting(&on));
        assert_eq!(
            s.observe(0.9, 2, None, &on),
            Some(Wire::Firing),
            "the next anomalous window"
        );
        assert!(s.alerting(&on) && !s.alerting(&muted));
        assert_eq!(s.observe(0.9, 3, None, &on), None, "once");
        assert_eq!(s.observe(0.0, 4, None, &on), Some(Wire::Resolved));
        // Fired and resolved while muted: nothing at all.
        assert_eq!(s.observe(0.9, 5, None, &muted), None);
        assert_eq!(s.observe(0.0, 6, None, &muted), None);
        assert_eq!(s.observe(0.0, 7, None, &on), None, "nothing fires: nothing to announce");
        // Announced, then muted: the resolution is still announced, so nothing is left open.
        assert_eq!(s.observe(0.9, 8, None, &on), Some(Wire::Firing));
        assert_eq!(s.observe(0.0, 9, None, &muted), Some(Wire::Resolved));
        // A firing state saved before `announced` was kept reads as announced.
        let mut old: AlertState =
            serde_json::from_str(r#"{"firing":true,"above":3,"below":0,"recent":[]}"#).expect("old state");
        assert_eq!(old.observe(0.9, 10, None, &on), None, "not announced a second time");
        assert_eq!(old.observe(0.0, 11, None, &on), Some(Wire::Resolved));
    }

    #[test]
    fn a_service_s_own_rules_decide_what_fires() {
        let strict = AlertRules {
            fire_above: 0.8,
            fire_after: 2,
            ..DetectorConfig::default().rules("any")
        };
        let mut s = AlertState::default();
        for t in 0..10 {
            assert_eq!(
                s.observe(0.7, t, None, &strict),
                None,
                "0.7 is not anomalous under fire_above 0.8"
            );
        }
        assert_eq!(s.observe(0.85, 10, None, &strict), None);
        assert_eq!(s.observe(0.85, 11, None, &strict), Some(Wire::Firing));
        assert_eq!(
            s.observe(0.4, 12, None, &strict),
            None,
            "0.4 is not calm under resolve_below 0.3"
        );
    }
}
