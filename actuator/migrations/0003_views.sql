-- Homeostat incident store, version 3: views for the questions operators ask. Documented with
-- example queries in docs/INCIDENTS.md. Times are milliseconds since the Unix epoch.

-- Incidents still open, oldest first, with their first action.
CREATE VIEW open_incidents AS
    SELECT i.id, i.service_id, i.kind, i.severity, i.summary, i.predicted, i.opened_at, i.peak_score,
           (SELECT a.strategy FROM actions a WHERE a.incident_id = i.id ORDER BY a.decided_at, a.id LIMIT 1) AS first_strategy
    FROM incidents i
    WHERE i.status = 'open';

-- Mean time to resolve, per service (resolved incidents only).
CREATE VIEW mttr_per_service AS
    SELECT service_id,
           COUNT(*) AS incidents,
           AVG(1.0 * (resolved_at - opened_at)) / 1000.0 AS mttr_s,
           MAX(resolved_at - opened_at) / 1000.0 AS worst_s
    FROM incidents
    WHERE status = 'resolved' AND resolved_at IS NOT NULL
    GROUP BY service_id;

-- Mean time to resolve, per strategy of the incident's first action.
CREATE VIEW mttr_per_strategy AS
    SELECT a.strategy,
           COUNT(*) AS incidents,
           AVG(1.0 * (i.resolved_at - i.opened_at)) / 1000.0 AS mttr_s
    FROM incidents i
    JOIN actions a ON a.incident_id = i.id
    WHERE i.status = 'resolved' AND i.resolved_at IS NOT NULL
      AND a.id = (SELECT b.id FROM actions b WHERE b.incident_id = i.id ORDER BY b.decided_at, b.id LIMIT 1)
    GROUP BY a.strategy;

-- Actions undone because they did not help (or failed), newest first.
CREATE VIEW actions_rolled_back AS
    SELECT a.id, a.incident_id, a.service_id, a.strategy, a.mode, a.decided_at, a.updated_at AS rolled_back_at,
           a.rollback_plan, a.reason
    FROM actions a
    WHERE a.status = 'rolled_back';

-- Incidents opened on a prediction that resolved before the detector ever alerted on them.
CREATE VIEW incidents_averted_by_prediction AS
    SELECT i.id, i.service_id, i.kind, i.opened_at, i.resolved_at,
           (SELECT a.strategy FROM actions a WHERE a.incident_id = i.id ORDER BY a.decided_at, a.id LIMIT 1) AS first_strategy
    FROM incidents i
    WHERE i.predicted = 1 AND i.status = 'resolved'
      AND NOT EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id AND e.kind = 'confirmed');
