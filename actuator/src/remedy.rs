//! The twelve recovery strategies as typed actions. For a service's current state ([`Context`]),
//! [`propose`] checks a strategy's precondition and fills its parameters; [`Remedy::rollback`]
//! computes, before anything runs, the action that undoes it; [`Remedy::verification`] says which
//! indicator must improve, by how much and within how long, for the remedy to count as having
//! worked. Executors carry remedies out; the closed loop judges them with [`Verification::judge`].

use homeostat_schemas::Strategy;

/// One instance behind the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Server name in the gateway.
    pub name: String,
    /// Passing its health checks and not the worst one.
    pub healthy: bool,
    /// In rotation (administratively ready), as opposed to drained or in maintenance.
    pub ready: bool,
    /// Current weight.
    pub weight: u32,
    /// A backup server (takes traffic only when routed to).
    pub backup: bool,
}

/// The service's indicators at decision time.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Indicators {
    /// Failed requests / requests.
    pub error_rate: f64,
    /// p99 latency, ms.
    pub latency_p99_ms: f64,
    /// Largest memory ratio.
    pub memory_ratio: f64,
    /// Requests per second.
    pub request_rate: f64,
    /// Largest CPU ratio.
    pub cpu_ratio: f64,
}

/// What a strategy needs to know about the service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Service.
    pub service: String,
    /// Its instances (primary and backup).
    pub instances: Vec<Instance>,
    /// Its indicators now.
    pub now: Indicators,
    /// Forecast requests per second at the horizon, if any.
    pub forecast_rps: Option<f64>,
    /// Requests per second one instance serves comfortably.
    pub rps_per_instance: f64,
    /// Configuration version before the latest change, if a change is recorded.
    pub previous_config: Option<String>,
    /// Current configuration version.
    pub config: Option<String>,
    /// The service has a cache.
    pub cache: bool,
    /// Health-check interval, s.
    pub health_check_s: u32,
    /// Most instances the service may run.
    pub max_instances: usize,
}

impl Context {
    fn primaries(&self) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(|i| !i.backup)
    }
    fn worst(&self) -> Option<&Instance> {
        self.primaries().find(|i| !i.healthy && i.ready)
    }
}

/// What the actuator cannot see of a service (`[actuator.services.NAME]`); unset facts leave
/// the strategies that need them to the executor.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceFacts {
    /// Most instances the service may run (instance scaling).
    pub max_instances: Option<usize>,
    /// Whether it has a cache to invalidate.
    pub cache: Option<bool>,
    /// Its health-check interval, s.
    pub health_check_s: Option<u32>,
}

/// For a service not behind the gateway: the context of `strategy` from what is known (the
/// service's indicators and active instances, and its configured facts), or `None` when a fact
/// the strategy's precondition needs is not known.
pub fn context_from_facts(
    strategy: Strategy,
    service: &str,
    now: Indicators,
    active_instances: usize,
    facts: &ServiceFacts,
) -> Option<Context> {
    let known = match strategy {
        Strategy::ResourceAllocation | Strategy::AlertEscalation => true,
        Strategy::InstanceScaling => facts.max_instances.is_some(),
        Strategy::CacheInvalidation => facts.cache.is_some(),
        Strategy::HealthCheckFrequencyAdjustment => facts.health_check_s.is_some(),
        _ => false,
    };
    known.then(|| Context {
        service: service.to_owned(),
        instances: (0..active_instances)
            .map(|i| Instance {
                name: format!("{service}-{i}"),
                healthy: true,
                ready: true,
                weight: 1,
                backup: false,
            })
            .collect(),
        now,
        cache: facts.cache.unwrap_or(false),
        health_check_s: facts.health_check_s.unwrap_or(0),
        max_instances: facts.max_instances.unwrap_or(0),
        ..Context::default()
    })
}

/// Does `strategy` take instances out of rotation while it acts (for the blast radius)?
pub fn takes_out_of_rotation(strategy: Strategy) -> bool {
    matches!(
        strategy,
        Strategy::ServiceRestart | Strategy::CircuitBreakerActivation | Strategy::RoutingTableUpdate
    )
}

