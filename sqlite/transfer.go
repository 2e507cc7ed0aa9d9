package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"os"
	"time"

	"userimages/core"
	"userimages/internal/private"
)

// The methods of migrate.Source and migrate.Destination, which move a
// store's metadata into another one keeping every key and time. Text keys
// compare byte by byte (SQLite's BINARY collation), the order the listings
// promise.

func (s *DB) UsersAfter(ctx context.Context, after int64, limit int) ([]core.User, error) {
	return queryAll(ctx, s.r, scanUser, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

func (s *DB) APITokensAfter(ctx context.Context, after string, limit int) ([]core.APIToken, error) {
	return queryAll(ctx, s.r, scanAPIToken, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

func (s *DB) ImagesAfter(ctx context.Context, after string, limit int) ([]core.Image, error) {
	return queryAll(ctx, s.r, scanImage, `SELECT `+imageColumns+` FROM images WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

func (s *DB) DeletionsAfter(ctx context.Context, after string, limit int) ([]core.Deletion, error) {
	return queryAll(ctx, s.r, scanDeletion, `SELECT `+deletionColumns+` FROM deletions WHERE image_id > ? ORDER BY image_id LIMIT ?`, after, limit)
}

func (s *DB) BlockedAfter(ctx context.Context, after string, limit int) ([]string, error) {
	return queryAll(ctx, s.r, scanString, `SELECT sha256 FROM blocklist WHERE sha256 > ? ORDER BY sha256 LIMIT ?`, after, limit)
}

// ImportUser inserts u with its own id. Users added later get ids above it
// with no more work: SQLite gives a new INTEGER PRIMARY KEY row the largest
// id plus one.
func (s *DB) ImportUser(ctx context.Context, u core.User) error {
	return s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt), u.Disabled,
		u.Issuer, u.Subject, u.Name, u.ContactEmail)
}

func (s *DB) ImportImage(ctx context.Context, img core.Image) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertImage(tx, img) })
}

func (s *DB) ImportDeletion(ctx context.Context, d core.Deletion) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertDeletion(tx, d) })
}

// Block blocklists sha256 as of now: the time it was first blocked is not
// part of what a migration carries.
func (s *DB) Block(ctx context.Context, sha256 string) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.block(tx, sha256, time.Now()) })
}

// Snapshot writes a consistent copy of the database to path, a file that
// must not exist, with VACUUM INTO: one read transaction, so writers go on
// meanwhile and the copy holds every write committed before it began.
// The copy is mode 0600, as the database is: it is created empty so
// (VACUUM INTO writes into an empty file) before SQLite would create it
// 0644 less the umask.
// It runs on a reader, which writes only the new file: the connection
// leaves query_only for it, and is discarded after.
func (s *DB) Snapshot(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("snapshot %s: %w", path, fs.ErrExist)
	}
	if err := private.CreateFile(path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	defer conn.Raw(func(any) error { return driver.ErrBadConn }) // never back to the pool writable
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only(0)"); err != nil {
		return mapErr(err)
	}
	_, err = conn.ExecContext(ctx, "VACUUM INTO ?", path)
	return mapErr(err)
}
