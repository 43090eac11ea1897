//! The safety envelope: the rules every proposed action passes before it may change anything.
//! Checked in this order, the first that applies decides:
//!
//! 1. **kill switch** — when on, nothing is done (the incident is still recorded);
//! 2. **sparse data** — no action on a service whose recent windows are too few or too thin to
//!    judge (and later to verify) anything;
//! 3. **loop detection** — the same remedy for the same service, repeated `loop_limit` times in
//!    `loop_window_s`, is not tried again: the incident is escalated to people;
//! 4. **cooldown** — one action per service per `cooldown_s`;
//! 5. **budget** — at most `budget_per_hour` actions across the fleet in any hour;
//! 6. **blast radius** — never more than `max_instance_fraction` of a service's instances at once
//!    (always allowing one);
//! 7. **approval** — destructive strategies wait for a person's approval.
//!
//! Dry-run and shadow modes sit outside the envelope: an allowed action is still only recorded
//! (dry-run) or evaluated (shadow) unless the mode is `execute`.

use std::collections::{HashMap, VecDeque};

use homeostat_schemas::{Strategy, Timestamp};
use serde::Deserialize;

/// `[actuator.safety]` configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Seconds between two actions on one service.
    pub cooldown_s: u64,
    /// Actions across the fleet in any hour.
    pub budget_per_hour: usize,
    /// Largest fraction of a service's instances one action may touch (one is always allowed).
    pub max_instance_fraction: f64,
    /// Window (s) in which repeats of the same remedy on one service are counted.
    pub loop_window_s: u64,
    /// Repeats of the same remedy in the window that make it a loop.
    pub loop_limit: usize,
    /// Recent windows with data a service needs before any action.
    pub min_windows: usize,
    /// Events a window needs to count as data.
    pub min_events: u64,
    /// Strategies that wait for a person's approval.
    pub approval_required: Vec<Strategy>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            cooldown_s: 300,
            budget_per_hour: 20,
            max_instance_fraction: 0.34,
            loop_window_s: 3600,
            loop_limit: 3,
            min_windows: 6,
            min_events: 20,
            approval_required: vec![
                Strategy::ServiceRestart,
                Strategy::ConfigurationRollback,
                Strategy::ResourceAllocation,
            ],
        }
    }
}

/// An action someone wants to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal<'a> {
    /// Service.
    pub service: &'a str,
    /// Strategy.
    pub strategy: Strategy,
    /// Instances the action touches.
    pub instances: usize,
    /// Instances the service has.
    pub instances_total: usize,
    /// Event counts of the service's recent windows, newest last.
    pub recent_events: &'a [u64],
    /// When, ms.
    pub t: Timestamp,
    /// It replaces a remedy of the same incident that was just rolled back: the cooldown, meant
    /// to space independent actions, does not apply.
    pub follow_up: bool,
}

/// Why an action is not taken (now).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The kill switch is on.
    KillSwitch,
    /// Too little data to act on.
    SparseData {
        /// Windows with enough events.
        windows: usize,
        /// Needed.
        needed: usize,
    },
    /// The same remedy keeps being applied.
    Loop {
        /// Times in the window.
        repeats: usize,
    },
    /// The service was acted on recently.
    Cooldown {
        /// When it may be acted on again, ms.
        until: Timestamp,
    },
    /// The fleet's hourly budget is spent.
    Budget {
        /// Actions in the last hour.
        used: usize,
    },
    /// Too many instances at once.
    BlastRadius {
        /// Asked for.
        instances: usize,
        /// Allowed.
        allowed: usize,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::KillSwitch => write!(f, "the kill switch is on"),
            Reason::SparseData { windows, needed } => {
                write!(f, "sparse data: {windows} recent windows with data, {needed} needed")
            }
            Reason::Loop { repeats } => write!(f, "the same remedy ran {repeats} times within the loop window"),
            Reason::Cooldown { until } => write!(f, "cooldown until {until}"),
            Reason::Budget { used } => write!(f, "hourly action budget spent ({used} actions)"),
            Reason::BlastRadius { instances, allowed } => {
                write!(
                    f,
                    "blast radius: {instances} instances asked, at most {allowed} at once"
                )
            }
        }
    }
}

