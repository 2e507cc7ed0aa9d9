-- Issue 24: an API token's id is no part of it. Until now the id was the
-- token's first 12 characters; they become its selector (by which a
-- presented token is found, never shown) and every token gets a new random
-- id ("tok_" and 16 hex digits), so existing tokens keep working and lists
-- no longer show a part of them.
ALTER TABLE api_tokens ADD COLUMN selector TEXT NOT NULL DEFAULT '';
UPDATE api_tokens SET selector = id, id = 'tok_' || lower(hex(randomblob(8)));
CREATE UNIQUE INDEX api_tokens_selector ON api_tokens (selector);
