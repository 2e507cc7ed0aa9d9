package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
)

// The console's records (schema 0005): sessions, reports and moderation
// events.

func (s *DB) CreateSession(ctx context.Context, ses core.Session) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, created_at, last_seen) VALUES ($1, $2, $3, $4)`,
		ses.Hash, ses.UserID, ses.CreatedAt, ses.LastSeen)
	return mapErr(err)
}

func (s *DB) Session(ctx context.Context, hash string) (_ core.Session, err error) {
	defer func() { err = fault(err) }()
	ses := core.Session{Hash: hash}
	err = s.pool.QueryRow(ctx, `SELECT user_id, created_at, last_seen FROM sessions WHERE hash = $1`, hash).Scan(&ses.UserID, &ses.CreatedAt, &ses.LastSeen)
	ses.CreatedAt, ses.LastSeen = ses.CreatedAt.UTC(), ses.LastSeen.UTC()
	return ses, mapErr(err)
}

func (s *DB) TouchSession(ctx context.Context, hash string, at time.Time) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `UPDATE sessions SET last_seen = $2 WHERE hash = $1`, hash, at)
	return mapErr(err)
}

func (s *DB) DeleteSession(ctx context.Context, hash string) (err error) {
	defer func() { err = fault(err) }()
	_, err = s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return mapErr(err)
}

func (s *DB) ExpireSessions(ctx context.Context, idleCutoff, ageCutoff time.Time) (_ int, err error) {
	defer func() { err = fault(err) }()
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2`, idleCutoff, ageCutoff)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *DB) AddReport(ctx context.Context, r core.Report) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO reports (image_id, reporter, reason, detail, created_at) VALUES ($1, $2, $3, $4, $5)`,
			r.ImageID, r.Reporter, r.Reason, r.Detail, r.At); err != nil {
			return mapErr(err)
		}
		return enqueue(ctx, tx, r.Outbox, r.At)
	})
}

// queryRows runs a query and scans each row it returns with scan.
func queryRows[T any](ctx context.Context, s *DB, scan func(pgx.CollectableRow) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

func (s *DB) ReportedImages(ctx context.Context, limit int) (_ []core.ReportedImage, err error) {
	defer func() { err = fault(err) }()
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.ReportedImage, error) {
		var ri core.ReportedImage
		var last time.Time
		img := &ri.Image
		err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &img.CreatedAt, &img.Uploader.UserID, &img.Uploader.ClientAddr, &img.PDQ, &img.PDQQuality, &img.Width, &img.Height, &ri.Reports, &last)
		img.CreatedAt = img.CreatedAt.UTC()
		return ri, err
	}, `SELECT `+imageColumns+`, n, last FROM images
		JOIN (SELECT image_id, count(*) AS n, max(created_at) AS last FROM reports GROUP BY image_id) r ON r.image_id = images.id
		ORDER BY n DESC, last DESC, id LIMIT $1`, limit)
}

const reportColumns = `image_id, reporter, reason, detail, created_at`

// reports runs a query of reportColumns.
func (s *DB) reports(ctx context.Context, query string, args ...any) ([]core.Report, error) {
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.Report, error) {
		var r core.Report
		err := row.Scan(&r.ImageID, &r.Reporter, &r.Reason, &r.Detail, &r.At)
		r.At = r.At.UTC()
		return r, err
	}, query, args...)
}

func (s *DB) Reports(ctx context.Context, imageID string) (_ []core.Report, err error) {
	defer func() { err = fault(err) }()
	return s.reports(ctx, `SELECT `+reportColumns+` FROM reports WHERE image_id = $1 ORDER BY created_at DESC, seq DESC`, imageID)
}

func (s *DB) ReportsAfter(ctx context.Context, after core.Report, limit int) ([]core.Report, error) {
	return s.reports(ctx, `SELECT `+reportColumns+` FROM reports WHERE (image_id, reporter) > ($1, $2) ORDER BY image_id, reporter LIMIT $3`,
		after.ImageID, after.Reporter, limit)
}

// deleteAndRecord atomically runs a DELETE that must change a row
// (ErrNotFound otherwise) and records e.
func (s *DB) deleteAndRecord(ctx context.Context, del string, e core.ModerationEvent) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := changedOne(tx.Exec(ctx, del, e.Target)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, e)
	})
}

// insertEvent records e; ErrExist if an event of its time, action and
// target is recorded.
func insertEvent(ctx context.Context, tx execer, e core.ModerationEvent) error {
	_, err := tx.Exec(ctx, `INSERT INTO moderation_events (`+eventColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		e.Action, e.Target, e.By, e.Reason, e.At)
	return mapErr(err)
}

func (s *DB) ImportModerationEvent(ctx context.Context, e core.ModerationEvent) error {
	return insertEvent(ctx, s.pool, e)
}

func (s *DB) DismissReports(ctx context.Context, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return s.deleteAndRecord(ctx, `DELETE FROM reports WHERE image_id = $1`, e)
}

func (s *DB) Unblock(ctx context.Context, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := changedOne(tx.Exec(ctx, `DELETE FROM blocklist WHERE sha256 = $1`, e.Target)); err != nil {
			return err
		}
		if _, err := removeHashes(ctx, tx, `DELETE FROM blocked_hashes WHERE list = $1 AND source = $2`, core.ListTakedowns, e.Target); err != nil {
			return err
		}
		return insertEvent(ctx, tx, e)
	})
}

func (s *DB) Deletion(ctx context.Context, imageID string) (_ core.Deletion, err error) {
	defer func() { err = fault(err) }()
	ds, err := s.deletions(ctx, `SELECT `+deletionColumns+` FROM deletions WHERE image_id = $1`, imageID)
	if err != nil {
		return core.Deletion{}, err
	}
	if len(ds) == 0 {
		return core.Deletion{}, core.ErrNotFound
	}
	return ds[0], nil
}

func (s *DB) Blocklist(ctx context.Context, limit int) (_ []core.Blocked, err error) {
	defer func() { err = fault(err) }()
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.Blocked, error) {
		var b core.Blocked
		err := row.Scan(&b.SHA256, &b.At)
		b.At = b.At.UTC()
		return b, err
	}, `SELECT sha256, created_at FROM blocklist ORDER BY created_at DESC, sha256 LIMIT $1`, limit)
}

const eventColumns = `action, target, by, reason, at`

// events runs a query of eventColumns.
func (s *DB) events(ctx context.Context, query string, args ...any) ([]core.ModerationEvent, error) {
	return queryRows(ctx, s, func(row pgx.CollectableRow) (core.ModerationEvent, error) {
		var e core.ModerationEvent
		err := row.Scan(&e.Action, &e.Target, &e.By, &e.Reason, &e.At)
		e.At = e.At.UTC()
		return e, err
	}, query, args...)
}

func (s *DB) ModerationEvents(ctx context.Context, target string, limit int) (_ []core.ModerationEvent, err error) {
	defer func() { err = fault(err) }()
	return s.events(ctx, `SELECT `+eventColumns+` FROM moderation_events WHERE $1 = '' OR target = $1 ORDER BY at DESC, seq DESC LIMIT $2`, target, limit)
}

func (s *DB) ModerationEventsAfter(ctx context.Context, after core.ModerationEvent, limit int) ([]core.ModerationEvent, error) {
	// The zero time (year 1) is before any event's.
	return s.events(ctx, `SELECT `+eventColumns+` FROM moderation_events WHERE (at, action, target) > ($1, $2, $3) ORDER BY at, action, target LIMIT $4`,
		after.At, after.Action, after.Target, limit)
}
