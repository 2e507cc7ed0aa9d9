package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sessions signs moderators in to the console and out again; the
// sessions live in a SessionStore, so that every instance honours them.
// Create it with NewSessions.
type Sessions struct {
	sessions  SessionStore
	users     UserFinder
	passwords PasswordChecker
	idle      time.Duration // Config.SessionIdle
	maxAge    time.Duration // Config.SessionMaxAge
	now       func() time.Time
	log       *slog.Logger
}

// PasswordChecker checks an email and password (Accounts does).
type PasswordChecker interface {
	// CheckPassword returns the user id of email and password; wrong
	// credentials, or a disabled user, are api.CodeUnauthorized.
	CheckPassword(ctx context.Context, email, password, from string) (int64, error)
}

// SessionsDeps are the roles Sessions calls.
type SessionsDeps struct {
	Sessions  SessionStore
	Users     UserFinder
	Passwords PasswordChecker
	Runtime
}

// NewSessions returns Sessions, or an error if cfg is invalid or a role is
// missing.
func NewSessions(cfg Config, d SessionsDeps) (*Sessions, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Sessions == nil || d.Users == nil || d.Passwords == nil {
		return nil, errors.New("new sessions: Sessions, Users and Passwords are required")
	}
	rt := d.Runtime.withDefaults()
	return &Sessions{sessions: d.Sessions, users: d.Users, passwords: d.Passwords, idle: cfg.SessionIdle, maxAge: cfg.SessionMaxAge,
		now: rt.Now, log: rt.Log}, nil
}

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
func (s *Sessions) SignIn(ctx context.Context, email, password, from string) (_ string, err error) {
	defer func() { err = Classify(err) }()
	if !textual(email) || !textual(password) {
		return "", unauthorized("wrong email or password")
	}
	uid, err := s.passwords.CheckPassword(ctx, email, password, from)
	if err != nil {
		return "", err
	}
	var b [sessionTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	if err := s.sessions.CreateSession(ctx, Session{Hash: hashToken(token), UserID: uid, CreatedAt: now, LastSeen: now}); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// SessionUser returns the user of a session token and marks the session
// used. A token of no session, of one idle for Config.SessionIdle or older
// than Config.SessionMaxAge (which is then deleted), or of a disabled
// user, is api.CodeUnauthorized.
func (s *Sessions) SessionUser(ctx context.Context, token string) (_ User, err error) {
	defer func() { err = Classify(err) }()
	if token == "" || !textual(token) || len(token) > 2*sessionTokenBytes {
		return User{}, unauthorized("not signed in")
	}
	hash := hashToken(token)
	ses, err := s.sessions.Session(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return User{}, unauthorized("not signed in")
	}
	if err != nil {
		return User{}, fmt.Errorf("session: %w", err)
	}
	now := s.now()
	if now.Sub(ses.LastSeen) >= s.idle || now.Sub(ses.CreatedAt) >= s.maxAge {
		if err := s.sessions.DeleteSession(ctx, hash); err != nil {
			return User{}, fmt.Errorf("delete expired session: %w", err)
		}
		return User{}, unauthorized("the session has expired; sign in again")
	}
	u, err := s.users.User(ctx, ses.UserID)
	if err != nil {
		return User{}, fmt.Errorf("session user %d: %w", ses.UserID, err)
	}
	if u.Disabled {
		return User{}, unauthorized("this user is disabled")
	}
	if now.Sub(ses.LastSeen) >= tokenUseResolution {
		// To the minute, as API tokens: one write a minute per session.
		if err := s.sessions.TouchSession(ctx, hash, now); err != nil {
			s.log.WarnContext(ctx, "record session use", "err", err)
		}
	}
	return u, nil
}

// SignOut ends the session of token, on every instance.
func (s *Sessions) SignOut(ctx context.Context, token string) error {
	return Classify(s.sessions.DeleteSession(ctx, hashToken(token)))
}

// MaxAge is how long after sign-in a session ends at the latest,
// Config.SessionMaxAge: the lifetime of its cookie.
func (s *Sessions) MaxAge() time.Duration { return s.maxAge }
