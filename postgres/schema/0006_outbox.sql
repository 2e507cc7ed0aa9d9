-- Issue 22: takedowns reach every copy and every cache in front. Copies
-- are found by their bytes' SHA-256, in the takedown's transaction; what
-- a blocklist entry took down, likewise. The outbox (core/outbox.go)
-- holds what must be told outside (purges), written in the transaction
-- of the change it tells of; a worker leases due entries (claim,
-- lease_until; FOR UPDATE SKIP LOCKED, so instances never wait on one
-- another) and deletes them once delivered.
CREATE INDEX images_sha256 ON images (sha256);
CREATE INDEX deletions_sha256 ON deletions (sha256);

CREATE TABLE outbox (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	topic       text COLLATE "C" NOT NULL,
	payload     text NOT NULL,
	created_at  timestamptz NOT NULL,
	next_at     timestamptz NOT NULL,
	attempts    integer NOT NULL DEFAULT 0,
	last_error  text NOT NULL DEFAULT '',
	claim       text COLLATE "C" NOT NULL DEFAULT '',
	lease_until timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE INDEX outbox_due ON outbox (topic, next_at);
