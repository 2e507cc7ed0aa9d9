package postgres

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// nextHashesVersion takes the next version of the blocked hashes, counting
// removed more removals, in tx. Its row stays locked until tx ends, so
// versions commit in order.
func nextHashesVersion(ctx context.Context, tx pgx.Tx, removed int64) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `UPDATE blocked_hashes_version SET version = version + 1, removals = removals + $1 WHERE id = 1 RETURNING version`, removed).Scan(&v)
	return v, err
}

// addHashes inserts hs under a new version in tx, by COPY.
func addHashes(ctx context.Context, tx pgx.Tx, hs []core.BlockedHash, at time.Time) error {
	if len(hs) == 0 {
		return nil
	}
	v, err := nextHashesVersion(ctx, tx, 0)
	if err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"blocked_hashes"}, []string{"version", "list", "hash", "quality", "source", "added_at"},
		pgx.CopyFromSlice(len(hs), func(i int) ([]any, error) {
			h := hs[i]
			return []any{v, h.List, h.Hash, h.Quality, h.Source, at}, nil
		}))
	return mapErr(err)
}

func (s *DB) AddBlockedHashes(ctx context.Context, hs []core.BlockedHash, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := addHashes(ctx, tx, hs, e.At); err != nil {
			return err
		}
		return insertEvent(ctx, tx, e)
	})
}

// removeHashes deletes the hashes a statement selects and counts them as
// removed, in tx.
func removeHashes(ctx context.Context, tx pgx.Tx, del string, args ...any) (int64, error) {
	tag, err := tx.Exec(ctx, del, args...)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	_, err = nextHashesVersion(ctx, tx, tag.RowsAffected())
	return tag.RowsAffected(), err
}

func (s *DB) RemoveHashList(ctx context.Context, list string, e core.ModerationEvent) (_ int64, err error) {
	defer func() { err = fault(err) }()
	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if n, err = removeHashes(ctx, tx, `DELETE FROM blocked_hashes WHERE list = $1`, list); err != nil {
			return err
		}
		if n == 0 {
			return core.ErrNotFound
		}
		return insertEvent(ctx, tx, e)
	})
	return n, err
}

func (s *DB) HashesVersion(ctx context.Context) (_ core.HashesVersion, err error) {
	defer func() { err = fault(err) }()
	var v core.HashesVersion
	err = s.pool.QueryRow(ctx, `SELECT version, removals FROM blocked_hashes_version WHERE id = 1`).Scan(&v.Version, &v.Removals)
	return v, err
}

func (s *DB) BlockedHashes(ctx context.Context, list string, c core.HashCursor, limit int) (_ []core.BlockedHash, err error) {
	defer func() { err = fault(err) }()
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.BlockedHash, error) {
		var h core.BlockedHash
		err := row.Scan(&h.List, &h.Hash, &h.Quality, &h.Source, &h.Version, &h.Seq)
		return h, err
	}, `SELECT list, hash, quality, source, version, seq FROM blocked_hashes
		WHERE ($1 = '' OR list = $1) AND (version, seq) > ($2, $3) ORDER BY version, seq LIMIT $4`, list, c.Version, c.Seq, limit)
}

func (s *DB) HashLists(ctx context.Context) (_ []core.HashList, err error) {
	defer func() { err = fault(err) }()
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.HashList, error) {
		var l core.HashList
		err := row.Scan(&l.Name, &l.Hashes, &l.At)
		l.At = l.At.UTC()
		return l, err
	}, `SELECT list, count(*), max(added_at) FROM blocked_hashes GROUP BY list ORDER BY list`)
}

// SetFingerprint updates the upload's row first: a claim racing it (which
// deletes that row, then inserts the image) either waits for it and
// publishes the hash, or has committed, and the image's row, read by the
// next statement, has it.
func (s *DB) SetFingerprint(ctx context.Context, imageID string, fp core.Fingerprint) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE uploads SET pdq = $1, pdq_quality = $2 WHERE image_id = $3`, fp.PDQ, fp.Quality, imageID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE images SET pdq = $1, pdq_quality = $2 WHERE id = $3`, fp.PDQ, fp.Quality, imageID)
		return err
	})
}

func (s *DB) Unfingerprinted(ctx context.Context, after string, limit int) (_ []core.Image, err error) {
	defer func() { err = fault(err) }()
	return s.images(ctx, `SELECT `+imageColumns+` FROM images WHERE pdq = '' AND pdq_quality = 0 AND id > $1 ORDER BY id LIMIT $2`, after, limit)
}

func (s *DB) ImageHashes(ctx context.Context, before int64, limit int) (_ []core.ImageHash, err error) {
	defer func() { err = fault(err) }()
	if before <= 0 {
		before = math.MaxInt64
	}
	// An index-only scan of images_hashed (schema 0012).
	rows, err := s.pool.Query(ctx, `SELECT id, pdq, pdq_quality, seq FROM images WHERE seq < $1 AND pdq <> '' ORDER BY seq DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.ImageHash, error) {
		var h core.ImageHash
		err := row.Scan(&h.ID, &h.PDQ, &h.Quality, &h.Seq)
		return h, err
	})
}
