// Package postgres keeps core's metadata roles (core/store.go) on
// PostgreSQL, through the pure-Go pgx driver, for deployments that run
// several instances on one database.
// It keeps the semantics of the embedded SQLite store (package sqlite) record
// for record, so that either can replace the other and data can move between
// them.
//
// Every write is one transaction, and a committed transaction is the
// durability guarantee: a nil error means PostgreSQL has committed it. Which
// schema the tables live in is the connection's search_path, given in the
// URL (…?search_path=name); Open creates or upgrades the schema's tables.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"userimages/core"
	"userimages/internal/config"
)

// DB keeps core's metadata roles (core/store.go) on PostgreSQL. pgx returns timestamptz values
// in the local zone; every method converts them to UTC, as the contract asks.
type DB struct {
	pool bounded
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 5 * time.Second

// Config says which database a DB keeps its records in, and how long a
// call may wait on it.
type Config struct {
	// URL is a postgres:// URL whose query may set pgx's pool options and
	// run-time parameters such as search_path.
	URL string
	// Timeout bounds every call: a statement, or a transaction from BEGIN
	// to COMMIT, waiting for a connection included; past it the call fails
	// as unavailable. It is also the connection's connect_timeout, and the
	// server's statement_timeout, lock_timeout and
	// idle_in_transaction_session_timeout, unless the URL sets them.
	// Default DefaultTimeout.
	Timeout time.Duration
}

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config).
type ConfigField string

// ConfigTimeout is Config.Timeout.
const ConfigTimeout ConfigField = "Timeout"

// Validate checks c; it is pure, and the error is a *config.FieldError.
func (c Config) Validate() error {
	if c.Timeout < 0 || c.Timeout > 0 && c.Timeout < 10*time.Millisecond {
		return config.Invalid(ConfigTimeout, c.Timeout, "must be at least 10ms")
	}
	return nil
}

// Open connects to the database at url with the default Config: see New.
func Open(ctx context.Context, url string) (*DB, error) {
	return New(ctx, Config{URL: url})
}

// New connects to the database of cfg.URL and applies the schema
// migrations this binary has and the database lacks. Several instances may
// open one database at once.
func New(ctx context.Context, c Config) (*DB, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	cfg, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		// The error quotes the URL with its password masked; url itself
		// may hold one, so it is not repeated here.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	bound(cfg.ConnConfig, c.Timeout)
	name := cfg.ConnConfig.Database
	sub, err := fs.Sub(schemaFiles, "schema")
	if err != nil {
		return nil, err
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", name, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", name, err)
	}
	if err := migrateSchema(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", name, err)
	}
	return &DB{pool: bounded{Pool: pool, timeout: c.Timeout}}, nil
}

// bound sets the connection's timeouts from timeout where the URL left
// them unset: connecting, and the server's limits on one statement, on
// waiting for a lock and on a transaction left idle (by a client whose
// deadline passed on a network that stopped forwarding, whose locks would
// otherwise stay held until TCP gives up).
func bound(cc *pgx.ConnConfig, timeout time.Duration) {
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = timeout
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	for name, v := range map[string]string{
		"statement_timeout":                   ms(timeout),
		"lock_timeout":                        ms(timeout),
		"idle_in_transaction_session_timeout": ms(timeout),
	} {
		if _, set := cc.RuntimeParams[name]; !set {
			cc.RuntimeParams[name] = v
		}
	}
}

// Close closes every connection, waiting for those in use to be released.
func (s *DB) Close() { s.pool.Pool.Close() }

// PostgreSQL's SQLSTATEs for a duplicate key and for running out of disk
// or memory.
const (
	uniqueViolation = "23505"
	diskFull        = "53100"
	outOfMemory     = "53200"
)

// mapErr turns driver errors into core sentinels, keeping the driver's
// message for the log.
func mapErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return core.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("%w: %v", core.ErrExist, err)
		case diskFull, outOfMemory:
			return fmt.Errorf("%w: %v", core.ErrFull, err)
		}
	}
	return err
}

// execer is a pool or a transaction: single statements need no transaction
// of their own.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// changedOne checks that a conditional write changed a row: ErrNotFound if
// none.
func changedOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return core.ErrNotFound
	}
	return nil
}

// exists runs a SELECT EXISTS query.
func (s *DB) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, query, args...).Scan(&ok)
	return ok, err
}

