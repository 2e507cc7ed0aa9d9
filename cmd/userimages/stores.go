package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"userimages/core"
	"userimages/localdisk"
	"userimages/selfsign"
	"userimages/sqlite"
)

// embedded is the embedded default: SQLite metadata, bytes on local disk,
// upload URLs signed by this server.
type embedded struct {
	db     *sqlite.DB
	blobs  *localdisk.Store
	signer *selfsign.Signer
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "./userimages-data", "directory of the embedded database, image bytes and signing secret")
}

func openEmbedded(ctx context.Context, dir string) (*embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	secret, err := signingSecret(dir)
	if err != nil {
		return nil, err
	}
	var previous []string
	if p := os.Getenv("USERIMAGES_SIGNING_SECRET_PREVIOUS"); p != "" {
		previous = append(previous, p)
	}
	signer, err := selfsign.New(secret, previous...)
	if err != nil {
		return nil, err
	}
	blobs, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "userimages.db"))
	if err != nil {
		return nil, err
	}
	return &embedded{db: db, blobs: blobs, signer: signer}, nil
}

func (e *embedded) service(cfg core.Config, log *slog.Logger) (*core.Service, error) {
	return core.New(cfg, core.Deps{Meta: e.db, Blobs: e.blobs, Signer: e.signer, Log: log})
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
	f, err := os.CreateTemp(dir, "signing-secret-*")
	if err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(secret + "\n") // CreateTemp makes it 0600
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link never replaces: when two processes start on a new data
		// directory at once, the first secret wins and both use it.
		err = os.Link(f.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			return signingSecret(dir)
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	return secret, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
