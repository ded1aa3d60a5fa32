-- A queued update records what happened, not how one dialect words it: the dialect that reads
-- the queue (getUpdates, a webhook) renders it then, as person events already are.
-- `kind`: 0 = an update stored before this version, its Telegram JSON in `payload`; 1 = a new
-- message and 2 = an edited one (`chat_key`, `message_id`); 3 = a callback query (`payload` holds
-- its id); 4 = a reaction change (`chat_key`, `message_id`, `actor_id` who reacted, `payload` the
-- JSON pair [old, new] of the reaction lists as the reactions table stores them).
ALTER TABLE updates ADD COLUMN kind BIGINT NOT NULL DEFAULT 0;
ALTER TABLE updates ADD COLUMN message_id BIGINT;
ALTER TABLE updates ADD COLUMN actor_id BIGINT;

-- The dialect a webhook was set through ('telegram', 'wwchat'): its updates are rendered in it.
ALTER TABLE bots ADD COLUMN webhook_dialect TEXT NOT NULL DEFAULT 'telegram';

-- Secrets of this installation, made once at first start and shared by every instance (the key
-- behind WWChat's UUIDs).
CREATE TABLE instance_secrets (
    name    TEXT PRIMARY KEY,
    value   BLOB NOT NULL
);
