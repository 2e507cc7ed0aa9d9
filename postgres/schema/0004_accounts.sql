-- Account administration (issue 15): a disabled user's credentials and API
-- tokens stop working at once on every instance, its images stay; an API
-- token records when it was last used (NULL for never).
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE api_tokens ADD COLUMN last_used timestamptz;
