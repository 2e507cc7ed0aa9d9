package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"userimages/claimhook"
	"userimages/core"
	"userimages/internal/durable"
	"userimages/internal/private"
	"userimages/jwtauth"
	"userimages/localdisk"
	"userimages/migrate"
	"userimages/postgres"
	"userimages/s3store"
	"userimages/selfsign"
	"userimages/sqlite"
)

// location says where a deployment keeps its metadata and image bytes:
// the flags --data, --db and --blob of the commands that open stores.
// Empty db and blob mean the embedded default inside data. A location with
// no data directory opens no upload signer for bytes on local disk.
type location struct {
	Data string `help:"Directory of the embedded database, image bytes and signing secret (default: ${default})." default:"./userimages-data" env:"USERIMAGES_DATA" placeholder:"DIR"`
	DB   string `name:"db" help:"Metadata store: sqlite:PATH or postgres://USER@HOST:PORT/DB?… (default: sqlite:DATA/userimages.db). PostgreSQL needs an explicit --blob." env:"USERIMAGES_DB" placeholder:"URL"`
	Blob string `help:"Image byte store: file:DIR or s3://BUCKET?endpoint=URL&region=R&path_style=true&prefix=P, credentials from the AWS environment (default: file:DATA/blobs). s3:// needs an explicit --db." env:"USERIMAGES_BLOB" placeholder:"URL"`
	// StoreTimeout bounds every call to PostgreSQL and S3 (postgres.Config
	// and s3store.Config's Timeout); zero is their default.
	StoreTimeout time.Duration `name:"store-timeout" help:"How long one call to PostgreSQL or S3 may take, retries included; past it the request gets 503 StorageUnavailable." default:"${store_timeout}" env:"USERIMAGES_STORE_TIMEOUT"`
}

// check refuses a half-given location: a shared database with bytes on
// this host's disk by default, or shared bytes with a database on this
// host by default. Either would start and lose data silently between
// instances. flagDB and flagBlob name the flags in messages.
func (l location) check(flagDB, flagBlob string) error {
	isPostgres := strings.HasPrefix(l.DB, "postgres://") || strings.HasPrefix(l.DB, "postgresql://")
	switch {
	case isPostgres && l.Blob == "":
		return fmt.Errorf("%s %s needs %s too: a PostgreSQL database is shared by instances, so say where their image bytes are (s3://BUCKET?… for all of them, or file:DIR for this host only)",
			flagDB, redactedURL(l.DB), flagBlob)
	case strings.HasPrefix(l.Blob, "s3://") && l.DB == "":
		return fmt.Errorf("%s %s needs %s too: the default database is SQLite in this host's data directory; give %s postgres://… for instances sharing the bucket, or %s sqlite:PATH to mean it",
			flagBlob, l.Blob, flagDB, flagDB, flagDB)
	}
	return nil
}

// dbURL and blobURL are the stores' addresses, defaults filled in.
func (l location) dbURL() string {
	if l.DB == "" {
		return "sqlite:" + filepath.Join(l.Data, "userimages.db")
	}
	return l.DB
}

func (l location) blobURL() string {
	if l.Blob == "" {
		return "file:" + filepath.Join(l.Data, "blobs")
	}
	return l.Blob
}

// flagOf names the flag that chose a store: flag when it was given
// (value), else --data, under which the store defaulted.
func (l location) flagOf(value, flag string) string {
	if value == "" {
		return "--data"
	}
	return flag
}

