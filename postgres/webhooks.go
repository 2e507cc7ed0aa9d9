package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// Webhook endpoints and deliveries (core.WebhookStore). Unset times are
// NULL.

const endpointColumns = `id, url, secret, events, created_at, failing_since, disabled_at`

func scanEndpoint(row pgx.Row) (core.WebhookEndpoint, error) {
	var e core.WebhookEndpoint
	var events string
	var failing, disabled *time.Time
	err := row.Scan(&e.ID, &e.URL, &e.Secret, &events, &e.CreatedAt, &failing, &disabled)
	e.Events = strings.Fields(events)
	e.CreatedAt = e.CreatedAt.UTC()
	if failing != nil {
		e.FailingSince = failing.UTC()
	}
	if disabled != nil {
		e.DisabledAt = disabled.UTC()
	}
	return e, mapErr(err)
}

func (s *DB) AddWebhook(ctx context.Context, e core.WebhookEndpoint) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, e.URL, e.Secret, strings.Join(e.Events, " "), e.CreatedAt)
	return mapErr(err)
}

func (s *DB) Webhooks(ctx context.Context) (_ []core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.WebhookEndpoint, error) { return scanEndpoint(row) })
}

func (s *DB) Webhook(ctx context.Context, id string) (_ core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	return scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
}

func (s *DB) RemoveWebhook(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := changedOne(tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1`, id)
		return err
	})
}

func (s *DB) EnableWebhook(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return changedOne(s.pool.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = NULL, failing_since = NULL WHERE id = $1`, id))
}

func (s *DB) FanOut(ctx context.Context, fs []core.WebhookFanOut) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, f := range fs {
			d := f.Delivery
			tag, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (endpoint_id, message_id, type, body, state, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING`,
				d.EndpointID, d.MessageID, d.Type, d.Body, core.DeliveryPending, d.CreatedAt)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue // recorded already: fanned out before
			}
			if err := enqueueDelivery(ctx, tx, d.EndpointID, d.MessageID, f.Entry); err != nil {
				return err
			}
		}
		return nil
	})
}

// enqueueDelivery enqueues e as the outbox entry of the delivery of msg to
// ep.
func enqueueDelivery(ctx context.Context, tx pgx.Tx, ep, msg string, e core.OutboxEntry) error {
	if e.NextAt.IsZero() {
		e.NextAt = e.CreatedAt
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO outbox (topic, payload, created_at, next_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		e.Topic, e.Payload, e.CreatedAt, e.NextAt).Scan(&id)
	if err != nil {
		return mapErr(err)
	}
	_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET outbox_id = $1, state = $2 WHERE endpoint_id = $3 AND message_id = $4`, id, core.DeliveryPending, ep, msg)
	return err
}

// deliveryColumns are a delivery's, and its outbox entry's next_at (or
// NULL), from deliveryFrom.
const deliveryColumns = `d.endpoint_id, d.message_id, d.type, d.body, d.state, d.attempts, d.last_status, d.created_at, d.updated_at, o.next_at`

const deliveryFrom = ` FROM webhook_deliveries d LEFT JOIN outbox o ON o.id = d.outbox_id AND d.state = 'pending'`

func scanDelivery(row pgx.Row) (core.WebhookDelivery, error) {
	var d core.WebhookDelivery
	var next *time.Time
	err := row.Scan(&d.EndpointID, &d.MessageID, &d.Type, &d.Body, &d.State, &d.Attempts, &d.LastStatus, &d.CreatedAt, &d.UpdatedAt, &next)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if next != nil {
		d.NextAt = next.UTC()
	}
	return d, mapErr(err)
}

func (s *DB) Delivery(ctx context.Context, ep, msg string) (_ core.WebhookDelivery, err error) {
	defer func() { err = fault(err) }()
	return scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.endpoint_id = $1 AND d.message_id = $2`, ep, msg))
}

func (s *DB) Deliveries(ctx context.Context, ep string, limit int) (_ []core.WebhookDelivery, err error) {
	defer func() { err = fault(err) }()
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.message_id DESC LIMIT $2`, ep, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.WebhookDelivery, error) { return scanDelivery(row) })
}

func (s *DB) RecordDelivery(ctx context.Context, a core.WebhookAttempt) (_ core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	var out core.WebhookEndpoint
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := changedOne(tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1, last_status = $2, updated_at = $3
			WHERE endpoint_id = $4 AND message_id = $5`, a.State, a.Status, a.At, a.EndpointID, a.MessageID)); err != nil {
			return err
		}
		q, args := `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1`, []any{a.EndpointID}
		if !a.OK {
			q = `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1),
				disabled_at = CASE WHEN disabled_at IS NULL AND failing_since <= $2 THEN $1 ELSE disabled_at END WHERE id = $3`
			args = []any{a.At, a.DisableBefore, a.EndpointID}
		}
		if err := changedOne(tx.Exec(ctx, q, args...)); err != nil {
			return err
		}
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, a.EndpointID))
		return err
	})
	return out, err
}

func (s *DB) RetryDelivery(ctx context.Context, ep, msg string, e core.OutboxEntry) (err error) {
	defer func() { err = fault(err) }()
	if e.NextAt.IsZero() {
		e.NextAt = e.CreatedAt
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var outboxID int64
		var state string
		err := tx.QueryRow(ctx, `SELECT outbox_id, state FROM webhook_deliveries WHERE endpoint_id = $1 AND message_id = $2 FOR UPDATE`, ep, msg).Scan(&outboxID, &state)
		if err != nil {
			return mapErr(err)
		}
		if state == core.DeliveryPending {
			err := changedOne(tx.Exec(ctx, `UPDATE outbox SET next_at = $1 WHERE id = $2`, e.NextAt, outboxID))
			if !errors.Is(err, core.ErrNotFound) {
				return err
			}
		}
		return enqueueDelivery(ctx, tx, ep, msg, e)
	})
}

func (s *DB) PruneDeliveries(ctx context.Context, before time.Time) (_ int, err error) {
	defer func() { err = fault(err) }()
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
