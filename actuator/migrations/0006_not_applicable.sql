-- Homeostat incident store, version 6: a remedy recorded as not_applicable (its precondition
-- did not hold) was never carried out, so an incident's "first action" is its first applicable one.
DROP VIEW IF EXISTS open_incidents;
CREATE VIEW open_incidents AS
    SELECT i.id, i.service_id, i.kind, i.severity, i.summary, i.predicted, i.opened_at, i.peak_score,
           (SELECT a.strategy FROM actions a WHERE a.incident_id = i.id AND a.status <> 'not_applicable'
            ORDER BY a.decided_at, a.id LIMIT 1) AS first_strategy
    FROM incidents i
    WHERE i.status = 'open';

DROP VIEW IF EXISTS mttr_per_strategy;
CREATE VIEW mttr_per_strategy AS
    SELECT a.strategy,
           COUNT(*) AS incidents,
           AVG(1.0 * (i.resolved_at - i.opened_at)) / 1000.0 AS mttr_s
    FROM incidents i
    JOIN actions a ON a.incident_id = i.id
    WHERE i.status = 'resolved' AND i.resolved_at IS NOT NULL
      AND a.id = (SELECT b.id FROM actions b WHERE b.incident_id = i.id AND b.status <> 'not_applicable'
                  ORDER BY b.decided_at, b.id LIMIT 1)
    GROUP BY a.strategy;

DROP VIEW IF EXISTS incidents_averted_by_prediction;
CREATE VIEW incidents_averted_by_prediction AS
    SELECT i.id, i.service_id, i.kind, i.opened_at, i.resolved_at,
           (SELECT a.strategy FROM actions a WHERE a.incident_id = i.id AND a.status <> 'not_applicable'
            ORDER BY a.decided_at, a.id LIMIT 1) AS first_strategy
    FROM incidents i
    WHERE i.predicted = 1 AND i.status = 'resolved'
      AND NOT EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id AND e.kind = 'confirmed');
