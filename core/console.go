package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/userimages/userimages/client/api"
)

// The moderation console's part of the service: sign-in sessions, readers'
// reports, and the blocklist. Takedowns go through DeleteImage, as the
// API's do.

// sessionTokenBytes is the entropy of a session token.
const sessionTokenBytes = 32

// hashToken is what a store keeps of a session token: its SHA-256, hex.
// The token has 256 random bits, so a fast hash is enough.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SignIn checks an email and password as Authenticate checks Basic
// credentials, and opens a session of that user, returning its token (shown
// once; the store keeps its hash). Wrong credentials are api.CodeUnauthorized.
func (s *Service) SignIn(ctx context.Context, email, password string) (_ string, err error) {
	defer func() { err = storeFault(err) }()
	if !textual(email) || !textual(password) {
		return "", unauthorized("wrong email or password")
	}
	uid, err := s.checkPassword(ctx, email, password)
	if err != nil {
		return "", err
	}
	var b [sessionTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	if err := s.meta.CreateSession(ctx, Session{Hash: hashToken(token), UserID: uid, CreatedAt: now, LastSeen: now}); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// SessionUser returns the user of a session token and marks the session
// used. A token of no session, of one idle for Config.SessionIdle or older
// than Config.SessionMaxAge (which is then deleted), or of a disabled
// user, is api.CodeUnauthorized.
func (s *Service) SessionUser(ctx context.Context, token string) (_ User, err error) {
	defer func() { err = storeFault(err) }()
	if token == "" || !textual(token) || len(token) > 2*sessionTokenBytes {
		return User{}, unauthorized("not signed in")
	}
	hash := hashToken(token)
	ses, err := s.meta.Session(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return User{}, unauthorized("not signed in")
	}
	if err != nil {
		return User{}, fmt.Errorf("session: %w", err)
	}
	now := s.now()
	if now.Sub(ses.LastSeen) >= s.cfg.SessionIdle || now.Sub(ses.CreatedAt) >= s.cfg.SessionMaxAge {
		if err := s.meta.DeleteSession(ctx, hash); err != nil {
			return User{}, fmt.Errorf("delete expired session: %w", err)
		}
		return User{}, unauthorized("the session has expired; sign in again")
	}
	u, err := s.meta.User(ctx, ses.UserID)
	if err != nil {
		return User{}, fmt.Errorf("session user %d: %w", ses.UserID, err)
	}
	if u.Disabled {
		return User{}, unauthorized("this user is disabled")
	}
	if now.Sub(ses.LastSeen) >= tokenUseResolution {
		// To the minute, as API tokens: one write a minute per session.
		if err := s.meta.TouchSession(ctx, hash, now); err != nil {
			s.log.WarnContext(ctx, "record session use", "err", err)
		}
	}
	return u, nil
}

// SignOut ends the session of token, on every instance.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return storeFault(s.meta.DeleteSession(ctx, hashToken(token)))
}

// Report records a reader's report of the published image id by reporter
// (who, as rate limits name clients: one report per reporter and image
// counts; a second is no error). A reason not in api.ReportReasons or a
// detail over api.MaxReportDetail is api.CodeInvalidProperty; an image not
// published is api.CodeNotFound.
func (s *Service) Report(ctx context.Context, id, reporter, reason, detail string) (err error) {
	defer func() { err = storeFault(err) }()
	if !slices.Contains(api.ReportReasons(), reason) {
		return propertyError(api.CodeInvalidProperty, "/reason", "reason %q must be one of %v", reason, api.ReportReasons())
	}
	if len(detail) > api.MaxReportDetail || !textual(detail) {
		return propertyError(api.CodeInvalidProperty, "/detail", "detail must be UTF-8 text of at most %d bytes", api.MaxReportDetail)
	}
	if _, err := s.publishedByID(ctx, id); err != nil {
		return err
	}
	err = s.meta.AddReport(ctx, Report{ImageID: id, Reporter: reporter, Reason: reason, Detail: detail, At: s.now()})
	if errors.Is(err, ErrExist) {
		return nil
	}
	return err
}

// publishedByID returns the published image id, or api.CodeNotFound.
func (s *Service) publishedByID(ctx context.Context, id string) (Image, error) {
	if !ValidImageID(id) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	img, err := s.meta.Image(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	return img, err
}

// Image returns the published image id, or api.CodeNotFound.
func (s *Service) Image(ctx context.Context, id string) (_ Image, err error) {
	defer func() { err = storeFault(err) }()
	return s.publishedByID(ctx, id)
}

// ReportQueue lists the published images readers reported, most reported
// first, at most limit (default 100).
func (s *Service) ReportQueue(ctx context.Context, limit int) ([]ReportedImage, error) {
	if limit <= 0 {
		limit = 100
	}
	q, err := s.meta.ReportedImages(ctx, limit)
	return q, storeFault(err)
}

// Reports lists the open reports of image id, newest first.
func (s *Service) Reports(ctx context.Context, id string) ([]Report, error) {
	rs, err := s.meta.Reports(ctx, id)
	return rs, storeFault(err)
}

// DismissReports closes the open reports of image id, by by for reason,
// with an audit record; api.CodeNotFound if it has none.
func (s *Service) DismissReports(ctx context.Context, id, by, reason string) error {
	err := s.meta.DismissReports(ctx, ModerationEvent{Action: ActionDismiss, Target: id, By: by, Reason: reason, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "image %s has no open report", id)
	}
	return storeFault(err)
}

// Blocklist lists the blocklisted SHA-256s, newest first, at most limit
// (default 100).
func (s *Service) Blocklist(ctx context.Context, limit int) ([]Blocked, error) {
	if limit <= 0 {
		limit = 100
	}
	bl, err := s.meta.Blocklist(ctx, limit)
	return bl, storeFault(err)
}

// Unblock lets the bytes with SHA-256 sha (hex) be uploaded again, by by
// for reason, with an audit record; api.CodeNotFound if they are not
// blocklisted.
func (s *Service) Unblock(ctx context.Context, sha, by, reason string) error {
	err := s.meta.Unblock(ctx, ModerationEvent{Action: ActionUnblock, Target: sha, By: by, Reason: reason, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "%s is not blocklisted", sha)
	}
	return storeFault(err)
}

// ModerationEvents lists the audit records other than takedowns, newest
// first, at most limit (default 100); of target only unless it is "".
func (s *Service) ModerationEvents(ctx context.Context, target string, limit int) ([]ModerationEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	evs, err := s.meta.ModerationEvents(ctx, target, limit)
	return evs, storeFault(err)
}

// Deletion returns the takedown record of image id; api.CodeNotFound if it
// was not taken down.
func (s *Service) Deletion(ctx context.Context, id string) (Deletion, error) {
	d, err := s.meta.Deletion(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Deletion{}, Errorf(api.CodeNotFound, "image %s was not taken down", id)
	}
	return d, storeFault(err)
}
