-- Nothing changes here. On SQLite this version drops the created_at indexes of updates and
-- user_events, whose expiry follows insertion order there; several instances write to
-- PostgreSQL, each with its own clock, so it keeps them.
SELECT 1;
