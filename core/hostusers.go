package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// VouchedUser is who a host app's signed token vouches for: its issuer
// and subject identify them; Email and Name are optional claims.
type VouchedUser struct {
	Issuer, Subject string
	Email, Name     string
}

// TokenVerifier checks the tokens a host app signs for its signed-in
// users (jwtauth.Verifier: JWTs).
type TokenVerifier interface {
	// Verify returns who token vouches for. A token that is not valid (a
	// bad signature or an unknown key, an algorithm not allowed, expired,
	// another issuer or audience, no subject) is api.CodeUnauthorized
	// with the reason; nothing else is returned for a token.
	Verify(ctx context.Context, token string) (VouchedUser, error)
}

// HostUsers authenticates the users a host app vouches for: they are
// created on first sight and identified by issuer and subject. Create it
// with NewHostUsers.
type HostUsers struct {
	verifier TokenVerifier
	users    HostUserStore
	now      func() time.Time
	log      *slog.Logger
}

// HostUsersDeps are the roles HostUsers calls.
type HostUsersDeps struct {
	Verifier TokenVerifier
	Users    HostUserStore
	Runtime
}

// NewHostUsers returns HostUsers, or an error if a role is missing.
func NewHostUsers(d HostUsersDeps) (*HostUsers, error) {
	if d.Verifier == nil || d.Users == nil {
		return nil, errors.New("new host users: Verifier and Users are required")
	}
	rt := d.Runtime.withDefaults()
	return &HostUsers{verifier: d.Verifier, users: d.Users, now: rt.Now, log: rt.Log}, nil
}

// claimMax bounds the email and name claims kept of a token (in bytes);
// longer ones are cut, on a character boundary.
const claimMax = 320

// Authenticate returns the id of the user token vouches for, creating
// the user on first sight and keeping their email and name claims up to
// date. A token that is not valid, or a user disabled (erased, or by
// `userimages user disable`), is api.CodeUnauthorized.
func (s *HostUsers) Authenticate(ctx context.Context, token string) (_ int64, err error) {
	defer func() { err = Classify(err) }()
	v, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return 0, err
	}
	if v.Issuer == "" || v.Subject == "" || !textual(v.Issuer) || !textual(v.Subject) {
		return 0, unauthorized("the token must name its issuer and subject as text")
	}
	u, err := s.users.EnsureHostUser(ctx, User{Email: HostUserKey(v.Issuer, v.Subject), Issuer: v.Issuer, Subject: v.Subject,
		Name: claimText(v.Name), ContactEmail: claimText(v.Email), CreatedAt: s.now()})
	if err != nil {
		return 0, fmt.Errorf("host user %q of %q: %w", v.Subject, v.Issuer, err)
	}
	if u.Disabled {
		return 0, unauthorized("this user is disabled")
	}
	return u.ID, nil
}

// claimText is a claim as kept: text only, at most claimMax bytes.
func claimText(s string) string {
	if !textual(s) {
		return ""
	}
	for len(s) > claimMax {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// HostUserKey is the Email column of the user issuer and subject name:
// "jwt:" and 32 hex digits of their SHA-256, lower case, so that it is
// unique, never an address a local user could have, and what `userimages
// user` commands and the console's uploader filter take for the user.
func HostUserKey(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "jwt:" + hex.EncodeToString(sum[:16])
}

// Label names u for people: a local user by their email; a user the host
// app vouches for by their name and email claims and their key, or by
// their subject when the token had neither claim.
func (u User) Label() string {
	if u.Issuer == "" {
		return u.Email
	}
	var parts []string
	if u.Name != "" {
		parts = append(parts, u.Name)
	}
	if u.ContactEmail != "" {
		parts = append(parts, "<"+u.ContactEmail+">")
	}
	if len(parts) == 0 {
		parts = append(parts, "subject "+u.Subject)
	}
	return strings.Join(parts, " ") + " (" + u.Email + ")"
}