/// A typed action. As JSON (its parameters on `actions.v1`) it is tagged by `remedy`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "remedy", rename_all = "snake_case")]
pub enum Remedy {
    /// Move traffic off an instance in steps, by lowering its weight: to each of `steps` in turn
    /// (halving down to 0), one step per interval, until it helps or is rolled back.
    GradualTrafficShift {
        /// Instance.
        instance: String,
        /// Weight now.
        from_weight: u32,
        /// The weights it goes through, the last 0.
        steps: Vec<u32>,
    },
    /// Take an instance out of rotation (drain) for a while.
    CircuitBreakerActivation {
        /// Instance.
        instance: String,
        /// Seconds before trying it again.
        open_for_s: u64,
    },
    /// Set all weights.
    LoadBalancerReconfiguration {
        /// New weight per instance.
        weights: Vec<(String, u32)>,
    },
    /// Restart one instance.
    ServiceRestart {
        /// Instance.
        instance: String,
    },
    /// Change the number of instances.
    InstanceScaling {
        /// Now.
        from: usize,
        /// After.
        to: usize,
    },
    /// Raise CPU and memory allocation.
    ResourceAllocation {
        /// Memory multiplier.
        memory_factor: f64,
        /// CPU multiplier.
        cpu_factor: f64,
    },
    /// Route to backup servers (enable them, drain the faulty primaries).
    RoutingTableUpdate {
        /// Backups enabled (those not already in rotation).
        enable: Vec<String>,
        /// Primaries drained.
        drain: Vec<String>,
    },
    /// Invalidate the service's cache.
    CacheInvalidation,
    /// Roll the configuration back.
    ConfigurationRollback {
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// Scale ahead of forecast demand.
    PredictiveScaling {
        /// Now.
        from: usize,
        /// After.
        to: usize,
    },
    /// Health checks more often while suspect.
    HealthCheckFrequencyAdjustment {
        /// Interval now, s.
        from_s: u32,
        /// Interval after, s.
        to_s: u32,
    },
    /// Page a person.
    AlertEscalation {
        /// Severity.
        severity: String,
    },
    /// Undo of an action that changed the instances' administrative state: make them ready.
    Restore {
        /// Instances to make ready.
        ready: Vec<String>,
        /// Instances to drain again (backups enabled by a route change).
        drain: Vec<String>,
    },
}

/// Why a strategy does not apply now.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{strategy} does not apply: {why}")]
pub struct Precondition {
    /// Strategy.
    pub strategy: &'static str,
    /// Why.
    pub why: String,
}

fn no(strategy: Strategy, why: impl Into<String>) -> Precondition {
    Precondition {
        strategy: strategy.as_str(),
        why: why.into(),
    }
}

/// The indicator a verification watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Indicator {
    /// Error rate.
    ErrorRate,
    /// p99 latency.
    LatencyP99,
    /// Memory ratio.
    Memory,
    /// CPU ratio.
    Cpu,
    /// Nothing to measure (escalation, health-check frequency): judged by the incident resolving.
    None,
}

impl Indicator {
    /// This indicator's value.
    pub fn of(self, i: &Indicators) -> f64 {
        match self {
            Indicator::ErrorRate => i.error_rate,
            Indicator::LatencyP99 => i.latency_p99_ms,
            Indicator::Memory => i.memory_ratio,
            Indicator::Cpu => i.cpu_ratio,
            Indicator::None => 0.0,
        }
    }
}

/// When a remedy counts as having worked.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// What must improve.
    pub indicator: Indicator,
    /// By at least this fraction of its value at the decision (0.3 = 30 % lower).
    pub better_by: f64,
    /// Within this long, s.
    pub within_s: u64,
}

impl Verification {
    /// Did it work? `before` at the decision, `after` at the end of the window. With no
    /// indicator, it worked when the incident resolved.
    pub fn judge(&self, before: &Indicators, after: &Indicators, resolved: bool) -> bool {
        if self.indicator == Indicator::None {
            return resolved;
        }
        let (b, a) = (self.indicator.of(before), self.indicator.of(after));
        a <= b * (1.0 - self.better_by) || resolved
    }
}

