package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"userimages/core"
)

// Webhook endpoints and deliveries (core.WebhookStore). Unset times are 0.

const endpointColumns = `id, url, secret, events, created_at, failing_since, disabled_at`

func scanEndpoint(row rowScanner) (core.WebhookEndpoint, error) {
	var e core.WebhookEndpoint
	var events string
	var created, failing, disabled int64
	err := row.Scan(&e.ID, &e.URL, &e.Secret, &events, &created, &failing, &disabled)
	e.Events = strings.Fields(events)
	e.CreatedAt, e.FailingSince, e.DisabledAt = fromMicros(created), fromOptMicros(failing), fromOptMicros(disabled)
	return e, mapErr(err)
}

// fromOptMicros is fromMicros, with 0 the zero time.
func fromOptMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

func (s *DB) AddWebhook(ctx context.Context, e core.WebhookEndpoint) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(tx, `INSERT INTO webhook_endpoints (id, url, secret, events, created_at) VALUES (?, ?, ?, ?, ?)`,
			e.ID, e.URL, e.Secret, strings.Join(e.Events, " "), micros(e.CreatedAt))
		return mapErr(err)
	})
}

func (s *DB) Webhooks(ctx context.Context) (_ []core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`)
}

func (s *DB) Webhook(ctx context.Context, id string) (_ core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	return scanEndpoint(s.r.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, id))
}

func (s *DB) RemoveWebhook(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := changedOne(s.txExec(tx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)); err != nil {
			return err
		}
		_, err := s.txExec(tx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ?`, id)
		return err
	})
}

func (s *DB) EnableWebhook(ctx context.Context, id string) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		return changedOne(s.txExec(tx, `UPDATE webhook_endpoints SET disabled_at = 0, failing_since = 0 WHERE id = ?`, id))
	})
}

func (s *DB) FanOut(ctx context.Context, fs []core.WebhookFanOut) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, f := range fs {
			d := f.Delivery
			res, err := s.txExec(tx, `INSERT INTO webhook_deliveries (endpoint_id, message_id, type, body, state, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				d.EndpointID, d.MessageID, d.Type, d.Body, core.DeliveryPending, micros(d.CreatedAt), micros(d.CreatedAt))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // recorded already: fanned out before
			}
			if err := s.enqueueDelivery(tx, d.EndpointID, d.MessageID, f.Entry); err != nil {
				return err
			}
		}
		return nil
	})
}

// enqueueDelivery enqueues e as the outbox entry of the delivery of msg to
// ep.
func (s *DB) enqueueDelivery(tx *sql.Tx, ep, msg string, e core.OutboxEntry) error {
	if e.NextAt.IsZero() {
		e.NextAt = e.CreatedAt
	}
	var id int64
	err := s.txQueryRow(tx, `INSERT INTO outbox (topic, payload, created_at, next_at) VALUES (?, ?, ?, ?) RETURNING id`,
		e.Topic, e.Payload, micros(e.CreatedAt), micros(e.NextAt)).Scan(&id)
	if err != nil {
		return mapErr(err)
	}
	_, err = s.txExec(tx, `UPDATE webhook_deliveries SET outbox_id = ?, state = ? WHERE endpoint_id = ? AND message_id = ?`, id, core.DeliveryPending, ep, msg)
	return err
}

// deliveryColumns are a delivery's, and its outbox entry's next_at (or
// NULL), from webhook_deliveries d LEFT JOIN outbox o.
const deliveryColumns = `d.endpoint_id, d.message_id, d.type, d.body, d.state, d.attempts, d.last_status, d.created_at, d.updated_at, o.next_at`

const deliveryFrom = ` FROM webhook_deliveries d LEFT JOIN outbox o ON o.id = d.outbox_id AND d.state = 'pending'`

func scanDelivery(row rowScanner) (core.WebhookDelivery, error) {
	var d core.WebhookDelivery
	var created, updated int64
	var next sql.NullInt64
	err := row.Scan(&d.EndpointID, &d.MessageID, &d.Type, &d.Body, &d.State, &d.Attempts, &d.LastStatus, &created, &updated, &next)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	if next.Valid {
		d.NextAt = fromMicros(next.Int64)
	}
	return d, mapErr(err)
}

func (s *DB) Delivery(ctx context.Context, ep, msg string) (_ core.WebhookDelivery, err error) {
	defer func() { err = fault(err) }()
	return scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.endpoint_id = ? AND d.message_id = ?`, ep, msg))
}

func (s *DB) Deliveries(ctx context.Context, ep string, limit int) (_ []core.WebhookDelivery, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanDelivery, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.endpoint_id = ? ORDER BY d.created_at DESC, d.message_id DESC LIMIT ?`, ep, limit)
}

func (s *DB) RecordDelivery(ctx context.Context, a core.WebhookAttempt) (_ core.WebhookEndpoint, err error) {
	defer func() { err = fault(err) }()
	var out core.WebhookEndpoint
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := changedOne(s.txExec(tx, `UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, last_status = ?, updated_at = ?
			WHERE endpoint_id = ? AND message_id = ?`, a.State, a.Status, micros(a.At), a.EndpointID, a.MessageID)); err != nil {
			return err
		}
		q := `UPDATE webhook_endpoints SET failing_since = 0 WHERE id = ?`
		args := []any{a.EndpointID}
		if !a.OK {
			q = `UPDATE webhook_endpoints SET failing_since = CASE failing_since WHEN 0 THEN ?1 ELSE failing_since END,
				disabled_at = CASE WHEN disabled_at = 0 AND failing_since <> 0 AND failing_since <= ?2 THEN ?1 ELSE disabled_at END WHERE id = ?3`
			args = []any{micros(a.At), micros(a.DisableBefore), a.EndpointID}
		}
		if err := changedOne(s.txExec(tx, q, args...)); err != nil {
			return err
		}
		var err error
		out, err = scanEndpoint(s.txQueryRow(tx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, a.EndpointID))
		return err
	})
	return out, err
}

func (s *DB) RetryDelivery(ctx context.Context, ep, msg string, e core.OutboxEntry) (err error) {
	defer func() { err = fault(err) }()
	if e.NextAt.IsZero() {
		e.NextAt = e.CreatedAt
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var outboxID int64
		var state string
		err := s.txQueryRow(tx, `SELECT outbox_id, state FROM webhook_deliveries WHERE endpoint_id = ? AND message_id = ?`, ep, msg).Scan(&outboxID, &state)
		if err != nil {
			return mapErr(err)
		}
		if state == core.DeliveryPending {
			err := changedOne(s.txExec(tx, `UPDATE outbox SET next_at = ? WHERE id = ?`, micros(e.NextAt), outboxID))
			if !errors.Is(err, core.ErrNotFound) {
				return err
			}
		}
		return s.enqueueDelivery(tx, ep, msg, e)
	})
}

func (s *DB) PruneDeliveries(ctx context.Context, before time.Time) (n int, err error) {
	defer func() { err = fault(err) }()
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(tx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?`, micros(before))
		if err != nil {
			return err
		}
		m, err := res.RowsAffected()
		n = int(m)
		return err
	})
	return n, err
}
