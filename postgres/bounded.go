package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// bounded is the pool every call of DB goes through. It gives each
// statement outside a transaction, and each transaction as a whole (from
// BEGIN to COMMIT), a deadline of timeout from its start, waiting for a
// connection included: pgx then breaks off the connection, so a database
// that stops answering (a hung server, a network that drops packets)
// costs a request at most timeout, and the call fails with
// context.DeadlineExceeded, which the adapter marks as unavailable. The
// server's own statement_timeout and lock_timeout (Open) end the work it
// would otherwise go on doing.
type bounded struct {
	*pgxpool.Pool
	timeout time.Duration
}

func (b bounded) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.Pool.Exec(ctx, sql, args...)
}

func (b bounded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	rows, err := b.Pool.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return boundedRows{Rows: rows, cancel: cancel}, nil
}

func (b bounded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	return boundedRow{row: b.Pool.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (b bounded) Begin(ctx context.Context) (pgx.Tx, error) {
	return b.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx starts a transaction whose statements, COMMIT included, must
// all be done by its deadline: a COMMIT that has not returned by then
// fails and the connection is closed, so the transaction either committed
// before the deadline or is rolled back by the server when it sees the
// connection gone (or idle_in_transaction_session_timeout ends it).
func (b bounded) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	deadline := time.Now().Add(b.timeout)
	bctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	tx, err := b.Pool.BeginTx(bctx, opts)
	if err != nil {
		return nil, err
	}
	return boundedTx{Tx: tx, deadline: deadline}, nil
}

// boundedRows releases the deadline of a query when its rows are closed.
type boundedRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r boundedRows) Close() {
	r.Rows.Close()
	r.cancel()
}

// boundedRow releases the deadline of a one-row query once it is scanned.
type boundedRow struct {
	row    pgx.Row
	cancel context.CancelFunc
}

func (r boundedRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

// boundedTx runs every statement of a transaction, COMMIT and ROLLBACK
// included, under the deadline set at BEGIN.
type boundedTx struct {
	pgx.Tx
	deadline time.Time
}

func (t boundedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	return t.Tx.Exec(ctx, sql, args...)
}

func (t boundedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	rows, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return boundedRows{Rows: rows, cancel: cancel}, nil
}

func (t boundedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	return boundedRow{row: t.Tx.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (t boundedTx) Commit(ctx context.Context) error {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	return t.Tx.Commit(ctx)
}

// Rollback is given a second past the deadline, so that a transaction
// refused by a statement near its deadline still ends cleanly on a
// healthy connection; on a dead one the connection is closed anyway.
func (t boundedTx) Rollback(ctx context.Context) error {
	ctx, cancel := context.WithDeadline(ctx, t.deadline.Add(time.Second))
	defer cancel()
	return t.Tx.Rollback(ctx)
}
