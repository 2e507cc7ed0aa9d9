package jwtauth_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/config"
	"userimages/internal/testkit/jwttest"
	"userimages/internal/testkit/testclock"
	"userimages/jwtauth"
)

const (
	iss = "https://app.example.com"
	aud = "https://images.example.com"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
)

func newVerifier(t *testing.T, cfg jwtauth.Config) *jwtauth.Verifier {
	t.Helper()
	cfg.Issuer, cfg.Audience = cmpOr(cfg.Issuer, iss), cmpOr(cfg.Audience, aud)
	v, err := jwtauth.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// refused checks that token is refused as api.CodeUnauthorized saying want.
func refused(t *testing.T, v *jwtauth.Verifier, what, token, want string) {
	t.Helper()
	got, err := v.Verify(t.Context(), token)
	if core.ErrorCode(err) != api.CodeUnauthorized {
		t.Errorf("%s: got %+v, %v; want %s", what, got, err, api.CodeUnauthorized)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: got %q, want it to say %q", what, err, want)
	}
}

func TestHS256(t *testing.T) {
	clock := testclock.New(t0)
	v := newVerifier(t, jwtauth.Config{Secret: secret, Now: clock.Now})
	std := func(mod func(jwttest.Claims)) jwttest.Claims {
		c := jwttest.Std(iss, aud, "42", "ann@example.com", "Ann", t0)
		if mod != nil {
			mod(c)
		}
		return c
	}
	got, err := v.Verify(t.Context(), jwttest.HS256(t, secret, std(nil)))
	if want := (core.VouchedUser{Issuer: iss, Subject: "42", Email: "ann@example.com", Name: "Ann"}); err != nil || got != want {
		t.Fatalf("Verify: got %+v, %v; want %+v", got, err, want)
	}
	// aud may be a list; email and name are optional.
	c := jwttest.Claims{"iss": iss, "aud": []string{"other", aud}, "sub": "7", "exp": t0.Add(time.Minute).Unix()}
	if got, err := v.Verify(t.Context(), jwttest.HS256(t, secret, c)); err != nil || got.Subject != "7" || got.Email != "" {
		t.Errorf("Verify with an aud list and no email: got %+v, %v", got, err)
	}
	// 60 s leeway: expired 59 s ago passes, 61 s ago does not.
	clock.Advance(time.Hour + 59*time.Second)
	if _, err := v.Verify(t.Context(), jwttest.HS256(t, secret, std(nil))); err != nil {
		t.Errorf("Verify within the leeway: %v", err)
	}
	clock.Advance(2 * time.Second)
	refused(t, v, "expired", jwttest.HS256(t, secret, std(nil)), "expired")
	clock = testclock.New(t0)
	v = newVerifier(t, jwtauth.Config{Secret: secret, Now: clock.Now})

	refused(t, v, "wrong secret", jwttest.HS256(t, []byte("another secret, 32 bytes or more!"), std(nil)), "signature is wrong")
	refused(t, v, "alg none", jwttest.None(t, std(nil)), "is not accepted")
	refused(t, v, "wrong audience", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["aud"] = "https://else.example.com" })), "audience")
	refused(t, v, "no audience", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { delete(c, "aud") })), "required claims aud")
	refused(t, v, "wrong issuer", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["iss"] = "https://evil.example.com" })), "issuer")
	refused(t, v, "no subject", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { delete(c, "sub") })), "no subject")
	refused(t, v, "no expiry", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { delete(c, "exp") })), "required claims exp")
	refused(t, v, "not yet valid", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["nbf"] = t0.Add(2 * time.Minute).Unix() })), "not valid yet")
	refused(t, v, "issued in the future", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["iat"] = t0.Add(2 * time.Minute).Unix() })), "future")
	refused(t, v, "email not a string", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["email"] = 5 })), "malformed")
	refused(t, v, "garbage", "not.a.jwt", "malformed")
	// HS384 with the same secret: only HS256 is accepted.
	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, std(nil)).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, v, "HS384", hs384, "is not accepted")
	// Without a key set, RS256 is refused.
	refused(t, v, "RS256 without a key set", jwttest.NewRSA(t, "k1").Sign(t, std(nil)), "is not accepted")
}

