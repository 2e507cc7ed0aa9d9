package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"
)

// API tokens are tokenSelectorLen hex characters of selector (by which the
// token is found) followed by tokenSecretLen hex characters of secret, of
// which only a bcrypt hash is stored. A token's id (APIToken.ID), which
// lists and revocations name it by, is tokenIDPrefix and tokenIDBytes
// random bytes in hex, made apart from the token: the "_" in it is no hex
// digit, so no id is ever a part of a token.
const (
	tokenSelectorLen = 12
	tokenSecretLen   = 40
	tokenIDPrefix    = "tok_"
	tokenIDBytes     = 8
)

// Accounts keeps users, their API tokens and the brands, and
// authenticates callers. Create it with NewAccounts.
type Accounts struct {
	accounts AccountStore
	cost     int // bcrypt cost of new hashes: Config.PasswordCost
	// dummyHash is compared against when a user or token does not exist,
	// so that such failures take as long as wrong passwords.
	dummyHash []byte
	// hashSlots bounds the password hash checks running at once.
	hashSlots chan struct{}
	// throttle makes failed sign-ins wait; nil without AccountsDeps.SignIns.
	throttle *signInThrottle
	now      func() time.Time
	log      *slog.Logger
}

// AccountsDeps are the roles Accounts calls.
type AccountsDeps struct {
	Accounts AccountStore
	// SignIns keeps failed sign-ins (see signInThrottle). Default nil: no
	// throttle (tests of other things).
	SignIns SignInFailureStore
	Runtime
}

// NewAccounts returns Accounts, or an error if cfg is invalid or a role is
// missing.
func NewAccounts(cfg Config, d AccountsDeps) (*Accounts, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Accounts == nil {
		return nil, errors.New("new accounts: Accounts is required")
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("userimages-dummy"), cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("new accounts: %w", err)
	}
	rt := d.Runtime.withDefaults()
	a := &Accounts{accounts: d.Accounts, cost: cfg.PasswordCost, dummyHash: dummy,
		hashSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), now: rt.Now, log: rt.Log}
	if d.SignIns != nil {
		a.throttle = &signInThrottle{store: d.SignIns, free: cfg.SignInFreeFailures, delay: cfg.SignInDelay, maxDelay: cfg.SignInMaxDelay, now: rt.Now}
	}
	return a, nil
}

// throttled runs check, a check of email's credentials (email "" when
// they name no account, as a Bearer token does) sent from the client
// address from, after the sign-in throttle admitted it: before any hash
// is compared. A failure (api.CodeUnauthorized) is counted against the
// account and the address; a success clears the account's count.
func (s *Accounts) throttled(ctx context.Context, email, from string, check func() (int64, error)) (int64, error) {
	if s.throttle == nil {
		return check()
	}
	account := ""
	if email != "" {
		account = accountKey(email)
	}
	accountFailed, err := s.throttle.admit(ctx, account, from)
	if err != nil {
		return 0, err
	}
	uid, err := check()
	switch {
	case ErrorCode(err) == api.CodeUnauthorized:
		if ferr := s.throttle.failed(ctx, account, from); ferr != nil {
			s.log.WarnContext(ctx, "record a failed sign-in", "err", ferr)
		}
	case err == nil && accountFailed:
		if cerr := s.throttle.store.ClearSignInFailures(ctx, account); cerr != nil {
			s.log.WarnContext(ctx, "clear an account's failed sign-ins", "err", cerr)
		}
	}
	return uid, err
}

// Unlock ends the wait of email's account after failed sign-ins (the
// throttle's count goes back to 0) on every instance. It is no error
// when the account has no failures, or no user that email.
func (s *Accounts) Unlock(ctx context.Context, email string) error {
	if s.throttle == nil {
		return nil
	}
	return s.throttle.store.ClearSignInFailures(ctx, accountKey(email))
}

func unauthorized(format string, args ...any) *Error {
	return Errorf(api.CodeUnauthorized, format, args...)
}

