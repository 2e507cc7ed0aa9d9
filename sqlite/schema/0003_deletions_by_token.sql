-- Claims and PUTs check whether a token's image was taken down, so that
-- an upload URL replayed after a takedown cannot publish it again.
CREATE INDEX deletions_token ON deletions (token);
