package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/sqlite"
	"userimages/storetest"
)

// open opens the database at path, closing it when t ends.
func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close(%s): got error %v, want nil", path, err)
		}
	})
	return db
}

func TestMetadataStore(t *testing.T) {
	storetest.TestMetadataStore(t, func(t *testing.T) storetest.MetadataStore {
		return open(t, filepath.Join(t.TempDir(), "meta.db"))
	})
}

func TestOutbox(t *testing.T) {
	storetest.TestOutbox(t, func(t *testing.T) (storetest.MetadataStore, func() storetest.MetadataStore) {
		path := filepath.Join(t.TempDir(), "meta.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: got error %v, want nil", err)
		}
		return db, func() storetest.MetadataStore {
			if err := db.Close(); err != nil {
				t.Fatalf("Close: got error %v, want nil", err)
			}
			return open(t, path)
		}
	})
}

func TestMigrationStore(t *testing.T) {
	storetest.TestMigrationStore(t, func(t *testing.T) storetest.MigrationStore {
		return open(t, filepath.Join(t.TempDir(), "meta.db"))
	})
}

// schemaFiles returns the names of the schema versions, checking that they
// are numbered 1, 2, … without gaps, since Open counts them.
func schemaFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("schema", "*.sql"))
	if err != nil || len(names) == 0 {
		t.Fatalf("schema files: got %q, %v, want some", names, err)
	}
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(filepath.Base(name), want) {
			t.Errorf("schema file %d: got %s, want a name starting %s", i, name, want)
		}
	}
	return names
}

// atVersion makes the database at path as the binary of schema version v
// (of names) left it, and returns it opened without this package.
func atVersion(t *testing.T, path string, names []string, v int) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:v] {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(t.Context(), string(b)); err != nil {
			t.Fatalf("apply %s: got error %v, want nil", name, err)
		}
	}
	if _, err := raw.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestUpgrade checks that a database made by an older binary, at each
// earlier version, is upgraded on Open and keeps its data.
func TestUpgrade(t *testing.T) {
	names := schemaFiles(t)
	img := core.Image{ID: "Zq_-AAAAAAAAAAAAAAAAAA", Token: "01HZX3BBBBBBBBBBBBBBBBBBBB", BrandID: "acme", ContentType: "image/gif",
		Size: 20, SHA256: "00ff", CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)}
	d := core.Deletion{Image: img, By: "cli:root", Reason: "spam", At: img.CreatedAt.Add(time.Hour)}
	for v := 1; v < len(names); v++ {
		t.Run(fmt.Sprintf("from %d", v), func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "meta.db")
			atVersion(t, path, names, v).Close()

			db := open(t, path)
			if err := db.ImportDeletion(ctx, d); err != nil {
				t.Fatalf("ImportDeletion: got error %v, want nil", err)
			}
			if err := db.ImportDeletion(ctx, d); !errors.Is(err, core.ErrExist) {
				t.Errorf("ImportDeletion again: got error %v, want %v", err, core.ErrExist)
			}
			if log, err := db.Deletions(ctx, 10); err != nil || len(log) != 1 {
				t.Errorf("Deletions: got %d entries, %v, want 1, nil", len(log), err)
			}
		})
	}
}

