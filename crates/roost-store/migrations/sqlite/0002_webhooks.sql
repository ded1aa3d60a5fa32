-- Webhook delivery: each bot's webhook settings and delivery health, and the chat of each update
-- (updates of one chat are delivered in order, different chats in parallel).

-- Sent in X-Telegram-Bot-Api-Secret-Token with every delivery, so it is kept as given.
ALTER TABLE bots ADD COLUMN webhook_secret TEXT;
ALTER TABLE bots ADD COLUMN webhook_max_connections INTEGER NOT NULL DEFAULT 40;
ALTER TABLE bots ADD COLUMN webhook_ip_address TEXT;
-- PEM of a self-signed certificate the webhook presents, trusted for this bot's deliveries only.
ALTER TABLE bots ADD COLUMN webhook_certificate TEXT;
ALTER TABLE bots ADD COLUMN webhook_last_error_date BIGINT;
ALTER TABLE bots ADD COLUMN webhook_last_error_message TEXT;
ALTER TABLE bots ADD COLUMN webhook_last_sync_error_date BIGINT;
-- Consecutive failed delivery attempts; the webhook is switched off when this reaches the limit.
ALTER TABLE bots ADD COLUMN webhook_failures INTEGER NOT NULL DEFAULT 0;
CREATE INDEX bots_webhook ON bots(webhook_url) WHERE webhook_url <> '';

-- The internal id of the chat an update belongs to; 0 for updates of no chat.
ALTER TABLE updates ADD COLUMN chat_key BIGINT NOT NULL DEFAULT 0;
