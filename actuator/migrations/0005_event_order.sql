-- When Homeostat recorded each timeline entry (µs since the epoch), so entries with the same
-- event_time list in the order they happened: ORDER BY event_time, recorded_us.
ALTER TABLE incident_events ADD COLUMN recorded_us BIGINT NOT NULL DEFAULT 0;
