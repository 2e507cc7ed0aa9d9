package sqlite

import (
	"context"
	"database/sql"

	"userimages/core"
)

func (s *DB) ErasePersonalData(ctx context.Context, e core.PersonalDataErasure) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := affectedOne(s.txExec(tx, `UPDATE users SET disabled = 1, name = '', contact_email = '' WHERE id = ?`, e.UserID)); err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`DELETE FROM api_tokens WHERE user_id = ?`, []any{e.UserID}},
			{`DELETE FROM sessions WHERE user_id = ?`, []any{e.UserID}},
			{`DELETE FROM uploads WHERE user_id = ?`, []any{e.UserID}},
			{`UPDATE reports SET reporter = ?, detail = '' WHERE reporter = ?`, []any{e.Alias, e.Reporter}},
			{`UPDATE deletions SET client_addr = '' WHERE user_id = ?`, []any{e.UserID}},
		} {
			if _, err := s.txExec(tx, q.query, q.args...); err != nil {
				return mapErr(err)
			}
		}
		return s.insertEvent(tx, e.Event)
	})
}