/// Check `strategy`'s precondition on `ctx` and fill its parameters.
pub fn propose(strategy: Strategy, ctx: &Context) -> Result<Remedy, Precondition> {
    let primaries: Vec<&Instance> = ctx.primaries().collect();
    let healthy = primaries.iter().filter(|i| i.healthy).count();
    let worst = || {
        ctx.worst()
            .ok_or_else(|| no(strategy, "no instance stands out as faulty"))
    };
    let spare = || {
        if healthy == 0 {
            Err(no(strategy, "no healthy instance would be left to take the traffic"))
        } else {
            Ok(())
        }
    };
    Ok(match strategy {
        Strategy::GradualTrafficShift => {
            let w = worst()?;
            spare()?;
            if w.weight == 0 {
                return Err(no(strategy, format!("{} already takes no traffic", w.name)));
            }
            let mut steps = Vec::new();
            let mut next = w.weight / 2;
            while steps.len() < 2 && next > 0 {
                steps.push(next);
                next /= 2;
            }
            steps.push(0);
            Remedy::GradualTrafficShift {
                instance: w.name.clone(),
                from_weight: w.weight,
                steps,
            }
        }
        Strategy::CircuitBreakerActivation => {
            let w = worst()?;
            spare()?;
            Remedy::CircuitBreakerActivation {
                instance: w.name.clone(),
                open_for_s: 60,
            }
        }
        Strategy::LoadBalancerReconfiguration => {
            spare()?;
            let weights = primaries
                .iter()
                .map(|i| (i.name.clone(), if i.healthy { i.weight.max(1) * 2 } else { 1 }))
                .collect();
            Remedy::LoadBalancerReconfiguration { weights }
        }
        Strategy::ServiceRestart => {
            let w = worst()?;
            spare()?;
            Remedy::ServiceRestart {
                instance: w.name.clone(),
            }
        }
        Strategy::InstanceScaling => {
            let n = primaries.len();
            if n >= ctx.max_instances {
                return Err(no(
                    strategy,
                    format!("already at the maximum of {} instances", ctx.max_instances),
                ));
            }
            Remedy::InstanceScaling { from: n, to: n + 1 }
        }
        Strategy::ResourceAllocation => {
            if ctx.now.memory_ratio < 0.8 && ctx.now.cpu_ratio < 0.8 {
                return Err(no(strategy, "neither memory nor CPU is near its limit"));
            }
            Remedy::ResourceAllocation {
                memory_factor: if ctx.now.memory_ratio >= 0.8 { 1.5 } else { 1.0 },
                cpu_factor: if ctx.now.cpu_ratio >= 0.8 { 1.5 } else { 1.0 },
            }
        }
        Strategy::RoutingTableUpdate => {
            if !ctx.instances.iter().any(|i| i.backup) {
                return Err(no(strategy, "the service has no backup endpoints"));
            }
            let drain: Vec<String> = primaries
                .iter()
                .filter(|i| !i.healthy && i.ready)
                .map(|i| i.name.clone())
                .collect();
            if drain.is_empty() {
                return Err(no(strategy, "no primary endpoint stands out as faulty"));
            }
            Remedy::RoutingTableUpdate {
                enable: ctx
                    .instances
                    .iter()
                    .filter(|i| i.backup && !i.ready)
                    .map(|i| i.name.clone())
                    .collect(),
                drain,
            }
        }
        Strategy::CacheInvalidation => {
            if !ctx.cache {
                return Err(no(strategy, "the service has no cache"));
            }
            Remedy::CacheInvalidation
        }
        Strategy::ConfigurationRollback => match (&ctx.config, &ctx.previous_config) {
            (Some(c), Some(p)) => Remedy::ConfigurationRollback {
                from: c.clone(),
                to: p.clone(),
            },
            _ => return Err(no(strategy, "no earlier configuration is recorded")),
        },
        Strategy::PredictiveScaling => {
            let n = primaries.len();
            let Some(rps) = ctx.forecast_rps else {
                return Err(no(strategy, "no traffic forecast"));
            };
            let need = ((rps / ctx.rps_per_instance.max(1e-9)).ceil() as usize).min(ctx.max_instances);
            if need <= n {
                return Err(no(strategy, format!("{n} instances cover the forecast {rps:.0} rps")));
            }
            Remedy::PredictiveScaling { from: n, to: need }
        }
        Strategy::HealthCheckFrequencyAdjustment => {
            if ctx.health_check_s <= 2 {
                return Err(no(strategy, "health checks are already every 2 s or faster"));
            }
            Remedy::HealthCheckFrequencyAdjustment {
                from_s: ctx.health_check_s,
                to_s: (ctx.health_check_s / 4).max(2),
            }
        }
        Strategy::AlertEscalation => Remedy::AlertEscalation {
            severity: "critical".into(),
        },
    })
}

