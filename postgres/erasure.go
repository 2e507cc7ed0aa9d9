package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

func (s *DB) ErasePersonalData(ctx context.Context, e core.PersonalDataErasure) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := changedOne(tx.Exec(ctx, `UPDATE users SET disabled = true, name = '', contact_email = '' WHERE id = $1`, e.UserID)); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM api_tokens WHERE user_id = $1`, []any{e.UserID}},
			{`DELETE FROM sessions WHERE user_id = $1`, []any{e.UserID}},
			{`DELETE FROM uploads WHERE user_id = $1`, []any{e.UserID}},
			{`UPDATE reports SET reporter = $1, detail = '' WHERE reporter = $2`, []any{e.Alias, e.Reporter}},
			{`UPDATE deletions SET client_addr = '' WHERE user_id = $1`, []any{e.UserID}},
		} {
			if _, err := tx.Exec(ctx, q.query, q.args...); err != nil {
				return mapErr(err)
			}
		}
		return insertEvent(ctx, tx, e.Event)
	})
}
