// Package jwttest plays a host app for tests of JWT sign-in: keys of each
// accepted kind, tokens signed with them (by golang-jwt, as a host app in
// Go would), and the key set served on loopback, counting its fetches.
package jwttest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key of the host app, with its key id and algorithm.
type Key struct {
	KID    string
	Method jwt.SigningMethod
	Signer crypto.Signer
	// Unbound publishes the key without its alg, as some key sets do:
	// only its type then says which algorithm it is for.
	Unbound bool
}

// NewRSA, NewP256 and NewEd25519 make a key for RS256, ES256 and EdDSA.
func NewRSA(t testing.TB, kid string) Key {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return Key{KID: kid, Method: jwt.SigningMethodRS256, Signer: k}
}

func NewP256(t testing.TB, kid string) Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{KID: kid, Method: jwt.SigningMethodES256, Signer: k}
}

func NewEd25519(t testing.TB, kid string) Key {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{KID: kid, Method: jwt.SigningMethodEdDSA, Signer: k}
}

// Claims are a token's claims; Claims builds the usual ones.
type Claims = jwt.MapClaims

// Std are the claims of a token for subject valid for an hour from now,
// from issuer to audience, with email and name when not empty.
func Std(issuer, audience, subject, email, name string, now time.Time) Claims {
	c := Claims{"iss": issuer, "aud": audience, "sub": subject, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if email != "" {
		c["email"] = email
	}
	if name != "" {
		c["name"] = name
	}
	return c
}

// Sign signs c with k, naming k.KID in the header (none when empty).
func (k Key) Sign(t testing.TB, c Claims) string {
	tok := jwt.NewWithClaims(k.Method, c)
	if k.KID != "" {
		tok.Header["kid"] = k.KID
	}
	s, err := tok.SignedString(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// HS256 signs c with secret.
func HS256(t testing.TB, secret []byte, c Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// None is c unsigned, with alg "none".
func None(t testing.TB, c Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// JWKS serves the public keys of a key set on loopback, as a host app
// publishes them.
type JWKS struct {
	URL     string
	fetches atomic.Int64
	mu      sync.Mutex
	body    []byte
	lead    int // spaces sent before the body
}

// ServeJWKS serves the public halves of keys, each with its kid and alg;
// it stops when t ends.
func ServeJWKS(t testing.TB, keys ...Key) *JWKS {
	j := &JWKS{}
	j.Set(t, keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		body, lead := j.body, j.lead
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(bytes.Repeat([]byte{' '}, lead))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	j.URL = srv.URL + "/.well-known/jwks.json"
	return j
}

// Set replaces the keys served (a rotation).
func (j *JWKS) Set(t testing.TB, keys ...Key) {
	set := jwkset.NewMemoryStorage()
	for _, k := range keys {
		alg := jwkset.ALG(k.Method.Alg())
		if k.Unbound {
			alg = ""
		}
		jwk, err := jwkset.NewJWKFromKey(k.Signer.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		if err := set.KeyWrite(t.Context(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := set.JSONPublic(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.body = body
	j.mu.Unlock()
}

// Pad makes the key set served start with n spaces: the same keys, in a
// document n bytes longer.
func (j *JWKS) Pad(n int) {
	j.mu.Lock()
	j.lead = n
	j.mu.Unlock()
}

// Len is the length of the key set's document, without padding.
func (j *JWKS) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.body)
}

// Fetches is how many times the key set was fetched.
func (j *JWKS) Fetches() int64 { return j.fetches.Load() }
