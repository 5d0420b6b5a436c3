-- Conversations of the web page and the API: each message keeps the answer as it
-- was shown (sentences, citations with their passage text, timings), so a
-- conversation reads the same after the index changes.
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Order in the conversation, from 0.
    position        INTEGER NOT NULL,
    question        TEXT NOT NULL,
    answer_text     TEXT NOT NULL,
    abstained       INTEGER NOT NULL,
    -- JSON: {"answer", "citations", "confidence", "timings_ms"} as served.
    response        TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (conversation_id, position)
);

-- One vote per message; a later vote replaces the earlier one.
CREATE TABLE feedback (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
