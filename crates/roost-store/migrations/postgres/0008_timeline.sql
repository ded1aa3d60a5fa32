-- The timeline is SQLite's (see the SQLite migration of the same version): on PostgreSQL, where
-- several instances write, each person keeps one event row per message and a `seq` of their own,
-- and `position` stays empty. The column exists so that both backends share one message schema.
ALTER TABLE messages ADD COLUMN position BIGINT;
