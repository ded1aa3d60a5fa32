-- Managing bots and accounts.

-- A deleted person or bot keeps its row (its messages stay in others' histories); it can no
-- longer sign in, be addressed or be written to.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- A bot's token, sealed (AES-256-GCM: nonce then ciphertext) under the installation's `tokens`
-- key, so that its owner can be shown it again; authentication still uses only `token_hash`.
-- NULL for bots made before this version (their owner can only issue a new token).
ALTER TABLE bots ADD COLUMN token_sealed BLOB;
-- Inline mode's placeholder text, and the share of chosen inline results reported (0–100).
ALTER TABLE bots ADD COLUMN inline_placeholder TEXT;
ALTER TABLE bots ADD COLUMN inline_feedback INTEGER NOT NULL DEFAULT 0;
-- 1 for the built-in system bot (@BotMama and its other names).
ALTER TABLE bots ADD COLUMN is_system INTEGER NOT NULL DEFAULT 0;

-- Usernames held apart from `users.username`: the system bot's other names (`alias`, resolved
-- like a username) and the usernames of deleted bots (`reserved`, never handed out again).
CREATE TABLE usernames (
    username_key    TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Personal API keys for the owner API. Only the key's SHA-256 is stored.
CREATE TABLE api_keys (
    id              BIGINT PRIMARY KEY,
    owner_id        BIGINT NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    key_hash        BLOB NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX api_keys_owner ON api_keys(owner_id);

-- A bot's recent errors, for its owner: failed webhook deliveries (with the receiver's answer)
-- and rejected Bot API calls (with the error). The newest few hundred per bot are kept.
CREATE TABLE bot_errors (
    bot_id          BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    source          TEXT NOT NULL,
    method          TEXT,
    status          INTEGER NOT NULL,
    description     TEXT NOT NULL
);
CREATE INDEX bot_errors_bot ON bot_errors(bot_id, at);

-- Where each person's conversation with the system bot stands (JSON of the step).
CREATE TABLE dialogs (
    user_id         BIGINT NOT NULL,
    bot_id          BIGINT NOT NULL,
    state           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, bot_id)
);

-- Invite codes, for the `invite` registration policy. Only the code's SHA-256 is stored;
-- `created_by` is NULL for the operator's.
CREATE TABLE invites (
    code_hash       BLOB PRIMARY KEY,
    created_by      BIGINT,
    created_at      BIGINT NOT NULL,
    used_by         BIGINT,
    used_at         BIGINT
);
CREATE INDEX invites_creator ON invites(created_by);

-- Named leases held by one instance at a time (the system bot's poller).
CREATE TABLE leases (
    name            TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
