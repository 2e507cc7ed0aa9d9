// Package selfsign issues and verifies the embedded default's upload URLs:
// AWS SigV4 presigned PUT URLs, in S3's query form, that point at this server
// and are signed with the server's own secret. Signing and verifying both go
// through aws-sdk-go-v2's v4 signer.
//
// The URLs have the shape of Zendesk's own: the declared type and the
// encryption header are signed query parameters (Content-Type,
// x-amz-server-side-encryption) and only content-disposition, host and
// x-amz-server-side-encryption are signed headers, so a PUT's Content-Type
// header is not checked (as S3 does not check it on Zendesk's URLs); the
// type that counts is the signed one, and the service checks the bytes
// against it. Everything else the server needs back (declared size,
// uploader) travels sealed in one opaque parameter, so that no address or
// user id shows in proxy logs or browser history.
//
// A PUT may omit the signed headers, as clients that cannot set headers
// do (Uppy 6's AwsS3 sends only Content-Type): each omitted one is taken
// to have the value this server issued for it, which the URL carries
// (x-amz-server-side-encryption as a signed parameter, Content-Disposition
// sealed), and the signature is checked with that value. Those values are
// fixed by the server, not chosen by the caller, and the self-served
// target does not store them, so leaving them out changes nothing the
// server keeps or serves; a header that is sent must match as issued.
//
// Secrets rotate: a Signer signs with its current secret and also verifies
// URLs signed with previous ones, up to each one's retirement, so that a
// leaked secret stops minting valid URLs. Each secret has its own access
// key id (KeyID), carried in X-Amz-Credential, which picks the secret to
// verify with, and its own sealing key, derived from it.
package selfsign

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/chacha20poly1305"

	"userimages/core"
)

const (
	region  = "us-east-1"
	service = "s3"
	// PathPrefix is where upload URLs point: PathPrefix + token.
	PathPrefix = "/uploads/"
	// maxSkew tolerates clients whose X-Amz-Date is slightly ahead of ours.
	maxSkew = 5 * time.Minute
)

// requiredSigned are the headers every URL we issue signs (besides
// X-Amz-Server-Side-Encryption, when the service asks for it).
var requiredSigned = []string{"content-disposition", "host"}

// Query parameters besides SigV4's own: the declared type and encryption
// header, as in Zendesk's URLs, and the sealed rest of the upload.
const (
	paramType   = "Content-Type"
	paramSSE    = "x-amz-server-side-encryption"
	paramSealed = "x-ui-upload"
)

// sealInfo names the sealing key in its derivation from a secret, so that
// it differs from anything else derived from the same secret.
const sealInfo = "userimages selfsign upload seal v1"

// sealed is what an upload URL carries in paramSealed: what the service
// needs when the bytes arrive and that is not already in the URL.
type sealed struct {
	Size int64  `json:"s"`
	User int64  `json:"u,omitempty"`
	Addr string `json:"a,omitempty"`
	// Disposition is the Content-Disposition header issued, for a PUT
	// that omits it.
	Disposition string `json:"d,omitempty"`
}

// KeyID is the access key id of secret: "ui" and the first 8 hex digits of
// its SHA-256. It names the secret in URLs without revealing it.
func KeyID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "ui" + hex.EncodeToString(sum[:4])
}

// Signer presigns upload URLs with its current secret and verifies them
// with the current or a previous one.
type Signer struct {
	// keys are the secrets, current first.
	keys []key
}

// key is one secret, with its own v4.Signer (which caches the derived
// signing key) and the AEAD that seals what its URLs carry.
type key struct {
	creds  aws.Credentials
	signer *v4.Signer
	seal   cipher.AEAD
	// retiredAt, when not zero, is when the secret stopped signing (see
	// Previous).
	retiredAt time.Time
}

// Previous is a secret that verifies URLs but signs none.
type Previous struct {
	Secret string
	// RetiredAt is when the secret stopped signing URLs: those it signed
	// later (by X-Amz-Date, or by their token's time), beyond the allowed
	// clock skew of 5 minutes, are refused, so that whoever holds a
	// leaked secret cannot go on minting URLs. Zero: none is refused,
	// for a secret that has not signed yet (the next one, given to every
	// instance before any signs with it).
	RetiredAt time.Time
}

// New returns a Signer that signs with current and verifies with current
// and each of previous, until the URLs they signed expire. Secrets must be
// at least 32 bytes and different from each other.
func New(current string, previous ...Previous) (*Signer, error) {
	s := &Signer{}
	for i, p := range append([]Previous{{Secret: current}}, previous...) {
		secret := p.Secret
		which := "signing secret"
		if i > 0 {
			which = "previous signing secret"
		}
		if len(secret) < 32 {
			return nil, fmt.Errorf("%s: must be at least 32 bytes, got %d", which, len(secret))
		}
		creds := aws.Credentials{AccessKeyID: KeyID(secret), SecretAccessKey: secret}
		if slices.ContainsFunc(s.keys, func(k key) bool { return k.creds.AccessKeyID == creds.AccessKeyID }) {
			return nil, fmt.Errorf("%s: the same as another one (key id %s)", which, creds.AccessKeyID)
		}
		aead, err := sealer(secret)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", which, err)
		}
		s.keys = append(s.keys, key{creds: creds, seal: aead, retiredAt: p.RetiredAt, signer: v4.NewSigner(func(o *v4.SignerOptions) {
			o.DisableHeaderHoisting = true
			o.DisableURIPathEscaping = true
		})})
	}
	return s, nil
}

