CREATE TABLE uploads (
	token        TEXT PRIMARY KEY,
	content_type TEXT NOT NULL,
	file_size    INTEGER NOT NULL,
	created_at   INTEGER NOT NULL, -- unix microseconds
	user_id      INTEGER NOT NULL DEFAULT 0,
	client_addr  TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX uploads_created_at ON uploads (created_at);

CREATE TABLE images (
	id           TEXT PRIMARY KEY,
	token        TEXT NOT NULL UNIQUE,
	brand_id     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	user_id      INTEGER NOT NULL DEFAULT 0,
	client_addr  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX images_created_at ON images (created_at);

CREATE TABLE brands (
	id         TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	password_hash BLOB NOT NULL,
	admin         INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The moderation audit log: one row per image taken down, with the image as
-- it was.
CREATE TABLE deletions (
	image_id         TEXT NOT NULL,
	token            TEXT NOT NULL,
	brand_id         TEXT NOT NULL,
	content_type     TEXT NOT NULL,
	size             INTEGER NOT NULL,
	sha256           TEXT NOT NULL,
	image_created_at INTEGER NOT NULL,
	user_id          INTEGER NOT NULL,
	client_addr      TEXT NOT NULL,
	deleted_by       TEXT NOT NULL,
	reason           TEXT NOT NULL,
	blocked          INTEGER NOT NULL,
	deleted_at       INTEGER NOT NULL
);
CREATE INDEX deletions_deleted_at ON deletions (deleted_at);

CREATE TABLE blocklist (
	sha256     TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
