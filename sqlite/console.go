package sqlite

import (
	"context"
	"database/sql"
	"time"

	"userimages/core"
)

// The console's records (schema 0006): sessions, reports and moderation
// events.

func (s *DB) CreateSession(ctx context.Context, ses core.Session) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `INSERT INTO sessions (hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)`,
		ses.Hash, ses.UserID, micros(ses.CreatedAt), micros(ses.LastSeen))
}

func (s *DB) Session(ctx context.Context, hash string) (_ core.Session, err error) {
	defer func() { err = fault(err) }()
	ses := core.Session{Hash: hash}
	var created, seen int64
	err = s.r.QueryRowContext(ctx, `SELECT user_id, created_at, last_seen FROM sessions WHERE hash = ?`, hash).Scan(&ses.UserID, &created, &seen)
	ses.CreatedAt, ses.LastSeen = fromMicros(created), fromMicros(seen)
	return ses, mapErr(err)
}

func (s *DB) TouchSession(ctx context.Context, hash string, at time.Time) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `UPDATE sessions SET last_seen = ? WHERE hash = ?`, micros(at), hash)
}

func (s *DB) DeleteSession(ctx context.Context, hash string) (err error) {
	defer func() { err = fault(err) }()
	return s.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
}

func (s *DB) ExpireSessions(ctx context.Context, idleCutoff, ageCutoff time.Time) (_ int, err error) {
	defer func() { err = fault(err) }()
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(tx, `DELETE FROM sessions WHERE last_seen < ? OR created_at < ?`, micros(idleCutoff), micros(ageCutoff))
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *DB) AddReport(ctx context.Context, r core.Report) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(tx, `INSERT INTO reports (image_id, reporter, reason, detail, created_at) VALUES (?, ?, ?, ?, ?)`,
			r.ImageID, r.Reporter, r.Reason, r.Detail, micros(r.At)); err != nil {
			return mapErr(err)
		}
		return s.enqueue(tx, r.Outbox, r.At)
	})
}

func (s *DB) ReportedImages(ctx context.Context, limit int) (_ []core.ReportedImage, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, func(row rowScanner) (core.ReportedImage, error) {
		var ri core.ReportedImage
		var created, last int64
		img := &ri.Image
		err := row.Scan(&img.ID, &img.Token, &img.BrandID, &img.ContentType, &img.Size, &img.SHA256, &created, &img.Uploader.UserID, &img.Uploader.ClientAddr, &img.PDQ, &img.PDQQuality, &img.Width, &img.Height, &ri.Reports, &last)
		img.CreatedAt = fromMicros(created)
		return ri, err
	}, `SELECT `+imageColumns+`, n, last FROM images
		JOIN (SELECT image_id, count(*) AS n, max(created_at) AS last FROM reports GROUP BY image_id) r ON r.image_id = images.id
		ORDER BY n DESC, last DESC, id LIMIT ?`, limit)
}

const reportColumns = `image_id, reporter, reason, detail, created_at`

func scanReport(row rowScanner) (core.Report, error) {
	var r core.Report
	var at int64
	err := row.Scan(&r.ImageID, &r.Reporter, &r.Reason, &r.Detail, &at)
	r.At = fromMicros(at)
	return r, err
}

func (s *DB) Reports(ctx context.Context, imageID string) (_ []core.Report, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanReport, `SELECT `+reportColumns+` FROM reports WHERE image_id = ? ORDER BY created_at DESC, rowid DESC`, imageID)
}

func (s *DB) ReportsAfter(ctx context.Context, after core.Report, limit int) ([]core.Report, error) {
	return queryAll(ctx, s.r, scanReport, `SELECT `+reportColumns+` FROM reports WHERE (image_id, reporter) > (?, ?) ORDER BY image_id, reporter LIMIT ?`,
		after.ImageID, after.Reporter, limit)
}

func (s *DB) DismissReports(ctx context.Context, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return s.deleteAndRecord(ctx, `DELETE FROM reports WHERE image_id = ?`, e)
}

// deleteAndRecord atomically runs a DELETE of e.Target that must change a
// row (ErrNotFound otherwise) and records e.
func (s *DB) deleteAndRecord(ctx context.Context, del string, e core.ModerationEvent) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := changedOne(s.txExec(tx, del, e.Target)); err != nil {
			return err
		}
		return s.insertEvent(tx, e)
	})
}

// insertEvent records e; ErrExist if an event of its time, action and
// target is recorded.
func (s *DB) insertEvent(tx *sql.Tx, e core.ModerationEvent) error {
	_, err := s.txExec(tx, `INSERT INTO moderation_events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?)`,
		e.Action, e.Target, e.By, e.Reason, micros(e.At))
	return mapErr(err)
}

func (s *DB) ImportModerationEvent(ctx context.Context, e core.ModerationEvent) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertEvent(tx, e) })
}

func (s *DB) Deletion(ctx context.Context, imageID string) (_ core.Deletion, err error) {
	defer func() { err = fault(err) }()
	d, err := scanDeletion(s.r.QueryRowContext(ctx, `SELECT `+deletionColumns+` FROM deletions WHERE image_id = ?`, imageID))
	return d, mapErr(err)
}

func (s *DB) Blocklist(ctx context.Context, limit int) (_ []core.Blocked, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, func(row rowScanner) (core.Blocked, error) {
		var b core.Blocked
		var at int64
		err := row.Scan(&b.SHA256, &at)
		b.At = fromMicros(at)
		return b, err
	}, `SELECT sha256, created_at FROM blocklist ORDER BY created_at DESC, sha256 LIMIT ?`, limit)
}

func (s *DB) Unblock(ctx context.Context, e core.ModerationEvent) (err error) {
	defer func() { err = fault(err) }()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := changedOne(s.txExec(tx, `DELETE FROM blocklist WHERE sha256 = ?`, e.Target)); err != nil {
			return err
		}
		if _, err := s.removeHashes(tx, `DELETE FROM blocked_hashes WHERE list = ? AND source = ?`, core.ListTakedowns, e.Target); err != nil {
			return err
		}
		return s.insertEvent(tx, e)
	})
}

const eventColumns = `action, target, by, reason, at`

func scanEvent(row rowScanner) (core.ModerationEvent, error) {
	var e core.ModerationEvent
	var at int64
	err := row.Scan(&e.Action, &e.Target, &e.By, &e.Reason, &at)
	e.At = fromMicros(at)
	return e, err
}

func (s *DB) ModerationEvents(ctx context.Context, target string, limit int) (_ []core.ModerationEvent, err error) {
	defer func() { err = fault(err) }()
	return queryAll(ctx, s.r, scanEvent, `SELECT `+eventColumns+` FROM moderation_events WHERE ?1 = '' OR target = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2`, target, limit)
}

func (s *DB) ModerationEventsAfter(ctx context.Context, after core.ModerationEvent, limit int) ([]core.ModerationEvent, error) {
	// The zero time is before any event's.
	return queryAll(ctx, s.r, scanEvent, `SELECT `+eventColumns+` FROM moderation_events WHERE (at, action, target) > (?, ?, ?) ORDER BY at, action, target LIMIT ?`,
		micros(after.At), after.Action, after.Target, limit)
}