impl Remedy {
    /// The strategy this remedy belongs to (`None` for a restore).
    pub fn strategy(&self) -> Option<Strategy> {
        Some(match self {
            Remedy::GradualTrafficShift { .. } => Strategy::GradualTrafficShift,
            Remedy::CircuitBreakerActivation { .. } => Strategy::CircuitBreakerActivation,
            Remedy::LoadBalancerReconfiguration { .. } => Strategy::LoadBalancerReconfiguration,
            Remedy::ServiceRestart { .. } => Strategy::ServiceRestart,
            Remedy::InstanceScaling { .. } => Strategy::InstanceScaling,
            Remedy::ResourceAllocation { .. } => Strategy::ResourceAllocation,
            Remedy::RoutingTableUpdate { .. } => Strategy::RoutingTableUpdate,
            Remedy::CacheInvalidation => Strategy::CacheInvalidation,
            Remedy::ConfigurationRollback { .. } => Strategy::ConfigurationRollback,
            Remedy::PredictiveScaling { .. } => Strategy::PredictiveScaling,
            Remedy::HealthCheckFrequencyAdjustment { .. } => Strategy::HealthCheckFrequencyAdjustment,
            Remedy::AlertEscalation { .. } => Strategy::AlertEscalation,
            Remedy::Restore { .. } => return None,
        })
    }

    /// How many instances this remedy takes out of rotation (for the blast radius).
    pub fn takes_out(&self) -> usize {
        match self {
            Remedy::RoutingTableUpdate { drain, .. } => drain.len(),
            r => usize::from(r.strategy().is_some_and(takes_out_of_rotation)),
        }
    }

    /// The instances a remedy acts on because they are faulty: once it has worked, these are
    /// probed and, when healthy again, the remedy is undone.
    pub fn faulty(&self) -> Vec<String> {
        match self {
            Remedy::GradualTrafficShift { instance, .. } | Remedy::CircuitBreakerActivation { instance, .. } => {
                vec![instance.clone()]
            }
            Remedy::RoutingTableUpdate { drain, .. } => drain.clone(),
            _ => Vec::new(),
        }
    }

    /// The action that undoes this one, computed from the state before it runs (`ctx`); `None`
    /// when there is nothing to undo (a restart, a cache invalidation, a page).
    pub fn rollback(&self, ctx: &Context) -> Option<Remedy> {
        match self {
            Remedy::GradualTrafficShift {
                instance, from_weight, ..
            } => Some(Remedy::LoadBalancerReconfiguration {
                weights: vec![(instance.clone(), *from_weight)],
            }),
            Remedy::CircuitBreakerActivation { instance, .. } => Some(Remedy::Restore {
                ready: vec![instance.clone()],
                drain: Vec::new(),
            }),
            Remedy::LoadBalancerReconfiguration { .. } => Some(Remedy::LoadBalancerReconfiguration {
                weights: ctx.primaries().map(|i| (i.name.clone(), i.weight)).collect(),
            }),
            Remedy::InstanceScaling { from, to } => Some(Remedy::InstanceScaling { from: *to, to: *from }),
            Remedy::PredictiveScaling { from, to } => Some(Remedy::InstanceScaling { from: *to, to: *from }),
            Remedy::ResourceAllocation {
                memory_factor,
                cpu_factor,
            } => Some(Remedy::ResourceAllocation {
                memory_factor: 1.0 / memory_factor,
                cpu_factor: 1.0 / cpu_factor,
            }),
            Remedy::RoutingTableUpdate { enable, drain } => Some(Remedy::Restore {
                ready: drain.clone(),
                drain: enable.clone(),
            }),
            Remedy::ConfigurationRollback { from, to } => Some(Remedy::ConfigurationRollback {
                from: to.clone(),
                to: from.clone(),
            }),
            Remedy::HealthCheckFrequencyAdjustment { from_s, to_s } => Some(Remedy::HealthCheckFrequencyAdjustment {
                from_s: *to_s,
                to_s: *from_s,
            }),
            Remedy::ServiceRestart { .. }
            | Remedy::CacheInvalidation
            | Remedy::AlertEscalation { .. }
            | Remedy::Restore { .. } => None,
        }
    }

    /// When this remedy counts as having worked (see [`verification_of`]).
    pub fn verification(&self, watch: Indicator, fast_s: u64, slow_s: u64) -> Verification {
        match self.strategy() {
            Some(s) => verification_of(s, watch, fast_s, slow_s),
            None => Verification {
                indicator: watch,
                better_by: 0.3,
                within_s: fast_s,
            },
        }
    }
}

