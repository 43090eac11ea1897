-- Homeostat incident store, version 7: what the actuator's HAProxy executor has changed and not
-- yet put back (JSON), so a restarted actuator still undoes or restores it.
CREATE TABLE IF NOT EXISTS gateway_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
