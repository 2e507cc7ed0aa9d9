// Package jwtauth verifies the JWTs a host app signs for its signed-in
// users (core.TokenVerifier): HS256 with a shared secret, and RS256,
// ES256 and EdDSA with the public keys the host app publishes as a JWK
// Set. Verification is github.com/golang-jwt/jwt/v5's, the key set
// github.com/MicahParks/keyfunc/v3's (cached, fetched again every
// Config.JWKSRefresh and for a key id it does not know, at most once per
// Config.JWKSRefetchEvery); this package only binds each key to its
// algorithm and says which claims are required.
package jwtauth

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/userimages/userimages/client/api"
	"golang.org/x/time/rate"

	"userimages/core"
	"userimages/internal/config"
)

// ConfigField names a field of Config in the errors of Validate.
type ConfigField string

// The fields of Config that Validate may refuse.
const (
	ConfigSecret           ConfigField = "Secret"
	ConfigJWKSURL          ConfigField = "JWKSURL"
	ConfigIssuer           ConfigField = "Issuer"
	ConfigAudience         ConfigField = "Audience"
	ConfigLeeway           ConfigField = "Leeway"
	ConfigJWKSRefresh      ConfigField = "JWKSRefresh"
	ConfigJWKSRefetchEvery ConfigField = "JWKSRefetchEvery"
)

// Defaults of Config's zero fields.
const (
	DefaultLeeway           = time.Minute
	DefaultJWKSRefresh      = time.Hour
	DefaultJWKSRefetchEvery = time.Minute
	// MinSecret is the shortest HS256 secret accepted, in bytes: the
	// hash's size (RFC 7518, section 3.2).
	MinSecret = 32
	// jwksTimeout bounds one fetch of the key set.
	jwksTimeout = 10 * time.Second
	// MaxJWKS bounds the key set's document, in bytes: a host app's is a
	// few kB; a longer one is refused (the fetch fails, the keys
	// fetched before stay), so that a fetch's memory is bounded too.
	MaxJWKS = 1 << 20
)

// Config says which tokens a Verifier accepts. The zero Config accepts
// none (Enabled is false).
type Config struct {
	// Secret is the HS256 key shared with the host app, at least
	// MinSecret bytes. Nil: HS256 tokens are refused.
	Secret []byte
	// JWKSURL is the http(s) URL of the host app's public keys (a JWK
	// Set): tokens signed RS256, ES256 or EdDSA by one of them are
	// accepted. "": such tokens are refused.
	JWKSURL string
	// Issuer is the iss every token must have, and Audience a value its
	// aud must have; both required when Secret or JWKSURL is set.
	Issuer, Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default
	// DefaultLeeway (60 s).
	Leeway time.Duration
	// JWKSRefresh is how often the key set is fetched again. Default
	// DefaultJWKSRefresh (1 h).
	JWKSRefresh time.Duration
	// JWKSRefetchEvery spaces the fetches a token naming an unknown key
	// (kid) makes: at most one in this time, so that tokens with made-up
	// key ids cannot make the server hammer the host app. Default
	// DefaultJWKSRefetchEvery (1 min).
	JWKSRefetchEvery time.Duration
	// HTTPClient fetches the key set. Default: http.DefaultClient. Either
	// way each fetch is bounded to 10 s and its answer to MaxJWKS bytes.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against. Default time.Now.
	Now func() time.Time
	// Log gets the key set's fetch failures. Default slog.Default().
	Log *slog.Logger
}

// Enabled reports whether c accepts any token.
func (c Config) Enabled() bool { return c.Secret != nil || c.JWKSURL != "" }

