// Package sqlite is the embedded metadata store: one SQLite file in WAL mode
// through the pure-Go modernc.org/sqlite driver.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"userimages/core"
)

// schemaFiles holds the schema versions, NNNN_what.sql, numbered from 1
// without gaps; PRAGMA user_version is the number of those applied. A
// released file is never edited: changes go in a new one, which Open applies
// to existing databases.
//
//go:embed schema/*.sql
var schemaFiles embed.FS

// DB is a core.MetadataStore on SQLite.
type DB struct {
	db *sql.DB
	// The hot lookups, prepared once at Open: SQLite parsing a SELECT
	// costs more than running it by primary key.
	upload, image, imageByToken, brandExists, isBlocked, takenDown, userByEmail, user, apiToken *sql.Stmt
}

// prepare prepares the statements of the hot lookups.
func (s *DB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.upload, `SELECT token, content_type, file_size, created_at, user_id, client_addr FROM uploads WHERE token = ?`},
		{&s.image, `SELECT ` + imageColumns + ` FROM images WHERE id = ?`},
		{&s.imageByToken, `SELECT ` + imageColumns + ` FROM images WHERE token = ?`},
		{&s.brandExists, `SELECT count(*) FROM brands WHERE id = ?`},
		{&s.isBlocked, `SELECT count(*) FROM blocklist WHERE sha256 = ?`},
		{&s.takenDown, `SELECT count(*) FROM deletions WHERE token = ?`},
		{&s.userByEmail, `SELECT ` + userColumns + ` FROM users WHERE email = ?`},
		{&s.user, `SELECT ` + userColumns + ` FROM users WHERE id = ?`},
		{&s.apiToken, `SELECT ` + apiTokenColumns + ` FROM api_tokens WHERE id = ?`},
	} {
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = st
	}
	return nil
}

// closeStmts closes the prepared statements.
func (s *DB) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.upload, s.image, s.imageByToken, s.brandExists, s.isBlocked, s.takenDown, s.userByEmail, s.user, s.apiToken} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Open opens or creates the database file at path and applies the schema.
// Commits are durable (synchronous=FULL): a nil error from a write means it
// survives a crash or power loss.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)",
		// At a million images the indexes a claim writes to outgrow the
		// default 2 MiB page cache: 16 MiB per connection, and pages read
		// through a memory map of the file rather than a read(2) each.
		"cache_size(-16384)", "mmap_size(268435456)"} {
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
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return errors.Join(s.closeStmts(), s.db.Close()) }

// migrate applies, in one transaction, the schema versions the database
// lacks. The transaction is IMMEDIATE (_txlock), so processes opening one
// file at once take turns, and each applies only what is left.
func (s *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(schemaFiles, "schema/*.sql")
	if err != nil {
		return err
	}
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
	case v == len(names):
		return nil
	case v > len(names):
		return fmt.Errorf("schema version %d is newer than this binary's %d", v, len(names))
	}
	for _, name := range names[v:] {
		b, err := schemaFiles.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("apply %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(names))); err != nil {
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
	err := s.upload.QueryRowContext(ctx, token).
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
	if err := insertImage(ctx, tx, img); err != nil {
		return err
	}
	if err := deletedOne(tx.ExecContext(ctx, `DELETE FROM uploads WHERE token = ?`, img.Token)); err != nil {
		return err
	}
	return tx.Commit()
}

const imageColumns = `id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr`

// execer is a *sql.DB or a *sql.Tx: single statements need no transaction
// of their own.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertImage inserts img's row; ErrExist if its id or token is taken.
func insertImage(ctx context.Context, db execer, img core.Image) error {
	_, err := db.ExecContext(ctx, `INSERT INTO images (`+imageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr)
	return mapErr(err)
}

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
	return scanImage(s.image.QueryRowContext(ctx, id))
}

func (s *DB) ImageByToken(ctx context.Context, token string) (core.Image, error) {
	return scanImage(s.imageByToken.QueryRowContext(ctx, token))
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
	return queryAll(ctx, s.db, scanString, `SELECT token FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?`, micros(cutoff), limit)
}

// queryAll runs a query and scans each row it returns with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanString(row rowScanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

func (s *DB) AddBrand(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO brands (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, micros(time.Now()))
	return err
}

func (s *DB) BrandExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.brandExists.QueryRowContext(ctx, id).Scan(&n)
	return n > 0, err
}

func (s *DB) Brands(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s.db, scanString, `SELECT id FROM brands ORDER BY id`)
}

