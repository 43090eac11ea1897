-- Homeostat incident store, version 7: the actuator's state that must outlive a restart, as JSON
-- by name: what its HAProxy executor changed and has not put back ("haproxy"), the actions under
-- verification and the remedies tried per incident ("closed_loop").
CREATE TABLE IF NOT EXISTS gateway_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
