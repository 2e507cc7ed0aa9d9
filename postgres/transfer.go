package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// The methods of migrate.Source and migrate.Destination, which move a
// store's metadata into another one keeping every key and time.

func (s *DB) UsersAfter(ctx context.Context, after int64, limit int) ([]core.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.User, error) { return scanUser(row) })
}

func (s *DB) APITokensAfter(ctx context.Context, after string, limit int) ([]core.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.APIToken, error) { return scanAPIToken(row) })
}

func (s *DB) ImagesAfter(ctx context.Context, after string, limit int) ([]core.Image, error) {
	return s.images(ctx, `SELECT `+imageColumns+` FROM images WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

func (s *DB) DeletionsAfter(ctx context.Context, after string, limit int) ([]core.Deletion, error) {
	return s.deletions(ctx, `SELECT `+deletionColumns+` FROM deletions WHERE image_id > $1 ORDER BY image_id LIMIT $2`, after, limit)
}

func (s *DB) BlockedAfter(ctx context.Context, after string, limit int) ([]string, error) {
	return s.texts(ctx, `SELECT sha256 FROM blocklist WHERE sha256 > $1 ORDER BY sha256 LIMIT $2`, after, limit)
}

// ImportUser inserts u with its own id and moves the id sequence up to the
// largest id, so that AddUser never hands out an imported one. The table
// lock makes inserts wait meanwhile (an INSERT takes its lock before it
// draws from the sequence), so none can draw an id the import is about to
// take; readers, such as logins, do not wait.
func (s *DB) ImportUser(ctx context.Context, u core.User) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			u.ID, u.Email, u.PasswordHash, u.Admin, u.CreatedAt, u.Disabled, u.Issuer, u.Subject, u.Name, u.ContactEmail); err != nil {
			return mapErr(err)
		}
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users`)
		return err
	})
}

func (s *DB) ImportImage(ctx context.Context, img core.Image) error {
	return insertImage(ctx, s.pool, img)
}

func (s *DB) ImportDeletion(ctx context.Context, d core.Deletion) error {
	return insertDeletion(ctx, s.pool, d)
}

// Block blocklists sha256 as of now: the time it was first blocked is not
// part of what a migration carries.
func (s *DB) Block(ctx context.Context, sha256 string) error {
	return block(ctx, s.pool, sha256, time.Now())
}
