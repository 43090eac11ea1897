-- Homeostat incident store, version 2: what each remedy achieved, for learning which works.
-- One row per verified outcome, keyed by the id of the action it judges (idempotent).
CREATE TABLE IF NOT EXISTS strategy_outcomes (
    action_id TEXT PRIMARY KEY,
    signature TEXT NOT NULL,       -- the failure signature: incident kind (and, later, more)
    strategy TEXT NOT NULL,
    success BIGINT NOT NULL,       -- 1 when verification showed the service recovered
    decided_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS strategy_outcomes_signature ON strategy_outcomes (signature, strategy);
-- Strategy effectiveness per failure signature.
CREATE VIEW strategy_stats AS
    SELECT signature,
           strategy,
           SUM(success) AS successes,
           COUNT(*) - SUM(success) AS failures,
           COUNT(*) AS trials,
           1.0 * SUM(success) / COUNT(*) AS success_rate
    FROM strategy_outcomes
    GROUP BY signature, strategy;
