-- PostgreSQL twin of sqlite/20261202000003_conversation_owners.sql.
ALTER TABLE conversations ADD COLUMN owner TEXT;
ALTER TABLE conversations ADD COLUMN title TEXT;
ALTER TABLE conversations ADD COLUMN documents TEXT;
CREATE INDEX conversations_owner ON conversations (owner);
