//! `actions.v1` (recovery commands) and `actions.results.v1` (what the executor reports back).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The recovery strategies of the design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Move traffic away from the faulty instances step by step.
    GradualTrafficShift,
    /// Stop sending traffic to a failing dependency or instance for a while.
    CircuitBreakerActivation,
    /// Change load-balancer weights or algorithm.
    LoadBalancerReconfiguration,
    /// Restart the faulty instances, one at a time.
    ServiceRestart,
    /// Add instances.
    InstanceScaling,
    /// Raise CPU or memory allocation.
    ResourceAllocation,
    /// Route to backup endpoints.
    RoutingTableUpdate,
    /// Invalidate caches.
    CacheInvalidation,
    /// Roll back the last configuration change.
    ConfigurationRollback,
    /// Scale ahead of forecast demand.
    PredictiveScaling,
    /// Check health more often while the service is suspect.
    HealthCheckFrequencyAdjustment,
    /// Page a human.
    AlertEscalation,
}

impl Strategy {
    /// The snake_case name used on the wire and in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::GradualTrafficShift => "gradual_traffic_shift",
            Strategy::CircuitBreakerActivation => "circuit_breaker_activation",
            Strategy::LoadBalancerReconfiguration => "load_balancer_reconfiguration",
            Strategy::ServiceRestart => "service_restart",
            Strategy::InstanceScaling => "instance_scaling",
            Strategy::ResourceAllocation => "resource_allocation",
            Strategy::RoutingTableUpdate => "routing_table_update",
            Strategy::CacheInvalidation => "cache_invalidation",
            Strategy::ConfigurationRollback => "configuration_rollback",
            Strategy::PredictiveScaling => "predictive_scaling",
            Strategy::HealthCheckFrequencyAdjustment => "health_check_frequency_adjustment",
            Strategy::AlertEscalation => "alert_escalation",
        }
    }
}

/// How an action is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionMode {
    /// Recorded and published, but executors must not change anything.
    DryRun,
    /// Executors evaluate it against the live system and report what would happen.
    Shadow,
    /// Executors carry it out.
    Execute,
}

impl ActionMode {
    /// The snake_case name used on the wire and in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionMode::DryRun => "dry_run",
            ActionMode::Shadow => "shadow",
            ActionMode::Execute => "execute",
        }
    }
}

/// A recovery command on `actions.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionCommand {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id: derived from incident and strategy.
    pub id: String,
    /// When the action was decided, ms since the epoch.
    pub event_time: Timestamp,
    /// The service acted on.
    pub service_id: String,
    /// The incident this action answers.
    pub incident_id: String,
    /// Strategy.
    pub strategy: Strategy,
    /// Target: the service, or specific instances (`service/instance`).
    pub target: String,
    /// Strategy parameters, e.g. `{"step_percent": 25}`.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Dry-run, shadow or execute.
    pub mode: ActionMode,
    /// How to undo it, written before it runs.
    pub rollback_plan: String,
    /// Seconds to watch the service's indicators after the action before judging it.
    pub verification_window_s: u32,
    /// Why this action was chosen.
    pub reason: String,
}

/// Outcome reported by an executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Carried out.
    Succeeded,
    /// Tried and failed.
    Failed,
    /// Not carried out (dry-run, not allowed, precondition false).
    Skipped,
}

/// A result on `actions.results.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionResult {
    /// Schema version (1).
    pub schema_version: u32,
    /// Stable id chosen by the executor.
    pub id: String,
    /// When the executor finished, ms since the epoch.
    pub event_time: Timestamp,
    /// The service acted on.
    pub service_id: String,
    /// The `actions.v1` id this answers.
    pub action_id: String,
    /// Outcome.
    pub status: ActionStatus,
    /// Executor's name.
    pub executor: String,
    /// Free-text detail.
    pub detail: String,
}
