// Package selfsign issues and verifies the embedded default's upload URLs:
// AWS SigV4 presigned PUT URLs, in S3's query form, that point at this server
// and are signed with the server's own secret. Signing and verifying both go
// through aws-sdk-go-v2's v4 signer, so the URLs are exactly what S3 clients
// and Zendesk clients expect.
//
// Secrets rotate: a Signer signs with its current secret and also verifies
// URLs signed with previous ones. Each secret has its own access key id
// (KeyID), carried in X-Amz-Credential, which picks the secret to verify
// with.
package selfsign

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

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
var requiredSigned = []string{"content-disposition", "content-type", "host"}

// The signed query parameters that carry an upload's declared size and
// uploader, so that the server learns them from the URL when the bytes
// arrive and step 1 need not store anything.
const (
	paramSize = "x-ui-size"
	paramUser = "x-ui-user"
	paramAddr = "x-ui-addr"
)

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
// signing key).
type key struct {
	creds  aws.Credentials
	signer *v4.Signer
}

// New returns a Signer that signs with current and verifies with current
// and each of previous, until the URLs they signed expire. Secrets must be
// at least 32 bytes and different from each other.
func New(current string, previous ...string) (*Signer, error) {
	s := &Signer{}
	for i, secret := range append([]string{current}, previous...) {
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
		s.keys = append(s.keys, key{creds: creds, signer: v4.NewSigner(func(o *v4.SignerOptions) {
			o.DisableHeaderHoisting = true
			o.DisableURIPathEscaping = true
		})})
	}
	return s, nil
}

// PresignPut implements core.UploadSigner: a URL on p.BaseURL that PUTs to
// PathPrefix + p.Token and carries the upload (see CarriesUploads).
func (s *Signer) PresignPut(ctx context.Context, p core.PresignParams) (core.UploadTarget, error) {
	u, err := url.Parse(p.BaseURL)
	if err != nil || u.Host == "" {
		return core.UploadTarget{}, fmt.Errorf("presign %s: base url %q has no host", p.Token, p.BaseURL)
	}
	u.Path = PathPrefix + p.Token
	q := url.Values{"X-Amz-Expires": {strconv.Itoa(int(p.TTL / time.Second))}, paramSize: {strconv.FormatInt(p.FileSize, 10)}}
	if p.Uploader.UserID != 0 {
		q.Set(paramUser, strconv.FormatInt(p.Uploader.UserID, 10))
	}
	if p.Uploader.ClientAddr != "" {
		q.Set(paramAddr, p.Uploader.ClientAddr)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), nil)
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	current := s.keys[0]
	signed, _, err := current.signer.PresignHTTP(ctx, current.creds, req, "UNSIGNED-PAYLOAD", service, region, p.Now)
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	return core.UploadTarget{URL: signed, Headers: p.Headers}, nil
}

// CarriesUploads implements core.UploadCarrier: the URLs carry, signed,
// everything Verify returns, so the service records an upload only when
// its bytes arrive.
func (s *Signer) CarriesUploads() {}

// Verify checks that r is a PUT through a URL this Signer issued, unchanged,
// with every signed header as issued, on the host it was issued for, before
// it expired, signed with one of its secrets: the one X-Amz-Credential
// names. It returns the upload the URL was issued for (its token, declared
// type and size, uploader, and creation time: the token's), or an
// *core.Error with CodeSignatureMismatch or CodeUploadURLExpired.
func (s *Signer) Verify(r *http.Request, now time.Time) (core.Upload, error) {
	token, err := s.verify(r, now)
	if err != nil {
		return core.Upload{}, err
	}
	// Signed, so only this server's own values: a parse error is a bug.
	q := r.URL.Query()
	up := core.Upload{Token: token, ContentType: r.Header.Get("Content-Type"), CreatedAt: core.TokenTime(token)}
	if !q.Has(paramSize) {
		// Issued by a version that recorded uploads at step 1: such URLs
		// expired long ago.
		return core.Upload{}, core.Errorf(core.CodeSignatureMismatch, "this upload URL was issued by an older version of this server; request a new one")
	}
	if up.FileSize, err = strconv.ParseInt(q.Get(paramSize), 10, 64); err != nil {
		return core.Upload{}, fmt.Errorf("verify %s: size: %w", token, err)
	}
	if v := q.Get(paramUser); v != "" {
		if up.Uploader.UserID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return core.Upload{}, fmt.Errorf("verify %s: user: %w", token, err)
		}
	}
	up.Uploader.ClientAddr = q.Get(paramAddr)
	return up, nil
}

func (s *Signer) verify(r *http.Request, now time.Time) (string, error) {
	mismatch := core.Errorf(core.CodeSignatureMismatch, "the upload URL or its headers do not match the signature: "+
		"PUT to the url exactly as returned, on the host it names (a proxy must keep the Host header), "+
		"with exactly the Content-Type, Content-Disposition and X-Amz-Server-Side-Encryption headers returned with it")
	q := r.URL.Query()
	got := q.Get("X-Amz-Signature")
	token, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok || got == "" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return "", mismatch
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return "", mismatch
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || expires > 7*24*3600 {
		return "", mismatch
	}
	signedHeaders := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	for _, h := range requiredSigned {
		if !slices.Contains(signedHeaders, h) {
			return "", mismatch
		}
	}
	// Rebuild the request as it was presigned: the URL without its
	// signature, and only the signed headers, taken from r.
	q.Del("X-Amz-Signature")
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, u.String(), nil)
	if err != nil || r.Method != http.MethodPut {
		return "", mismatch
	}
	for _, h := range signedHeaders {
		if h != "host" && h != "content-length" && r.Header.Get(h) == "" {
			return "", core.Errorf(core.CodeSignatureMismatch, "the %s header is missing: send every header returned in upload.headers", http.CanonicalHeaderKey(h))
		}
	}
	for _, h := range signedHeaders {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(h) {
				req.Header.Add(h, v)
			}
		}
	}
	keyID, _, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	matched := false
	for _, k := range s.keys {
		if k.creds.AccessKeyID == keyID {
			matched = signatureMatches(k.signer, req, k.creds, signedAt, q, got)
			break
		}
	}
	if !matched {
		return "", mismatch
	}
	switch {
	case now.After(signedAt.Add(time.Duration(expires) * time.Second)):
		return "", core.Errorf(core.CodeUploadURLExpired, "the upload URL expired; request a new one")
	case signedAt.After(now.Add(maxSkew)):
		return "", mismatch
	}
	return token, nil
}

// signatureMatches reports whether presigning req with signer and creds at
// signedAt gives signature and q's signed headers and credential. The signature is
// compared in constant time.
func signatureMatches(signer *v4.Signer, req *http.Request, creds aws.Credentials, signedAt time.Time, q url.Values, signature string) bool {
	want, _, err := signer.PresignHTTP(req.Context(), creds, req, "UNSIGNED-PAYLOAD", service, region, signedAt)
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
