// Package embeddedtest opens the embedded default's stores (SQLite and a
// local disk, in a test's temporary directory) and a core.Service on them,
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
	Svc    *core.Service
}

// Open opens a deployment in a new temporary directory of t. The service
// gets deps with Meta, Blobs, Signer and Scratch filled in and Log
// discarding when nil (Now, and the rest, are kept), and cfg with a zero
// PasswordCost made bcrypt.MinCost, so that adding users is fast.
func Open(t testing.TB, cfg core.Config, deps core.Deps) *Deployment {
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
	deps.Meta, deps.Blobs, deps.Signer, deps.Scratch = d.DB, d.Blobs, d.Signer, d.Blobs
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.MinCost
	}
	if d.Svc, err = core.New(cfg, deps); err != nil {
		t.Fatal(err)
	}
	return d
}
