// Package migrate moves a deployment from one pair of stores to another (the
// embedded default to PostgreSQL and S3, or back) without loss: every
// record keeps its keys, so every image path stays the same; every image's
// bytes are checked against its SHA-256 on the way out and read back from
// the destination; and a run that is interrupted is resumed by running it
// again, which skips what is already there.
//
// Uploads that are not yet claimed are not moved: their clients are still
// between steps and get a new upload when they retry.
package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"userimages/core"
)

// DefaultPageSize is how many records Run reads per page.
const DefaultPageSize = 500

// Options say what to move where.
type Options struct {
	From      Source
	FromBlobs core.BlobStore
	To        Destination
	ToBlobs   core.BlobStore
	// PageSize is how many records are read at a time. Default DefaultPageSize.
	PageSize int
	// Progress, when set, is called after each record of every kind.
	Progress func(Progress)
}

// Progress counts one kind of record moved so far.
type Progress struct {
	Kind    string // "brands", "users", "api tokens", "blocklist", "images", "deletions", "reports", "moderation events"
	Copied  int64  // written to the destination by this run
	Skipped int64  // found there already, from an earlier run
	Bytes   int64  // image bytes written by this run
	// Last names the record just counted: a brand or API token id, a
	// user's email, a blocked hash, an image's path, a report (image id
	// and reporter) or a moderation event (action and target).
	Last string
	// LastCopied: this run wrote Last; false when it was there already.
	LastCopied bool
}

// ErrConflict means the destination holds a different record under the
// same key: the stores were not a source and its copy.
var ErrConflict = errors.New("the destination holds a different record with this key")

// Run copies everything from o.From to o.To and returns the final count of
// each kind, in order. It is safe to run again after any interruption.
func Run(ctx context.Context, o Options) ([]Progress, error) {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	m := &mover{Options: o}
	steps := []struct {
		kind string
		run  func(context.Context, *Progress) error
	}{
		{"brands", m.brands},
		{"users", m.users},
		{"api tokens", m.apiTokens},
		{"blocklist", m.blocklist},
		{"images", m.images},
		{"deletions", m.deletions},
		{"reports", m.reports},
		{"moderation events", m.events},
		{"webhook endpoints", m.webhooks},
	}
	var done []Progress
	for _, s := range steps {
		p := Progress{Kind: s.kind}
		if err := s.run(ctx, &p); err != nil {
			return done, fmt.Errorf("migrate %s: %w", s.kind, err)
		}
		done = append(done, p)
	}
	return done, nil
}

type mover struct{ Options }

// record counts the record named last, copied (err nil) or skipped (err
// ErrExist), and reports progress; other errors are returned.
func (m *mover) record(p *Progress, last string, err error) error {
	switch {
	case err == nil:
		p.Copied++
	case errors.Is(err, core.ErrExist):
		p.Skipped++
	default:
		return err
	}
	p.Last, p.LastCopied = last, err == nil
	if m.Progress != nil {
		m.Progress(*p)
	}
	return nil
}

// pages calls each with every record list pages yields, until a page is
// empty; next gives the key after which the following page starts.
func pages[T any, K any](ctx context.Context, size int, page func(context.Context, K, int) ([]T, error), next func(T) K, each func(T) error) error {
	var after K
	for {
		recs, err := page(ctx, after, size)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := each(r); err != nil {
				return err
			}
		}
		after = next(recs[len(recs)-1])
	}
}

func (m *mover) brands(ctx context.Context, p *Progress) error {
	ids, err := m.From.Brands(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := m.record(p, id, addUnlessThere(ctx, id, m.To.BrandExists, m.To.AddBrand)); err != nil {
			return fmt.Errorf("brand %s: %w", id, err)
		}
	}
	return nil
}

// addUnlessThere adds key with add, an idempotent write, unless has finds
// it, then returning core.ErrExist so that it counts as skipped.
func addUnlessThere(ctx context.Context, key string, has func(context.Context, string) (bool, error), add func(context.Context, string) error) error {
	if there, err := has(ctx, key); err != nil {
		return err
	} else if there {
		return core.ErrExist
	}
	return add(ctx, key)
}

func (m *mover) users(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.UsersAfter, func(u core.User) int64 { return u.ID }, func(u core.User) error {
		err := m.To.ImportUser(ctx, u)
		if errors.Is(err, core.ErrExist) {
			if there, lerr := m.To.User(ctx, u.ID); lerr != nil || there.Email != u.Email {
				return fmt.Errorf("user %d (%s): %w", u.ID, u.Email, ErrConflict)
			}
		}
		if err := m.record(p, u.Email, err); err != nil {
			return fmt.Errorf("user %d: %w", u.ID, err)
		}
		return nil
	})
}

func (m *mover) apiTokens(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.APITokensAfter, func(t core.APIToken) string { return t.ID }, func(t core.APIToken) error {
		if err := m.record(p, t.ID, m.To.AddAPIToken(ctx, t)); err != nil {
			return fmt.Errorf("api token %s: %w", t.ID, err)
		}
		return nil
	})
}

func (m *mover) blocklist(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.BlockedAfter, func(h string) string { return h }, func(h string) error {
		if err := m.record(p, h, addUnlessThere(ctx, h, m.To.IsBlocked, m.To.Block)); err != nil {
			return fmt.Errorf("blocked %s: %w", h, err)
		}
		return nil
	})
}

