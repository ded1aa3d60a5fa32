-- Expired updates and events are found in rowid order (the single writer appends them with its
-- own clock, so the oldest come first): the indexes on created_at only cost every insert a
-- B-tree insert more. (PostgreSQL keeps them: several instances write there.)
DROP INDEX IF EXISTS updates_created;
DROP INDEX IF EXISTS user_events_created;
