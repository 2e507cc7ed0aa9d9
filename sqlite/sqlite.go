// Package sqlite is the embedded metadata store: one SQLite file in WAL mode
// through the pure-Go modernc.org/sqlite driver.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"userimages/core"
	"userimages/internal/private"
)

// schemaFiles holds the schema versions, NNNN_what.sql, numbered from 1
// without gaps; PRAGMA user_version is the number of those applied. A
// released file is never edited: changes go in a new one, which Open applies
// to existing databases.
//
//go:embed schema/*.sql
var schemaFiles embed.FS

// DB keeps core's metadata roles (core/store.go) on SQLite.
//
// Connections: one writer, which every write of this process goes through
// in turn (see writer.go), and a small pool of read-only readers, which in
// WAL mode never wait for the writer. Readers idle for readerIdleTime are
// closed, so that an idle server holds the writer's handles and, since
// SQLite keeps a closed connection's database handle for the next one
// while others hold locks, at most maxReaders more: 1 + maxReaders + 2
// files (database, WAL, shared memory).
type DB struct {
	w, r *sql.DB
	// writes queue for the writer's goroutine; closing stops it, and
	// loopDone says it has stopped.
	writes chan *writeReq
	// writeStmts are the writes\' statements, prepared on the writer (see
	// txStmt).
	writeStmts map[string]*sql.Stmt
	closing    chan struct{}
	closeOnce  sync.Once
	loopDone   chan struct{}
	// The hot lookups, prepared once at Open on the readers: SQLite
	// parsing a SELECT costs more than running it by primary key.
	upload, image, imageByToken, brandExists, isBlocked, takenDown, userByEmail, user, apiToken *sql.Stmt
}

// Reader pool bounds: enough for concurrent GETs and claims to read at
// once on a small machine, few enough to keep open handles small.
const (
	maxReaders     = 4
	readerIdleTime = 2 * time.Second
)

// prepare prepares the statements of the hot lookups.
func (s *DB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.upload, `SELECT ` + uploadColumns + ` FROM uploads WHERE token = ?`},
		{&s.image, `SELECT ` + imageColumns + ` FROM images WHERE id = ?`},
		{&s.imageByToken, `SELECT ` + imageColumns + ` FROM images WHERE token = ?`},
		{&s.brandExists, `SELECT count(*) FROM brands WHERE id = ?`},
		{&s.isBlocked, `SELECT count(*) FROM blocklist WHERE sha256 = ?`},
		{&s.takenDown, `SELECT count(*), coalesce(max(user_id), 0) FROM deletions WHERE token = ?`},
		{&s.userByEmail, `SELECT ` + userColumns + ` FROM users WHERE email = ?`},
		{&s.user, `SELECT ` + userColumns + ` FROM users WHERE id = ?`},
		{&s.apiToken, `SELECT ` + apiTokenColumns + ` FROM api_tokens WHERE selector = ?`},
	} {
		st, err := s.r.PrepareContext(ctx, p.query)
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
	pragmas := []string{"journal_mode(WAL)", "synchronous(FULL)",
		// Only for other processes (the admin commands) writing the same
		// file: this process's writes never contend.
		"busy_timeout(10000)", "foreign_keys(1)",
		// At a million images the indexes a claim writes to outgrow the
		// default 2 MiB page cache: 16 MiB per connection, and pages read
		// through a memory map of the file rather than a read(2) each.
		"cache_size(-16384)", "mmap_size(268435456)"}
	// Created 0600 here, not by SQLite (0644 less the umask): it holds
	// password, token and session hashes and uploaders' addresses. SQLite
	// gives the WAL and SHM the database's mode.
	if err := private.CreateFile(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w, err := openPool(path, pragmas, "immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	s := &DB{w: w, writes: make(chan *writeReq), writeStmts: map[string]*sql.Stmt{}, closing: make(chan struct{}), loopDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.r, err = openPool(path, append(pragmas, "query_only(1)"), "deferred"); err != nil {
		w.Close()
		return nil, err
	}
	s.r.SetMaxOpenConns(maxReaders)
	s.r.SetMaxIdleConns(maxReaders)
	s.r.SetConnMaxIdleTime(readerIdleTime)
	if err := s.prepareWrites(ctx); err != nil {
		s.r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go s.commitLoop()
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// openPool opens a connection pool on the file at path.
func openPool(path string, pragmas []string, txlock string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	// path is a file name, not a URI: escape what URIs treat specially.
	name := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Close stops the writer, after the writes queued, and closes the database.
func (s *DB) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.loopDone
	errs := []error{s.closeStmts()}
	for _, st := range s.writeStmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, s.r.Close(), s.w.Close())...)
}

// migrate applies, in one transaction, the schema versions the database
// lacks. The transaction is IMMEDIATE (_txlock), so processes opening one
// file at once take turns, and each applies only what is left.
func (s *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(schemaFiles, "schema/*.sql")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
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
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", core.ErrExist, err)
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w: %v", core.ErrFull, err)
		}
		if se.Code()&0xff == sqlite3.SQLITE_IOERR && errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %v", core.ErrFull, err)
		}
	}
	return err
}

