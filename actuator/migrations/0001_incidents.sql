-- Homeostat incident store, version 1. Runs on PostgreSQL and SQLite alike.
-- Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    predicted BIGINT NOT NULL,       -- 1 when opened on a prediction
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT,
    peak_score DOUBLE PRECISION NOT NULL,
    explanation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_service ON incidents (service_id, opened_at);
CREATE TABLE IF NOT EXISTS incident_events (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_events_incident ON incident_events (incident_id, event_time);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    target TEXT NOT NULL,
    parameters TEXT NOT NULL,
    rollback_plan TEXT NOT NULL,
    reason TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_incident ON actions (incident_id);
CREATE TABLE IF NOT EXISTS action_results (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    status TEXT NOT NULL,
    executor TEXT NOT NULL,
    detail TEXT NOT NULL,
    event_time BIGINT NOT NULL
);
