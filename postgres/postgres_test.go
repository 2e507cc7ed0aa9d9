package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
	"userimages/internal/testkit/pgtest"
	"userimages/postgres"
	"userimages/storetest"
)

// open opens the store at url, closing it when t ends.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestMetadataStore(t *testing.T) {
	t.Parallel()
	storetest.TestMetadataStore(t, func(t *testing.T) storetest.MetadataStore { return open(t, pgtest.URL(t)) })
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	storetest.TestOutbox(t, func(t *testing.T) (storetest.MetadataStore, func() storetest.MetadataStore) {
		url := pgtest.URL(t)
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: got error %v, want nil", err)
		}
		return db, func() storetest.MetadataStore {
			db.Close()
			return open(t, url)
		}
	})
}

func TestMigrationStore(t *testing.T) {
	t.Parallel()
	storetest.TestMigrationStore(t, func(t *testing.T) storetest.MigrationStore { return open(t, pgtest.URL(t)) })
}

// migration is a row of the schema migrations table.
type migration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// migrations returns the schema migrations recorded at url, in order.
func migrations(t *testing.T, url string) []migration {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("Connect: got error %v, want nil", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version, name, applied_at FROM userimages_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("query the migrations table: got error %v, want nil", err)
	}
	ms, err := pgx.CollectRows(rows, pgx.RowToStructByPos[migration])
	if err != nil {
		t.Fatalf("read the migrations table: got error %v, want nil", err)
	}
	return ms
}

// checkVersions fails t unless the migrations recorded are versions 1, 2, …
// without gaps, and returns them.
func checkVersions(t *testing.T, url string) []migration {
	t.Helper()
	ms := migrations(t, url)
	if len(ms) == 0 {
		t.Fatalf("migrations: got none, want at least version 1")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migrations[%d]: got version %d (%s), want %d", i, m.Version, m.Name, i+1)
		}
	}
	return ms
}

// TestOpenConcurrent checks that instances starting at once on a fresh
// schema all succeed, and that the schema is migrated exactly once.
func TestOpenConcurrent(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 8} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			url := pgtest.URL(t)
			errs := make([]error, n)
			dbs := make([]*postgres.DB, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					dbs[i], errs[i] = postgres.Open(t.Context(), url)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Open %d of %d: got error %v, want nil", i, n, err)
					continue
				}
				t.Cleanup(dbs[i].Close)
			}
			if t.Failed() {
				return
			}
			checkVersions(t, url)
			// Every instance works on the one schema.
			for i, db := range dbs {
				if err := db.AddBrand(t.Context(), "acme"); err != nil {
					t.Errorf("AddBrand on instance %d: got error %v, want nil", i, err)
				}
			}
			if got, err := dbs[0].Brands(t.Context()); err != nil || len(got) != 1 {
				t.Errorf("Brands: got %q, %v, want [acme], nil", got, err)
			}
		})
	}
}

// TestReopen checks that opening a migrated schema changes nothing: no
// migration is applied or recorded again, and the data stays.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	up := core.Upload{Token: "01HZX3AAAAAAAAAAAAAAAAAAAA", ContentType: "image/png", FileSize: 10,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC), Uploader: core.Uploader{UserID: 3, ClientAddr: "192.0.2.1"},
		State: core.StateCreated}
	if err := db.CreateUpload(ctx, up); err != nil {
		t.Fatalf("CreateUpload: got error %v, want nil", err)
	}
	db.Close()
	want := checkVersions(t, url)

	for i := range 3 {
		db := open(t, url)
		if st, err := db.TokenStatus(ctx, up.Token); err != nil || st.Upload == nil || *st.Upload != up {
			t.Errorf("reopen %d: TokenStatus: got %+v, %v, want the upload %+v, nil", i, st, err, up)
		}
		if uploads, images, err := db.Counts(ctx); err != nil || uploads != 1 || images != 0 {
			t.Errorf("reopen %d: Counts: got %d, %d, %v, want 1, 0, nil", i, uploads, images, err)
		}
		got := migrations(t, url)
		if len(got) != len(want) {
			t.Fatalf("reopen %d: migrations: got %+v, want %+v", i, got, want)
		}
		for j := range got {
			if got[j].Version != want[j].Version || got[j].Name != want[j].Name || !got[j].AppliedAt.Equal(want[j].AppliedAt) {
				t.Errorf("reopen %d: migrations[%d]: got %+v, want %+v", i, j, got[j], want[j])
			}
		}
	}
}

// TestNewerSchema checks that a schema migrated by a newer binary is refused.
func TestNewerSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	open(t, url).Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("Connect: got error %v, want nil", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO userimages_schema_migrations (version, name) VALUES (99, '0099_future.sql')`); err != nil {
		t.Fatalf("record version 99: got error %v, want nil", err)
	}
	if db, err := postgres.Open(t.Context(), url); err == nil {
		db.Close()
		t.Errorf("Open of a version 99 schema: got nil, want an error")
	}
}

// TestOpenBadURL checks that a URL pgx cannot parse, or a server that does
// not answer, is an error and not a hang.
func TestOpenBadURL(t *testing.T) {
	tests := []struct {
		name, url string
	}{
		{"not a URL", "postgres://%zz"},
		{"no server", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := postgres.Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q): got nil, want an error", tt.url)
			}
			if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrExist) {
				t.Errorf("Open(%q): got error %v, want no store sentinel", tt.url, err)
			}
		})
	}
}

// TestImportUserConcurrent checks that users imported while others are
// added all keep their ids, and that users added afterwards get ids above
// every imported one, whatever the interleaving. Imported ids are far
// apart, so that no user added meanwhile can take one.
func TestImportUserConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := open(t, pgtest.URL(t))
	const n = 16
	importedID := func(i int) int64 { return int64(1000 * (i + 1)) }
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.ImportUser(ctx, core.User{ID: importedID(i), Email: fmt.Sprintf("imported%d@example.com", i), PasswordHash: []byte("h")})
		})
		wg.Go(func() {
			_, errs[n+i] = db.AddUser(ctx, core.User{Email: fmt.Sprintf("added%d@example.com", i), PasswordHash: []byte("h")})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: got error %v, want nil", i, err)
		}
	}
	for i := range n {
		if u, err := db.User(ctx, importedID(i)); err != nil || u.Email != fmt.Sprintf("imported%d@example.com", i) {
			t.Errorf("User(%d): got %+v, %v, want imported%d@example.com", importedID(i), u, err, i)
		}
	}
	id, err := db.AddUser(ctx, core.User{Email: "last@example.com", PasswordHash: []byte("h")})
	if err != nil || id <= importedID(n-1) {
		t.Errorf("AddUser afterwards: got id %d, %v, want above %d, nil", id, err, importedID(n-1))
	}
}
