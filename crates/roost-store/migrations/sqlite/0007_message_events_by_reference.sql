-- A new message reaches each person of its chat as an event that points at the message instead of
-- holding a copy of it: `chat_id` and `message_id` are set and `payload` is empty, and the event
-- is rendered from the message when the stream is read (so a replay shows the message as it is
-- now, and skips one deleted since). Every other event keeps its JSON in `payload`.
ALTER TABLE user_events ADD COLUMN chat_id BIGINT;
ALTER TABLE user_events ADD COLUMN message_id BIGINT;
