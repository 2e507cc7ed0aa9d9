package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaFiles holds the schema migrations, NNNN_what.sql, version NNNN
// numbered from 1 without gaps. A released file is never edited: changes
// go in a new one, which Open applies to existing databases.
//
//go:embed schema/*.sql
var schemaFiles embed.FS

// migrationLockClass is the first key of the advisory lock that serializes
// schema migrations (the second is a hash of the schema's name); it spells
// "uimg".
const migrationLockClass int32 = 0x75696d67

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the *.sql files at the root of fsys, in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for i, name := range names {
		prefix, _, ok := strings.Cut(name, "_")
		if v, err := strconv.Atoi(prefix); !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want a name starting %04d_", name, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: i + 1, name: name, sql: string(b)})
	}
	return ms, nil
}

// migrateSchema brings the schema of the search path up to the last of ms, in one
// transaction: a failure leaves it as it was. Instances starting at once
// queue on the advisory lock, and each applies only what the ones before it
// left to do, so all of them succeed. The lock is per schema, so stores in
// other schemas of one database never wait on each other.
func migrateSchema(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The store's timeouts are for requests: a migration may wait on
		// another instance's and rewrite tables, bounded by ctx only.
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
			return fmt.Errorf("lift the timeouts of schema migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLockClass); err != nil {
			return fmt.Errorf("lock schema migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS userimages_schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create the migrations table: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM userimages_schema_migrations`).Scan(&v); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if v > len(ms) {
			return fmt.Errorf("schema version %d is newer than this binary's %d", v, len(ms))
		}
		for _, m := range ms[v:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO userimages_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
		}
		return nil
	})
}
