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

/// The first-choice strategy for an incident kind.
pub fn plan(kind: IncidentKind) -> Plan {
    use serde_json::json;
    match kind {
        IncidentKind::MemoryLeak => Plan {
            strategy: Strategy::ServiceRestart,
            parameters: params(&[
                ("max_unavailable_percent", json!(34)),
                ("order", json!("highest_memory_first")),
            ]),
            rollback_plan: "nothing to undo: a restart returns instances to their deployed state; if the service gets worse, escalate",
        },
        IncidentKind::LatencyDegradation => Plan {
            strategy: Strategy::GradualTrafficShift,
            parameters: params(&[("step_percent", json!(25)), ("away_from", json!("slowest_instance"))]),
            rollback_plan: "restore the recorded server weights in the reverse order of the shift",
        },
        IncidentKind::ErrorBurst => Plan {
            strategy: Strategy::CircuitBreakerActivation,
            parameters: params(&[("open_for_s", json!(30)), ("half_open_requests", json!(5))]),
            rollback_plan: "close the breaker: re-enable the disabled servers",
        },
        IncidentKind::ServiceDown => Plan {
            strategy: Strategy::RoutingTableUpdate,
            parameters: params(&[("route_to", json!("backup_endpoints"))]),
            rollback_plan: "restore the primary routes recorded before the change",
        },
        IncidentKind::Saturation => Plan {
            strategy: Strategy::InstanceScaling,
            parameters: params(&[("add_instances", json!(1)), ("max_instances", json!(10))]),
            rollback_plan: "scale back to the recorded instance count once load is normal",
        },
        IncidentKind::Anomaly => Plan {
            strategy: Strategy::AlertEscalation,
            parameters: params(&[("severity", json!("warning"))]),
            rollback_plan: "nothing to undo: resolve the page when the incident resolves",
        },
    }
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
    fn every_kind_has_a_plan_with_a_rollback() {
        for k in IncidentKind::ALL {
            assert!(!plan(k).rollback_plan.is_empty());
        }
        assert_eq!(plan(IncidentKind::MemoryLeak).strategy, Strategy::ServiceRestart);
    }
}