/// The envelope's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go ahead (within the configured mode).
    Allow,
    /// Wait for a person's approval.
    NeedsApproval,
    /// Not now, for this reason.
    Deny(Reason),
    /// Not again: hand the incident to people.
    Escalate(Reason),
}

/// What the envelope remembers of the actions taken, kept across restarts.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    done: VecDeque<(Timestamp, String, Strategy)>,
    last: HashMap<String, Timestamp>,
}

/// The envelope's state: what was done, when, and the kill switch.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    cfg: SafetyConfig,
    kill: bool,
    done: VecDeque<(Timestamp, String, Strategy)>,
    last: HashMap<String, Timestamp>,
}

impl Envelope {
    /// An envelope with nothing done yet.
    pub fn new(cfg: SafetyConfig) -> Self {
        Self { cfg, ..Self::default() }
    }

    /// What it remembers of the actions taken (for cooldowns, the budget and loops), as JSON.
    pub fn memory(&self) -> Memory {
        Memory {
            done: self.done.clone(),
            last: self.last.clone(),
        }
    }

    /// Take over the memory an earlier process kept with [`Self::memory`].
    pub fn remember(&mut self, m: Memory) {
        self.done = m.done;
        self.last = m.last;
    }

    /// Turn the kill switch on or off.
    pub fn set_kill_switch(&mut self, on: bool) {
        self.kill = on;
    }

    /// Is the kill switch on?
    pub fn kill_switch(&self) -> bool {
        self.kill
    }

    /// Judge a proposal against every rule, in order.
    pub fn check(&self, p: &Proposal<'_>) -> Verdict {
        let c = &self.cfg;
        if self.kill {
            return Verdict::Deny(Reason::KillSwitch);
        }
        let windows = p.recent_events.iter().filter(|n| **n >= c.min_events).count();
        if windows < c.min_windows {
            return Verdict::Deny(Reason::SparseData {
                windows,
                needed: c.min_windows,
            });
        }
        let since = p.t - (c.loop_window_s as i64) * 1000;
        let repeats = self
            .done
            .iter()
            .filter(|(t, s, st)| *t >= since && s == p.service && *st == p.strategy)
            .count();
        if repeats >= c.loop_limit {
            return Verdict::Escalate(Reason::Loop { repeats });
        }
        if let Some(last) = self.last.get(p.service).filter(|_| !p.follow_up) {
            let until = last + (c.cooldown_s as i64) * 1000;
            if p.t < until {
                return Verdict::Deny(Reason::Cooldown { until });
            }
        }
        let used = self.done.iter().filter(|(t, _, _)| *t > p.t - 3_600_000).count();
        if used >= c.budget_per_hour {
            return Verdict::Deny(Reason::Budget { used });
        }
        let allowed = ((p.instances_total as f64 * c.max_instance_fraction).floor() as usize).max(1);
        if p.instances > allowed {
            return Verdict::Deny(Reason::BlastRadius {
                instances: p.instances,
                allowed,
            });
        }
        if c.approval_required.contains(&p.strategy) {
            return Verdict::NeedsApproval;
        }
        Verdict::Allow
    }

