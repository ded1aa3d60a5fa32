-- Sessions a person can list and end: a public id, when each was last used (sessions unused for
-- the configured time expire), and the device and address it was opened from.
ALTER TABLE sessions ADD COLUMN id BIGINT;
ALTER TABLE sessions ADD COLUMN last_active_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN device TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
UPDATE sessions SET id = (abs(random()) % 9007199254740991) + 1, last_active_at = created_at;
CREATE UNIQUE INDEX sessions_id ON sessions(id);
CREATE INDEX sessions_last_active ON sessions(last_active_at);
