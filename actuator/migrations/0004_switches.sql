-- Homeostat incident store, version 4: operator switches (the kill switch), changed at run time
-- with `homeostat kill-switch on|off` and read by the actuator before every decision.
CREATE TABLE IF NOT EXISTS switches (
    name TEXT PRIMARY KEY,
    enabled BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
