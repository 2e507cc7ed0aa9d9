-- Issue 24: an API token's id is no part of it. Until now the id was the
-- token's first 12 characters; they become its selector (by which a
-- presented token is found, never shown) and every token gets a new random
-- id ("tok_" and 16 hex digits), so existing tokens keep working and lists
-- no longer show a part of them.
ALTER TABLE api_tokens ADD COLUMN selector text COLLATE "C";
UPDATE api_tokens SET selector = id, id = 'tok_' || substr(md5(gen_random_uuid()::text), 1, 16);
ALTER TABLE api_tokens ALTER COLUMN selector SET NOT NULL;
CREATE UNIQUE INDEX api_tokens_selector ON api_tokens (selector);
