package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"userimages/core"
)

// Takedowns and the outbox (core.TakedownStore, core.OutboxStore,
// core.OutboxReader). Every write goes through this process's one writer,
// in IMMEDIATE transactions, so claims of the outbox never overlap, in
// this process or another on the same file.

func (s *DB) TakeDown(ctx context.Context, t core.Takedown) (_ []core.Deletion, err error) {
	defer func() { err = fault(err) }()
	var ds []core.Deletion
	err = s.write(ctx, func(tx *sql.Tx) error {
		ds = nil
		first, err := scanImage(s.txQueryRow(tx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, t.ImageID))
		if err != nil {
			return err
		}
		imgs := []core.Image{first}
		if t.AllCopies {
			rows, err := s.txQuery(tx, `SELECT `+imageColumns+` FROM images WHERE sha256 = ? AND id <> ? ORDER BY created_at, rowid`, first.SHA256, first.ID)
			if err != nil {
				return err
			}
			copies, err := collect(rows, scanImage)
			if err != nil {
				return err
			}
			imgs = append(imgs, copies...)
		}
		for _, img := range imgs {
			d := core.Deletion{Image: img, By: t.By, Reason: t.Reason, Blocked: t.Block, At: t.At.UTC()}
			if err := s.deleteImage(tx, d); err != nil {
				return err
			}
			ds = append(ds, d)
		}
		if t.Block {
			if err := s.block(tx, first.SHA256, t.At); err != nil {
				return err
			}
			if err := s.addHashes(tx, t.Hashes, t.At); err != nil {
				return err
			}
		}
		if t.Outbox != nil {
			return s.enqueue(tx, t.Outbox(imgs), t.At)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

func (s *DB) DeletionsOf(ctx context.Context, sha string, limit int) (_ []core.Deletion, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanDeletion, `SELECT `+deletionColumns+` FROM deletions WHERE sha256 = ? ORDER BY deleted_at DESC, rowid DESC LIMIT ?`, sha, limit)
}

func (s *DB) Enqueue(ctx context.Context, entries []core.OutboxEntry) (err error) {
	defer func() { err = fault(err) }()
	now := time.Now()
	return s.write(ctx, func(tx *sql.Tx) error { return s.enqueue(tx, entries, now) })
}

// enqueue inserts entries; those without a CreatedAt are created at.
func (s *DB) enqueue(tx *sql.Tx, entries []core.OutboxEntry, at time.Time) error {
	for _, e := range entries {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = at
		}
		if e.NextAt.IsZero() {
			e.NextAt = e.CreatedAt
		}
		if _, err := s.txExec(tx, `INSERT INTO outbox (topic, payload, created_at, next_at) VALUES (?, ?, ?, ?)`,
			e.Topic, e.Payload, micros(e.CreatedAt), micros(e.NextAt)); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

const outboxColumns = `id, topic, payload, created_at, next_at, attempts, last_error, claim`

func scanOutbox(row rowScanner) (core.OutboxEntry, error) {
	var e core.OutboxEntry
	var created, next int64
	err := row.Scan(&e.ID, &e.Topic, &e.Payload, &created, &next, &e.Attempts, &e.LastError, &e.Claim)
	e.CreatedAt, e.NextAt = fromMicros(created), fromMicros(next)
	return e, mapErr(err)
}

func (s *DB) ClaimOutbox(ctx context.Context, c core.OutboxClaim) (_ []core.OutboxEntry, err error) {
	defer func() { err = fault(err) }()
	if len(c.Topics) == 0 || c.Limit <= 0 {
		return nil, nil
	}
	args := []any{c.Claim, micros(c.Until)}
	for _, t := range c.Topics {
		args = append(args, t)
	}
	args = append(args, micros(c.Now), micros(c.Now), c.Limit)
	q := `UPDATE outbox SET claim = ?, lease_until = ? WHERE id IN (SELECT id FROM outbox WHERE topic IN (?` +
		strings.Repeat(", ?", len(c.Topics)-1) + `) AND next_at <= ? AND lease_until <= ? ORDER BY id LIMIT ?) RETURNING ` + outboxColumns
	var out []core.OutboxEntry
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.txQuery(tx, q, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanOutbox)
		return err
	})
	slices.SortFunc(out, func(a, b core.OutboxEntry) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

func (s *DB) CompleteOutbox(ctx context.Context, id int64, claim string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return changedOne(s.txExec(tx, `DELETE FROM outbox WHERE id = ? AND claim = ?`, id, claim))
	})
}

func (s *DB) RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastError string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return changedOne(s.txExec(tx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, claim = '', lease_until = 0 WHERE id = ? AND claim = ?`,
			lastError, micros(next), id, claim))
	})
}

func (s *DB) PendingOutbox(ctx context.Context, topic string, limit int) (_ []core.OutboxEntry, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanOutbox, `SELECT `+outboxColumns+` FROM outbox WHERE ? IN ('', topic) ORDER BY id LIMIT ?`, topic, limit)
}

func (s *DB) OutboxCounts(ctx context.Context) (_ []core.OutboxCount, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, func(row rowScanner) (core.OutboxCount, error) {
		var c core.OutboxCount
		err := row.Scan(&c.Topic, &c.Pending, &c.Failed)
		return c, err
	}, `SELECT topic, count(*), count(*) FILTER (WHERE attempts > 0) FROM outbox GROUP BY topic ORDER BY topic`)
}
