-- Rich messaging, as migrations/sqlite/0003_rich_messaging.sql.

-- MessageOrigin JSON of a forwarded message, NULL otherwise.
ALTER TABLE messages ADD COLUMN forward_origin TEXT;

-- Button presses waiting for (or having) the bot's answerCallbackQuery.
CREATE TABLE callback_queries (
    id          TEXT PRIMARY KEY,
    bot_id      BIGINT NOT NULL REFERENCES users(id),
    user_id     BIGINT NOT NULL REFERENCES users(id),
    chat_id     BIGINT NOT NULL REFERENCES chats(id),
    message_id  BIGINT NOT NULL,
    data        TEXT,
    created_at  BIGINT NOT NULL,
    answered_at BIGINT,
    -- JSON {text, show_alert, url, cache_time} once answered.
    answer      TEXT
);
CREATE INDEX callback_queries_created ON callback_queries(created_at);

CREATE TABLE pinned_messages (
    chat_id     BIGINT NOT NULL REFERENCES chats(id),
    message_id  BIGINT NOT NULL,
    pinned_at   BIGINT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);

-- Each member's reactions to a message (a JSON list of ReactionType).
CREATE TABLE message_reactions (
    chat_id     BIGINT NOT NULL REFERENCES chats(id),
    message_id  BIGINT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    reaction    TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id, user_id)
);

-- setMyCommands, per scope ("default", "all_private_chats", "chat:<id>", …) and language ('' = all).
CREATE TABLE bot_commands (
    bot_id          BIGINT NOT NULL REFERENCES users(id),
    scope           TEXT NOT NULL,
    language_code   TEXT NOT NULL,
    commands        TEXT NOT NULL,
    PRIMARY KEY (bot_id, scope, language_code)
);

-- setMyName / setMyDescription / setMyShortDescription, per language ('' = all).
CREATE TABLE bot_texts (
    bot_id          BIGINT NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL,
    language_code   TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (bot_id, kind, language_code)
);

-- setChatMenuButton: chat_id 0 is the bot's default.
CREATE TABLE bot_menu_buttons (
    bot_id      BIGINT NOT NULL REFERENCES users(id),
    chat_id     BIGINT NOT NULL,
    button      TEXT NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);
