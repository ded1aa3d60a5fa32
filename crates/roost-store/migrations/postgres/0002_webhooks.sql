-- Webhook delivery, as migrations/sqlite/0002_webhooks.sql.
ALTER TABLE bots ADD COLUMN webhook_secret TEXT;
ALTER TABLE bots ADD COLUMN webhook_max_connections BIGINT NOT NULL DEFAULT 40;
ALTER TABLE bots ADD COLUMN webhook_ip_address TEXT;
ALTER TABLE bots ADD COLUMN webhook_certificate TEXT;
ALTER TABLE bots ADD COLUMN webhook_last_error_date BIGINT;
ALTER TABLE bots ADD COLUMN webhook_last_error_message TEXT;
ALTER TABLE bots ADD COLUMN webhook_last_sync_error_date BIGINT;
ALTER TABLE bots ADD COLUMN webhook_failures BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bots_webhook ON bots(webhook_url) WHERE webhook_url <> '';

ALTER TABLE updates ADD COLUMN chat_key BIGINT NOT NULL DEFAULT 0;
