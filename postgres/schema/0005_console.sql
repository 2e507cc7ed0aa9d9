-- The moderation console (issue 14): sign-in sessions, kept here so that
-- every instance honours them (only a hash of each token); readers'
-- reports of images, one per reporter and image; and the audit records of
-- moderation actions other than takedowns (dismissals, unblocks).
CREATE TABLE sessions (
	hash       text COLLATE "C" PRIMARY KEY,
	user_id    bigint NOT NULL REFERENCES users (id),
	created_at timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL
);

CREATE TABLE reports (
	image_id   text COLLATE "C" NOT NULL,
	reporter   text COLLATE "C" NOT NULL,
	reason     text NOT NULL,
	detail     text NOT NULL,
	created_at timestamptz NOT NULL,
	seq        bigint GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (image_id, reporter)
);

CREATE TABLE moderation_events (
	action text NOT NULL,
	target text COLLATE "C" NOT NULL,
	by     text NOT NULL,
	reason text NOT NULL,
	at     timestamptz NOT NULL,
	seq    bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX moderation_events_at ON moderation_events (at, seq);
-- An event is keyed by its time, action and target, which a migration
-- pages by and imports without duplicates.
CREATE UNIQUE INDEX moderation_events_key ON moderation_events (at, action, target);
CREATE INDEX moderation_events_target ON moderation_events (target);
CREATE INDEX images_client_addr ON images (client_addr, created_at);
