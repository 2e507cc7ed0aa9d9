package core_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"userimages/core"
	"userimages/internal/testkit/cputime"
	"userimages/internal/testkit/pgtest"
	"userimages/localdisk"
	"userimages/postgres"
	"userimages/sqlite"
)

// resemblingStore is what Resembling reads.
type resemblingStore interface {
	core.HashBlocklist
	core.FingerprintStore
	core.ImageReader
	core.ImageHashLister
}

// BenchmarkResembling is the console's look-up of the images resembling
// one (core.Resemblance.Resembling) among core.ResemblingScan (100,000)
// published images with random hashes, as many as it compares, on SQLite
// and on PostgreSQL (when USERIMAGES_TEST_POSTGRES_URL is set): the read
// of their hashes in pages of 10,000 and the comparisons.
func BenchmarkResembling(b *testing.B) {
	const n = core.ResemblingScan
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "meta.db")
		db, err := sqlite.Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		// Random hashes, one transaction.
		if _, err := raw.ExecContext(b.Context(), `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
			INSERT INTO images (id, token, brand_id, content_type, size, sha256, created_at, pdq, pdq_quality)
			SELECT printf('%022d', n), printf('%026d', n), 'b', 'image/jpeg', 1000, lower(hex(randomblob(32))), n, lower(hex(randomblob(32))), 90 FROM i`, n); err != nil {
			b.Fatal(err)
		}
		benchResembling(b, db)
	})
	b.Run("postgres", func(b *testing.B) {
		url := pgtest.URL(b)
		db, err := postgres.Open(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		conn, err := pgx.Connect(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(b.Context(), `INSERT INTO images (id, token, brand_id, content_type, size, sha256, created_at, pdq, pdq_quality)
			SELECT lpad(n::text, 22, '0'), lpad(n::text, 26, '0'), 'b', 'image/jpeg', 1000, md5(n::text) || md5((-n)::text), now(),
				md5((n * 7)::text) || md5((n * 13)::text), 90 FROM generate_series(1, $1) AS n`, n); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(b.Context(), `VACUUM ANALYZE images`); err != nil {
			b.Fatal(err)
		}
		benchResembling(b, db)
	})
}

func benchResembling(b *testing.B, db resemblingStore) {
	disk, err := localdisk.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	r, err := core.NewResemblance(core.Config{}, core.ResemblanceDeps{Hashes: db, Fingerprints: db, Blobs: disk, Images: db, Hashed: db})
	if err != nil {
		b.Fatal(err)
	}
	img := core.Image{ID: "query", PDQ: "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", PDQQuality: 100}
	cpu := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Resembling(b.Context(), img, 48); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cputime.Process()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
