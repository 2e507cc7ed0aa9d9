// Package stdwebhook signs and verifies messages by the Standard Webhooks
// specification (https://www.standardwebhooks.com, spec/standard-webhooks.md):
// the sender puts three headers on a POST,
//
//	webhook-id:        a message id, the same on every retry of one message
//	webhook-timestamp: the sending time in Unix seconds
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
//
// keyed with the secret's bytes. Secrets are written "whsec_<base64>"; the
// key is the decoded base64 part. A receiver may be given several
// space-separated signatures (during a secret's rotation) and accepts the
// message if any one of them matches; it refuses timestamps further than a
// tolerance from its clock (DefaultTolerance), which bounds replays.
//
// Only the standard library's crypto/hmac is used; comparison is constant
// time.
package stdwebhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The specification's header names (lower case as written there; Go's
// http.Header canonicalises them).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret's written form.
const SecretPrefix = "whsec_"

// Key lengths the specification recommends (24 to 64 bytes); ParseSecret
// refuses others, NewSecret makes MaxKeyLen/2 = 32 bytes.
const (
	MinKeyLen = 24
	MaxKeyLen = 64
)

// DefaultTolerance is how far a timestamp may be from the receiver's
// clock, either way: the specification suggests about five minutes.
const DefaultTolerance = 5 * time.Minute

// Errors of ParseSecret and Verify; Verify's are wrapped with detail, test
// them with errors.Is.
var (
	ErrSecret    = errors.New("stdwebhook: malformed secret")
	ErrHeaders   = errors.New("stdwebhook: missing or malformed webhook headers")
	ErrTimestamp = errors.New("stdwebhook: timestamp outside the tolerance")
	ErrSignature = errors.New("stdwebhook: no matching signature")
)

// Key is a secret's decoded bytes. Its zero value signs nothing useful:
// make one with ParseSecret or NewSecret.
type Key []byte

// ParseSecret decodes "whsec_<base64>" (standard base64, padded) into a key
// of MinKeyLen to MaxKeyLen bytes, or returns ErrSecret.
func ParseSecret(s string) (Key, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %q", ErrSecret, SecretPrefix)
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not base64", ErrSecret, SecretPrefix)
	}
	if len(k) < MinKeyLen || len(k) > MaxKeyLen {
		return nil, fmt.Errorf("%w: the key has %d bytes, not %d to %d", ErrSecret, len(k), MinKeyLen, MaxKeyLen)
	}
	return Key(k), nil
}

// NewSecret makes a 32-byte key from random (crypto/rand.Reader in
// production) and returns it with its written form "whsec_…".
func NewSecret(random io.Reader) (Key, string, error) {
	k := make(Key, 32)
	if _, err := io.ReadFull(random, k); err != nil {
		return nil, "", fmt.Errorf("stdwebhook: reading random bytes: %w", err)
	}
	return k, k.String(), nil
}

// String is the key's written form, "whsec_<base64>". It is the secret:
// do not log it.
func (k Key) String() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(k)
}

// Sign returns the signature header's value for one message,
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>", the timestamp written in
// Unix seconds.
func (k Key) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(k.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (k Key) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SetHeaders sets the three headers on h for a message with this id and
// body sent at ts.
func (k Key) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, k.Sign(id, ts, body))
}

// Verify checks a received message: the headers' values id, timestamp
// (Unix seconds) and signatures (one or more space-separated "v1,<base64>";
// other versions are skipped), against the raw body. It returns nil if
// one v1 signature matches (compared in constant time) and the timestamp
// is within tolerance of now (tolerance ≤ 0 means DefaultTolerance);
// otherwise ErrHeaders, ErrTimestamp or ErrSignature, wrapped.
func (k Key) Verify(id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || timestamp == "" || signatures == "" {
		return fmt.Errorf("%w: id, timestamp and signature are all required", ErrHeaders)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrHeaders, timestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off the receiver's clock", ErrTimestamp, d.Round(time.Second))
	}
	want := k.mac(id, timestamp, body)
	for sig := range strings.FieldsSeq(signatures) {
		b64, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}

// VerifyRequest is Verify reading the three headers from h.
func (k Key) VerifyRequest(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	return k.Verify(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now, tolerance)
}
