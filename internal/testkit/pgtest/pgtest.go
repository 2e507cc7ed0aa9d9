// Package pgtest gives each test its own empty PostgreSQL schema, so that
// tests and test runs sharing one database never see each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the postgres:// URL of the
// test database, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "USERIMAGES_TEST_POSTGRES_URL"

// URL creates a schema with a random name in the test database and returns
// the database's URL with search_path set to it; the schema and everything
// in it are dropped when t ends. Without a test database (EnvURL unset, or
// it does not answer or lets no schema be created) t is skipped, or fails when CI is set, so that CI
// never passes by skipping.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		unavailable(t, EnvURL+" is not set")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s: got %q, want a postgres:// URL", EnvURL, base)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop the test schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own connection to base. It does not use
// t.Context, which is canceled before cleanups run.
func exec(base, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// unavailable skips t, or fails it under CI.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL tests: %s (CI is set, so this fails rather than skips)", why)
	}
	t.Skipf("PostgreSQL tests skipped: %s", why)
}