const uploadColumns = `token, content_type, file_size, created_at, user_id, client_addr, state, coalesce(image_id, ''), size, sha256, pdq, pdq_quality, width, height`

func scanUpload(row rowScanner) (core.Upload, error) {
	var u core.Upload
	var created int64
	err := row.Scan(&u.Token, &u.ContentType, &u.FileSize, &created, &u.Uploader.UserID, &u.Uploader.ClientAddr, &u.State, &u.ImageID, &u.Size, &u.SHA256, &u.PDQ, &u.PDQQuality, &u.Width, &u.Height)
	u.CreatedAt = fromMicros(created)
	return u, mapErr(err)
}

func (s *DB) CreateUpload(ctx context.Context, u core.Upload) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(tx, `INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr, state) VALUES (?, ?, ?, ?, ?, ?, 'created')`,
			u.Token, u.ContentType, u.FileSize, micros(u.CreatedAt), u.Uploader.UserID, u.Uploader.ClientAddr)
		return mapErr(err)
	})
}

// receiveUploadSQL inserts a received upload where the token has no record at
// all, or moves it on from created; "WHERE true" lets SQLite parse the
// upsert of a SELECT.
const receiveUploadSQL = `INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr, state, image_id, size, sha256, pdq, pdq_quality, width, height)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'received', ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE true
				AND NOT EXISTS (SELECT 1 FROM images WHERE token = ?1)
				AND NOT EXISTS (SELECT 1 FROM deletions WHERE token = ?1)
			ON CONFLICT (token) DO UPDATE SET state = 'received', image_id = ?7, size = ?8, sha256 = ?9, pdq = ?10, pdq_quality = ?11, width = ?12, height = ?13
				WHERE uploads.state = 'created'`

func (s *DB) ReceiveUpload(ctx context.Context, u core.Upload) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(tx, receiveUploadSQL,
			u.Token, u.ContentType, u.FileSize, micros(u.CreatedAt), u.Uploader.UserID, u.Uploader.ClientAddr, u.ImageID, u.Size, u.SHA256, u.PDQ, u.PDQQuality, u.Width, u.Height)
		if err := changedOne(res, mapErr(err)); errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("receive %s: %w", u.Token, core.ErrExist)
		} else if err != nil {
			return err
		}
		return nil
	})
}

// claimUploadSQL takes a received upload's row, if it may be claimed.
const claimUploadSQL = `DELETE FROM uploads WHERE token = ?1 AND state = 'received' AND created_at >= ?2
				AND user_id IN (0, ?4)
				AND EXISTS (SELECT 1 FROM brands WHERE id = ?3)
				AND NOT EXISTS (SELECT 1 FROM blocklist WHERE blocklist.sha256 = uploads.sha256)
			RETURNING ` + uploadColumns

// insertImageSQL inserts an image row.
const insertImageSQL = `INSERT INTO images (` + imageColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *DB) ClaimUpload(ctx context.Context, c core.UploadClaim) (_ core.Image, err error) {
	defer func() { err = fault(err) }()
	var img core.Image
	err = s.write(ctx, func(tx *sql.Tx) error {
		row := s.txQueryRow(tx, claimUploadSQL, c.Token, micros(c.NotBefore), c.BrandID, c.Claimant)
		up, err := scanUpload(row)
		if err != nil {
			return err
		}
		img = publishedImage(up, c)
		if err := s.insertImage(tx, img); err != nil {
			return err
		}
		if c.Outbox != nil {
			return s.enqueue(tx, c.Outbox(img), c.At)
		}
		return nil
	})
	return img, err
}