func TestJWKS(t *testing.T) {
	rsaKey, ecKey, edKey := jwttest.NewRSA(t, "rsa-1"), jwttest.NewP256(t, "ec-1"), jwttest.NewEd25519(t, "ed-1")
	jwks := jwttest.ServeJWKS(t, rsaKey, ecKey, edKey)
	v := newVerifier(t, jwtauth.Config{JWKSURL: jwks.URL})
	claims := jwttest.Std(iss, aud, "42", "", "", time.Now())
	for _, k := range []jwttest.Key{rsaKey, ecKey, edKey} {
		if got, err := v.Verify(t.Context(), k.Sign(t, claims)); err != nil || got.Subject != "42" {
			t.Errorf("%s: got %+v, %v", k.Method.Alg(), got, err)
		}
		noKID := k
		noKID.KID = ""
		if _, err := v.Verify(t.Context(), noKID.Sign(t, claims)); err != nil {
			t.Errorf("%s without a kid: %v", k.Method.Alg(), err)
		}
	}
	other := jwttest.NewRSA(t, "rsa-1") // the same kid, another key
	refused(t, v, "signed by another key", other.Sign(t, claims), "signature is wrong")
	refused(t, v, "HS256 without a secret", jwttest.HS256(t, secret, claims), "is not accepted")
	refused(t, v, "alg none", jwttest.None(t, claims), "is not accepted")
}

// TestAlgorithmConfusion: a key is used only for its own algorithm, even
// when the key set does not say which (no alg).
func TestAlgorithmConfusion(t *testing.T) {
	rsaKey, ecKey := jwttest.NewRSA(t, "rsa-1"), jwttest.NewP256(t, "ec-1")
	rsaKey.Unbound, ecKey.Unbound = true, true
	jwks := jwttest.ServeJWKS(t, rsaKey, ecKey)
	v := newVerifier(t, jwtauth.Config{Secret: secret, JWKSURL: jwks.URL})
	claims := jwttest.Std(iss, aud, "42", "", "", time.Now())

	// HS256 with the RSA public key as the HMAC secret, naming its kid.
	der, err := x509.MarshalPKIXPublicKey(rsaKey.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = rsaKey.KID
	forged, err := tok.SignedString(der)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, v, "HS256 keyed with the RSA public key", forged, "signature is wrong")

	// ES256 naming the RSA key's kid, EdDSA naming the EC key's.
	for _, k := range []jwttest.Key{{KID: rsaKey.KID, Method: jwt.SigningMethodES256, Signer: ecKey.Signer}, jwttest.NewEd25519(t, ecKey.KID)} {
		refused(t, v, k.Method.Alg()+" naming another kind's kid", k.Sign(t, claims), "key (kid) is unknown")
	}
	for _, k := range []jwttest.Key{rsaKey, ecKey} {
		if _, err := v.Verify(t.Context(), k.Sign(t, claims)); err != nil {
			t.Errorf("%s with its own key: %v", k.Method.Alg(), err)
		}
	}
}

