package sqlite

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"userimages/core"
)

// nextHashesVersion takes the next version of the blocked hashes, counting
// removed more removals, in tx.
func (s *DB) nextHashesVersion(tx *sql.Tx, removed int64) (int64, error) {
	var v int64
	err := s.txQueryRow(tx, `UPDATE blocked_hashes_version SET version = version + 1, removals = removals + ? WHERE id = 1 RETURNING version`, removed).Scan(&v)
	return v, err
}

// addHashes inserts hs under a new version in tx.
func (s *DB) addHashes(tx *sql.Tx, hs []core.BlockedHash, at time.Time) error {
	if len(hs) == 0 {
		return nil
	}
	v, err := s.nextHashesVersion(tx, 0)
	if err != nil {
		return err
	}
	// Many rows a statement: a million hashes import in seconds, not
	// minutes of one statement each.
	for len(hs) > 0 {
		n := min(len(hs), hashesPerInsert)
		args := make([]any, 0, 6*n)
		for _, h := range hs[:n] {
			args = append(args, v, h.List, h.Hash, h.Quality, h.Source, micros(at))
		}
		q := `INSERT INTO blocked_hashes (version, list, hash, quality, source, added_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", n), ", ")
		if _, err := tx.Exec(q, args...); err != nil {
			return mapErr(err)
		}
		hs = hs[n:]
	}
	return nil
}

// hashesPerInsert is how many rows one INSERT of blocked hashes writes
// (6 parameters each, under SQLite's 32,766).
const hashesPerInsert = 1000

func (s *DB) AddBlockedHashes(ctx context.Context, hs []core.BlockedHash, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.addHashes(tx, hs, e.At); err != nil {
			return err
		}
		return s.insertEvent(tx, e)
	})
}

// removeHashes deletes the hashes a statement selects (args its
// arguments) and counts them as removed, in tx.
func (s *DB) removeHashes(tx *sql.Tx, del string, args ...any) (int64, error) {
	res, err := s.txExec(tx, del, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	_, err = s.nextHashesVersion(tx, n)
	return n, err
}

func (s *DB) RemoveHashList(ctx context.Context, list string, e core.ModerationEvent) (_ int64, err error) {
	defer func() { err = fault(err) }()
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = s.removeHashes(tx, `DELETE FROM blocked_hashes WHERE list = ?`, list); err != nil {
			return err
		}
		if n == 0 {
			return core.ErrNotFound
		}
		return s.insertEvent(tx, e)
	})
	return n, err
}

func (s *DB) HashesVersion(ctx context.Context) (_ core.HashesVersion, err error) {
	defer func() { err = fault(err) }()
	var v core.HashesVersion
	err = s.r.QueryRowContext(ctx, `SELECT version, removals FROM blocked_hashes_version WHERE id = 1`).Scan(&v.Version, &v.Removals)
	return v, err
}

func (s *DB) BlockedHashes(ctx context.Context, list string, c core.HashCursor, limit int) (_ []core.BlockedHash, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, func(row rowScanner) (core.BlockedHash, error) {
		var h core.BlockedHash
		err := row.Scan(&h.List, &h.Hash, &h.Quality, &h.Source, &h.Version, &h.Seq)
		return h, err
	}, `SELECT list, hash, quality, source, version, seq FROM blocked_hashes
		WHERE (?1 = '' OR list = ?1) AND (version, seq) > (?2, ?3) ORDER BY version, seq LIMIT ?4`, list, c.Version, c.Seq, limit)
}

func (s *DB) HashLists(ctx context.Context) (_ []core.HashList, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, func(row rowScanner) (core.HashList, error) {
		var l core.HashList
		var at int64
		err := row.Scan(&l.Name, &l.Hashes, &at)
		l.At = fromMicros(at)
		return l, err
	}, `SELECT list, count(*), max(added_at) FROM blocked_hashes GROUP BY list ORDER BY list`)
}

func (s *DB) SetFingerprint(ctx context.Context, imageID string, fp core.Fingerprint) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(tx, `UPDATE uploads SET pdq = ?, pdq_quality = ? WHERE image_id = ?`, fp.PDQ, fp.Quality, imageID); err != nil {
			return err
		}
		_, err := s.txExec(tx, `UPDATE images SET pdq = ?, pdq_quality = ? WHERE id = ?`, fp.PDQ, fp.Quality, imageID)
		return err
	})
}

func (s *DB) Unfingerprinted(ctx context.Context, after string, limit int) (_ []core.Image, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.r.QueryContext(ctx, `SELECT `+imageColumns+` FROM images WHERE pdq = '' AND pdq_quality = 0 AND id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanImage)
}

func (s *DB) ImageHashes(ctx context.Context, before int64, limit int) (_ []core.ImageHash, err error) {
	defer func() { err = fault(err) }()
	if before <= 0 {
		before = math.MaxInt64
	}
	// The rowid is the order of publication, as in ListImages.
	return queryAll(ctx, s.r, func(row rowScanner) (core.ImageHash, error) {
		var h core.ImageHash
		err := row.Scan(&h.ID, &h.PDQ, &h.Quality, &h.Seq)
		return h, err
	}, `SELECT id, pdq, pdq_quality, rowid FROM images WHERE rowid < ? AND pdq <> '' ORDER BY rowid DESC LIMIT ?`, before, limit)
}
