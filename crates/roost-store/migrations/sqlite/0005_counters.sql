-- Counters kept by the single writer (SQLite): `chats.last_message_id` and `users.event_seq` are
-- now a floor under each counter, raised when messages or events are deleted; the newest id is the
-- larger of the floor and the newest row. The newest message's date orders chat lists, so the
-- stored copy of it goes.
ALTER TABLE chats DROP COLUMN last_message_at;
