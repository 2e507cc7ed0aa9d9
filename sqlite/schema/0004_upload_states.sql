-- The upload lifecycle (core/lifecycle.go): rows recorded before this
-- version hold staged bytes and are "created"; a received row names the
-- checked copy of its bytes, which its claim publishes as they are.
ALTER TABLE uploads ADD COLUMN state TEXT NOT NULL DEFAULT 'created';
ALTER TABLE uploads ADD COLUMN image_id TEXT;
ALTER TABLE uploads ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX uploads_image_id ON uploads (image_id) WHERE image_id IS NOT NULL;