// Authenticate checks an Authorization header value sent from the client
// address from. An empty header is the anonymous caller (user id 0).
// Accepted: Basic email:password, Basic email/token:api_token and Bearer
// api_token. Anything else, or wrong credentials, is api.CodeUnauthorized;
// an account or address waiting after failed sign-ins is
// api.CodeRateLimited (Error.RetryAfter says how long), checked before any
// hash is.
func (s *Accounts) Authenticate(ctx context.Context, header, from string) (_ int64, err error) {
	defer func() { err = Classify(err) }()
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
		if email, isToken := strings.CutSuffix(user, api.APITokenUserSuffix); isToken {
			return s.throttled(ctx, email, from, func() (int64, error) { return s.checkAPIToken(ctx, email, secret) })
		}
		return s.CheckPassword(ctx, user, secret, from)
	case "bearer":
		if !textual(cred) {
			return 0, unauthorized("wrong API token")
		}
		return s.throttled(ctx, "", from, func() (int64, error) { return s.checkAPIToken(ctx, "", cred) })
	}
	return 0, unauthorized("the Authorization scheme must be Basic or Bearer")
}

// textual reports whether s is UTF-8 without NUL: what every store can
// look up (PostgreSQL refuses other text with an error rather than finding
// nothing).
func textual(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// CheckPassword returns the id of the user with email and password, sent
// from the client address from, as Authenticate does for Basic
// credentials: wrong ones, or a disabled user, are api.CodeUnauthorized,
// taking as long as a right password; throttled ones api.CodeRateLimited.
func (s *Accounts) CheckPassword(ctx context.Context, email, password, from string) (int64, error) {
	return s.throttled(ctx, email, from, func() (int64, error) { return s.checkPassword(ctx, email, password) })
}

func (s *Accounts) checkPassword(ctx context.Context, email, password string) (int64, error) {
	u, err := s.accounts.UserByEmail(ctx, strings.ToLower(email))
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
	if u.Disabled {
		return 0, unauthorized("this user is disabled")
	}
	return u.ID, nil
}

// checkAPIToken verifies token; when email is not empty it must be the
// token owner's.
func (s *Accounts) checkAPIToken(ctx context.Context, email, token string) (int64, error) {
	if len(token) != tokenSelectorLen+tokenSecretLen {
		_ = s.compareHash(ctx, s.dummyHash, []byte(token))
		return 0, unauthorized("wrong API token")
	}
	t, err := s.accounts.APITokenBySelector(ctx, token[:tokenSelectorLen])
	if errors.Is(err, ErrNotFound) {
		_ = s.compareHash(ctx, s.dummyHash, []byte(token))
		return 0, unauthorized("wrong API token")
	}
	if err != nil {
		return 0, fmt.Errorf("authenticate token: %w", err)
	}
	if s.compareHash(ctx, t.Hash, []byte(token[tokenSelectorLen:])) != nil {
		return 0, unauthorized("wrong API token")
	}
	u, err := s.accounts.User(ctx, t.UserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("authenticate token: %w", err)
	}
	if err != nil || email != "" && !strings.EqualFold(u.Email, email) {
		return 0, unauthorized("wrong API token")
	}
	if u.Disabled {
		return 0, unauthorized("this user is disabled")
	}
	if now := s.now(); now.Sub(t.LastUsed) >= tokenUseResolution {
		// Recorded to the minute, so that a busy token costs one write a
		// minute; a failure to record it does not refuse the request.
		if err := s.accounts.TouchAPIToken(ctx, t.ID, now); err != nil {
			s.log.WarnContext(ctx, "record api token use", "token_id", t.ID, "err", err)
		}
	}
	return t.UserID, nil
}

// tokenUseResolution is how precisely APIToken.LastUsed is kept.
const tokenUseResolution = time.Minute

// Users lists every user by id.
func (s *Accounts) Users(ctx context.Context) ([]User, error) { return s.accounts.Users(ctx) }

// userByEmail is the user with email, or api.CodeNotFound.
func (s *Accounts) userByEmail(ctx context.Context, email string) (User, error) {
	u, err := s.accounts.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		return u, Errorf(api.CodeNotFound, "no user has email %s", email)
	}
	return u, err
}

// DisableUser refuses, from now on and on every instance, the password and
// API tokens of the user with email; its images stay.
func (s *Accounts) DisableUser(ctx context.Context, email string) error {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.accounts.DisableUser(ctx, u.ID)
}

