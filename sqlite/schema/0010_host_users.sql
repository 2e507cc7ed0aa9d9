-- Issue 26: users a host app vouches for with a JWT, identified by its
-- issuer and subject (empty for local users). Their email column holds a
-- key, "jwt:" and hex digits (core.HostUserKey), never an address; the
-- token's name and email claims are kept in name and contact_email.
ALTER TABLE users ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN contact_email TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_host_identity ON users (issuer, subject) WHERE issuer <> '';