// deletions copies the audit log. An image taken down at the source after
// an earlier run copied it is taken down at the destination too, bytes
// included, rather than left published.
func (m *mover) deletions(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.DeletionsAfter, func(d core.Deletion) string { return d.Image.ID }, func(d core.Deletion) error {
		err := m.To.DeleteImage(ctx, d)
		if err == nil {
			err = m.ToBlobs.Delete(ctx, core.ImageKey(d.Image.ID))
		} else if errors.Is(err, core.ErrNotFound) {
			err = m.To.ImportDeletion(ctx, d)
		}
		if err := m.record(p, core.Path(d.Image), err); err != nil {
			return fmt.Errorf("deletion of %s: %w", d.Image.ID, err)
		}
		return nil
	})
}

// reports copies the readers' open reports.
func (m *mover) reports(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.ReportsAfter, func(r core.Report) core.Report { return r }, func(r core.Report) error {
		if err := m.record(p, r.ImageID+" "+r.Reporter, m.To.AddReport(ctx, r)); err != nil {
			return fmt.Errorf("report of %s: %w", r.ImageID, err)
		}
		return nil
	})
}

// events copies the records of dismissals and unblocks.
func (m *mover) events(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.ModerationEventsAfter, func(e core.ModerationEvent) core.ModerationEvent { return e }, func(e core.ModerationEvent) error {
		if err := m.record(p, e.Action+" "+e.Target, m.To.ImportModerationEvent(ctx, e)); err != nil {
			return fmt.Errorf("%s of %s: %w", e.Action, e.Target, err)
		}
		return nil
	})
}

// webhooks copies the webhook endpoints with their ids and secrets, so
// that receivers keep verifying; they start enabled, and events not
// delivered yet at the source (its outbox) are not copied.
func (m *mover) webhooks(ctx context.Context, p *Progress) error {
	eps, err := m.From.Webhooks(ctx)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if err := m.record(p, ep.ID, m.To.AddWebhook(ctx, ep)); err != nil {
			return fmt.Errorf("webhook endpoint %s: %w", ep.ID, err)
		}
	}
	return nil
}

// images copies each image's bytes, then its metadata: a row at the
// destination always has its bytes, checked, so a row found there means the
// image was moved whole by an earlier run.
func (m *mover) images(ctx context.Context, p *Progress) error {
	return pages(ctx, m.PageSize, m.From.ImagesAfter, func(img core.Image) string { return img.ID }, func(img core.Image) error {
		if err := m.image(ctx, p, img); err != nil {
			return fmt.Errorf("image %s: %w", img.ID, err)
		}
		return nil
	})
}

func (m *mover) image(ctx context.Context, p *Progress, img core.Image) error {
	there, err := m.To.Image(ctx, img.ID)
	switch {
	case err == nil:
		if there.SHA256 != img.SHA256 || there.Token != img.Token {
			return ErrConflict
		}
		return m.record(p, core.Path(img), core.ErrExist)
	case !errors.Is(err, core.ErrNotFound):
		return err
	}
	written, err := CopyBytes(ctx, m.FromBlobs, m.ToBlobs, img)
	if err != nil {
		return err
	}
	if err := m.To.ImportImage(ctx, img); errors.Is(err, core.ErrExist) {
		// Its id was not there: another image holds its token.
		return fmt.Errorf("token %s: %w", img.Token, ErrConflict)
	} else if err != nil {
		return err
	}
	p.Bytes += written
	return m.record(p, core.Path(img), nil)
}

// CopyBytes stores img's bytes from one blob store in another, under
// core.ImageKey, refusing source bytes that do not match the recorded size
// and hash (they are hashed as they stream), and reads them back to check
// them. Bytes stored by an interrupted run are checked and kept. It returns
// how many bytes this call wrote.
func CopyBytes(ctx context.Context, from, to core.BlobStore, img core.Image) (int64, error) {
	key := core.ImageKey(img.ID)
	src, err := from.Open(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("open source bytes: %w", err)
	}
	defer src.Close()
	vr := Verified(src, img)
	err = to.Put(ctx, key, vr)
	written := vr.N
	if errors.Is(err, core.ErrExist) {
		written = 0
	} else if err != nil {
		return 0, fmt.Errorf("store bytes: %w", err)
	}
	if err := CheckBytes(ctx, to, img); err != nil {
		return 0, fmt.Errorf("read back: %w", err)
	}
	return written, nil
}

// CheckBytes reads img's bytes from blobs and compares them with its size
// and SHA-256.
func CheckBytes(ctx context.Context, blobs core.BlobStore, img core.Image) error {
	b, err := blobs.Open(ctx, core.ImageKey(img.ID))
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = io.Copy(io.Discard, Verified(b, img))
	return err
}

// Verified yields r and, at its end, fails unless the bytes have img's
// Size and SHA256 (the only fields it reads), so that a store's Put keeps
// nothing of them. It hashes as it reads: memory stays bounded.
func Verified(r io.Reader, img core.Image) *VerifyingReader {
	return &VerifyingReader{r: r, h: sha256.New(), want: img}
}

// VerifyingReader is the reader of Verified; N counts the bytes read.
type VerifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want core.Image
	N    int64
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.N += int64(n)
	if v.N > v.want.Size {
		return n, v.mismatch()
	}
	if err == io.EOF {
		want, _ := hex.DecodeString(v.want.SHA256)
		if v.N != v.want.Size || !bytes.Equal(v.h.Sum(nil), want) {
			return n, v.mismatch()
		}
	}
	return n, err
}

func (v *VerifyingReader) mismatch() error {
	return fmt.Errorf("bytes do not match the recorded size %d and sha256 %s", v.want.Size, v.want.SHA256)
}