// publishedImage is the image a claim publishes from a received upload.
func publishedImage(up core.Upload, c core.UploadClaim) core.Image {
	return core.Image{ID: up.ImageID, Token: up.Token, BrandID: c.BrandID, ContentType: up.ContentType, Size: up.Size,
		SHA256: up.SHA256, CreatedAt: fromMicros(micros(c.At)), Uploader: up.Uploader, PDQ: up.PDQ, PDQQuality: up.PDQQuality, Width: up.Width, Height: up.Height}
}

func (s *DB) ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (_ []core.Upload, err error) {
	defer func() { err = fault(err) }()
	var expired []core.Upload
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.txQuery(tx, `DELETE FROM uploads WHERE token IN (SELECT token FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?)
			RETURNING `+uploadColumns, micros(cutoff), limit)
		if err != nil {
			return err
		}
		expired, err = collect(rows, scanUpload)
		return err
	})
	return expired, err
}

func (s *DB) TokenStatus(ctx context.Context, token string) (_ core.TokenStatus, err error) {
	defer func() { err = fault(err) }()
	var st core.TokenStatus
	// One read transaction: one snapshot, so that a claim committing
	// meanwhile cannot make the token look unknown.
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer tx.Rollback()
	if up, err := scanUpload(tx.StmtContext(ctx, s.upload).QueryRowContext(ctx, token)); err == nil {
		st.Upload = &up
	} else if !errors.Is(err, core.ErrNotFound) {
		return st, err
	}
	if img, err := scanImage(tx.StmtContext(ctx, s.imageByToken).QueryRowContext(ctx, token)); err == nil {
		st.Image = &img
	} else if !errors.Is(err, core.ErrNotFound) {
		return st, err
	}
	var takedowns int
	err = tx.StmtContext(ctx, s.takenDown).QueryRowContext(ctx, token).Scan(&takedowns, &st.TakenDownUploader)
	st.TakenDown = takedowns > 0
	return st, err
}

func (s *DB) ImageReferenced(ctx context.Context, id string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	var n int
	err = s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM images WHERE id = ?1) + (SELECT count(*) FROM uploads WHERE image_id = ?1)`, id).Scan(&n)
	return n > 0, err
}

const imageColumns = `id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr, pdq, pdq_quality, width, height`

// insertImage inserts img's row; ErrExist if its id or token is taken.
func (s *DB) insertImage(tx *sql.Tx, img core.Image) error {
	_, err := s.txExec(tx, insertImageSQL,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr, img.PDQ, img.PDQQuality, img.Width, img.Height)
	return mapErr(err)
}

// changedOne checks that a conditional write changed a row: ErrNotFound if
// none.
func changedOne(res sql.Result, err error) error {
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
	err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr, &img.PDQ, &img.PDQQuality, &img.Width, &img.Height)
	img.CreatedAt = fromMicros(created)
	return img, mapErr(err)
}

func (s *DB) Image(ctx context.Context, id string) (_ core.Image, err error) {
	defer func() { err = fault(err) }()
	return scanImage(s.image.QueryRowContext(ctx, id))
}

// queryAll runs a query and scans each row it returns with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// collect scans every row of rows with scan, and closes rows.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
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

func (s *DB) AddBrand(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `INSERT INTO brands (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, micros(time.Now()))
}

func (s *DB) DeleteBrand(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		var exists, used bool
		if err := s.txQueryRow(tx, `SELECT EXISTS (SELECT 1 FROM brands WHERE id = ?), EXISTS (SELECT 1 FROM images WHERE brand_id = ?)`, id, id).Scan(&exists, &used); err != nil {
			return mapErr(err)
		}
		switch {
		case !exists:
			return core.ErrNotFound
		case used:
			return core.ErrExist
		}
		_, err := s.txExec(tx, `DELETE FROM brands WHERE id = ?`, id)
		return mapErr(err)
	})
}

// exec runs one write statement on the writer.
func (s *DB) exec(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(tx, query, args...)
		return mapErr(err)
	})
}

func (s *DB) BrandExists(ctx context.Context, id string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	var n int
	err = s.brandExists.QueryRowContext(ctx, id).Scan(&n)
	return n > 0, err
}

func (s *DB) Brands(ctx context.Context) (_ []string, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanString, `SELECT id FROM brands ORDER BY id`)
}

