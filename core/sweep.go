package core

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SweepStats counts what one sweep removed.
type SweepStats struct {
	ExpiredUploads int // upload rows past the claim window, with their bytes
	StagedOrphans  int // staged bytes whose upload row is gone
	ImageOrphans   int // checked copies no image or upload refers to (crash between storing and recording them)
	// ExpiredSessions are console sessions past their idle or absolute
	// expiry (Config.SessionIdle, SessionMaxAge).
	ExpiredSessions int
	VariantOrphans  int // variants whose image is gone (a takedown's delete failed, or raced their making)
}

// SweepOptions choose what a sweep covers.
type SweepOptions struct {
	// Orphans also scans all image objects for ones without metadata; it
	// reads every image key, so it runs at start-up and in `userimages gc`,
	// not on every periodic sweep.
	Orphans bool
	// Sessions also deletes console sessions past Config.SessionIdle or
	// SessionMaxAge: only for the server, whose configuration sets them.
	Sessions bool
}

// Sweep deletes unclaimed uploads past the claim window and the bytes nothing
// refers to. Every step is idempotent, so a crash mid-sweep is repaired by the
// next sweep. It never deletes a published image's bytes: ExpireUploads and
// ClaimUpload both take the upload row conditionally, so only one of them
// gets it.
func (s *Service) Sweep(ctx context.Context, opt SweepOptions) (SweepStats, error) {
	var st SweepStats
	now := s.now()
	cutoff := now.Add(-s.cfg.ClaimWindow)
	var err error
	if opt.Sessions {
		if st.ExpiredSessions, err = s.meta.ExpireSessions(ctx, now.Add(-s.cfg.SessionIdle), now.Add(-s.cfg.SessionMaxAge)); err != nil {
			return st, fmt.Errorf("sweep: expire sessions: %w", err)
		}
	}
	for {
		expired, err := s.meta.ExpireUploads(ctx, cutoff, 500)
		if err != nil {
			return st, fmt.Errorf("sweep: expire: %w", err)
		}
		for _, up := range expired {
			// The rows are gone: bytes left by a failure here are orphans,
			// which the scans below find.
			if err := s.blobs.Delete(ctx, stagingKey(up.Token)); err != nil {
				return st, fmt.Errorf("sweep %s: delete staged bytes: %w", up.Token, err)
			}
			if up.ImageID != "" {
				if err := s.blobs.Delete(ctx, ImageKey(up.ImageID)); err != nil {
					return st, fmt.Errorf("sweep %s: delete checked bytes: %w", up.Token, err)
				}
			}
			st.ExpiredUploads++
		}
		if len(expired) < 500 {
			break
		}
	}
	err = s.blobs.List(ctx, "staging/", func(key string, _ time.Time) error {
		token := strings.TrimPrefix(key, "staging/")
		// Clients PUT staged bytes while their upload is created, so no
		// row means claimed or swept: the bytes are garbage.
		if status, err := s.meta.TokenStatus(ctx, token); err != nil || status.Upload != nil {
			return err
		}
		st.StagedOrphans++
		return s.blobs.Delete(ctx, key)
	})
	if err != nil {
		return st, fmt.Errorf("sweep staged orphans: %w", err)
	}
	if !opt.Orphans {
		return st, nil
	}
	orphanCutoff := s.now().Add(-s.cfg.OrphanGrace)
	err = s.blobs.List(ctx, "images/", func(key string, mod time.Time) error {
		if mod.After(orphanCutoff) {
			return nil // may be a PUT or claim in progress
		}
		ok, err := s.meta.ImageReferenced(ctx, strings.TrimPrefix(key, "images/"))
		if err != nil || ok {
			return err
		}
		st.ImageOrphans++
		return s.blobs.Delete(ctx, key)
	})
	if err != nil {
		return st, fmt.Errorf("sweep image orphans: %w", err)
	}
	if st.VariantOrphans, err = s.variantOrphans(ctx, orphanCutoff); err != nil {
		return st, fmt.Errorf("sweep variant orphans: %w", err)
	}
	return st, nil
}

// RunSweeper sweeps every interval until ctx is done, logging results and
// passing them to report when it is not nil.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration, opt SweepOptions, report func(SweepStats)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := s.Sweep(ctx, opt)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sweep failed", "err", err)
		}
		if report != nil {
			report(st)
		}
		if err == nil && st != (SweepStats{}) {
			s.log.InfoContext(ctx, "swept", "expired_uploads", st.ExpiredUploads, "staged_orphans", st.StagedOrphans, "image_orphans", st.ImageOrphans,
				"variant_orphans", st.VariantOrphans, "expired_sessions", st.ExpiredSessions)
		}
		opt.Orphans = false // the full orphan scan runs once, at start
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
