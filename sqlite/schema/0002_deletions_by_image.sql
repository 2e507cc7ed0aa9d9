-- An image is taken down at most once: its id keys the audit log, which a
-- migration pages by and imports without duplicates.
CREATE UNIQUE INDEX deletions_image_id ON deletions (image_id);