// holdsData reports whether the location has been used: always for a
// database server, else when its SQLite file exists.
func (l location) holdsData() bool {
	path, ok := strings.CutPrefix(l.dbURL(), "sqlite:")
	if !ok {
		return true
	}
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// metaStore is what every metadata adapter provides: every metadata role
// of core, and a migration's ends.
type metaStore interface {
	core.UploadStore
	core.UploadExpirer
	core.ImageReader
	core.ImageLister
	core.ImageHashLister
	core.ReferenceChecker
	core.BrandChecker
	core.BrandRegistry
	core.BrandRemover
	core.BlockChecker
	core.ModerationStore
	core.ReportStore
	core.AccountStore
	core.ErasureStore
	core.SessionStore
	core.SessionExpirer
	core.SignInFailureStore
	core.TakedownStore
	core.OutboxStore
	core.OutboxReader
	core.HashBlocklist
	core.FingerprintStore
	core.HostUserStore
	core.WebhookStore
	migrate.Source
	migrate.Destination
}

// stores are a location's open adapters.
type stores struct {
	meta   metaStore
	blobs  core.BlobStore
	signer core.UploadSigner
	// s3 is the object store, nil when bytes are on local disk; disk the
	// local one, nil with an object store.
	s3      *s3store.Store
	disk    *localdisk.Store
	closeDB func()
	// vouch checks the host app's JWTs: serve's --jwt-… flags; nil for
	// the other commands, and when they are not given.
	vouch *jwtauth.Verifier
	// hook reviews claims: serve's --claim-hook; nil for the other
	// commands, and when it is not given.
	hook *claimhook.Hook
}

// open opens l's stores, creating the embedded ones on first use.
func (l location) open(ctx context.Context) (*stores, error) {
	st := &stores{}
	switch u := l.blobURL(); {
	case strings.HasPrefix(u, "file:"):
		blobs, err := localdisk.Open(strings.TrimPrefix(u, "file:"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.flagOf(l.Blob, "--blob"), err)
		}
		st.blobs, st.disk = blobs, blobs
		if l.Data != "" { // with no data directory (a migration), no URLs are signed
			signer, err := l.selfSigner()
			if err != nil {
				return nil, err
			}
			st.signer = signer
		}
	case strings.HasPrefix(u, "s3://"):
		cfg, err := l.s3Config()
		if err != nil {
			return nil, fmt.Errorf("--blob: %w", err)
		}
		s3, err := s3store.New(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("--blob: %w", err)
		}
		st.blobs, st.signer, st.s3 = s3, s3, s3
	default:
		return nil, fmt.Errorf("--blob %q: want file:DIR or s3://BUCKET?…", u)
	}
	switch u := l.dbURL(); {
	case strings.HasPrefix(u, "sqlite:"):
		path := strings.TrimPrefix(u, "sqlite:")
		if err := private.MkdirAll(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("%s: %w", l.flagOf(l.DB, "--db"), err)
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.flagOf(l.DB, "--db"), err)
		}
		st.meta, st.closeDB = db, func() { db.Close() }
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		db, err := postgres.New(ctx, l.postgresConfig())
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", redactedURL(u), err)
		}
		st.meta, st.closeDB = db, db.Close
	default:
		return nil, fmt.Errorf("--db %q: want sqlite:PATH or postgres://…", redactedURL(u))
	}
	return st, nil
}

func (st *stores) Close() { st.closeDB() }

// privatePaths are the location's directory and the files of it that hold
// secrets or personal data, which no other user of the host may read: the
// data directory (its files, blobs/ and acme/ with it), the signing
// secret, and an SQLite database with its WAL and SHM (which hold
// password, token and session hashes and uploaders' addresses).
func (l location) privatePaths() []string {
	paths := []string{l.Data, filepath.Join(l.Data, "signing-secret"), filepath.Join(l.Data, "blobs"), filepath.Join(l.Data, "acme")}
	if db, ok := strings.CutPrefix(l.dbURL(), "sqlite:"); ok {
		paths = append(paths, db, db+"-wal", db+"-shm")
	}
	return paths
}

