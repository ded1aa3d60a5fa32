-- Chat lists are now ordered by the date of each chat's newest message, so nothing reads or
-- writes `chats.last_message_at` any more. (SQLite drops it.) Here it stays: during a rolling
-- upgrade, instances of the previous version still set it with every message. (On PostgreSQL the
-- counters stay exact: `UPDATE … RETURNING` locks the row across instances.)
COMMENT ON COLUMN chats.last_message_at IS 'unused since migration 5; kept for rolling upgrades';