// texts runs a query of one text column.
func (s *DB) texts(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

const uploadColumns = `token, content_type, file_size, created_at, user_id, client_addr, state, coalesce(image_id, ''), size, sha256, pdq, pdq_quality, width, height`

func scanUpload(row pgx.Row) (core.Upload, error) {
	var u core.Upload
	err := row.Scan(&u.Token, &u.ContentType, &u.FileSize, &u.CreatedAt, &u.Uploader.UserID, &u.Uploader.ClientAddr, &u.State, &u.ImageID, &u.Size, &u.SHA256, &u.PDQ, &u.PDQQuality, &u.Width, &u.Height)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, mapErr(err)
}

func (s *DB) CreateUpload(ctx context.Context, u core.Upload) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr, state) VALUES ($1, $2, $3, $4, $5, $6, 'created')`,
		u.Token, u.ContentType, u.FileSize, u.CreatedAt, u.Uploader.UserID, u.Uploader.ClientAddr)
	return mapErr(err)
}

func (s *DB) ReceiveUpload(ctx context.Context, u core.Upload) (err error) {
	defer func() { err = fault(err) }()
	// Inserted where the token has no record at all, or moved on from
	// created. One statement sees one snapshot, so a takedown is seen
	// whole. A replayed PUT racing the claim of its token's received row
	// may insert a row again once the claim has deleted it; that row can
	// never be claimed (images.token is unique) and expires.
	tag, err := s.pool.Exec(ctx, `INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr, state, image_id, size, sha256, pdq, pdq_quality, width, height)
		SELECT $1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10, $11, $12, $13
		WHERE NOT EXISTS (SELECT FROM images WHERE token = $1) AND NOT EXISTS (SELECT FROM deletions WHERE token = $1)
		ON CONFLICT (token) DO UPDATE SET state = 'received', image_id = $7, size = $8, sha256 = $9, pdq = $10, pdq_quality = $11, width = $12, height = $13
			WHERE uploads.state = 'created'`,
		u.Token, u.ContentType, u.FileSize, u.CreatedAt, u.Uploader.UserID, u.Uploader.ClientAddr, u.ImageID, u.Size, u.SHA256, u.PDQ, u.PDQQuality, u.Width, u.Height)
	if err := changedOne(tag, mapErr(err)); errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("receive %s: %w", u.Token, core.ErrExist)
	} else if err != nil {
		return err
	}
	return nil
}

func (s *DB) ClaimUpload(ctx context.Context, c core.UploadClaim) (_ core.Image, err error) {
	defer func() { err = fault(err) }()
	var img core.Image
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		up, err := scanUpload(tx.QueryRow(ctx, `DELETE FROM uploads WHERE token = $1 AND state = 'received' AND created_at >= $2
				AND user_id IN (0, $4)
				AND EXISTS (SELECT FROM brands WHERE id = $3)
				AND NOT EXISTS (SELECT FROM blocklist WHERE blocklist.sha256 = uploads.sha256)
			RETURNING `+uploadColumns, c.Token, c.NotBefore, c.BrandID, c.Claimant))
		if err != nil {
			return err
		}
		img = core.Image{ID: up.ImageID, Token: up.Token, BrandID: c.BrandID, ContentType: up.ContentType, Size: up.Size,
			SHA256: up.SHA256, CreatedAt: c.At, Uploader: up.Uploader, PDQ: up.PDQ, PDQQuality: up.PDQQuality, Width: up.Width, Height: up.Height}
		// Its time as stored, to the microsecond PostgreSQL rounds to.
		err = mapErr(tx.QueryRow(ctx, `INSERT INTO images (`+imageColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING created_at`,
			img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, img.CreatedAt, img.Uploader.UserID, img.Uploader.ClientAddr, img.PDQ, img.PDQQuality, img.Width, img.Height).Scan(&img.CreatedAt))
		img.CreatedAt = img.CreatedAt.UTC()
		if err != nil || c.Outbox == nil {
			return err
		}
		return enqueue(ctx, tx, c.Outbox(img), c.At)
	})
	return img, err
}

