-- Roost's first schema. Kept to SQL that PostgreSQL also accepts where the two agree; the
-- PostgreSQL migrations (a later issue) mirror these files one for one.

-- People and bots. Ids are positive and Telegram-like; a bot is a user with is_bot = 1.
CREATE TABLE users (
    id              BIGINT PRIMARY KEY,
    is_bot          INTEGER NOT NULL DEFAULT 0,
    username        TEXT,
    -- Lower-cased username: usernames are unique without regard to case.
    username_key    TEXT UNIQUE,
    first_name      TEXT NOT NULL,
    last_name       TEXT,
    language_code   TEXT,
    -- Argon2 PHC string; NULL for bots, which log in by token.
    password_hash   TEXT,
    -- Sequence number of the newest event in this person's event stream.
    event_seq       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

CREATE TABLE bots (
    user_id                     BIGINT PRIMARY KEY REFERENCES users(id),
    owner_id                    BIGINT NOT NULL REFERENCES users(id),
    -- SHA-256 of the token's secret part; the token itself is never stored.
    token_hash                  BLOB NOT NULL,
    -- update_id of the newest update ever queued for this bot (ids increase by one).
    last_update_id              BIGINT NOT NULL DEFAULT 0,
    -- JSON list given in the last getUpdates/setWebhook allowed_updates, NULL for the default.
    allowed_updates             TEXT,
    webhook_url                 TEXT NOT NULL DEFAULT '',
    can_join_groups             INTEGER NOT NULL DEFAULT 1,
    can_read_all_group_messages INTEGER NOT NULL DEFAULT 0,
    supports_inline_queries     INTEGER NOT NULL DEFAULT 0,
    created_at                  BIGINT NOT NULL
);
CREATE INDEX bots_owner ON bots(owner_id);

-- Client API sessions of people.
CREATE TABLE sessions (
    -- SHA-256 of the session token.
    token_hash  BLOB PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Chats. The id is internal: how a chat is addressed depends on who looks (a private chat is
-- addressed by the other party's user id).
CREATE TABLE chats (
    id              INTEGER PRIMARY KEY,
    type            TEXT NOT NULL,
    title           TEXT,
    -- message_id of the newest message (ids increase by one per chat and are shared by all members).
    last_message_id BIGINT NOT NULL DEFAULT 0,
    -- Unix time of the newest message, for ordering chat lists.
    last_message_at BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

-- The two parties of each private chat, lower user id first.
CREATE TABLE private_chats (
    user_low    BIGINT NOT NULL REFERENCES users(id),
    user_high   BIGINT NOT NULL REFERENCES users(id),
    chat_id     BIGINT NOT NULL UNIQUE REFERENCES chats(id),
    PRIMARY KEY (user_low, user_high)
);

CREATE TABLE chat_members (
    chat_id     BIGINT NOT NULL REFERENCES chats(id),
    user_id     BIGINT NOT NULL REFERENCES users(id),
    -- 1 once this member has sent a message here: a bot may write to a person only after that.
    has_written INTEGER NOT NULL DEFAULT 0,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members(user_id);

CREATE TABLE messages (
    chat_id             BIGINT NOT NULL REFERENCES chats(id),
    message_id          BIGINT NOT NULL,
    from_id             BIGINT NOT NULL REFERENCES users(id),
    date                BIGINT NOT NULL,
    edit_date           BIGINT,
    text                TEXT,
    -- JSON list of MessageEntity, NULL when there are none.
    entities            TEXT,
    reply_to_message_id BIGINT,
    -- JSON object, NULL when there is none.
    reply_markup        TEXT,
    protect_content     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, message_id)
);

-- Each bot's durable update queue. The payload is the Update object (JSON) without update_id.
CREATE TABLE updates (
    bot_id      BIGINT NOT NULL REFERENCES users(id),
    update_id   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX updates_created ON updates(created_at);

-- Each person's event stream, replayable after a reconnect. The payload is the event (JSON)
-- without seq.
CREATE TABLE user_events (
    user_id     BIGINT NOT NULL REFERENCES users(id),
    seq         BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX user_events_created ON user_events(created_at);
