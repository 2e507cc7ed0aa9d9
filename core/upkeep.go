package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Upkeep sweeps what is never claimed or no longer referred to (Sweep,
// RunSweeper) and tells whether this instance can take requests (Ready).
// Create it with NewUpkeep.
type Upkeep struct {
	cfg      Config
	expirer  UploadExpirer
	tokens   TokenReader
	refs     ReferenceChecker
	sessions SessionExpirer
	brands   BrandChecker
	blobs    BlobStore
	disk     DiskSpace
	now      func() time.Time
	log      *slog.Logger

	mu sync.Mutex
	// checking is the readiness check in flight, nil when none is.
	checking *readyCheck
	// unanswered: a request found a store not answering in time
	// (Unanswered), and no check has found the stores answering since.
	unanswered bool
}

// readyCheck is one run of the readiness check; done is closed when err
// is set.
type readyCheck struct {
	done chan struct{}
	err  error
}

// UpkeepDeps are the roles Upkeep calls. Disk, when set, is the local disk
// Ready watches; Brands is asked of a brand only to see that the metadata
// store answers.
type UpkeepDeps struct {
	Expirer    UploadExpirer
	Tokens     TokenReader
	References ReferenceChecker
	Sessions   SessionExpirer
	Brands     BrandChecker
	Blobs      BlobStore
	Disk       DiskSpace
	Runtime
}

// NewUpkeep returns Upkeep, or an error if cfg is invalid or a required
// role is missing.
func NewUpkeep(cfg Config, d UpkeepDeps) (*Upkeep, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Expirer == nil || d.Tokens == nil || d.References == nil || d.Sessions == nil || d.Brands == nil || d.Blobs == nil {
		return nil, errors.New("new upkeep: every role but Disk is required")
	}
	rt := d.Runtime.withDefaults()
	return &Upkeep{cfg: cfg, expirer: d.Expirer, tokens: d.Tokens, refs: d.References, sessions: d.Sessions, brands: d.Brands,
		blobs: d.Blobs, disk: d.Disk, now: rt.Now, log: rt.Log}, nil
}

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
func (s *Upkeep) Sweep(ctx context.Context, opt SweepOptions) (SweepStats, error) {
	var st SweepStats
	now := s.now()
	cutoff := now.Add(-s.cfg.ClaimWindow)
	var err error
	if opt.Sessions {
		if st.ExpiredSessions, err = s.sessions.ExpireSessions(ctx, now.Add(-s.cfg.SessionIdle), now.Add(-s.cfg.SessionMaxAge)); err != nil {
			return st, fmt.Errorf("sweep: expire sessions: %w", err)
		}
	}
	for {
		expired, err := s.expirer.ExpireUploads(ctx, cutoff, 500)
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
		if status, err := s.tokens.TokenStatus(ctx, token); err != nil || status.Upload != nil {
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
		ok, err := s.refs.ImageReferenced(ctx, strings.TrimPrefix(key, "images/"))
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
func (s *Upkeep) RunSweeper(ctx context.Context, interval time.Duration, opt SweepOptions, report func(SweepStats)) {
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

// Ready checks that the metadata and blob stores answer and that the local
// disk, if any, has more than Config.MinFreeSpace free, within
// Config.ReadyTimeout: a store that has not answered by then makes it fail
// without being waited for. One check runs at a time; callers that come
// while it runs share its result, so probes of a hung store do not pile up
// on it.
func (s *Upkeep) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	s.mu.Lock()
	c := s.checking
	if c == nil {
		c = &readyCheck{done: make(chan struct{})}
		s.checking = c
		// Its own deadline, not the caller's context: a caller that
		// leaves does not fail the others' check.
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ReadyTimeout)
			defer cancel()
			c.err = s.check(cctx)
			s.mu.Lock()
			s.checking = nil
			if c.err == nil {
				s.unanswered = false
			}
			s.mu.Unlock()
			close(c.done)
		}()
	}
	unanswered := s.unanswered
	s.mu.Unlock()
	if unanswered {
		return errors.New("a store did not answer a request in time; it is being checked again")
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("the stores did not answer within %s: %w", s.cfg.ReadyTimeout, ctx.Err())
	}
}

// Unanswered marks the stores unready: a request found one not answering
// within its deadline. Until a readiness check (started by the next Ready,
// in the background) finds them answering, Ready fails at once, so that a
// load balancer takes the instance out on its next probe.
func (s *Upkeep) Unanswered() {
	s.mu.Lock()
	s.unanswered = true
	s.mu.Unlock()
}

// check is one readiness check, as Ready says.
func (s *Upkeep) check(ctx context.Context) error {
	if _, err := s.brands.BrandExists(ctx, "readyz"); err != nil {
		return fmt.Errorf("metadata store: %w", err)
	}
	if err := s.blobs.List(ctx, "readyz/", func(string, time.Time) error { return nil }); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if s.disk == nil {
		return nil
	}
	free, err := s.disk.FreeSpace()
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	if free < s.cfg.MinFreeSpace {
		return fmt.Errorf("disk: %d bytes free, under the reserve of %d", free, s.cfg.MinFreeSpace)
	}
	return nil
}

// variantOrphans deletes the variants whose image is gone, and counts
// them.
func (s *Upkeep) variantOrphans(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.blobs.List(ctx, "variants/", func(key string, mod time.Time) error {
		id, _, _ := strings.Cut(strings.TrimPrefix(key, "variants/"), "/")
		if mod.After(before) {
			return nil
		}
		ok, err := s.refs.ImageReferenced(ctx, id)
		if err != nil || ok {
			return err
		}
		n++
		return s.blobs.Delete(ctx, key)
	})
	return n, err
}
