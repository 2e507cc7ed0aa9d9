package postgres

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"userimages/core"
	"userimages/internal/testkit/pgtest"
	"userimages/storetest"
)

func TestLoadMigrations(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("SELECT 1")}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string // names, in version order; nil when an error is wanted
		wantErr bool
	}{
		{"none", fstest.MapFS{}, nil, false},
		{"in order", fstest.MapFS{"0002_b.sql": file, "0001_a.sql": file, "README": file}, []string{"0001_a.sql", "0002_b.sql"}, false},
		{"gap", fstest.MapFS{"0001_a.sql": file, "0003_c.sql": file}, nil, true},
		{"not from 1", fstest.MapFS{"0002_b.sql": file}, nil, true},
		{"no number", fstest.MapFS{"initial.sql": file}, nil, true},
		{"twice", fstest.MapFS{"0001_a.sql": file, "0001_b.sql": file}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fsys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("loadMigrations: got error %v, want error %v", err, tt.wantErr)
			}
			var got []string
			for i, m := range ms {
				got = append(got, m.name)
				if m.version != i+1 {
					t.Errorf("migration %s: got version %d, want %d", m.name, m.version, i+1)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("loadMigrations: got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("loadMigrations: got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestMigrateUpgrade checks that a schema at an older version gets only the
// versions it lacks, and that a failing version leaves it as it was.
func TestMigrateUpgrade(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatalf("pgxpool.New: got error %v, want nil", err)
	}
	defer pool.Close()
	v1 := migration{1, "0001_a.sql", "CREATE TABLE a (n int); INSERT INTO a VALUES (1)"}
	v2 := migration{2, "0002_b.sql", "INSERT INTO a VALUES (2)"}
	bad := migration{3, "0003_bad.sql", "INSERT INTO a VALUES (3); SELECT * FROM missing"}
	steps := []struct {
		name    string
		ms      []migration
		wantErr bool
		want    int // sum of a.n afterwards
	}{
		{"fresh", []migration{v1}, false, 1},
		{"again", []migration{v1}, false, 1},
		{"upgrade", []migration{v1, v2}, false, 3},
		{"failing version", []migration{v1, v2, bad}, true, 3},
		{"downgraded binary", []migration{v1}, true, 3},
	}
	for _, st := range steps {
		err := migrateSchema(ctx, pool, st.ms)
		if (err != nil) != st.wantErr {
			t.Errorf("%s: migrateSchema: got error %v, want error %v", st.name, err, st.wantErr)
		}
		var sum int
		if err := pool.QueryRow(ctx, `SELECT sum(n) FROM a`).Scan(&sum); err != nil || sum != st.want {
			t.Errorf("%s: sum of a: got %d, %v, want %d, nil", st.name, sum, err, st.want)
		}
	}
}

// TestAPITokenUpgrade: API tokens stored before tokens had ids of their
// own keep working after the upgrade, under new ids no part of them.
func TestAPITokenUpgrade(t *testing.T) {
	t.Parallel()
	storetest.TestAPITokenUpgrade(t, func(t *testing.T, tokens []storetest.OldAPIToken) core.AccountStore {
		ctx := t.Context()
		sub, err := fs.Sub(schemaFiles, "schema")
		if err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations(sub)
		if err != nil {
			t.Fatal(err)
		}
		v := slices.IndexFunc(ms, func(m migration) bool { return strings.HasSuffix(m.name, "_token_ids.sql") })
		if v < 0 {
			t.Fatal("no schema file *_token_ids.sql")
		}
		url := pgtest.URL(t)
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatalf("pgxpool.New: got error %v, want nil", err)
		}
		defer pool.Close()
		if err := migrateSchema(ctx, pool, ms[:v]); err != nil {
			t.Fatalf("migrate to version %d: %v", v, err)
		}
		for _, tok := range tokens {
			if _, err := pool.Exec(ctx, `INSERT INTO users (email, password_hash, created_at) VALUES ($1, '\x00', now()) ON CONFLICT DO NOTHING`, tok.Email); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO api_tokens (id, user_id, hash, created_at) SELECT $1, id, $2, now() FROM users WHERE email = $3`, tok.ID, tok.Hash, tok.Email); err != nil {
				t.Fatal(err)
			}
		}
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatalf("Open: got error %v, want nil", err)
		}
		t.Cleanup(db.Close)
		return db
	})
}