// TestReopen checks that data survives closing and reopening the file, and
// that reopening does not apply the schema again.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	created := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	up := core.Upload{Token: "01HZX3AAAAAAAAAAAAAAAAAAAA", ContentType: "image/png", FileSize: 10, CreatedAt: created,
		Uploader: core.Uploader{UserID: 3, ClientAddr: "192.0.2.1"}, State: core.StateCreated}
	claimed := core.Upload{Token: "01HZX3BBBBBBBBBBBBBBBBBBBB", ContentType: "image/gif", FileSize: 20, CreatedAt: created,
		ImageID: "Zq_-AAAAAAAAAAAAAAAAAA", Size: 20, SHA256: "00ff"}
	img := core.Image{ID: claimed.ImageID, Token: claimed.Token, BrandID: "acme", ContentType: "image/gif",
		Size: 20, SHA256: "00ff", CreatedAt: created.Add(time.Minute)}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	steps := []struct {
		what string
		err  error
	}{
		{"CreateUpload", db.CreateUpload(ctx, up)},
		{"ReceiveUpload", db.ReceiveUpload(ctx, claimed)},
		{"AddBrand", db.AddBrand(ctx, "acme")},
	}
	_, err = db.ClaimUpload(ctx, core.UploadClaim{Token: claimed.Token, BrandID: "acme", NotBefore: created, At: img.CreatedAt})
	steps = append(steps, struct {
		what string
		err  error
	}{"ClaimUpload", err})
	uid, err := db.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: created})
	steps = append(steps, struct {
		what string
		err  error
	}{"AddUser", err})
	for _, s := range steps {
		if s.err != nil {
			t.Fatalf("%s: got error %v, want nil", s.what, s.err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}

	for i := range 3 {
		db := open(t, path)
		if st, err := db.TokenStatus(ctx, up.Token); err != nil || st.Upload == nil || *st.Upload != up {
			t.Errorf("reopen %d: TokenStatus: got %+v, %v, want the upload %+v, nil", i, st, err, up)
		}
		if got, err := db.Image(ctx, img.ID); err != nil || got != img {
			t.Errorf("reopen %d: Image: got %+v, %v, want %+v, nil", i, got, err, img)
		}
		if st, err := db.TokenStatus(ctx, claimed.Token); err != nil || st.Upload != nil || st.Image == nil || *st.Image != img {
			t.Errorf("reopen %d: TokenStatus of the claimed token: got %+v, %v, want only the image", i, st, err)
		}
		if got, err := db.Brands(ctx); err != nil || !slices.Equal(got, []string{"acme"}) {
			t.Errorf("reopen %d: Brands: got %q, %v, want [acme], nil", i, got, err)
		}
		if got, err := db.UserByEmail(ctx, "ann@example.com"); err != nil || got.ID != uid {
			t.Errorf("reopen %d: UserByEmail: got %+v, %v, want id %d, nil", i, got, err, uid)
		}
		// One upload, plus one per earlier reopen.
		if uploads, images, err := db.Counts(ctx); err != nil || uploads != int64(1+i) || images != 1 {
			t.Errorf("reopen %d: Counts: got %d, %d, %v, want %d, 1, nil", i, uploads, images, err, 1+i)
		}
		// Writes still work after a reopen.
		if err := db.CreateUpload(ctx, core.Upload{Token: "01HZX3C" + string(rune('A'+i)) + "AAAAAAAAAAAAAAAAAA", ContentType: "image/png", FileSize: 1, CreatedAt: created}); err != nil {
			t.Errorf("reopen %d: CreateUpload: got error %v, want nil", i, err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("reopen %d: Close: got error %v, want nil", i, err)
		}
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var version, tables int
	if err := raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatalf("user_version: got error %v, want nil", err)
	}
	if want := len(schemaFiles(t)); version != want {
		t.Errorf("user_version: got %d, want %d", version, want)
	}
	if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil || tables != 17 { // the outbox's AUTOINCREMENT adds sqlite_sequence
		t.Errorf("tables: got %d, %v, want 17, nil", tables, err)
	}
}

// TestNewerSchema checks that a database from a newer binary is refused.
func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	open(t, path).Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(t.Context(), "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := sqlite.Open(t.Context(), path); err == nil {
		db.Close()
		t.Errorf("Open of a version 99 database: got nil, want an error")
	}
}

// TestPathCharacters checks that the path is a file name, not a URI: the
// characters URIs treat specially name the file they spell.
func TestPathCharacters(t *testing.T) {
	for _, name := range []string{"a#b.db", "a?mode=ro.db", "a%41b.db", "a b.db", "a&_pragma=x.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			db := open(t, path)
			if err := db.AddBrand(t.Context(), "acme"); err != nil {
				t.Fatalf("AddBrand: got error %v, want nil", err)
			}
			if _, err := os.Stat(path); err != nil {
				entries, _ := os.ReadDir(dir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("Stat(%s): got error %v, want the database there; the directory holds %q", path, err, names)
			}
		})
	}
}

// TestSnapshot: a snapshot taken while writes go on is a database holding
// what was committed before it, taken again to the same file it fails, and
// the readers go on reading afterwards.
func TestSnapshot(t *testing.T) {
	ctx := t.Context()
	db := open(t, filepath.Join(t.TempDir(), "live.db"))
	if err := db.AddBrand(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		var err error
		for i := 0; i < 50 && err == nil; i++ {
			err = db.AddBrand(ctx, fmt.Sprintf("during-%d", i))
		}
		done <- err
	}()
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := db.Snapshot(ctx, path); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("writes during the snapshot: %v", err)
	}
	if err := db.Snapshot(ctx, path); err == nil {
		t.Error("Snapshot to an existing file: got nil, want an error")
	}
	snap := open(t, path)
	if ok, err := snap.BrandExists(ctx, "before"); err != nil || !ok {
		t.Errorf("snapshot: brand committed before it: %v, %v; want there", ok, err)
	}
	if brands, err := db.Brands(ctx); err != nil || len(brands) != 51 {
		t.Errorf("live database after snapshots: %d brands, %v; want 51", len(brands), err)
	}
}

// TestAPITokenUpgrade: API tokens stored before tokens had ids of their
// own keep working after the upgrade, under new ids no part of them.
func TestAPITokenUpgrade(t *testing.T) {
	storetest.TestAPITokenUpgrade(t, func(t *testing.T, tokens []storetest.OldAPIToken) core.AccountStore {
		ctx := t.Context()
		names := schemaFiles(t)
		v := slices.IndexFunc(names, func(name string) bool { return strings.HasSuffix(name, "_token_ids.sql") })
		if v < 0 {
			t.Fatal("no schema file *_token_ids.sql")
		}
		path := filepath.Join(t.TempDir(), "meta.db")
		raw := atVersion(t, path, names, v)
		defer raw.Close()
		var stmts []string
		for _, tok := range tokens {
			stmts = append(stmts,
				fmt.Sprintf(`INSERT OR IGNORE INTO users (email, password_hash, created_at) VALUES ('%s', x'00', 1)`, tok.Email),
				fmt.Sprintf(`INSERT INTO api_tokens (id, user_id, hash, created_at) SELECT '%s', id, x'%x', 1 FROM users WHERE email = '%s'`, tok.ID, tok.Hash, tok.Email))
		}
		for _, stmt := range stmts {
			if _, err := raw.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		raw.Close()
		return open(t, path)
	})
}
