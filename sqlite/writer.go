package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"userimages/core"
)

// SQLite takes one writer at a time. Rather than let connections contend
// for the write lock (and sleep in busy_timeout), every write of this
// process goes to one connection, through one goroutine, in the order
// asked; and writes that queue while a commit syncs are committed together
// by the next one (group commit): one fsync for many uploads.

// maxBatch bounds the writes committed together.
const maxBatch = 64

// writeReq is one write: fn runs inside a savepoint of the batch's
// transaction, and its error (or the commit's) is sent to done.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
}

// errClosed is the error of writes asked after Close.
var errClosed = errors.New("sqlite: database closed")

// write runs fn in a transaction of the writer and returns once that
// transaction is committed (nil) or fn's changes are rolled back (error).
// fn must not keep tx, and may run with others in the same transaction:
// it sees their changes, as it would had they committed before it.
func (s *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-s.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// be committed already, and the caller must not think otherwise.
	return <-req.done
}

// commitLoop runs the writes, a batch per transaction, until Close.
func (s *DB) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.closing:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch in one transaction, each write in a savepoint so that
// one's failure undoes only its own changes, and answers each.
func (s *DB) commit(batch []*writeReq) {
	// Statements run under a context of their own: an interrupted
	// statement would roll back the whole batch's transaction.
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	ran := false
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = s.runSavepoint(tx, req.fn)
		if errs[i] != nil && !refusal(errs[i]) {
			// A fault (full disk, I/O error) may have made SQLite roll the
			// whole transaction back already: nothing of the batch stands.
			tx.Rollback()
			for j, req := range batch {
				if j > i || errs[j] == nil {
					errs[j] = errs[i]
				}
				req.done <- errs[j]
			}
			return
		}
		ran = ran || errs[i] == nil
	}
	if ran {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	for i, req := range batch {
		if errs[i] == nil && err != nil {
			errs[i] = fmt.Errorf("commit: %w", mapErr(err))
		}
		req.done <- errs[i]
	}
}

// refusal reports whether err is a write refusing to apply (a condition
// not met, a key taken), which leaves the transaction as it was.
func refusal(err error) bool {
	return errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrExist)
}

// runSavepoint runs fn in a savepoint of tx, rolled back if fn fails.
func (s *DB) runSavepoint(tx *sql.Tx, fn func(tx *sql.Tx) error) error {
	if _, err := s.txExec(tx, "SAVEPOINT w"); err != nil {
		return err
	}
	err := fn(tx)
	if err != nil {
		if _, rerr := s.txExec(tx, "ROLLBACK TO w"); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if _, rerr := s.txExec(tx, "RELEASE w"); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// txStmt returns query as a statement of tx: prepared at Open on the
// writer for the writes of every upload (SQLite parsing a write costs more
// than running it), else prepared now, for tx alone.
func (s *DB) txStmt(tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.writeStmts[query]; ok {
		return tx.Stmt(st), nil
	}
	return tx.Prepare(query)
}

// prepareWrites prepares the hot writes' statements on the writer, before
// its goroutine starts: while a transaction holds the writer's one
// connection, nothing else could be prepared on it.
func (s *DB) prepareWrites(ctx context.Context) error {
	for _, q := range []string{"SAVEPOINT w", "RELEASE w", "ROLLBACK TO w", receiveUploadSQL, claimUploadSQL, insertImageSQL} {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.writeStmts[q] = st
	}
	return nil
}

// txExec runs a write statement in tx.
func (s *DB) txExec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

// txQuery runs a statement returning rows (RETURNING) in tx.
func (s *DB) txQuery(tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return nil, err
	}
	return st.Query(args...)
}

// txQueryRow runs a statement returning one row in tx; a preparation error
// comes back from Scan.
func (s *DB) txQueryRow(tx *sql.Tx, query string, args ...any) rowScanner {
	st, err := s.txStmt(tx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRow(args...)
}

// errRow is a row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