func (s *DB) ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (_ []core.Upload, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `DELETE FROM uploads WHERE token IN (SELECT token FROM uploads WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+uploadColumns, cutoff, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.Upload, error) { return scanUpload(row) })
}

func (s *DB) TokenStatus(ctx context.Context, token string) (_ core.TokenStatus, err error) {
	defer func() { err = fault(err) }()
	var st core.TokenStatus
	// One snapshot, so that a claim committing meanwhile cannot make the
	// token look unknown.
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if up, err := scanUpload(tx.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE token = $1`, token)); err == nil {
			st.Upload = &up
		} else if !errors.Is(err, core.ErrNotFound) {
			return err
		}
		if img, err := scanImage(tx.QueryRow(ctx, `SELECT `+imageColumns+` FROM images WHERE token = $1`, token)); err == nil {
			st.Image = &img
		} else if !errors.Is(err, core.ErrNotFound) {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) > 0, coalesce(max(user_id), 0) FROM deletions WHERE token = $1`, token).Scan(&st.TakenDown, &st.TakenDownUploader)
	})
	return st, err
}

func (s *DB) ImageReferenced(ctx context.Context, id string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	return s.exists(ctx, `SELECT EXISTS (SELECT FROM images WHERE id = $1) OR EXISTS (SELECT FROM uploads WHERE image_id = $1)`, id)
}

const imageColumns = `id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr, pdq, pdq_quality, width, height`

// insertImage inserts img's row; ErrExist if its id or token is taken.
func insertImage(ctx context.Context, tx execer, img core.Image) error {
	_, err := tx.Exec(ctx, `INSERT INTO images (`+imageColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, img.CreatedAt, img.Uploader.UserID, img.Uploader.ClientAddr, img.PDQ, img.PDQQuality, img.Width, img.Height)
	return mapErr(err)
}

func scanImage(row pgx.Row) (core.Image, error) {
	var img core.Image
	err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &img.CreatedAt, &img.Uploader.UserID, &img.Uploader.ClientAddr, &img.PDQ, &img.PDQQuality, &img.Width, &img.Height)
	img.CreatedAt = img.CreatedAt.UTC()
	return img, mapErr(err)
}

// images runs a query of imageColumns.
func (s *DB) images(ctx context.Context, query string, args ...any) ([]core.Image, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.Image, error) { return scanImage(row) })
}

func (s *DB) Image(ctx context.Context, id string) (_ core.Image, err error) {
	defer func() { err = fault(err) }()
	return scanImage(s.pool.QueryRow(ctx, `SELECT `+imageColumns+` FROM images WHERE id = $1`, id))
}

func (s *DB) AddBrand(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `INSERT INTO brands (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, time.Now())
	return err
}

func (s *DB) DeleteBrand(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	var deleted, exists bool
	err = s.pool.QueryRow(ctx, `WITH d AS (
		DELETE FROM brands WHERE id = $1 AND NOT EXISTS (SELECT FROM images WHERE brand_id = $1) RETURNING id
	) SELECT EXISTS (SELECT FROM d), EXISTS (SELECT FROM brands WHERE id = $1)`, id).Scan(&deleted, &exists)
	switch {
	case err != nil:
		return mapErr(err)
	case deleted:
		return nil
	case !exists:
		return core.ErrNotFound
	}
	return core.ErrExist
}

func (s *DB) BrandExists(ctx context.Context, id string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	return s.exists(ctx, `SELECT EXISTS (SELECT FROM brands WHERE id = $1)`, id)
}

func (s *DB) Brands(ctx context.Context) (_ []string, err error) {
	defer func() { err = fault(err) }()
	return s.texts(ctx, `SELECT id FROM brands ORDER BY id`)
}

func (s *DB) AddUser(ctx context.Context, u core.User) (_ int64, err error) {
	defer func() { err = fault(err) }()
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO users (email, password_hash, admin, created_at, disabled) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Email, u.PasswordHash, u.Admin, u.CreatedAt, u.Disabled).Scan(&id)
	return id, mapErr(err)
}

const userColumns = `id, email, password_hash, admin, created_at, disabled, issuer, subject, name, contact_email`

func scanUser(row pgx.Row) (core.User, error) {
	var u core.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &u.CreatedAt, &u.Disabled, &u.Issuer, &u.Subject, &u.Name, &u.ContactEmail)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, mapErr(err)
}

const hostUserQuery = `SELECT ` + userColumns + ` FROM users WHERE issuer = $1 AND subject = $2 AND issuer <> ''`