// Validate checks c as New uses it; the error is a *config.FieldError.
func (c Config) Validate() error {
	if !c.Enabled() {
		switch {
		case c.Issuer != "":
			return &config.FieldError{Field: ConfigIssuer, Rule: "needs {other} or a JWKS URL", Other: ConfigSecret}
		case c.Audience != "":
			return &config.FieldError{Field: ConfigAudience, Rule: "needs {other} or a JWKS URL", Other: ConfigSecret}
		}
		return nil
	}
	if c.Secret != nil && len(c.Secret) < MinSecret { // an empty file too
		return &config.FieldError{Field: ConfigSecret, Rule: fmt.Sprintf("holds %d bytes; an HS256 secret must be at least %d (its hash size): make one with `openssl rand -hex 32`", len(c.Secret), MinSecret)}
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return config.Invalid(ConfigJWKSURL, c.JWKSURL, "must be an http:// or https:// URL")
		}
	}
	switch {
	case c.Issuer == "":
		return &config.FieldError{Field: ConfigIssuer, Rule: "is required (the iss of the host app's tokens)"}
	case c.Audience == "":
		return &config.FieldError{Field: ConfigAudience, Rule: "is required (a value of the aud of the host app's tokens)"}
	case c.Leeway < 0 || c.Leeway > 10*time.Minute:
		return config.Invalid(ConfigLeeway, c.Leeway, "must be 0 to 10m")
	case c.JWKSRefresh < 0:
		return config.Invalid(ConfigJWKSRefresh, c.JWKSRefresh, "must not be negative")
	case c.JWKSRefetchEvery < 0:
		return config.Invalid(ConfigJWKSRefetchEvery, c.JWKSRefetchEvery, "must not be negative")
	}
	return nil
}

// Verifier checks tokens (core.TokenVerifier). Create it with New.
type Verifier struct {
	secret []byte
	jwks   keyfunc.Keyfunc // nil without Config.JWKSURL
	algs   []string        // accepted: secretAlgs with a Secret, jwksAlgs with a JWKSURL
	parser *jwt.Parser
	log    *slog.Logger
}

// The algorithms accepted, by the key that verifies them.
var (
	secretAlgs = []string{jwt.SigningMethodHS256.Alg()}
	jwksAlgs   = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
)