// sealer returns the AEAD of secret's URLs: XChaCha20-Poly1305, whose
// 24-byte nonces may be random for any number of URLs, keyed by HKDF-SHA256
// of the secret.
func sealer(secret string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, sealInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive the sealing key: %w", err)
	}
	return chacha20poly1305.NewX(k)
}

// sealFor seals v for the URL of token; the token and key id are the
// additional data, so a sealed value opens only in the URL it was made for.
func (k key) sealFor(token string, v sealed) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.seal.NonceSize(), k.seal.NonceSize()+len(plain)+k.seal.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(k.seal.Seal(nonce, nonce, plain, k.additionalData(token))), nil
}

// open reverses sealFor; any change to the value, token or key fails.
func (k key) open(token, value string) (sealed, error) {
	var v sealed
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < k.seal.NonceSize() {
		return v, errors.New("sealed value malformed")
	}
	plain, err := k.seal.Open(nil, b[:k.seal.NonceSize()], b[k.seal.NonceSize():], k.additionalData(token))
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(plain, &v)
}

func (k key) additionalData(token string) []byte {
	return []byte(k.creds.AccessKeyID + "/" + token)
}

// PresignPut implements core.UploadSigner: a URL on p.BaseURL that PUTs to
// PathPrefix + p.Token and carries the upload (see core.UploadCarrier).
// p.Headers' Content-Type and X-Amz-Server-Side-Encryption go into the
// signed query; the others (and X-Amz-Server-Side-Encryption) are signed
// headers. p.Headers is returned as is, for the client to send.
func (s *Signer) PresignPut(ctx context.Context, p core.PresignParams) (core.UploadTarget, error) {
	u, err := url.Parse(p.BaseURL)
	if err != nil || u.Host == "" {
		return core.UploadTarget{}, fmt.Errorf("presign %s: base url %q has no host", p.Token, p.BaseURL)
	}
	current := s.keys[0]
	u.Path = PathPrefix + p.Token
	q := url.Values{"X-Amz-Expires": {strconv.Itoa(int(p.TTL / time.Second))}}
	header := http.Header{}
	for k, v := range p.Headers {
		switch http.CanonicalHeaderKey(k) {
		case paramType:
			q.Set(paramType, v)
		case http.CanonicalHeaderKey(paramSSE):
			q.Set(paramSSE, v)
			header.Set(k, v)
		default:
			header.Set(k, v)
		}
	}
	if q.Get(paramType) == "" {
		return core.UploadTarget{}, fmt.Errorf("presign %s: no Content-Type among the headers", p.Token)
	}
	seal, err := current.sealFor(p.Token, sealed{Size: p.FileSize, User: p.Uploader.UserID, Addr: p.Uploader.ClientAddr,
		Disposition: header.Get("Content-Disposition")})
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: seal: %w", p.Token, err)
	}
	q.Set(paramSealed, seal)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), nil)
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	req.Header = header
	signed, _, err := current.signer.PresignHTTP(ctx, current.creds, req, "UNSIGNED-PAYLOAD", service, region, p.Now)
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	return core.UploadTarget{URL: signed, Headers: p.Headers}, nil
}

// Verify implements core.UploadCarrier: the URLs carry, signed and sealed,
// everything it returns, so the service records an upload only when its
// bytes arrive. It checks that r is a PUT through a URL this Signer issued, unchanged,
// with every signed header it sends as issued (one it omits is taken as
// issued: see the package comment), on the host it was issued for, before
// it expired, signed with one of its secrets: the one X-Amz-Credential
// names, and, for a previous secret, before its retirement. No parameter
// may be given twice (S3 refuses that too). It returns the upload the URL was issued for (its token, declared
// type and size, uploader, and creation time: the token's), or an
// *core.Error with CodeSignatureMismatch or CodeUploadURLExpired. The PUT's
// own Content-Type header is not looked at.
func (s *Signer) Verify(r *http.Request, now time.Time) (core.Upload, error) {
	token, k, err := s.verify(r, now)
	if err != nil {
		return core.Upload{}, err
	}
	q := r.URL.Query()
	v, err := k.open(token, q.Get(paramSealed))
	if err != nil {
		// Signed by us, so sealed by us: a failure is a bug, or a secret
		// shared with something else that signs.
		return core.Upload{}, fmt.Errorf("verify %s: open the sealed upload: %w", token, err)
	}
	return core.Upload{Token: token, ContentType: q.Get(paramType), FileSize: v.Size, CreatedAt: core.TokenTime(token),
		Uploader: core.Uploader{UserID: v.User, ClientAddr: v.Addr}}, nil
}