// EnsureHostUser reads first, and writes only for a new user or changed
// claims, so that a returning user's request costs no write. The upsert
// returns the row it inserted or updated; when a concurrent one made the
// same change first, it returns none and the row is read again.
func (s *DB) EnsureHostUser(ctx context.Context, u core.User) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	got, err := scanUser(s.pool.QueryRow(ctx, hostUserQuery, u.Issuer, u.Subject))
	if err == nil && (got.Disabled || got.Name == u.Name && got.ContactEmail == u.ContactEmail) {
		return got, nil
	}
	if err != nil && !errors.Is(err, core.ErrNotFound) {
		return got, err
	}
	got, err = scanUser(s.pool.QueryRow(ctx, `INSERT INTO users (email, password_hash, admin, created_at, disabled, issuer, subject, name, contact_email)
		VALUES ($1, '', false, $2, false, $3, $4, $5, $6)
		ON CONFLICT (issuer, subject) WHERE issuer <> '' DO UPDATE SET name = excluded.name, contact_email = excluded.contact_email
		WHERE NOT users.disabled AND (users.name <> excluded.name OR users.contact_email <> excluded.contact_email)
		RETURNING `+userColumns, u.Email, u.CreatedAt, u.Issuer, u.Subject, u.Name, u.ContactEmail))
	// ErrExist: a concurrent insert of the same user took the email key
	// (a unique index that is not the conflict's target) first.
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrExist) {
		return scanUser(s.pool.QueryRow(ctx, hostUserQuery, u.Issuer, u.Subject))
	}
	return got, err
}

func (s *DB) UserByEmail(ctx context.Context, email string) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
}

func (s *DB) User(ctx context.Context, id int64) (_ core.User, err error) {
	defer func() { err = fault(err) }()
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

func (s *DB) AddAPIToken(ctx context.Context, t core.APIToken) (err error) {
	defer func() { err = fault(err) }()
	var lastUsed *time.Time
	if !t.LastUsed.IsZero() {
		lastUsed = &t.LastUsed
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO api_tokens (id, selector, user_id, hash, created_at, last_used) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Selector, t.UserID, t.Hash, t.CreatedAt, lastUsed)
	return mapErr(err)
}

const apiTokenColumns = `id, selector, user_id, hash, created_at, last_used`

func scanAPIToken(row pgx.Row) (core.APIToken, error) {
	var t core.APIToken
	var lastUsed *time.Time
	err := row.Scan(&t.ID, &t.Selector, &t.UserID, &t.Hash, &t.CreatedAt, &lastUsed)
	t.CreatedAt = t.CreatedAt.UTC()
	if lastUsed != nil {
		t.LastUsed = lastUsed.UTC()
	}
	return t, mapErr(err)
}

func (s *DB) Users(ctx context.Context) (_ []core.User, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.User, error) { return scanUser(row) })
}

func (s *DB) DisableUser(ctx context.Context, id int64) (err error) {
	defer func() { err = fault(err) }()
	return affectedOne(s.pool.Exec(ctx, `UPDATE users SET disabled = true WHERE id = $1`, id))
}

func (s *DB) EnableUser(ctx context.Context, id int64) (err error) {
	defer func() { err = fault(err) }()
	return affectedOne(s.pool.Exec(ctx, `UPDATE users SET disabled = false WHERE id = $1`, id))
}

func (s *DB) SetPasswordHash(ctx context.Context, id int64, hash []byte) (err error) {
	defer func() { err = fault(err) }()
	return affectedOne(s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, id))
}

func (s *DB) APITokens(ctx context.Context, userID int64) (_ []core.APIToken, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.APIToken, error) { return scanAPIToken(row) })
}

func (s *DB) DeleteAPIToken(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return affectedOne(s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1`, id))
}

func (s *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `UPDATE api_tokens SET last_used = $2 WHERE id = $1 AND (last_used IS NULL OR last_used < $2)`, id, at)
	return mapErr(err)
}

// affectedOne is ErrNotFound when an update or delete changed no row.
func affectedOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return core.ErrNotFound
	}
	return nil
}

func (s *DB) APITokenBySelector(ctx context.Context, selector string) (_ core.APIToken, err error) {
	defer func() { err = fault(err) }()
	return scanAPIToken(s.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE selector = $1`, selector))
}

