-- PostgreSQL twin of sqlite/20261123000001_conversations.sql: the same tables,
-- columns and text timestamps, so the same queries serve both.
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Order in the conversation, from 0.
    position        BIGINT NOT NULL,
    question        TEXT NOT NULL,
    answer_text     TEXT NOT NULL,
    abstained       BOOLEAN NOT NULL,
    -- JSON: {"answer", "citations", "confidence", "timings_ms"} as served.
    response        TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    UNIQUE (conversation_id, position)
);

-- One vote per message; a later vote replaces the earlier one.
CREATE TABLE feedback (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT,
    created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);
