//! From evidence to an incident kind, and from an incident kind to a recovery strategy with its
//! parameters and rollback plan.

use homeostat_schemas::{Contribution, IncidentKind, Strategy};

/// Classify an anomaly by its strongest contributing features.
pub fn classify(top: &[Contribution]) -> IncidentKind {
    for c in top.iter().take(3) {
        let f = c.feature.as_str();
        if f.starts_with("memory") {
            return IncidentKind::MemoryLeak;
        }
        if f == "staleness_s" || f == "request_rate_rps" {
            return IncidentKind::ServiceDown;
        }
        if f.starts_with("error_rate") {
            return IncidentKind::ErrorBurst;
        }
        if f.starts_with("latency") {
            return IncidentKind::LatencyDegradation;
        }
        if f.starts_with("cpu") || f.starts_with("connection") {
            return IncidentKind::Saturation;
        }
    }
    IncidentKind::Anomaly
}

/// The kind a prediction's indicator points to.
pub fn kind_of_indicator(indicator: &str) -> IncidentKind {
    match indicator {
        i if i.starts_with("memory") => IncidentKind::MemoryLeak,
        i if i.starts_with("latency") => IncidentKind::LatencyDegradation,
        i if i.starts_with("error") => IncidentKind::ErrorBurst,
        _ => IncidentKind::Anomaly,
    }
}

/// A planned action.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Strategy.
    pub strategy: Strategy,
    /// Parameters.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// How to undo it, decided before it runs.
    pub rollback_plan: &'static str,
}

fn params(pairs: &[(&str, serde_json::Value)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// The candidate strategies for an incident kind, the usual first choice first. The learner
/// (Thompson sampling, `bandit`) chooses among them once outcomes are known; after a remedy fails
/// verification and is rolled back, the next is chosen among those not yet tried.
pub fn candidates(kind: IncidentKind) -> Vec<Strategy> {
    use Strategy::*;
    match kind {
        IncidentKind::MemoryLeak => vec![ServiceRestart, ResourceAllocation, InstanceScaling, AlertEscalation],
        IncidentKind::LatencyDegradation => vec![
            GradualTrafficShift,
            LoadBalancerReconfiguration,
            InstanceScaling,
            CacheInvalidation,
            AlertEscalation,
        ],
        IncidentKind::ErrorBurst => vec![
            CircuitBreakerActivation,
            GradualTrafficShift,
            ConfigurationRollback,
            ServiceRestart,
            AlertEscalation,
        ],
        IncidentKind::ServiceDown => vec![RoutingTableUpdate, ServiceRestart, AlertEscalation],
        IncidentKind::Saturation => vec![InstanceScaling, PredictiveScaling, ResourceAllocation, AlertEscalation],
        IncidentKind::Anomaly => vec![AlertEscalation, HealthCheckFrequencyAdjustment],
    }
}

/// The parameters and undo of a strategy.
pub fn plan_for(strategy: Strategy) -> Plan {
    use serde_json::json;
    let (parameters, rollback_plan) = match strategy {
        Strategy::ServiceRestart => (
            params(&[
                ("max_unavailable_percent", json!(34)),
                ("order", json!("highest_memory_first")),
            ]),
            "nothing to undo: a restart returns instances to their deployed state; if the service gets worse, escalate",
        ),
        Strategy::GradualTrafficShift => (
            params(&[("step_percent", json!(25)), ("away_from", json!("slowest_instance"))]),
            "restore the recorded server weights in the reverse order of the shift",
        ),
        Strategy::CircuitBreakerActivation => (
            params(&[("open_for_s", json!(30)), ("half_open_requests", json!(5))]),
            "close the breaker: re-enable the disabled servers",
        ),
        Strategy::LoadBalancerReconfiguration => (
            params(&[("weights", json!("favour_healthy"))]),
            "restore the recorded server weights",
        ),
        Strategy::RoutingTableUpdate => (
            params(&[("route_to", json!("backup_endpoints"))]),
            "restore the primary routes recorded before the change",
        ),
        Strategy::InstanceScaling => (
            params(&[("add_instances", json!(1)), ("max_instances", json!(10))]),
            "scale back to the recorded instance count once load is normal",
        ),
        Strategy::PredictiveScaling => (
            params(&[("horizon_min", json!(15))]),
            "scale back to the recorded instance count when the forecast passes",
        ),
        Strategy::ResourceAllocation => (
            params(&[("memory_factor", json!(1.5)), ("cpu_factor", json!(1.5))]),
            "restore the recorded CPU and memory allocation",
        ),
        Strategy::CacheInvalidation => (params(&[("scope", json!("service"))]), "nothing to undo: caches refill"),
        Strategy::ConfigurationRollback => (
            params(&[("to", json!("previous_version"))]),
            "re-apply the configuration version recorded before the rollback",
        ),
        Strategy::HealthCheckFrequencyAdjustment => (
            params(&[("interval_s", json!(2))]),
            "restore the recorded health-check interval",
        ),
        Strategy::AlertEscalation => (
            params(&[("severity", json!("warning"))]),
            "nothing to undo: resolve the page when the incident resolves",
        ),
    };
    Plan {
        strategy,
        parameters,
        rollback_plan,
    }
}

/// The first-choice strategy for an incident kind.
pub fn plan(kind: IncidentKind) -> Plan {
    plan_for(candidates(kind)[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(f: &str) -> Contribution {
        Contribution {
            feature: f.into(),
            value: 1.0,
            baseline: 0.0,
            deviation: 10.0,
        }
    }

    #[test]
    fn classifies_by_strongest_feature() {
        assert_eq!(
            classify(&[c("memory_max_ratio"), c("latency_p99_ms")]),
            IncidentKind::MemoryLeak
        );
        assert_eq!(classify(&[c("latency_p99_ms")]), IncidentKind::LatencyDegradation);
        assert_eq!(classify(&[c("error_rate")]), IncidentKind::ErrorBurst);
        assert_eq!(classify(&[c("request_rate_rps")]), IncidentKind::ServiceDown);
        assert_eq!(classify(&[c("cpu_max_ratio")]), IncidentKind::Saturation);
        assert_eq!(classify(&[]), IncidentKind::Anomaly);
    }

    #[test]
    fn every_kind_has_candidates_with_plans_and_rollbacks() {
        for k in IncidentKind::ALL {
            let c = candidates(k);
            assert!(c.len() >= 2, "{k:?}");
            for s in c {
                assert!(!plan_for(s).rollback_plan.is_empty());
            }
        }
        assert_eq!(plan(IncidentKind::MemoryLeak).strategy, Strategy::ServiceRestart);
        assert_eq!(
            plan(IncidentKind::ErrorBurst).strategy,
            Strategy::CircuitBreakerActivation
        );
    }
}