// Counts returns the number of uploads and of images, for tests and
// operators.
func (s *DB) Counts(ctx context.Context) (uploads, images int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM images)`).Scan(&uploads, &images)
	return uploads, images, err
}

// Images lists every image, oldest first, for tests and operators.
func (s *DB) Images(ctx context.Context) ([]core.Image, error) {
	return s.images(ctx, `SELECT `+imageColumns+` FROM images ORDER BY created_at, seq`)
}

func (s *DB) ListImages(ctx context.Context, f core.ImageFilter) (_ []core.Image, err error) {
	defer func() { err = fault(err) }()
	q := `SELECT ` + imageColumns + ` FROM images WHERE true`
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.BrandID != "" {
		q += ` AND brand_id = ` + arg(f.BrandID)
	}
	if f.UserID != 0 {
		q += ` AND user_id = ` + arg(f.UserID)
	}
	if f.Anonymous {
		q += ` AND user_id = 0`
	}
	if f.ClientAddr != "" {
		q += ` AND client_addr = ` + arg(f.ClientAddr)
	}
	if !f.Before.IsZero() {
		q += ` AND created_at < ` + arg(f.Before)
	}
	if !f.After.IsZero() {
		q += ` AND created_at >= ` + arg(f.After)
	}
	if f.Reported {
		q += ` AND id IN (SELECT image_id FROM reports)`
	}
	if f.SHA256 != "" {
		q += ` AND sha256 = ` + arg(f.SHA256)
	}
	return s.images(ctx, q+` ORDER BY created_at DESC, seq DESC LIMIT `+arg(f.Limit), args...)
}

// insertDeletion records d in the audit log; ErrExist if a deletion of
// d.Image.ID is recorded already.
func insertDeletion(ctx context.Context, tx execer, d core.Deletion) error {
	img := d.Image
	_, err := tx.Exec(ctx, `INSERT INTO deletions (`+deletionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, img.CreatedAt, img.Uploader.UserID, img.Uploader.ClientAddr, d.By, d.Reason, d.Blocked, d.At)
	return mapErr(err)
}

// block blocklists sha256 as of at; blocking it again is not an error.
func block(ctx context.Context, tx execer, sha256 string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO blocklist (sha256, created_at) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING`, sha256, at)
	return err
}

func (s *DB) DeleteImage(ctx context.Context, d core.Deletion) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := deleteImage(ctx, tx, d); err != nil {
			return err
		}
		if d.Blocked {
			return block(ctx, tx, d.Image.SHA256, d.At)
		}
		return nil
	})
}

// deleteImage deletes the image row of d.Image.ID and its reports, and
// records d; ErrNotFound if there is no such row.
func deleteImage(ctx context.Context, tx execer, d core.Deletion) error {
	if err := changedOne(tx.Exec(ctx, `DELETE FROM images WHERE id = $1`, d.Image.ID)); err != nil {
		return err
	}
	// Readers' reports go with the image: they name their reporters.
	if _, err := tx.Exec(ctx, `DELETE FROM reports WHERE image_id = $1`, d.Image.ID); err != nil {
		return err
	}
	return insertDeletion(ctx, tx, d)
}

const deletionColumns = `image_id, token, brand_id, content_type, size, sha256, image_created_at, user_id, client_addr, deleted_by, reason, blocked, deleted_at`

// deletions runs a query of deletionColumns.
func (s *DB) deletions(ctx context.Context, query string, args ...any) ([]core.Deletion, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.Deletion, error) {
		var d core.Deletion
		img := &d.Image
		err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &img.CreatedAt, &img.Uploader.UserID, &img.Uploader.ClientAddr, &d.By, &d.Reason, &d.Blocked, &d.At)
		img.CreatedAt, d.At = img.CreatedAt.UTC(), d.At.UTC()
		return d, err
	})
}

func (s *DB) Deletions(ctx context.Context, limit int) (_ []core.Deletion, err error) {
	defer func() { err = fault(err) }()
	return s.deletions(ctx, `SELECT `+deletionColumns+` FROM deletions ORDER BY deleted_at DESC, seq DESC LIMIT $1`, limit)
}

func (s *DB) IsBlocked(ctx context.Context, sha256 string) (_ bool, err error) {
	defer func() { err = fault(err) }()
	return s.exists(ctx, `SELECT EXISTS (SELECT FROM blocklist WHERE sha256 = $1)`, sha256)
}

// fault marks an error of the database as the store's (core.StoreFault),
// once mapErr has named those the contract names: every error a role
// method returns passes it, as go-cloud's drivers classify their own.
func fault(err error) error { return core.StoreFault(mapErr(err)) }