// New returns a Verifier for cfg, or an error if cfg is invalid or
// accepts no token. With a JWKSURL it fetches the key set once (a
// failure is logged, not returned: the server starts, and tokens are
// refused until a fetch succeeds) and again in the background until ctx
// ends.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("jwtauth: neither a secret nor a JWKS URL")
	}
	v := &Verifier{secret: cfg.Secret, log: cmp.Or(cfg.Log, slog.Default())}
	var algs []string
	if cfg.Secret != nil {
		algs = append(algs, secretAlgs...)
	}
	if cfg.JWKSURL != "" {
		every := cmp.Or(cfg.JWKSRefetchEvery, DefaultJWKSRefetchEvery)
		k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:          bounded(cfg.HTTPClient),
			HTTPTimeout:     jwksTimeout,
			RefreshInterval: cmp.Or(cfg.JWKSRefresh, DefaultJWKSRefresh),
			// One fetch per period for unknown key ids, and no request
			// waits for the next: it is refused at once.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(every), 1),
			RateLimitWaitMax:  100 * time.Millisecond,
			RefreshErrorHandlerFunc: func(u string) func(ctx context.Context, err error) {
				return func(ctx context.Context, err error) {
					v.log.WarnContext(ctx, "fetch the host app's JWKS", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("jwtauth: %w", err)
		}
		v.jwks = k
		algs = append(algs, jwksAlgs...)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(cmp.Or(cfg.Leeway, DefaultLeeway))}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	v.parser, v.algs = jwt.NewParser(opts...), algs
	return v, nil
}

// bounded returns a copy of c (http.DefaultClient when nil) whose
// answers' bodies fail to read past MaxJWKS bytes.
func bounded(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	b := *c
	b.Transport = boundedTransport{base: c.Transport}
	return &b
}

// boundedTransport cuts the bodies of base's answers
// (http.DefaultTransport when nil) at MaxJWKS bytes: a read past them
// fails with an *http.MaxBytesError (a body of exactly MaxJWKS is read
// whole).
type boundedTransport struct{ base http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(r)
	if err == nil {
		res.Body = http.MaxBytesReader(nil, res.Body, MaxJWKS)
	}
	return res, err
}

// claims are those read of a token: the registered ones and the optional
// email and name (OpenID Connect's standard claims).
type claims struct {
	jwt.RegisteredClaims
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Verify returns who token vouches for, or api.CodeUnauthorized saying
// why it is refused.
func (v *Verifier) Verify(ctx context.Context, token string) (core.VouchedUser, error) {
	var c claims
	if tok, err := v.parser.ParseWithClaims(token, &c, v.keyFunc(ctx)); err != nil {
		v.log.DebugContext(ctx, "JWT refused", "err", err)
		return core.VouchedUser{}, core.Errorf(api.CodeUnauthorized, "%s", v.reason(err, tok, &c))
	}
	if c.Subject == "" {
		return core.VouchedUser{}, core.Errorf(api.CodeUnauthorized, "the JWT has no subject (sub)")
	}
	return core.VouchedUser{Issuer: c.Issuer, Subject: c.Subject, Email: c.Email, Name: c.Name}, nil
}

// reasons say why a token was refused, by golang-jwt's error, first match
// first; the error's own text, which may name key ids and parser
// internals, goes to the debug log only.
var reasons = []struct {
	err error
	say string
}{
	{jwt.ErrTokenMalformed, "the JWT is malformed"},
	{jwt.ErrTokenUnverifiable, "the JWT's algorithm is not accepted or its key (kid) is unknown"},
	{jwt.ErrTokenSignatureInvalid, "the JWT's signature is wrong"},
	{jwt.ErrTokenExpired, "the JWT has expired"},
	{jwt.ErrTokenNotValidYet, "the JWT is not valid yet (nbf)"},
	{jwt.ErrTokenUsedBeforeIssued, "the JWT was issued in the future (iat)"},
	{jwt.ErrTokenInvalidIssuer, "the JWT's issuer (iss) is not the one this server accepts"},
	{jwt.ErrTokenInvalidAudience, "the JWT's audience (aud) is not this server"},
}

// reason says why golang-jwt refused tok (nil when it could not be
// split), whose claims are c (read when the signature was right).
func (v *Verifier) reason(err error, tok *jwt.Token, c *claims) string {
	if tok != nil && !errors.Is(err, jwt.ErrTokenMalformed) {
		// golang-jwt reports an algorithm outside the parser's list as a
		// wrong signature; say what it is.
		if alg, _ := tok.Header["alg"].(string); !slices.Contains(v.algs, alg) {
			return fmt.Sprintf("the JWT's algorithm (alg %q) is not accepted", alg)
		}
	}
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		var missing []string
		for claim, absent := range map[string]bool{"exp": c.ExpiresAt == nil, "iss": c.Issuer == "", "aud": len(c.Audience) == 0} {
			if absent {
				missing = append(missing, claim)
			}
		}
		slices.Sort(missing)
		return "the JWT lacks the required claims " + strings.Join(missing, ", ")
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.say
		}
	}
	return "the JWT is not valid"
}

// errNoKey refuses a token whose algorithm no configured key verifies.
var errNoKey = errors.New("no key for this algorithm")

// keyFunc returns the key of a token: the secret for HS256, the key set's
// for the others, each only of its own family, so that a public key is
// never taken for an HMAC secret, nor a key of one kind for another.
// golang-jwt has refused algorithms not in the parser's list (none among
// them) before calling it.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if alg == jwt.SigningMethodHS256.Alg() {
			if len(v.secret) == 0 {
				return nil, errNoKey
			}
			return v.secret, nil
		}
		if v.jwks == nil {
			return nil, errNoKey
		}
		key, err := v.jwks.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, err
		}
		if set, ok := key.(jwt.VerificationKeySet); ok { // the token names no kid: each key of its family
			var bound jwt.VerificationKeySet
			for _, k := range set.Keys {
				if fits(alg, k) {
					bound.Keys = append(bound.Keys, k)
				}
			}
			if len(bound.Keys) == 0 {
				return nil, errNoKey
			}
			return bound, nil
		}
		if !fits(alg, key) {
			return nil, fmt.Errorf("%w: key %v is not a %s key", errNoKey, t.Header["kid"], alg)
		}
		return key, nil
	}
}

// fits reports whether key is of alg's family: RSA for RS256, P-256 for
// ES256, Ed25519 for EdDSA.
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == jwt.SigningMethodRS256.Alg()
	case *ecdsa.PublicKey:
		return alg == jwt.SigningMethodES256.Alg() && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == jwt.SigningMethodEdDSA.Alg()
	}
	return false
}