/// The verification rule of a strategy, where `watch` is the incident's own indicator:
/// - it must be at least 30 % lower at the end of the window (or the incident resolved);
/// - the window is `fast_s` for traffic, cache and configuration remedies, and `slow_s` for
///   restarts, scaling and reallocation, whose instances need time to come up;
/// - a page or a health-check change is judged by the incident resolving, within `slow_s`.
pub fn verification_of(strategy: Strategy, watch: Indicator, fast_s: u64, slow_s: u64) -> Verification {
    use Strategy::*;
    let (indicator, within_s) = match strategy {
        AlertEscalation | HealthCheckFrequencyAdjustment => (Indicator::None, slow_s),
        ServiceRestart | InstanceScaling | PredictiveScaling | ResourceAllocation => (watch, slow_s),
        GradualTrafficShift
        | CircuitBreakerActivation
        | LoadBalancerReconfiguration
        | RoutingTableUpdate
        | CacheInvalidation
        | ConfigurationRollback => (watch, fast_s),
    };
    Verification {
        indicator,
        better_by: 0.3,
        within_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, healthy: bool, weight: u32, backup: bool) -> Instance {
        Instance {
            name: name.into(),
            healthy,
            ready: !backup,
            weight,
            backup,
        }
    }

    fn ctx() -> Context {
        Context {
            service: "checkout".into(),
            instances: vec![
                inst("b1", true, 1, false),
                inst("b2", false, 1, false),
                inst("b3", true, 1, false),
                inst("spare", true, 1, true),
            ],
            now: Indicators {
                error_rate: 0.2,
                latency_p99_ms: 900.0,
                memory_ratio: 0.85,
                request_rate: 300.0,
                cpu_ratio: 0.5,
            },
            forecast_rps: Some(500.0),
            rps_per_instance: 100.0,
            previous_config: Some("v41".into()),
            config: Some("v42".into()),
            cache: true,
            health_check_s: 10,
            max_instances: 8,
        }
    }

    #[test]
    fn every_strategy_applies_to_a_faulty_service_and_has_an_undo_or_none_by_design() {
        let c = ctx();
        for s in [
            Strategy::GradualTrafficShift,
            Strategy::CircuitBreakerActivation,
            Strategy::LoadBalancerReconfiguration,
            Strategy::ServiceRestart,
            Strategy::InstanceScaling,
            Strategy::ResourceAllocation,
            Strategy::RoutingTableUpdate,
            Strategy::CacheInvalidation,
            Strategy::ConfigurationRollback,
            Strategy::PredictiveScaling,
            Strategy::HealthCheckFrequencyAdjustment,
            Strategy::AlertEscalation,
        ] {
            let r = propose(s, &c).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.strategy(), Some(s));
            let undo = r.rollback(&c);
            let nothing_to_undo = matches!(
                r,
                Remedy::ServiceRestart { .. } | Remedy::CacheInvalidation | Remedy::AlertEscalation { .. }
            );
            assert_eq!(undo.is_none(), nothing_to_undo, "{s:?}: {undo:?}");
        }
    }

    #[test]
    fn actions_on_an_instance_target_the_faulty_one_and_undo_exactly() {
        let c = ctx();
        assert_eq!(
            propose(Strategy::CircuitBreakerActivation, &c),
            Ok(Remedy::CircuitBreakerActivation {
                instance: "b2".into(),
                open_for_s: 60
            })
        );
        let mut heavy = c.clone();
        heavy.instances[1].weight = 10;
        assert_eq!(
            propose(Strategy::GradualTrafficShift, &heavy),
            Ok(Remedy::GradualTrafficShift {
                instance: "b2".into(),
                from_weight: 10,
                steps: vec![5, 2, 0]
            })
        );
        let shift = propose(Strategy::GradualTrafficShift, &c).expect("applies");
        assert_eq!(
            shift.rollback(&c),
            Some(Remedy::LoadBalancerReconfiguration {
                weights: vec![("b2".into(), 1)]
            })
        );
        let route = propose(Strategy::RoutingTableUpdate, &c).expect("applies");
        assert_eq!(
            route.rollback(&c),
            Some(Remedy::Restore {
                ready: vec!["b2".into()],
                drain: vec!["spare".into()]
            })
        );
        let lb = propose(Strategy::LoadBalancerReconfiguration, &c).expect("applies");
        assert_eq!(
            lb,
            Remedy::LoadBalancerReconfiguration {
                weights: vec![("b1".into(), 2), ("b2".into(), 1), ("b3".into(), 2)]
            }
        );
        assert_eq!(
            lb.rollback(&c),
            Some(Remedy::LoadBalancerReconfiguration {
                weights: vec![("b1".into(), 1), ("b2".into(), 1), ("b3".into(), 1)]
            })
        );
        assert_eq!(
            propose(Strategy::PredictiveScaling, &c),
            Ok(Remedy::PredictiveScaling { from: 3, to: 5 })
        );
    }

    #[test]
    fn preconditions_refuse_with_a_reason() {
        let mut c = ctx();
        for i in &mut c.instances {
            i.healthy = true;
        }
        let e = propose(Strategy::CircuitBreakerActivation, &c).expect_err("nothing stands out");
        assert_eq!(
            e.to_string(),
            "circuit_breaker_activation does not apply: no instance stands out as faulty"
        );
        for i in &mut c.instances {
            i.healthy = false;
        }
        assert!(
            propose(Strategy::ServiceRestart, &c).is_err(),
            "no healthy instance would be left"
        );
        let mut c = ctx();
        c.instances.retain(|i| !i.backup);
        c.cache = false;
        c.previous_config = None;
        c.forecast_rps = Some(250.0);
        c.now.memory_ratio = 0.5;
        c.health_check_s = 2;
        c.max_instances = 3;
        for s in [
            Strategy::RoutingTableUpdate,
            Strategy::CacheInvalidation,
            Strategy::ConfigurationRollback,
            Strategy::PredictiveScaling,
            Strategy::ResourceAllocation,
            Strategy::HealthCheckFrequencyAdjustment,
            Strategy::InstanceScaling,
        ] {
            assert!(propose(s, &c).is_err(), "{s:?} should not apply");
        }
    }

    #[test]
    fn off_the_gateway_preconditions_are_checked_only_on_known_facts() {
        let hot = Indicators {
            memory_ratio: 0.9,
            ..Indicators::default()
        };
        let none = ServiceFacts::default();
        let ctx = |s, now, facts: &ServiceFacts| context_from_facts(s, "api", now, 3, facts);
        assert!(
            ctx(Strategy::InstanceScaling, hot, &none).is_none(),
            "max unknown: the executor decides"
        );
        assert!(ctx(Strategy::ConfigurationRollback, hot, &none).is_none());
        let c = ctx(Strategy::ResourceAllocation, Indicators::default(), &none).expect("indicators are known");
        assert_eq!(
            propose(Strategy::ResourceAllocation, &c).map_err(|e| e.to_string()),
            Err("resource_allocation does not apply: neither memory nor CPU is near its limit".into())
        );
        let facts = ServiceFacts {
            max_instances: Some(3),
            cache: Some(false),
            health_check_s: Some(10),
        };
        let c = ctx(Strategy::InstanceScaling, hot, &facts).expect("known");
        assert!(
            propose(Strategy::InstanceScaling, &c).is_err(),
            "3 of at most 3 already run"
        );
        let c = ctx(Strategy::CacheInvalidation, hot, &facts).expect("known");
        assert!(propose(Strategy::CacheInvalidation, &c).is_err(), "no cache");
        let c = ctx(Strategy::HealthCheckFrequencyAdjustment, hot, &facts).expect("known");
        assert_eq!(
            propose(Strategy::HealthCheckFrequencyAdjustment, &c),
            Ok(Remedy::HealthCheckFrequencyAdjustment { from_s: 10, to_s: 2 })
        );
    }

    #[test]
    fn verification_wants_a_real_improvement() {
        let before = ctx().now;
        let v = propose(Strategy::CircuitBreakerActivation, &ctx())
            .expect("applies")
            .verification(Indicator::ErrorRate, 120, 300);
        assert_eq!((v.indicator, v.within_s), (Indicator::ErrorRate, 120));
        let restart = verification_of(Strategy::ServiceRestart, Indicator::Memory, 120, 300);
        assert_eq!((restart.indicator, restart.within_s), (Indicator::Memory, 300));
        let mut after = before;
        after.error_rate = 0.19;
        assert!(!v.judge(&before, &after, false), "5 % better is not enough");
        after.error_rate = 0.01;
        assert!(v.judge(&before, &after, false));
        let page = Remedy::AlertEscalation {
            severity: "critical".into(),
        }
        .verification(Indicator::ErrorRate, 120, 300);
        assert_eq!(page.within_s, 300);
        assert!(!page.judge(&before, &before, false) && page.judge(&before, &before, true));
    }
}
