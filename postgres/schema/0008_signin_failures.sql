-- Issue 23: failed sign-ins, per account ("account:EMAIL") and per client
-- address ("address:ADDR"), counted in a row since the last success or
-- unlock (core/signin.go). Transient: a migration or backup leaves them.
CREATE TABLE signin_failures (
	key        TEXT PRIMARY KEY,
	failures   INTEGER NOT NULL,
	last_at    TIMESTAMPTZ NOT NULL,
	audited    INTEGER NOT NULL DEFAULT 0,
	audited_at TIMESTAMPTZ
);