// makePrivate corrects the modes of l's private paths that exist (0700
// for directories, 0600 for files), logging each it changed: new ones are
// created so, but a deployment from before kept the umask's 0755 and 0644.
func (l location) makePrivate(log *slog.Logger) error {
	done, err := private.Correct(l.privatePaths()...)
	for _, c := range done {
		log.Warn("made private: it was readable by other users of this host", "path", c.Path,
			"was", fmt.Sprintf("%04o", c.Was), "now", fmt.Sprintf("%04o", c.Now))
	}
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// postgresConfig is the configuration of a postgres:// --db.
func (l location) postgresConfig() postgres.Config {
	return postgres.Config{URL: l.dbURL(), Timeout: l.StoreTimeout}
}

// s3Config is the configuration of an s3:// --blob.
func (l location) s3Config() (s3store.Config, error) {
	cfg, err := s3store.ParseURL(l.blobURL())
	cfg.Timeout = l.StoreTimeout
	return cfg, err
}

// selfSigner signs upload URLs that point at this server, with the shared
// secret of every instance: USERIMAGES_SIGNING_SECRET, else the one kept in
// the data directory.
func (l location) selfSigner() (*selfsign.Signer, error) {
	if err := private.MkdirAll(l.Data); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	secret, err := signingSecret(l.Data)
	if err != nil {
		return nil, err
	}
	previous, err := previousSigningSecret()
	if err != nil {
		return nil, err
	}
	return selfsign.New(secret, previous...)
}

// previousSigningSecret is USERIMAGES_SIGNING_SECRET_PREVIOUS, if set,
// retired at USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT (RFC 3339), if
// set (see the README on rotating secrets).
func previousSigningSecret() ([]selfsign.Previous, error) {
	secret, retired := os.Getenv("USERIMAGES_SIGNING_SECRET_PREVIOUS"), os.Getenv("USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT")
	if secret == "" {
		if retired != "" {
			return nil, errors.New("USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT is set without USERIMAGES_SIGNING_SECRET_PREVIOUS")
		}
		return nil, nil
	}
	p := selfsign.Previous{Secret: secret}
	if retired != "" {
		t, err := time.Parse(time.RFC3339, retired)
		if err != nil {
			return nil, fmt.Errorf("USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT %q: want an RFC 3339 time such as 2026-12-06T11:00:00Z", retired)
		}
		p.RetiredAt = t
	}
	return []selfsign.Previous{p}, nil
}

// services wires core's use cases on st: one adapter fills every
// metadata role. deliverers deliver the outbox (serve's purges); the
// other commands have none, and leave their entries to the server.
// Options change the Stores before the services are made (serve's
// webhook sender).
func (st *stores) services(cfg core.Config, log *slog.Logger, deliverers map[string]core.OutboxDeliverer, options ...func(*core.Stores)) (core.Services, error) {
	m := st.meta
	d := core.Stores{Uploads: m, Images: m, Brands: m, Moderation: m, Reports: m, Hashes: m, Accounts: m, SignIns: m, Erasures: m, Sessions: m, Outbox: m,
		HostUsers: m, Webhooks: m, Deliverers: deliverers, Blobs: st.blobs, Signer: st.signer, Runtime: core.Runtime{Log: log}}
	if st.vouch != nil { // a nil interface, not a typed nil pointer
		d.Vouch = st.vouch
	}
	if st.hook != nil {
		d.Reviewer = st.hook
	}
	if st.disk != nil {
		// PUT bodies are checked in scratch files on the disk they are
		// stored on, whose free space readiness watches.
		d.Scratch, d.Disk = st.disk, st.disk
	}
	for _, o := range options {
		o(&d)
	}
	return core.NewServices(cfg, d)
}

// signingSecret returns USERIMAGES_SIGNING_SECRET, or the secret kept in
// dir, generating it (0600) on first start. It signs new upload URLs;
// USERIMAGES_SIGNING_SECRET_PREVIOUS, when set, still verifies the URLs it
// signed (see the README on rotating secrets).
func signingSecret(dir string) (string, error) {
	if s := os.Getenv("USERIMAGES_SIGNING_SECRET"); s != "" {
		return s, nil
	}
	path := filepath.Join(dir, "signing-secret")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	secret := hex.EncodeToString(raw[:])
	// WriteNew never replaces: when two processes start on a new data
	// directory at once, the first secret wins and both use it.
	err = durable.WriteNew(path, strings.NewReader(secret+"\n"))
	if errors.Is(err, fs.ErrExist) {
		return signingSecret(dir)
	}
	if err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	return secret, nil
}
