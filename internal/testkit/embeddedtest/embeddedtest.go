// Package embeddedtest opens the embedded default's stores (SQLite and a
// local disk, in a test's temporary directory) and core's services on them,
// for the tests of the packages above core.
package embeddedtest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"userimages/core"
	"userimages/localdisk"
	"userimages/selfsign"
	"userimages/sqlite"
)

// Deployment is one embedded deployment, closed when its test ends.
type Deployment struct {
	Dir    string // its directory: the database is Dir/db, the bytes Dir/blobs
	DB     *sqlite.DB
	Blobs  *localdisk.Store
	Signer *selfsign.Signer
	Svc    core.Services
}

// Open opens a deployment in a new temporary directory of t. The services
// run with rt, its Log discarding when nil, and cfg with a zero
// PasswordCost made bcrypt.MinCost, so that adding users is fast.
func Open(t testing.TB, cfg core.Config, rt core.Runtime) *Deployment {
	t.Helper()
	d := &Deployment{Dir: t.TempDir()}
	db, err := sqlite.Open(context.Background(), filepath.Join(d.Dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.DB = db
	if d.Blobs, err = localdisk.Open(filepath.Join(d.Dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	if d.Signer, err = selfsign.New(strings.Repeat("s", 32)); err != nil {
		t.Fatal(err)
	}
	if rt.Log == nil {
		rt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st := MetadataOn(d.DB)
	st.Blobs, st.Signer, st.Scratch, st.Runtime = d.Blobs, d.Signer, d.Blobs, rt
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.MinCost
	}
	if d.Svc, err = core.NewServices(cfg, st); err != nil {
		t.Fatal(err)
	}
	return d
}

// MetadataOn are Stores with every metadata role filled by db, for tests
// that wire services themselves.
func MetadataOn(db *sqlite.DB) core.Stores {
	return core.Stores{Uploads: db, Images: db, Brands: db, Moderation: db, Reports: db, Hashes: db, Accounts: db, SignIns: db, Erasures: db, Sessions: db, Outbox: db,
		HostUsers: db, Webhooks: db}
}