// verify checks r's URL and signed headers and returns its token and the
// key that signed it.
func (s *Signer) verify(r *http.Request, now time.Time) (string, key, error) {
	mismatch := core.Errorf(api.CodeSignatureMismatch, "the upload URL or its headers do not match the signature: "+
		"PUT to the url exactly as returned, on the host it names (a proxy must keep the Host header), "+
		"with the Content-Disposition and X-Amz-Server-Side-Encryption headers returned with it unchanged (or without them)")
	q := r.URL.Query()
	for _, vs := range q {
		if len(vs) > 1 {
			// Each is signed, or is the signature: one value each.
			return "", key{}, core.Errorf(api.CodeSignatureMismatch, "a parameter of the upload URL is given more than once; PUT to the url exactly as returned")
		}
	}
	got := q.Get("X-Amz-Signature")
	token, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok || got == "" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get(paramType) == "" || q.Get(paramSealed) == "" {
		return "", key{}, mismatch
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return "", key{}, mismatch
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || expires > 7*24*3600 {
		return "", key{}, mismatch
	}
	signedHeaders := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	for _, h := range requiredSigned {
		if !slices.Contains(signedHeaders, h) {
			return "", key{}, mismatch
		}
	}
	q.Del("X-Amz-Signature")
	keyID, _, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	i := slices.IndexFunc(s.keys, func(k key) bool { return k.creds.AccessKeyID == keyID })
	if i < 0 {
		return "", key{}, mismatch
	}
	req, err := presigned(r, q, signedHeaders, s.keys[i], token, mismatch)
	if err != nil {
		return "", key{}, err
	}
	if !signatureMatches(s.keys[i], req, signedAt, q, got) {
		return "", key{}, mismatch
	}
	switch {
	case now.After(signedAt.Add(time.Duration(expires) * time.Second)):
		return "", key{}, core.Errorf(api.CodeUploadURLExpired, "the upload URL expired; request a new one")
	case signedAt.After(now.Add(maxSkew)):
		return "", key{}, mismatch
	case s.keys[i].signedAfterRetiring(signedAt, core.TokenTime(token)):
		return "", key{}, core.Errorf(api.CodeSignatureMismatch, "the upload URL was signed with a retired secret; request a new one")
	}
	return token, s.keys[i], nil
}

// presigned rebuilds r, a PUT to the URL of token that k signed, as it
// was presigned: the URL with query q, without its signature, and only the
// signed headers: those r sends, and for each it omits the value issued
// (k.issued). It returns mismatch if r is not a PUT, and an error naming
// an omitted signed header whose issued value the URL does not carry.
func presigned(r *http.Request, q url.Values, signedHeaders []string, k key, token string, mismatch error) (*http.Request, error) {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, u.String(), nil)
	if err != nil || r.Method != http.MethodPut {
		return nil, mismatch
	}
	for _, h := range signedHeaders {
		if h == "host" {
			continue
		}
		values := r.Header.Values(h)
		if len(values) == 0 {
			v, ok := k.issued(h, token, q)
			if !ok {
				return nil, core.Errorf(api.CodeSignatureMismatch, "the %s header is missing: send every header returned in upload.headers", http.CanonicalHeaderKey(h))
			}
			values = []string{v}
		}
		for _, v := range values {
			req.Header.Add(h, v)
		}
	}
	return req, nil
}

// issued returns the value that the URL of token with query q was issued
// with for signed header h, for a PUT that omits it: the signed
// x-amz-server-side-encryption parameter, or the sealed
// Content-Disposition. It reports false for another header, or when the URL
// does not carry it (or, tampered with, does not open).
func (k key) issued(h, token string, q url.Values) (string, bool) {
	switch h {
	case paramSSE:
		v := q.Get(paramSSE)
		return v, v != ""
	case "content-disposition":
		v, err := k.open(token, q.Get(paramSealed))
		return v.Disposition, err == nil && v.Disposition != ""
	}
	return "", false
}

// signedAfterRetiring reports whether a URL k verified was signed after k
// retired, by its date or its token's time, beyond the allowed skew. The
// token's time bounds a URL given a false early date: the service refuses
// an upload whose token is older than the claim window.
func (k key) signedAfterRetiring(signedAt, tokenTime time.Time) bool {
	if k.retiredAt.IsZero() {
		return false
	}
	last := k.retiredAt.Add(maxSkew)
	return signedAt.After(last) || tokenTime.After(last)
}

// signatureMatches reports whether presigning req with k at signedAt gives
// signature and q's signed headers and credential. The signature is
// compared in constant time.
func signatureMatches(k key, req *http.Request, signedAt time.Time, q url.Values, signature string) bool {
	want, _, err := k.signer.PresignHTTP(req.Context(), k.creds, req, "UNSIGNED-PAYLOAD", service, region, signedAt)
	if err != nil {
		return false
	}
	wu, err := url.Parse(want)
	if err != nil {
		return false
	}
	wq := wu.Query()
	return subtle.ConstantTimeCompare([]byte(wq.Get("X-Amz-Signature")), []byte(signature)) == 1 &&
		wq.Get("X-Amz-SignedHeaders") == q.Get("X-Amz-SignedHeaders") &&
		wq.Get("X-Amz-Credential") == q.Get("X-Amz-Credential")
}
