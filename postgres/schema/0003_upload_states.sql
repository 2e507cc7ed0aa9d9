-- The upload lifecycle (core/lifecycle.go): rows recorded before this
-- version are "created"; a received row names the checked copy of its
-- bytes, which its claim publishes as they are.
ALTER TABLE uploads
	ADD COLUMN state    text NOT NULL DEFAULT 'created',
	ADD COLUMN image_id text COLLATE "C",
	ADD COLUMN size     bigint NOT NULL DEFAULT 0,
	ADD COLUMN sha256   text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX uploads_image_id ON uploads (image_id) WHERE image_id IS NOT NULL;
