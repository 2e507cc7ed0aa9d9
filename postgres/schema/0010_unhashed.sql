-- Issue 25: images published before their perceptual hash was computed
-- (it is computed off the request path while no hash is blocked), for the
-- backfill (Unfingerprinted). pdq_quality is -1, with pdq '', for a
-- picture that cannot be hashed.
CREATE INDEX images_unhashed ON images (id) WHERE pdq = '' AND pdq_quality = 0;
