-- Issue 24: each received upload's and published image's size in pixels as
-- it is shown (upright), for X-Image-Width and X-Image-Height; 0 for images
-- stored before (unknown: the headers are left out).
ALTER TABLE uploads ADD COLUMN width integer NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN height integer NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN width integer NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN height integer NOT NULL DEFAULT 0;
