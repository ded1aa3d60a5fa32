-- Scale-out: webhook delivery leases and shared rate-limit buckets, used by every instance.

-- Which instance delivers a bot's webhook, until when (Unix milliseconds).
CREATE TABLE webhook_leases (
    bot_id      BIGINT PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Token buckets shared by all instances: two buckets per key (per-second and per-minute), levels
-- as of updated_at (Unix seconds, fractional).
CREATE TABLE rate_buckets (
    key         TEXT PRIMARY KEY,
    tokens_a    DOUBLE PRECISION NOT NULL,
    tokens_b    DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX rate_buckets_updated ON rate_buckets(updated_at);