    /// Record that a proposal was carried out (approved or allowed).
    pub fn record(&mut self, p: &Proposal<'_>) {
        self.done.push_back((p.t, p.service.to_owned(), p.strategy));
        self.last.insert(p.service.to_owned(), p.t);
        let horizon = p.t - (self.cfg.loop_window_s.max(3600) as i64) * 1000;
        while self.done.front().is_some_and(|(t, _, _)| *t < horizon) {
            self.done.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: [u64; 8] = [100; 8];

    fn p(service: &str, strategy: Strategy, t_s: i64) -> Proposal<'_> {
        Proposal {
            service,
            strategy,
            instances: 1,
            instances_total: 3,
            recent_events: &DATA,
            t: t_s * 1000,
            follow_up: false,
        }
    }

    fn env() -> Envelope {
        Envelope::new(SafetyConfig::default())
    }

    #[test]
    fn a_sound_proposal_is_allowed() {
        assert_eq!(env().check(&p("api", Strategy::GradualTrafficShift, 0)), Verdict::Allow);
    }

    #[test]
    fn the_kill_switch_stops_everything() {
        let mut e = env();
        e.set_kill_switch(true);
        assert_eq!(
            e.check(&p("api", Strategy::GradualTrafficShift, 0)),
            Verdict::Deny(Reason::KillSwitch)
        );
        e.set_kill_switch(false);
        assert_eq!(e.check(&p("api", Strategy::GradualTrafficShift, 0)), Verdict::Allow);
    }

    #[test]
    fn no_action_on_sparse_data() {
        let thin = [100, 3, 2, 100, 1, 0, 100, 2];
        let mut q = p("api", Strategy::GradualTrafficShift, 0);
        q.recent_events = &thin;
        assert_eq!(
            env().check(&q),
            Verdict::Deny(Reason::SparseData { windows: 3, needed: 6 })
        );
        q.recent_events = &[];
        assert!(matches!(
            env().check(&q),
            Verdict::Deny(Reason::SparseData { windows: 0, .. })
        ));
    }

    #[test]
    fn one_action_per_service_per_cooldown() {
        let mut e = env();
        e.record(&p("api", Strategy::GradualTrafficShift, 0));
        assert_eq!(
            e.check(&p("api", Strategy::CircuitBreakerActivation, 100)),
            Verdict::Deny(Reason::Cooldown { until: 300_000 })
        );
        assert_eq!(
            e.check(&p("db", Strategy::CircuitBreakerActivation, 100)),
            Verdict::Allow
        );
        assert_eq!(
            e.check(&p("api", Strategy::CircuitBreakerActivation, 300)),
            Verdict::Allow
        );
    }

    #[test]
    fn the_hourly_budget_caps_the_fleet() {
        let mut e = Envelope::new(SafetyConfig {
            budget_per_hour: 3,
            ..SafetyConfig::default()
        });
        for (i, s) in ["a", "b", "c"].iter().enumerate() {
            e.record(&p(s, Strategy::GradualTrafficShift, i as i64 * 10));
        }
        assert_eq!(
            e.check(&p("d", Strategy::GradualTrafficShift, 60)),
            Verdict::Deny(Reason::Budget { used: 3 })
        );
        // An hour after the first, one slot is free again.
        assert_eq!(e.check(&p("d", Strategy::GradualTrafficShift, 3601)), Verdict::Allow);
    }

    #[test]
    fn the_blast_radius_caps_instances_at_once() {
        let mut q = p("api", Strategy::ServiceRestart, 0);
        q.instances = 2;
        q.instances_total = 3;
        assert_eq!(
            env().check(&q),
            Verdict::Deny(Reason::BlastRadius {
                instances: 2,
                allowed: 1
            })
        );
        q.instances = 3;
        q.instances_total = 9;
        assert_eq!(env().check(&q), Verdict::NeedsApproval, "3 of 9 is within 34 %");
        q.instances = 1;
        q.instances_total = 1;
        assert_eq!(
            env().check(&q),
            Verdict::NeedsApproval,
            "one instance is always allowed"
        );
    }

    #[test]
    fn a_repeating_remedy_is_escalated() {
        let mut e = env();
        for k in 0..3 {
            e.record(&p("api", Strategy::ServiceRestart, k * 600));
        }
        assert_eq!(
            e.check(&p("api", Strategy::ServiceRestart, 1800)),
            Verdict::Escalate(Reason::Loop { repeats: 3 })
        );
        // Another remedy is not a loop; an hour later the old repeats have aged out.
        assert_eq!(e.check(&p("api", Strategy::GradualTrafficShift, 1800)), Verdict::Allow);
        assert_eq!(
            e.check(&p("api", Strategy::ServiceRestart, 1200 + 3601)),
            Verdict::NeedsApproval
        );
    }

    #[test]
    fn destructive_strategies_need_approval() {
        assert_eq!(
            env().check(&p("api", Strategy::ServiceRestart, 0)),
            Verdict::NeedsApproval
        );
        assert_eq!(
            env().check(&p("api", Strategy::ConfigurationRollback, 0)),
            Verdict::NeedsApproval
        );
        assert_eq!(env().check(&p("api", Strategy::CacheInvalidation, 0)), Verdict::Allow);
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            Reason::BlastRadius {
                instances: 2,
                allowed: 1
            }
            .to_string(),
            "blast radius: 2 instances asked, at most 1 at once"
        );
    }
}
