-- Issue 26: users a host app vouches for with a JWT, identified by its
-- issuer and subject (empty for local users). Their email column holds a
-- key, "jwt:" and hex digits (core.HostUserKey), never an address; the
-- token's name and email claims are kept in name and contact_email.
ALTER TABLE users
	ADD COLUMN issuer text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN subject text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN name text NOT NULL DEFAULT '',
	ADD COLUMN contact_email text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_host_identity ON users (issuer, subject) WHERE issuer <> '';
