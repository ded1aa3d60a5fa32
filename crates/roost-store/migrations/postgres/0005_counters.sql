-- Chat lists are ordered by the date of each chat's newest message, so the stored copy of it goes.
-- (On PostgreSQL the counters stay exact: `UPDATE … RETURNING` locks the row across instances.)
ALTER TABLE chats DROP COLUMN last_message_at;
