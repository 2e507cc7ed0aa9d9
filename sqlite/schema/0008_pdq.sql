-- The perceptual hash (PDQ, 64 hex digits; '' when none) of each received
-- upload's and published image's bytes, and its quality (0..100).
ALTER TABLE uploads ADD COLUMN pdq TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN pdq_quality INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN pdq TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN pdq_quality INTEGER NOT NULL DEFAULT 0;

-- Perceptual hashes refused at the PUT, by list: 'takedowns' (source: the
-- SHA-256 of the image taken down) or an imported list. Every change takes
-- the next version of blocked_hashes_version, whose row serialises them,
-- so that instances following the table by version miss nothing.
CREATE TABLE blocked_hashes (
	seq      INTEGER PRIMARY KEY, -- a reused seq has a later version: (version, seq) only grows
	version  INTEGER NOT NULL,
	list     TEXT NOT NULL,
	hash     TEXT NOT NULL,
	quality  INTEGER NOT NULL,
	source   TEXT NOT NULL,
	added_at INTEGER NOT NULL
);
CREATE INDEX blocked_hashes_by_version ON blocked_hashes (version, seq);
CREATE INDEX blocked_hashes_list ON blocked_hashes (list, version, seq);
CREATE INDEX blocked_hashes_source ON blocked_hashes (source) WHERE source != '';

CREATE TABLE blocked_hashes_version (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	version  INTEGER NOT NULL,
	removals INTEGER NOT NULL
);
INSERT INTO blocked_hashes_version VALUES (1, 0, 0);
