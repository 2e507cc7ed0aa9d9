-- Account administration (issue 15): a disabled user's credentials and API
-- tokens stop working at once on every instance, its images stay; an API
-- token records when it was last used (microseconds, 0 for never).
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
