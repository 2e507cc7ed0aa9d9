-- The moderation console (issue 14): sign-in sessions, kept here so that
-- every instance honours them (only a hash of each token); readers'
-- reports of images, one per reporter and image; and the audit records of
-- moderation actions other than takedowns (dismissals, unblocks).
CREATE TABLE sessions (
	hash       TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL, -- unix microseconds
	last_seen  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE reports (
	image_id   TEXT NOT NULL,
	reporter   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (image_id, reporter)
);

CREATE TABLE moderation_events (
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	by        TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at        INTEGER NOT NULL
);
-- An event is keyed by its time, action and target, which a migration
-- pages by and imports without duplicates.
CREATE UNIQUE INDEX moderation_events_key ON moderation_events (at, action, target);
CREATE INDEX moderation_events_target ON moderation_events (target);
CREATE INDEX images_client_addr ON images (client_addr, created_at);
