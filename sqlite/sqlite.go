// Package sqlite is the embedded metadata store: one SQLite file in WAL mode
// through the pure-Go modernc.org/sqlite driver.
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"userimages/core"
)

//go:embed schema.sql
var schema string

// schemaVersion is stored in PRAGMA user_version once schema.sql is applied.
const schemaVersion = 1

// DB is a core.MetadataStore on SQLite.
type DB struct {
	db *sql.DB
}

// Open opens or creates the database file at path and applies the schema.
// Commits are durable (synchronous=FULL): a nil error from a write means it
// survives a crash or power loss.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// path is a file name, not a URI: escape what URIs treat specially.
	name := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &DB{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this binary's %d", v, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("apply schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

func micros(t time.Time) int64      { return t.UnixMicro() }
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// mapErr turns driver errors into core sentinels.
func mapErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return core.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w: %v", core.ErrExist, err)
	}
	return err
}

func (s *DB) CreateUpload(ctx context.Context, u core.Upload) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr) VALUES (?, ?, ?, ?, ?, ?)`,
		u.Token, u.ContentType, u.FileSize, micros(u.CreatedAt), u.Uploader.UserID, u.Uploader.ClientAddr)
	return mapErr(err)
}

func (s *DB) Upload(ctx context.Context, token string) (core.Upload, error) {
	var u core.Upload
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT token, content_type, file_size, created_at, user_id, client_addr FROM uploads WHERE token = ?`, token).
		Scan(&u.Token, &u.ContentType, &u.FileSize, &created, &u.Uploader.UserID, &u.Uploader.ClientAddr)
	u.CreatedAt = fromMicros(created)
	return u, mapErr(err)
}

func (s *DB) PublishImage(ctx context.Context, img core.Image) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO images (id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr)
	if err != nil {
		return mapErr(err)
	}
	if err := deletedOne(tx.ExecContext(ctx, `DELETE FROM uploads WHERE token = ?`, img.Token)); err != nil {
		return err
	}
	return tx.Commit()
}

const imageColumns = `id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr`

// deletedOne checks that a DELETE removed a row: ErrNotFound if none.
func deletedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanImage(row rowScanner) (core.Image, error) {
	var img core.Image
	var created int64
	err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr)
	img.CreatedAt = fromMicros(created)
	return img, mapErr(err)
}

func (s *DB) Image(ctx context.Context, id string) (core.Image, error) {
	return scanImage(s.db.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id))
}

func (s *DB) ImageByToken(ctx context.Context, token string) (core.Image, error) {
	return scanImage(s.db.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE token = ?`, token))
}

func (s *DB) ImageExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM images WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

func (s *DB) DeleteExpiredUpload(ctx context.Context, token string, cutoff time.Time) error {
	return deletedOne(s.db.ExecContext(ctx, `DELETE FROM uploads WHERE token = ? AND created_at < ?`, token, micros(cutoff)))
}

func (s *DB) ExpiredUploads(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?`, micros(cutoff), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows)
}

func collect(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (s *DB) AddBrand(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO brands (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, micros(time.Now()))
	return err
}

func (s *DB) BrandExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM brands WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

func (s *DB) Brands(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM brands ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows)
}

func (s *DB) AddUser(ctx context.Context, u core.User) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (email, password_hash, admin, created_at) VALUES (?, ?, ?, ?)`, u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt))
	if err != nil {
		return 0, mapErr(err)
	}
	return res.LastInsertId()
}

const userColumns = `id, email, password_hash, admin, created_at`

func scanUser(row *sql.Row) (core.User, error) {
	var u core.User
	var created int64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &created)
	u.CreatedAt = fromMicros(created)
	return u, mapErr(err)
}

func (s *DB) UserByEmail(ctx context.Context, email string) (core.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

func (s *DB) User(ctx context.Context, id int64) (core.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

func (s *DB) AddAPIToken(ctx context.Context, t core.APIToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, hash, created_at) VALUES (?, ?, ?, ?)`, t.ID, t.UserID, t.Hash, micros(t.CreatedAt))
	return mapErr(err)
}

func (s *DB) APIToken(ctx context.Context, id string) (core.APIToken, error) {
	var t core.APIToken
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, hash, created_at FROM api_tokens WHERE id = ?`, id).Scan(&t.ID, &t.UserID, &t.Hash, &created)
	t.CreatedAt = fromMicros(created)
	return t, mapErr(err)
}

// Counts returns the number of rows per table, for tests and operators.
func (s *DB) Counts(ctx context.Context) (uploads, images int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM images)`).Scan(&uploads, &images)
	return uploads, images, err
}

// Images lists every image, oldest first, for tests and operators.
func (s *DB) Images(ctx context.Context) ([]core.Image, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+imageColumns+` FROM images ORDER BY created_at, rowid`)
	if err != nil {
		return nil, err
	}
	return collectImages(rows)
}

func collectImages(rows *sql.Rows) ([]core.Image, error) {
	defer rows.Close()
	var out []core.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

func (s *DB) ListImages(ctx context.Context, f core.ImageFilter) ([]core.Image, error) {
	q := `SELECT ` + imageColumns + ` FROM images WHERE 1=1`
	var args []any
	if f.BrandID != "" {
		q += ` AND brand_id = ?`
		args = append(args, f.BrandID)
	}
	if f.UserID != 0 {
		q += ` AND user_id = ?`
		args = append(args, f.UserID)
	}
	if f.Anonymous {
		q += ` AND user_id = 0`
	}
	if !f.Before.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, micros(f.Before))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at DESC, rowid DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	return collectImages(rows)
}

func (s *DB) DeleteImage(ctx context.Context, d core.Deletion) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := deletedOne(tx.ExecContext(ctx, `DELETE FROM images WHERE id = ?`, d.Image.ID)); err != nil {
		return err
	}
	img := d.Image
	_, err = tx.ExecContext(ctx, `INSERT INTO deletions (image_id, token, brand_id, content_type, size, sha256, image_created_at, user_id, client_addr, deleted_by, reason, blocked, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr, d.By, d.Reason, d.Blocked, micros(d.At))
	if err != nil {
		return err
	}
	if d.Blocked {
		if _, err := tx.ExecContext(ctx, `INSERT INTO blocklist (sha256, created_at) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`, img.SHA256, micros(d.At)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *DB) Deletions(ctx context.Context, limit int) ([]core.Deletion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT image_id, token, brand_id, content_type, size, sha256, image_created_at, user_id, client_addr, deleted_by, reason, blocked, deleted_at FROM deletions ORDER BY deleted_at DESC, rowid DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Deletion
	for rows.Next() {
		var d core.Deletion
		var created, at int64
		img := &d.Image
		if err := rows.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr, &d.By, &d.Reason, &d.Blocked, &at); err != nil {
			return nil, err
		}
		img.CreatedAt, d.At = fromMicros(created), fromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *DB) IsBlocked(ctx context.Context, sha256 string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM blocklist WHERE sha256 = ?`, sha256).Scan(&n)
	return n > 0, err
}

var _ core.MetadataStore = (*DB)(nil)
