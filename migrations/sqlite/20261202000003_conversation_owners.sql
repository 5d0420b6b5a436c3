-- What the web app keeps with a conversation: the browser that started it (a
-- random id the browser holds in a signed cookie; NULL for the API without a
-- cookie, and Slack), a title the reader gave it (NULL: its first question),
-- and the documents its questions are limited to (a JSON array; NULL: all).
ALTER TABLE conversations ADD COLUMN owner TEXT;
ALTER TABLE conversations ADD COLUMN title TEXT;
ALTER TABLE conversations ADD COLUMN documents TEXT;
CREATE INDEX conversations_owner ON conversations (owner);
