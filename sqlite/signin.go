package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"userimages/core"
)

// The methods of core.SignInFailureStore.

func (s *DB) SignInFailures(ctx context.Context, keys ...string) (_ map[string]core.SignInFailures, err error) {
	defer func() { err = fault(err) }()
	out := map[string]core.SignInFailures{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := s.r.QueryContext(ctx, `SELECT key, failures, last_at, audited, audited_at FROM signin_failures WHERE key IN (?`+
		strings.Repeat(", ?", len(keys)-1)+`)`, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var f core.SignInFailures
		var last, audited int64
		if err := rows.Scan(&k, &f.Failures, &last, &f.Audited, &audited); err != nil {
			return nil, mapErr(err)
		}
		f.Last = fromMicros(last)
		if audited != 0 {
			f.AuditedAt = fromMicros(audited)
		}
		out[k] = f
	}
	return out, mapErr(rows.Err())
}

func (s *DB) RecordSignInFailure(ctx context.Context, key string, at time.Time, audit func(core.SignInFailures) *core.ModerationEvent) (f core.SignInFailures, err error) {
	defer func() { err = fault(err) }()
	err = s.write(ctx, func(tx *sql.Tx) error {
		var last, auditedAt int64
		err := tx.QueryRowContext(ctx, `INSERT INTO signin_failures (key, failures, last_at) VALUES (?1, 1, ?2)
			ON CONFLICT (key) DO UPDATE SET failures = failures + 1, last_at = ?2
			RETURNING failures, last_at, audited, audited_at`, key, micros(at)).Scan(&f.Failures, &last, &f.Audited, &auditedAt)
		if err != nil {
			return mapErr(err)
		}
		f.Last = fromMicros(last)
		if auditedAt != 0 {
			f.AuditedAt = fromMicros(auditedAt)
		}
		var e *core.ModerationEvent
		if audit != nil {
			e = audit(f)
		}
		if e == nil {
			return nil
		}
		if err := s.insertEvent(tx, *e); err != nil {
			return err
		}
		f.Audited, f.AuditedAt = f.Failures, e.At.UTC()
		_, err = tx.ExecContext(ctx, `UPDATE signin_failures SET audited = ?, audited_at = ? WHERE key = ?`, f.Audited, micros(e.At), key)
		return mapErr(err)
	})
	return f, err
}

func (s *DB) ClearSignInFailures(ctx context.Context, keys ...string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = ?`, k); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}
