-- As migrations/sqlite/0010_dialects.sql.
ALTER TABLE updates ADD COLUMN kind BIGINT NOT NULL DEFAULT 0;
ALTER TABLE updates ADD COLUMN message_id BIGINT;
ALTER TABLE updates ADD COLUMN actor_id BIGINT;

ALTER TABLE bots ADD COLUMN webhook_dialect TEXT NOT NULL DEFAULT 'telegram';

CREATE TABLE instance_secrets (
    name    TEXT PRIMARY KEY,
    value   BYTEA NOT NULL
);