func (s *DB) AddUser(ctx context.Context, u core.User) (_ int64, err error) {
	defer func() { err = fault(err) }()
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		return mapErr(s.txQueryRow(tx, `INSERT INTO users (email, password_hash, admin, created_at, disabled) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt), u.Disabled).Scan(&id))
	})
	return id, err
}

const userColumns = `id, email, password_hash, admin, created_at, disabled, issuer, subject, name, contact_email`

func scanUser(row rowScanner) (core.User, error) {
	var u core.User
	var created int64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &created, &u.Disabled, &u.Issuer, &u.Subject, &u.Name, &u.ContactEmail)
	u.CreatedAt = fromMicros(created)
	return u, mapErr(err)
}

const hostUserQuery = `SELECT ` + userColumns + ` FROM users WHERE issuer = ? AND subject = ? AND issuer <> ''`

// EnsureHostUser reads first, and writes only for a new user or changed
// claims, so that a returning user's request costs no write.
func (s *DB) EnsureHostUser(ctx context.Context, u core.User) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	got, err := scanUser(s.r.QueryRowContext(ctx, hostUserQuery, u.Issuer, u.Subject))
	if err == nil && (got.Disabled || got.Name == u.Name && got.ContactEmail == u.ContactEmail) {
		return got, nil
	}
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return got, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(tx, `INSERT INTO users (email, password_hash, admin, created_at, disabled, issuer, subject, name, contact_email)
			VALUES (?, x'', 0, ?, 0, ?, ?, ?, ?)
			ON CONFLICT (issuer, subject) WHERE issuer <> '' DO UPDATE SET name = excluded.name, contact_email = excluded.contact_email
			WHERE NOT users.disabled`,
			u.Email, micros(u.CreatedAt), u.Issuer, u.Subject, u.Name, u.ContactEmail); err != nil {
			return mapErr(err)
		}
		got, err = scanUser(s.txQueryRow(tx, hostUserQuery, u.Issuer, u.Subject))
		return err
	})
	return got, err
}

func (s *DB) UserByEmail(ctx context.Context, email string) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	return scanUser(s.userByEmail.QueryRowContext(ctx, email))
}

func (s *DB) User(ctx context.Context, id int64) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	return scanUser(s.user.QueryRowContext(ctx, id))
}

func (s *DB) AddAPIToken(ctx context.Context, t core.APIToken) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `INSERT INTO api_tokens (id, selector, user_id, hash, created_at, last_used) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Selector, t.UserID, t.Hash, micros(t.CreatedAt), optMicros(t.LastUsed))
}

const apiTokenColumns = `id, selector, user_id, hash, created_at, last_used`

func scanAPIToken(row rowScanner) (core.APIToken, error) {
	var t core.APIToken
	var created, lastUsed int64
	err := row.Scan(&t.ID, &t.Selector, &t.UserID, &t.Hash, &created, &lastUsed)
	t.CreatedAt = fromMicros(created)
	if lastUsed != 0 {
		t.LastUsed = fromMicros(lastUsed)
	}
	return t, mapErr(err)
}

// optMicros is micros of t, or 0 for the zero time (never).
func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func (s *DB) Users(ctx context.Context) (_ []core.User, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanUser, `SELECT `+userColumns+` FROM users ORDER BY id`)
}

func (s *DB) DisableUser(ctx context.Context, id int64) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return affectedOne(s.txExec(tx, `UPDATE users SET disabled = 1 WHERE id = ?`, id))
	})
}

func (s *DB) EnableUser(ctx context.Context, id int64) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return affectedOne(s.txExec(tx, `UPDATE users SET disabled = 0 WHERE id = ?`, id))
	})
}

func (s *DB) SetPasswordHash(ctx context.Context, id int64, hash []byte) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return affectedOne(s.txExec(tx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id))
	})
}

func (s *DB) APITokens(ctx context.Context, userID int64) (_ []core.APIToken, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanAPIToken, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
}

func (s *DB) DeleteAPIToken(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return affectedOne(s.txExec(tx, `DELETE FROM api_tokens WHERE id = ?`, id))
	})
}

