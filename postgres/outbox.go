package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// Takedowns and the outbox (core.TakedownStore, core.OutboxStore,
// core.OutboxReader). Instances claim outbox entries with FOR UPDATE SKIP
// LOCKED and a lease: none waits on another, and an entry is held by one
// at a time until delivered or its lease ends.

func (s *DB) TakeDown(ctx context.Context, t core.Takedown) (_ []core.Deletion, err error) {
	defer func() { err = fault(err) }()
	var ds []core.Deletion
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ds = nil
		first, err := scanImage(tx.QueryRow(ctx, `SELECT `+imageColumns+` FROM images WHERE id = $1 FOR UPDATE`, t.ImageID))
		if err != nil {
			return err
		}
		imgs := []core.Image{first}
		if t.AllCopies {
			rows, err := tx.Query(ctx, `SELECT `+imageColumns+` FROM images WHERE sha256 = $1 AND id <> $2 ORDER BY created_at, seq FOR UPDATE`, first.SHA256, first.ID)
			if err != nil {
				return err
			}
			copies, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.Image, error) { return scanImage(row) })
			if err != nil {
				return err
			}
			imgs = append(imgs, copies...)
		}
		for _, img := range imgs {
			d := core.Deletion{Image: img, By: t.By, Reason: t.Reason, Blocked: t.Block, At: t.At.UTC()}
			if err := deleteImage(ctx, tx, d); err != nil {
				return err
			}
			ds = append(ds, d)
		}
		if t.Block {
			if err := block(ctx, tx, first.SHA256, t.At); err != nil {
				return err
			}
			if err := addHashes(ctx, tx, t.Hashes, t.At); err != nil {
				return err
			}
		}
		if t.Outbox != nil {
			return enqueue(ctx, tx, t.Outbox(imgs), t.At)
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
	return s.deletions(ctx, `SELECT `+deletionColumns+` FROM deletions WHERE sha256 = $1 ORDER BY deleted_at DESC, seq DESC LIMIT $2`, sha, limit)
}

func (s *DB) Enqueue(ctx context.Context, entries []core.OutboxEntry) (err error) {
	defer func() { err = fault(err) }()
	now := time.Now()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return enqueue(ctx, tx, entries, now) })
}

// enqueue inserts entries; those without a CreatedAt are created at.
func enqueue(ctx context.Context, tx execer, entries []core.OutboxEntry, at time.Time) error {
	for _, e := range entries {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = at
		}
		if e.NextAt.IsZero() {
			e.NextAt = e.CreatedAt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (topic, payload, created_at, next_at) VALUES ($1, $2, $3, $4)`,
			e.Topic, e.Payload, e.CreatedAt, e.NextAt); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

const outboxColumns = `id, topic, payload, created_at, next_at, attempts, last_error, claim`

// outbox runs a query of outboxColumns.
func outbox(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]core.OutboxEntry, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.OutboxEntry, error) {
		var e core.OutboxEntry
		err := row.Scan(&e.ID, &e.Topic, &e.Payload, &e.CreatedAt, &e.NextAt, &e.Attempts, &e.LastError, &e.Claim)
		e.CreatedAt, e.NextAt = e.CreatedAt.UTC(), e.NextAt.UTC()
		return e, err
	})
}

func (s *DB) ClaimOutbox(ctx context.Context, c core.OutboxClaim) (_ []core.OutboxEntry, err error) {
	defer func() { err = fault(err) }()
	if len(c.Topics) == 0 || c.Limit <= 0 {
		return nil, nil
	}
	// The CTE locks the due rows it picks, skipping those another
	// instance is claiming; the lease keeps them from others after the
	// commit.
	return outbox(ctx, s.pool, `WITH due AS (
		SELECT id FROM outbox WHERE topic = ANY($1) AND next_at <= $2 AND lease_until <= $2
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
	UPDATE outbox o SET claim = $4, lease_until = $5 FROM due WHERE o.id = due.id
	RETURNING o.id, o.topic, o.payload, o.created_at, o.next_at, o.attempts, o.last_error, o.claim`,
		c.Topics, c.Now, c.Limit, c.Claim, c.Until)
}

func (s *DB) CompleteOutbox(ctx context.Context, id int64, claim string) (err error) {
	defer func() { err = fault(err) }()
	return changedOne(s.pool.Exec(ctx, `DELETE FROM outbox WHERE id = $1 AND claim = $2`, id, claim))
}

func (s *DB) RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastError string) (err error) {
	defer func() { err = fault(err) }()
	return changedOne(s.pool.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_at = $2, claim = '', lease_until = '-infinity'
		WHERE id = $3 AND claim = $4`, lastError, next, id, claim))
}

func (s *DB) PendingOutbox(ctx context.Context, topic string, limit int) (_ []core.OutboxEntry, err error) {
	defer func() { err = fault(err) }()
	return outbox(ctx, s.pool, `SELECT `+outboxColumns+` FROM outbox WHERE $1 IN ('', topic) ORDER BY id LIMIT $2`, topic, limit)
}

func (s *DB) OutboxCounts(ctx context.Context) (_ []core.OutboxCount, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `SELECT topic, count(*), count(*) FILTER (WHERE attempts > 0) FROM outbox GROUP BY topic ORDER BY topic`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.OutboxCount, error) {
		var c core.OutboxCount
		err := row.Scan(&c.Topic, &c.Pending, &c.Failed)
		return c, err
	})
}