// ActorUser returns the user id an audit record's By ("user:<id>")
// names, and false for another actor ("cli:<login>", …).
func ActorUser(by string) (int64, bool) {
	id, ok := strings.CutPrefix(by, "user:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}

// EnableUser undoes DisableUser: the user's password and API tokens work
// again.
func (s *Accounts) EnableUser(ctx context.Context, email string) error {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.accounts.EnableUser(ctx, u.ID)
}

// SetPassword replaces the password of the user with email (the rules of
// AddUser); the old one is refused from now on, on every instance.
func (s *Accounts) SetPassword(ctx context.Context, email, password string) error {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	return s.accounts.SetPasswordHash(ctx, u.ID, hash)
}

// hashPassword checks a new password's length and hashes it with bcrypt.
func (s *Accounts) hashPassword(password string) ([]byte, error) {
	if len(password) < 8 || len(password) > 72 {
		return nil, Errorf(api.CodeInvalidProperty, "the password must be 8 to 72 bytes long")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// APITokens lists the API tokens of the user with email, oldest first.
// Only their ids and times are kept, never the secret.
func (s *Accounts) APITokens(ctx context.Context, email string) ([]APIToken, error) {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return s.accounts.APITokens(ctx, u.ID)
}

// RevokeAPIToken deletes the API token with id (as APITokens lists it: no
// part of the token); requests with it are refused from now on, on every
// instance.
func (s *Accounts) RevokeAPIToken(ctx context.Context, id string) error {
	err := s.accounts.DeleteAPIToken(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "no API token has id %s", id)
	}
	return err
}

// AddUser creates a user with a bcrypt-hashed password; admins may delete
// images.
func (s *Accounts) AddUser(ctx context.Context, email, password string, admin bool) (int64, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return 0, Errorf(api.CodeInvalidProperty, "%q is not a plain email address", email)
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return 0, err
	}
	id, err := s.accounts.AddUser(ctx, User{Email: strings.ToLower(email), PasswordHash: hash, Admin: admin, CreatedAt: s.now()})
	if errors.Is(err, ErrExist) {
		return 0, Errorf(api.CodeConflict, "a user with email %s exists already", email)
	}
	return id, err
}

// NewAPIToken creates an API token for the user with email and returns it;
// it is shown once and only its hash is kept.
func (s *Accounts) NewAPIToken(ctx context.Context, email string) (string, error) {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return "", fmt.Errorf("new api token for %s: %w", email, err)
	}
	var b [(tokenSelectorLen + tokenSecretLen) / 2]byte
	var id [tokenIDBytes]byte
	rand.Read(b[:])
	rand.Read(id[:])
	token := hex.EncodeToString(b[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(token[tokenSelectorLen:]), s.cost)
	if err != nil {
		return "", fmt.Errorf("hash api token: %w", err)
	}
	t := APIToken{ID: tokenIDPrefix + hex.EncodeToString(id[:]), Selector: token[:tokenSelectorLen], UserID: u.ID, Hash: hash, CreatedAt: s.now()}
	if err := s.accounts.AddAPIToken(ctx, t); err != nil {
		return "", fmt.Errorf("store api token: %w", err)
	}
	return token, nil
}

// compareHash checks secret against a bcrypt hash, at most len(hashSlots)
// at a time, so that a flood of credentials cannot take every core.
func (s *Accounts) compareHash(ctx context.Context, hash, secret []byte) error {
	select {
	case s.hashSlots <- struct{}{}:
		defer func() { <-s.hashSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return bcrypt.CompareHashAndPassword(hash, secret)
}

// Moderator returns the audit name of an authenticated admin, or
// api.CodeUnauthorized for anonymous callers and api.CodeForbidden for users who are
// not admins.
func (s *Accounts) Moderator(ctx context.Context, userID int64) (_ string, err error) {
	defer func() { err = Classify(err) }()
	if userID == 0 {
		return "", Errorf(api.CodeUnauthorized, "moderation needs an admin's credentials")
	}
	u, err := s.accounts.User(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("moderator %d: %w", userID, err)
	}
	if !u.Admin {
		return "", Errorf(api.CodeForbidden, "only admins may delete images")
	}
	return fmt.Sprintf("user:%d", u.ID), nil
}

// UserEmail returns the email of the user with id.
func (s *Accounts) UserEmail(ctx context.Context, id int64) (string, error) {
	u, err := s.accounts.User(ctx, id)
	return u.Email, err
}

// User returns the user with id, for showing callers who they are.
func (s *Accounts) User(ctx context.Context, id int64) (_ User, err error) {
	defer func() { err = Classify(err) }()
	u, err := s.accounts.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserID returns the id of the user with email.
func (s *Accounts) UserID(ctx context.Context, email string) (int64, error) {
	u, err := s.accounts.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		return 0, Errorf(api.CodeNotFound, "no user has email %s", email)
	}
	return u.ID, err
}
