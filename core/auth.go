package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"
)

// API tokens are tokenIDLen hex characters of lookup id followed by the hex
// secret; only a bcrypt hash of the secret is stored.
const (
	tokenIDLen     = 12
	tokenSecretLen = 40
)

func unauthorized(format string, args ...any) *Error {
	return Errorf(api.CodeUnauthorized, format, args...)
}

// Authenticate checks an Authorization header value. An empty header is the
// anonymous caller (user id 0). Accepted: Basic email:password, Basic
// email/token:api_token and Bearer api_token. Anything else, or wrong
// credentials, is api.CodeUnauthorized.
func (s *Service) Authenticate(ctx context.Context, header string) (_ int64, err error) {
	defer func() { err = storeFault(err) }()
	if header == "" {
		return 0, nil
	}
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return 0, unauthorized("the Basic credentials are not valid base64")
		}
		if !textual(string(raw)) {
			return 0, unauthorized("the Basic credentials must be UTF-8 text")
		}
		user, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return 0, unauthorized("the Basic credentials must be email:password or email/token:api_token")
		}
		if email, isToken := strings.CutSuffix(user, "/token"); isToken {
			return s.checkAPIToken(ctx, email, secret)
		}
		return s.checkPassword(ctx, user, secret)
	case "bearer":
		if !textual(cred) {
			return 0, unauthorized("wrong API token")
		}
		return s.checkAPIToken(ctx, "", cred)
	}
	return 0, unauthorized("the Authorization scheme must be Basic or Bearer")
}

// textual reports whether s is UTF-8 without NUL: what every store can
// look up (PostgreSQL refuses other text with an error rather than finding
// nothing).
func textual(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func (s *Service) checkPassword(ctx context.Context, email, password string) (int64, error) {
	u, err := s.meta.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		_ = s.compareHash(ctx, s.dummyHash, []byte(password))
		return 0, unauthorized("wrong email or password")
	}
	if err != nil {
		return 0, fmt.Errorf("authenticate %s: %w", email, err)
	}
	if s.compareHash(ctx, u.PasswordHash, []byte(password)) != nil {
		return 0, unauthorized("wrong email or password")
	}
	return u.ID, nil
}

// checkAPIToken verifies token; when email is not empty it must be the
// token owner's.
func (s *Service) checkAPIToken(ctx context.Context, email, token string) (int64, error) {
	if len(token) != tokenIDLen+tokenSecretLen {
		_ = s.compareHash(ctx, s.dummyHash, []byte(token))
		return 0, unauthorized("wrong API token")
	}
	t, err := s.meta.APIToken(ctx, token[:tokenIDLen])
	if errors.Is(err, ErrNotFound) {
		_ = s.compareHash(ctx, s.dummyHash, []byte(token))
		return 0, unauthorized("wrong API token")
	}
	if err != nil {
		return 0, fmt.Errorf("authenticate token: %w", err)
	}
	if s.compareHash(ctx, t.Hash, []byte(token[tokenIDLen:])) != nil {
		return 0, unauthorized("wrong API token")
	}
	if email != "" {
		u, err := s.meta.User(ctx, t.UserID)
		if err != nil || !strings.EqualFold(u.Email, email) {
			return 0, unauthorized("wrong API token")
		}
	}
	return t.UserID, nil
}

// AddUser creates a user with a bcrypt-hashed password; admins may delete
// images.
func (s *Service) AddUser(ctx context.Context, email, password string, admin bool) (int64, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return 0, Errorf(api.CodeInvalidProperty, "%q is not a plain email address", email)
	}
	if len(password) < 8 || len(password) > 72 {
		return 0, Errorf(api.CodeInvalidProperty, "the password must be 8 to 72 bytes long")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.PasswordCost)
	if err != nil {
		return 0, fmt.Errorf("hash password: %w", err)
	}
	id, err := s.meta.AddUser(ctx, User{Email: strings.ToLower(email), PasswordHash: hash, Admin: admin, CreatedAt: s.now()})
	if errors.Is(err, ErrExist) {
		return 0, Errorf(api.CodeConflict, "a user with email %s exists already", email)
	}
	return id, err
}

// NewAPIToken creates an API token for the user with email and returns it;
// it is shown once and only its hash is kept.
func (s *Service) NewAPIToken(ctx context.Context, email string) (string, error) {
	u, err := s.meta.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		return "", Errorf(api.CodeNotFound, "no user has email %s", email)
	}
	if err != nil {
		return "", fmt.Errorf("new api token for %s: %w", email, err)
	}
	var b [(tokenIDLen + tokenSecretLen) / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new api token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(token[tokenIDLen:]), s.cfg.PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash api token: %w", err)
	}
	if err := s.meta.AddAPIToken(ctx, APIToken{ID: token[:tokenIDLen], UserID: u.ID, Hash: hash, CreatedAt: s.now()}); err != nil {
		return "", fmt.Errorf("store api token: %w", err)
	}
	return token, nil
}

// AddBrand registers a brand id.
func (s *Service) AddBrand(ctx context.Context, id string) error {
	if !validBrandID(id) {
		return Errorf(api.CodeInvalidProperty, "brand id %q must be 1 to 64 letters, digits, '-' or '_'", id)
	}
	return s.meta.AddBrand(ctx, id)
}

// Brands lists the registered brand ids.
func (s *Service) Brands(ctx context.Context) ([]string, error) { return s.meta.Brands(ctx) }

// compareHash checks secret against a bcrypt hash, at most len(hashSlots)
// at a time, so that a flood of credentials cannot take every core.
func (s *Service) compareHash(ctx context.Context, hash, secret []byte) error {
	select {
	case s.hashSlots <- struct{}{}:
		defer func() { <-s.hashSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return bcrypt.CompareHashAndPassword(hash, secret)
}
