package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// The methods of core.SignInFailureStore.

func (s *DB) SignInFailures(ctx context.Context, keys ...string) (_ map[string]core.SignInFailures, err error) {
	defer func() { err = fault(err) }()
	out := map[string]core.SignInFailures{}
	rows, err := s.pool.Query(ctx, `SELECT key, failures, last_at, audited, audited_at FROM signin_failures WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var f core.SignInFailures
		var audited *time.Time
		if err := rows.Scan(&k, &f.Failures, &f.Last, &f.Audited, &audited); err != nil {
			return nil, mapErr(err)
		}
		f.Last = f.Last.UTC()
		if audited != nil {
			f.AuditedAt = audited.UTC()
		}
		out[k] = f
	}
	return out, mapErr(rows.Err())
}

func (s *DB) RecordSignInFailure(ctx context.Context, key string, at time.Time, audit func(core.SignInFailures) *core.ModerationEvent) (f core.SignInFailures, err error) {
	defer func() { err = fault(err) }()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var audited *time.Time
		err := tx.QueryRow(ctx, `INSERT INTO signin_failures (key, failures, last_at) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET failures = signin_failures.failures + 1, last_at = $2
			RETURNING failures, last_at, audited, audited_at`, key, at).Scan(&f.Failures, &f.Last, &f.Audited, &audited)
		if err != nil {
			return mapErr(err)
		}
		f.Last = f.Last.UTC()
		if audited != nil {
			f.AuditedAt = audited.UTC()
		}
		var e *core.ModerationEvent
		if audit != nil {
			e = audit(f)
		}
		if e == nil {
			return nil
		}
		if err := insertEvent(ctx, tx, *e); err != nil {
			return err
		}
		f.Audited, f.AuditedAt = f.Failures, e.At.UTC()
		_, err = tx.Exec(ctx, `UPDATE signin_failures SET audited = $1, audited_at = $2 WHERE key = $3`, f.Audited, e.At, key)
		return mapErr(err)
	})
	return f, err
}

func (s *DB) ClearSignInFailures(ctx context.Context, keys ...string) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `DELETE FROM signin_failures WHERE key = ANY($1)`, keys)
	return mapErr(err)
}