func (s *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ? AND last_used < ?`, micros(at), id, micros(at))
}

// affectedOne is ErrNotFound when an update or delete changed no row.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cmp.Or(err, core.ErrNotFound)
	}
	return nil
}

func (s *DB) APITokenBySelector(ctx context.Context, selector string) (_ core.APIToken, err error) {
	defer func() { err = fault(err) }()
	return scanAPIToken(s.apiToken.QueryRowContext(ctx, selector))
}

// Counts returns the number of rows per table, for tests and operators.
func (s *DB) Counts(ctx context.Context) (uploads, images int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM images)`).Scan(&uploads, &images)
	return uploads, images, err
}

// Images lists every image, oldest first, for tests and operators.
func (s *DB) Images(ctx context.Context) ([]core.Image, error) {
	return queryAll(ctx, s.r, scanImage, `SELECT `+imageColumns+` FROM images ORDER BY created_at, rowid`)
}

func (s *DB) ListImages(ctx context.Context, f core.ImageFilter) (_ []core.Image, err error) {
	defer func() { err = fault(err) }()
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
	if f.ClientAddr != "" {
		q += ` AND client_addr = ?`
		args = append(args, f.ClientAddr)
	}
	if !f.Before.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, micros(f.Before))
	}
	if !f.After.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, micros(f.After))
	}
	if f.Reported {
		q += ` AND id IN (SELECT image_id FROM reports)`
	}
	if f.SHA256 != "" {
		q += ` AND sha256 = ?`
		args = append(args, f.SHA256)
	}
	return queryAll(ctx, s.r, scanImage, q+` ORDER BY created_at DESC, rowid DESC LIMIT ?`, append(args, f.Limit)...)
}

func (s *DB) DeleteImage(ctx context.Context, d core.Deletion) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.deleteImage(tx, d); err != nil {
			return err
		}
		if d.Blocked {
			return s.block(tx, d.Image.SHA256, d.At)
		}
		return nil
	})
}

// deleteImage deletes the image row of d.Image.ID and its reports, and
// records d; ErrNotFound if there is no such row.
func (s *DB) deleteImage(tx *sql.Tx, d core.Deletion) error {
	if err := changedOne(s.txExec(tx, `DELETE FROM images WHERE id = ?`, d.Image.ID)); err != nil {
		return err
	}
	// Readers' reports go with the image: they name their reporters.
	if _, err := s.txExec(tx, `DELETE FROM reports WHERE image_id = ?`, d.Image.ID); err != nil {
		return err
	}
	return s.insertDeletion(tx, d)
}

const deletionColumns = `image_id, token, brand_id, content_type, size, sha256, image_created_at, user_id, client_addr, deleted_by, reason, blocked, deleted_at`

// insertDeletion records d in the audit log; ErrExist if a deletion of
// d.Image.ID is recorded already.
func (s *DB) insertDeletion(tx *sql.Tx, d core.Deletion) error {
	img := d.Image
	_, err := s.txExec(tx, `INSERT INTO deletions (`+deletionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, micros(img.CreatedAt), img.Uploader.UserID, img.Uploader.ClientAddr, d.By, d.Reason, d.Blocked, micros(d.At))
	return mapErr(err)
}

// block blocklists sha256 as of at; blocking it again is not an error.
func (s *DB) block(tx *sql.Tx, sha256 string, at time.Time) error {
	_, err := s.txExec(tx, `INSERT INTO blocklist (sha256, created_at) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`, sha256, micros(at))
	return err
}

func (s *DB) Deletions(ctx context.Context, limit int) (_ []core.Deletion, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanDeletion, `SELECT `+deletionColumns+` FROM deletions ORDER BY deleted_at DESC, rowid DESC LIMIT ?`, limit)
}

func scanDeletion(row rowScanner) (core.Deletion, error) {
	var d core.Deletion
	var created, at int64
	img := &d.Image
	err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr, &d.By, &d.Reason, &d.Blocked, &at)
	img.CreatedAt, d.At = fromMicros(created), fromMicros(at)
	return d, err
}

func (s *DB) IsBlocked(ctx context.Context, sha256 string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	return counted(ctx, s.isBlocked, sha256)
}

// counted runs a prepared count(*) query and reports whether it found any.
func counted(ctx context.Context, st *sql.Stmt, arg string) (bool, error) {
	var n int
	err := st.QueryRowContext(ctx, arg).Scan(&n)
	return n > 0, err
}

// fault marks an error of the database as the store's (core.StoreFault),
// once mapErr has named those the contract names: every error a role
// method returns passes it, as go-cloud's drivers classify their own.
func fault(err error) error { return core.StoreFault(mapErr(err)) }