// TestJWKSRotation: a token naming an unknown kid makes the key set be
// fetched again, at most once per JWKSRefetchEvery.
func TestJWKSRotation(t *testing.T) {
	old, next, later := jwttest.NewRSA(t, "k1"), jwttest.NewRSA(t, "k2"), jwttest.NewEd25519(t, "k3")
	jwks := jwttest.ServeJWKS(t, old)
	v := newVerifier(t, jwtauth.Config{JWKSURL: jwks.URL, JWKSRefetchEvery: time.Hour})
	claims := jwttest.Std(iss, aud, "42", "", "", time.Now())
	if _, err := v.Verify(t.Context(), old.Sign(t, claims)); err != nil {
		t.Fatal(err)
	}
	if n := jwks.Fetches(); n != 1 {
		t.Fatalf("fetches after the first token: %d, want 1 (cached)", n)
	}
	jwks.Set(t, old, next)
	if _, err := v.Verify(t.Context(), next.Sign(t, claims)); err != nil {
		t.Errorf("a token of the rotated-in key: %v", err)
	}
	if n := jwks.Fetches(); n != 2 {
		t.Errorf("fetches after an unknown kid: %d, want 2", n)
	}
	jwks.Set(t, old, next, later)
	start := time.Now()
	refused(t, v, "a second unknown kid within the refetch period", later.Sign(t, claims), "key (kid) is unknown")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refused token waited %s for the refetch limit; want it refused at once", d)
	}
	for range 5 {
		refused(t, v, "made-up kid", jwttest.NewRSA(t, "made-up").Sign(t, claims), "key (kid) is unknown")
	}
	if n := jwks.Fetches(); n != 2 {
		t.Errorf("fetches after unknown kids within the period: %d, want still 2", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   jwtauth.Config
		field jwtauth.ConfigField
	}{
		{"off", jwtauth.Config{}, ""},
		{"secret", jwtauth.Config{Secret: secret, Issuer: iss, Audience: aud}, ""},
		{"jwks", jwtauth.Config{JWKSURL: "https://app.example.com/jwks.json", Issuer: iss, Audience: aud}, ""},
		{"issuer alone", jwtauth.Config{Issuer: iss}, jwtauth.ConfigIssuer},
		{"audience alone", jwtauth.Config{Audience: aud}, jwtauth.ConfigAudience},
		{"no issuer", jwtauth.Config{Secret: secret, Audience: aud}, jwtauth.ConfigIssuer},
		{"no audience", jwtauth.Config{JWKSURL: "https://app.example.com/jwks.json", Issuer: iss}, jwtauth.ConfigAudience},
		{"short secret", jwtauth.Config{Secret: secret[:31], Issuer: iss, Audience: aud}, jwtauth.ConfigSecret},
		{"empty secret file", jwtauth.Config{Secret: []byte{}, JWKSURL: "https://app.example.com/jwks.json", Issuer: iss, Audience: aud}, jwtauth.ConfigSecret},
		{"jwks not http", jwtauth.Config{JWKSURL: "file:///etc/jwks.json", Issuer: iss, Audience: aud}, jwtauth.ConfigJWKSURL},
		{"negative leeway", jwtauth.Config{Secret: secret, Issuer: iss, Audience: aud, Leeway: -time.Second}, jwtauth.ConfigLeeway},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		var fe *config.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: got %v, want an error about %s", tt.name, err, tt.field)
		}
	}
}

// TestJWKSTooLong: a key set document over MaxJWKS bytes is refused (its
// keys are not used), so that a fetch holds at most that much; one of
// exactly MaxJWKS bytes is read.
func TestJWKSTooLong(t *testing.T) {
	k := jwttest.NewRSA(t, "k1")
	jwks := jwttest.ServeJWKS(t, k)
	claims := jwttest.Std(iss, aud, "42", "", "", time.Now())
	jwks.Pad(jwtauth.MaxJWKS + 1)
	refused(t, newVerifier(t, jwtauth.Config{JWKSURL: jwks.URL}), "a key of a key set over MaxJWKS bytes", k.Sign(t, claims), "key (kid) is unknown")

	jwks.Pad(0)
	n := jwks.Len()
	jwks.Pad(jwtauth.MaxJWKS - n)
	if _, err := newVerifier(t, jwtauth.Config{JWKSURL: jwks.URL}).Verify(t.Context(), k.Sign(t, claims)); err != nil {
		t.Errorf("a key set of exactly MaxJWKS bytes: %v", err)
	}
}
