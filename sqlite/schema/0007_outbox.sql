-- Issue 22: takedowns reach every copy and every cache in front. Copies
-- are found by their bytes' SHA-256, in the takedown's transaction; what
-- a blocklist entry took down, likewise. The outbox (core/outbox.go)
-- holds what must be told outside (purges), written in the transaction
-- of the change it tells of; a worker leases due entries (claim,
-- lease_until) and deletes them once delivered.
CREATE INDEX images_sha256 ON images (sha256);
CREATE INDEX deletions_sha256 ON deletions (sha256);

CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	topic       TEXT NOT NULL,
	payload     TEXT NOT NULL,
	created_at  INTEGER NOT NULL, -- unix microseconds
	next_at     INTEGER NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	claim       TEXT NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (topic, next_at);
