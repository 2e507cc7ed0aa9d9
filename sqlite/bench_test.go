package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/sqlite"
)

// The store's writes commit with synchronous=FULL, so they are expected to
// be bound by the fsync of the temporary directory's disk: that cost is
// what these benchmarks measure.

// benchDB opens a database in a temporary file, and a second, raw
// connection to it that fills it in bulk (one transaction, one fsync).
func benchDB(b *testing.B) (*sqlite.DB, *sql.DB) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "meta.db")
	db, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return db, raw
}

var benchUploader = core.Uploader{ClientAddr: "192.0.2.1"}

// benchRand makes the ids and tokens of one benchmark, the same each run.
type benchRand struct {
	r *rand.Rand
	n int
}

func newBenchRand() *benchRand { return &benchRand{r: rand.New(rand.NewPCG(1, 2))} }

// id is random like an image id: 22 characters of URL-safe base64.
func (g *benchRand) id() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// token is unique with an upload token's length (26).
func (g *benchRand) token() string {
	g.n++
	return fmt.Sprintf("01BENCH%019d", g.n)
}

func (g *benchRand) image(token string, now time.Time) core.Image {
	var sum [32]byte
	for i := range sum {
		sum[i] = byte(g.r.Uint32())
	}
	return core.Image{ID: g.id(), Token: token, BrandID: "10016", ContentType: "image/jpeg", Size: 200_000,
		SHA256: hex.EncodeToString(sum[:]), CreatedAt: now, Uploader: benchUploader}
}

// bulk runs fn in one transaction of raw.
func bulk(b *testing.B, raw *sql.DB, fn func(tx *sql.Tx) error) {
	b.Helper()
	ctx := context.Background()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// insertReceived inserts received uploads of tokens, their image ids the
// tokens' last 22 characters.
func insertReceived(tx *sql.Tx, tokens []string, now time.Time) error {
	for _, t := range tokens {
		if _, err := tx.Exec(`INSERT INTO uploads (token, content_type, file_size, created_at, user_id, client_addr, state, image_id, size, sha256)
			VALUES (?, 'image/jpeg', 200000, ?, 0, ?, 'received', ?, 199000, ?)`,
			t, now.UnixMicro(), benchUploader.ClientAddr, t[len(t)-22:], strings.Repeat("ab", 32)); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkCreateUpload is step 1's write: one upload row, one commit.
func BenchmarkCreateUpload(b *testing.B) {
	db, _ := benchDB(b)
	g, now, ctx := newBenchRand(), time.Now(), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		u := core.Upload{Token: g.token(), ContentType: "image/jpeg", FileSize: 200_000, CreatedAt: now, Uploader: benchUploader}
		if err := db.CreateUpload(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImage is the lookup behind every image GET, by id, among 10,000
// stored images.
func BenchmarkImage(b *testing.B) {
	const stored = 10_000
	db, raw := benchDB(b)
	g, now, ctx := newBenchRand(), time.Now(), context.Background()
	ids := make([]string, stored)
	bulk(b, raw, func(tx *sql.Tx) error {
		for i := range ids {
			img := g.image(g.token(), now)
			ids[i] = img.ID
			if _, err := tx.Exec(`INSERT INTO images (id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				img.ID, img.Token, img.BrandID, img.ContentType, img.Size, img.SHA256, img.CreatedAt.UnixMicro(), img.Uploader.UserID, img.Uploader.ClientAddr); err != nil {
				return err
			}
		}
		return nil
	})
	g.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Image(ctx, ids[i%stored]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkClaimUpload is the claim's write: the received upload row
// deleted and the image row inserted, in one transaction. The received
// rows are made beforehand, in batches, outside the timing.
// BenchmarkClaimUpload is one claim after another: plain, and with the
// webhook event a claim writes in its transaction (an outbox row of about
// 450 bytes, what core.Uploads adds).
func BenchmarkClaimUpload(b *testing.B) {
	event := strings.Repeat("e", 450)
	b.Run("plain", func(b *testing.B) { benchClaimUpload(b, nil) })
	b.Run("event", func(b *testing.B) {
		benchClaimUpload(b, func(img core.Image) []core.OutboxEntry {
			return []core.OutboxEntry{{Topic: core.TopicEvent, Payload: img.ID + " " + event, CreatedAt: img.CreatedAt}}
		})
	})
}

func benchClaimUpload(b *testing.B, outbox func(core.Image) []core.OutboxEntry) {
	const batch = 512
	db, raw := benchDB(b)
	g, now, ctx := newBenchRand(), time.Now(), context.Background()
	if err := db.AddBrand(ctx, "10016"); err != nil {
		b.Fatal(err)
	}
	var tokens []string
	b.ReportAllocs()
	for b.Loop() {
		if len(tokens) == 0 {
			b.StopTimer()
			for range batch {
				tokens = append(tokens, g.token())
			}
			bulk(b, raw, func(tx *sql.Tx) error { return insertReceived(tx, tokens, now) })
			b.StartTimer()
		}
		if _, err := db.ClaimUpload(ctx, core.UploadClaim{Token: tokens[0], BrandID: "10016", NotBefore: now.Add(-time.Hour), At: now, Outbox: outbox}); err != nil {
			b.Fatal(err)
		}
		tokens = tokens[1:]
	}
}

// BenchmarkClaimUploadParallel is claims from 16 clients at once, whose
// commits share fsyncs (group commit).
func BenchmarkClaimUploadParallel(b *testing.B) {
	db, raw := benchDB(b)
	g, now, ctx := newBenchRand(), time.Now(), context.Background()
	if err := db.AddBrand(ctx, "10016"); err != nil {
		b.Fatal(err)
	}
	tokens := make(chan string, b.N)
	var all []string
	for range b.N {
		t := g.token()
		all = append(all, t)
		tokens <- t
	}
	bulk(b, raw, func(tx *sql.Tx) error { return insertReceived(tx, all, now) })
	close(tokens)
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.ClaimUpload(ctx, core.UploadClaim{Token: <-tokens, BrandID: "10016", NotBefore: now.Add(-time.Hour), At: now}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
