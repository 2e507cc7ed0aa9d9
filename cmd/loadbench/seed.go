package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"
	_ "modernc.org/sqlite" // the driver the server uses

	"userimages/core"
	"userimages/localdisk"
	"userimages/sqlite"
)

// seed stores n published images in the (stopped) data directory dir,
// straight into its SQLite database, in big transactions without fsync.
// The first withBytes of them also get blob (the bytes of a JPEG) on disk
// so that GETs of their paths work; seed returns those paths.
func seed(ctx context.Context, dir string, n int, blob []byte, withBytes int) ([]string, error) {
	dbPath := filepath.Join(dir, "userimages.db")
	meta, err := sqlite.Open(ctx, dbPath) // creates the schema as the server would
	if err != nil {
		return nil, err
	}
	if err := meta.AddBrand(ctx, brandID); err != nil {
		meta.Close()
		return nil, err
	}
	if err := meta.Close(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	sum := sha256.Sum256(blob)
	hash := hex.EncodeToString(sum[:])
	var key [32]byte
	copy(key[:], "loadbench seed")
	rng := rand.NewChaCha8(key)
	created := time.Now().Add(-30 * 24 * time.Hour)
	var ids []string
	const batch = 100_000
	for done := 0; done < n; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO images (id, token, brand_id, content_type, size, sha256, created_at, user_id, client_addr) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '127.0.0.1')`)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		for end := min(n, done+batch); done < end; done++ {
			var raw [16]byte
			rng.Read(raw[:])
			id := base64.RawURLEncoding.EncodeToString(raw[:])
			at := created.Add(time.Duration(done) * time.Millisecond)
			tok, err := ulid.New(ulid.Timestamp(at), rng)
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			if _, err := stmt.ExecContext(ctx, id, tok.String(), brandID, api.JPEG.MIME, len(blob), hash, at.UnixMicro()); err != nil {
				tx.Rollback()
				return nil, fmt.Errorf("insert image %d: %w", done, err)
			}
			if done%max(1, n/withBytes) == 0 && len(ids) < withBytes { // spread over the table
				ids = append(ids, id)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return nil, err
	}
	blobs, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, id := range ids {
		if err := blobs.Put(ctx, "images/"+id, bytes.NewReader(blob)); err != nil {
			return nil, err
		}
		paths = append(paths, core.Path(core.Image{ID: id, ContentType: api.JPEG.MIME}))
	}
	return paths, nil
}
