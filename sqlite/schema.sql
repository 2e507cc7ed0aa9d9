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

CREATE TABLE brands (
	id         TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	password_hash BLOB NOT NULL,
	created_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
