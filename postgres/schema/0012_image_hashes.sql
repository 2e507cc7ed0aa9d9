-- Issue 25: the console finds the published images resembling one by
-- scanning the latest ones' perceptual hashes, in publication order
-- (core.Resemblance.Resembling), from this index alone.
CREATE INDEX images_hashed ON images (seq DESC) INCLUDE (id, pdq, pdq_quality) WHERE pdq <> '';
