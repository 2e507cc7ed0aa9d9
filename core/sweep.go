package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SweepStats counts what one sweep removed.
type SweepStats struct {
	ExpiredUploads int // upload rows past the claim window, with their bytes
	StagedOrphans  int // staged bytes whose upload row is gone
	ImageOrphans   int // image bytes never published (crash between store and publish)
}

// SweepOptions choose what a sweep covers.
type SweepOptions struct {
	// Orphans also scans all image objects for ones without metadata; it
	// reads every image key, so it runs at start-up and in `userimages gc`,
	// not on every periodic sweep.
	Orphans bool
}

// Sweep deletes unclaimed uploads past the claim window and the bytes nothing
// refers to. Every step is idempotent, so a crash mid-sweep is repaired by the
// next sweep. It never deletes a published image's bytes: published images
// live under their own keys, and the upload row a claim needs is deleted in
// the same transaction that would otherwise publish it.
func (s *Service) Sweep(ctx context.Context, opt SweepOptions) (SweepStats, error) {
	var st SweepStats
	cutoff := s.now().Add(-s.cfg.ClaimWindow)
	for {
		tokens, err := s.meta.ExpiredUploads(ctx, cutoff, 500)
		if err != nil {
			return st, fmt.Errorf("sweep: list expired: %w", err)
		}
		for _, t := range tokens {
			if err := s.meta.DeleteExpiredUpload(ctx, t, cutoff); errors.Is(err, ErrNotFound) {
				continue // claimed or swept meanwhile
			} else if err != nil {
				return st, fmt.Errorf("sweep %s: %w", t, err)
			}
			if err := s.blobs.Delete(ctx, stagingKey(t)); err != nil {
				return st, fmt.Errorf("sweep %s: delete bytes: %w", t, err)
			}
			st.ExpiredUploads++
		}
		if len(tokens) < 500 {
			break
		}
	}
	err := s.blobs.List(ctx, "staging/", func(key string, _ time.Time) error {
		token := strings.TrimPrefix(key, "staging/")
		// A row always exists before its bytes are stored, so no row means
		// claimed or swept: the bytes are garbage.
		if _, err := s.meta.Upload(ctx, token); !errors.Is(err, ErrNotFound) {
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
			return nil // may be a claim in progress
		}
		ok, err := s.meta.ImageExists(ctx, strings.TrimPrefix(key, "images/"))
		if err != nil || ok {
			return err
		}
		st.ImageOrphans++
		return s.blobs.Delete(ctx, key)
	})
	if err != nil {
		return st, fmt.Errorf("sweep image orphans: %w", err)
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
			s.log.InfoContext(ctx, "swept", "expired_uploads", st.ExpiredUploads, "staged_orphans", st.StagedOrphans, "image_orphans", st.ImageOrphans)
		}
		opt = SweepOptions{} // the full orphan scan runs once, at start
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