func (s *DB) AddUser(ctx context.Context, u core.User) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (email, password_hash, admin, created_at) VALUES (?, ?, ?, ?)`, u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt))
	if err != nil {
		return 0, mapErr(err)
	}
	return res.LastInsertId()
}

const userColumns = `id, email, password_hash, admin, created_at`

func scanUser(row rowScanner) (core.User, error) {
	var u core.User
	var created int64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &created)
	u.CreatedAt = fromMicros(created)
	return u, mapErr(err)
}

func (s *DB) UserByEmail(ctx context.Context, email string) (core.User, error) {
	return scanUser(s.userByEmail.QueryRowContext(ctx, email))
}

func (s *DB) User(ctx context.Context, id int64) (core.User, error) {
	return scanUser(s.user.QueryRowContext(ctx, id))
}

func (s *DB) AddAPIToken(ctx context.Context, t core.APIToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, hash, created_at) VALUES (?, ?, ?, ?)`, t.ID, t.UserID, t.Hash, micros(t.CreatedAt))
	return mapErr(err)
}

const apiTokenColumns = `id, user_id, hash, created_at`

func scanAPIToken(row rowScanner) (core.APIToken, error) {
	var t core.APIToken
	var created int64
	err := row.Scan(&t.ID, &t.UserID, &t.Hash, &created)
	t.CreatedAt = fromMicros(created)
	return t, mapErr(err)
}

func (s *DB) APIToken(ctx context.Context, id string) (core.APIToken, error) {
	return scanAPIToken(s.apiToken.QueryRowContext(ctx, id))
}

// Counts returns the number of rows per table, for tests and operators.
func (s *DB) Counts(ctx context.Context) (uploads, images int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM images)`).Scan(&uploads, &images)
	return uploads, images, err
}

// Images lists every image, oldest first, for tests and operators.
func (s *DB) Images(ctx context.Context) ([]core.Image, error) {
	return queryAll(ctx, s.db, scanImage, `SELECT `+imageColumns+` FROM images ORDER BY created_at, rowid`)
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
	return queryAll(ctx, s.db, scanImage, q+` ORDER BY created_at DESC, rowid DESC LIMIT ?`, append(args, f.Limit)...)
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
	if err := insertDeletion(ctx, tx, d); err != nil {
		return err
	}
	if d.Blocked {
		if err := block(ctx, tx, d.Image.SHA256, d.At); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const deletionColumns = `image_id, token, brand_id, content_type, size, sha256, image_created_at, user_id, client_addr, deleted_by, reason, blocked, deleted_at`

// insertDeletion records d in the audit log; ErrExist if a deletion of
// d.Image.ID is recorded already.
func insertDeletion(ctx context.Context, db execer, d core.Deletion) error {
	img := d.Image
	_, err := db.ExecContext(ctx, `INSERT INTO deletions (`+deletionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr, d.By, d.Reason, d.Blocked, micros(d.At))
	return mapErr(err)
}

// block blocklists sha256 as of at; blocking it again is not an error.
func block(ctx context.Context, db execer, sha256 string, at time.Time) error {
	_, err := db.ExecContext(ctx, `INSERT INTO blocklist (sha256, created_at) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`, sha256, micros(at))
	return err
}

func (s *DB) Deletions(ctx context.Context, limit int) ([]core.Deletion, error) {
	return queryAll(ctx, s.db, scanDeletion, `SELECT `+deletionColumns+` FROM deletions ORDER BY deleted_at DESC, rowid DESC LIMIT ?`, limit)
}

func scanDeletion(row rowScanner) (core.Deletion, error) {
	var d core.Deletion
	var created, at int64
	img := &d.Image
	err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr, &d.By, &d.Reason, &d.Blocked, &at)
	img.CreatedAt, d.At = fromMicros(created), fromMicros(at)
	return d, err
}

func (s *DB) IsBlocked(ctx context.Context, sha256 string) (bool, error) {
	return counted(ctx, s.isBlocked, sha256)
}

func (s *DB) TakenDown(ctx context.Context, token string) (bool, error) {
	return counted(ctx, s.takenDown, token)
}

// counted runs a prepared count(*) query and reports whether it found any.
func counted(ctx context.Context, st *sql.Stmt, arg string) (bool, error) {
	var n int
	err := st.QueryRowContext(ctx, arg).Scan(&n)
	return n > 0, err
}

var _ core.MetadataStore = (*DB)(nil)
