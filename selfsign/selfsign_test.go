package selfsign

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/core"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"
)

const testSecret = "0123456789abcdef0123456789abcdef"

var issued = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func presign(t testing.TB, s *Signer) core.UploadTarget {
	t.Helper()
	target, err := s.PresignPut(context.Background(), core.PresignParams{
		BaseURL: "http://images.example.test:8080",
		Token:   "01GC9JEN2X052BAKW905PH9C36",
		Headers: map[string]string{
			"Content-Disposition":          `attachment; filename="01GC9JEN2X052BAKW905PH9C36.jpeg"`,
			"Content-Type":                 "image/jpeg",
			"X-Amz-Server-Side-Encryption": "AES256",
		},
		FileSize: 10,
		Uploader: core.Uploader{UserID: 42, ClientAddr: "2001:db8::1"},
		Now:      issued,
		TTL:      time.Hour,
	})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	return target
}

// request builds the PUT a client makes with target, as the server sees it.
func request(target core.UploadTarget) *http.Request {
	r := httptest.NewRequest(http.MethodPut, target.URL, strings.NewReader("0123456789"))
	for k, v := range target.Headers {
		r.Header.Set(k, v)
	}
	return r
}

// TestPresignedURLShape: the URL has the parameters of Zendesk's reference
// URL, one sealed parameter besides, and nothing of the uploader in clear.
func TestPresignedURLShape(t *testing.T) {
	s, _ := New(testSecret)
	target := presign(t, s)
	u, err := url.Parse(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Path, "/uploads/01GC9JEN2X052BAKW905PH9C36"; got != want {
		t.Errorf("path: got %q, want %q", got, want)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"Content-Type":                 "image/jpeg",
		"X-Amz-Algorithm":              "AWS4-HMAC-SHA256",
		"X-Amz-Credential":             "ui3eb1bd43/20261126/us-east-1/s3/aws4_request", // KeyID(testSecret)
		"X-Amz-Date":                   "20261126T120000Z",
		"X-Amz-Expires":                "3600",
		"X-Amz-SignedHeaders":          "content-disposition;host;x-amz-server-side-encryption",
		"x-amz-server-side-encryption": "AES256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if len(q.Get("X-Amz-Signature")) != 64 {
		t.Errorf("X-Amz-Signature: got %q, want 64 hex chars", q.Get("X-Amz-Signature"))
	}
	var names []string
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	// The reference's parameters, in its order (Go sorts them the same), and the sealed one.
	want := []string{"Content-Type", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature",
		"X-Amz-SignedHeaders", "x-amz-server-side-encryption", "x-ui-upload"}
	if !slices.Equal(names, want) {
		t.Errorf("query parameters: got %q, want %q", names, want)
	}
	// The parameters are exactly those above, so the uploader can only be
	// in x-ui-upload: sealed there, not in clear. (Random ciphertext may
	// hold "42" anywhere; the address's text it may not.)
	sealed, err := base64.RawURLEncoding.DecodeString(q.Get("x-ui-upload"))
	if err != nil || len(sealed) == 0 || bytes.Contains(sealed, []byte("2001:db8::1")) || strings.Contains(target.URL, "2001") {
		t.Errorf("URL %s: want the uploader (2001:db8::1, user 42) sealed in x-ui-upload, not in clear", target.URL)
	}
	if got := target.Headers["Content-Type"]; got != "image/jpeg" {
		t.Errorf("headers: Content-Type: got %q, want image/jpeg (returned for the client to send, as Zendesk does)", got)
	}
}

func TestVerify(t *testing.T) {
	s, _ := New(testSecret)
	other, _ := New(strings.Repeat("x", 32))
	setQuery := func(k, v string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Set(k, v)
			r.URL.RawQuery = q.Encode()
		}
	}
	// appendQuery adds a second k after the URL's own, leaving it as is.
	appendQuery := func(k, v string) func(*http.Request) {
		return func(r *http.Request) {
			r.URL.RawQuery += "&" + url.Values{k: {v}}.Encode()
		}
	}
	delQuery := func(k string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Del(k)
			r.URL.RawQuery = q.Encode()
		}
	}
	delHeader := func(names ...string) func(*http.Request) {
		return func(r *http.Request) {
			for _, k := range names {
				r.Header.Del(k)
			}
		}
	}
	tests := []struct {
		name   string
		tamper func(*http.Request)
		signer *Signer
		now    time.Time
		want   api.Code // "" means valid
	}{
		{name: "valid", now: issued.Add(time.Minute)},
		{name: "valid at the last second", now: issued.Add(time.Hour)},
		{name: "expired", now: issued.Add(time.Hour + time.Second), want: api.CodeUploadURLExpired},
		{name: "signed far in the future", now: issued.Add(-time.Hour), want: api.CodeSignatureMismatch},
		{name: "other secret", signer: other, now: issued, want: api.CodeSignatureMismatch},
		{name: "signature changed", tamper: setQuery("X-Amz-Signature", strings.Repeat("0", 64)), now: issued, want: api.CodeSignatureMismatch},
		{name: "signature missing", tamper: delQuery("X-Amz-Signature"), now: issued, want: api.CodeSignatureMismatch},
		{name: "expiry extended", tamper: setQuery("X-Amz-Expires", "604800"), now: issued, want: api.CodeSignatureMismatch},
		{name: "date moved", tamper: setQuery("X-Amz-Date", "20261126T130000Z"), now: issued, want: api.CodeSignatureMismatch},
		{name: "credential changed", tamper: setQuery("X-Amz-Credential", "someone/20261126/us-east-1/s3/aws4_request"), now: issued, want: api.CodeSignatureMismatch},
		{name: "signed headers reduced", tamper: setQuery("X-Amz-SignedHeaders", "host"), now: issued, want: api.CodeSignatureMismatch},
		{name: "query added", tamper: setQuery("extra", "1"), now: issued, want: api.CodeSignatureMismatch},
		// As S3: no parameter twice, even when the first is the one signed.
		{name: "signature given twice", tamper: appendQuery("X-Amz-Signature", strings.Repeat("0", 64)), now: issued, want: api.CodeSignatureMismatch},
		{name: "signature given twice, the bad one first", tamper: func(r *http.Request) {
			r.URL.RawQuery = "X-Amz-Signature=00&" + r.URL.RawQuery
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "date given twice", tamper: appendQuery("X-Amz-Date", "20261126T130000Z"), now: issued, want: api.CodeSignatureMismatch},
		{name: "expiry given twice", tamper: appendQuery("X-Amz-Expires", "604800"), now: issued, want: api.CodeSignatureMismatch},
		{name: "credential given twice", tamper: appendQuery("X-Amz-Credential", "someone/20261126/us-east-1/s3/aws4_request"), now: issued, want: api.CodeSignatureMismatch},
		{name: "declared type given twice", tamper: appendQuery("Content-Type", "text/html"), now: issued, want: api.CodeSignatureMismatch},
		{name: "sealed upload given twice", tamper: appendQuery("x-ui-upload", "x"), now: issued, want: api.CodeSignatureMismatch},
		{name: "sealed upload changed", tamper: func(r *http.Request) {
			q := r.URL.Query()
			sealed := []byte(q.Get("x-ui-upload"))
			sealed[len(sealed)/2] ^= 1
			q.Set("x-ui-upload", string(sealed))
			r.URL.RawQuery = q.Encode()
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "sealed upload removed", tamper: delQuery("x-ui-upload"), now: issued, want: api.CodeSignatureMismatch},
		{name: "declared type changed", tamper: setQuery("Content-Type", "image/png"), now: issued, want: api.CodeSignatureMismatch},
		{name: "declared type removed", tamper: delQuery("Content-Type"), now: issued, want: api.CodeSignatureMismatch},
		{name: "encryption parameter changed", tamper: setQuery("x-amz-server-side-encryption", "aws:kms"), now: issued, want: api.CodeSignatureMismatch},
		{name: "algorithm changed", tamper: setQuery("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), now: issued, want: api.CodeSignatureMismatch},
		{name: "token changed", tamper: func(r *http.Request) { r.URL.Path = "/uploads/01GC9JEN2X052BAKW905PH9C37" }, now: issued, want: api.CodeSignatureMismatch},
		{name: "path prefix changed", tamper: func(r *http.Request) { r.URL.Path = "/other/01GC9JEN2X052BAKW905PH9C36" }, now: issued, want: api.CodeSignatureMismatch},
		// As S3 with Zendesk's URLs: the type is the signed query's; the
		// service checks the bytes against it.
		{name: "content type header changed is ignored", tamper: func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, now: issued},
		{name: "content type header missing is ignored", tamper: func(r *http.Request) { r.Header.Del("Content-Type") }, now: issued},
		{name: "encryption header changed", tamper: func(r *http.Request) { r.Header.Set("X-Amz-Server-Side-Encryption", "aws:kms") }, now: issued, want: api.CodeSignatureMismatch},
		{name: "disposition changed", tamper: func(r *http.Request) { r.Header.Set("Content-Disposition", "inline") }, now: issued, want: api.CodeSignatureMismatch},
		// Signed headers the PUT omits are taken as issued (Uppy 6 sends
		// only Content-Type); those it sends must match.
		{name: "encryption header omitted", tamper: delHeader("X-Amz-Server-Side-Encryption"), now: issued},
		{name: "disposition omitted", tamper: delHeader("Content-Disposition"), now: issued},
		{name: "only Content-Type sent", tamper: delHeader("Content-Disposition", "X-Amz-Server-Side-Encryption"), now: issued},
		{name: "nothing sent", tamper: delHeader("Content-Disposition", "X-Amz-Server-Side-Encryption", "Content-Type"), now: issued},
		{name: "omitted, expired", tamper: delHeader("Content-Disposition", "X-Amz-Server-Side-Encryption"), now: issued.Add(time.Hour + time.Second), want: api.CodeUploadURLExpired},
		{name: "omitted, other secret", signer: other, tamper: delHeader("Content-Disposition", "X-Amz-Server-Side-Encryption"), now: issued, want: api.CodeSignatureMismatch},
		{name: "omitted, wrong host", tamper: func(r *http.Request) {
			delHeader("Content-Disposition", "X-Amz-Server-Side-Encryption")(r)
			r.Host = "evil.example.test:8080"
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "omitted, encryption parameter changed", tamper: func(r *http.Request) {
			delHeader("X-Amz-Server-Side-Encryption")(r)
			setQuery("x-amz-server-side-encryption", "aws:kms")(r)
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "omitted, encryption parameter removed", tamper: func(r *http.Request) {
			delHeader("X-Amz-Server-Side-Encryption")(r)
			delQuery("x-amz-server-side-encryption")(r)
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "omitted, sealed upload changed", tamper: func(r *http.Request) {
			delHeader("Content-Disposition")(r)
			q := r.URL.Query()
			sealed := []byte(q.Get("x-ui-upload"))
			sealed[len(sealed)/2] ^= 1
			q.Set("x-ui-upload", string(sealed))
			r.URL.RawQuery = q.Encode()
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "omitted, sealed upload removed", tamper: func(r *http.Request) {
			delHeader("Content-Disposition")(r)
			delQuery("x-ui-upload")(r)
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "disposition sent empty", tamper: func(r *http.Request) { r.Header.Set("Content-Disposition", "") }, now: issued, want: api.CodeSignatureMismatch},
		{name: "disposition sent twice", tamper: func(r *http.Request) { r.Header.Add("Content-Disposition", "inline") }, now: issued, want: api.CodeSignatureMismatch},
		{name: "disposition of another file", tamper: func(r *http.Request) {
			r.Header.Set("Content-Disposition", `attachment; filename="01GC9JEN2X052BAKW905PH9C37.jpeg"`)
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "encryption header sent, disposition omitted, encryption changed", tamper: func(r *http.Request) {
			r.Header.Del("Content-Disposition")
			r.Header.Set("X-Amz-Server-Side-Encryption", "aws:kms")
		}, now: issued, want: api.CodeSignatureMismatch},
		{name: "wrong host", tamper: func(r *http.Request) { r.Host = "evil.example.test:8080" }, now: issued, want: api.CodeSignatureMismatch},
		{name: "wrong method", tamper: func(r *http.Request) { r.Method = http.MethodPost }, now: issued, want: api.CodeSignatureMismatch},
		{name: "unsigned header added is ignored", tamper: func(r *http.Request) { r.Header.Set("X-Other", "1") }, now: issued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer := s
			if tt.signer != nil {
				signer = tt.signer
			}
			checkVerify(t, signer, s, tt.tamper, tt.now, tt.want)
		})
	}
}

// checkVerify presigns with signer, changes the request with tamper (if
// any), and checks that verifier accepts it (want "") or refuses it with
// want.
func checkVerify(t *testing.T, signer, verifier *Signer, tamper func(*http.Request), now time.Time, want api.Code) {
	t.Helper()
	r := request(presign(t, signer))
	if tamper != nil {
		tamper(r)
	}
	up, err := verifier.Verify(r, now)
	if want == "" {
		wantUp := core.Upload{Token: "01GC9JEN2X052BAKW905PH9C36", ContentType: "image/jpeg", FileSize: 10,
			CreatedAt: core.TokenTime("01GC9JEN2X052BAKW905PH9C36"), Uploader: core.Uploader{UserID: 42, ClientAddr: "2001:db8::1"}}
		if err != nil || up != wantUp {
			t.Fatalf("Verify: got %+v, %v; want %+v, nil", up, err, wantUp)
		}
		return
	}
	if got := core.ErrorCode(err); got != want {
		t.Fatalf("Verify: got code %s (err %v), want %s", got, err, want)
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	if _, err := New("short"); err == nil {
		t.Fatal("New(short secret): got nil error, want one")
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := New(testSecret)
	target := presign(f, s)
	f.Add(target.URL, "image/jpeg")
	f.Add("http://h/uploads/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261126T120000Z&X-Amz-Expires=1&X-Amz-Signature=00&X-Amz-SignedHeaders=host", "")
	f.Fuzz(func(t *testing.T, rawURL, contentType string) {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return
		}
		r := &http.Request{Method: http.MethodPut, URL: u, Host: u.Host, Header: http.Header{"Content-Type": {contentType}}}
		r = r.WithContext(context.Background())
		up, err := s.Verify(r, issued)
		if err == nil && rawURL != target.URL {
			// Only the issued URL, unchanged in every signed part, verifies.
			if up.Token != "01GC9JEN2X052BAKW905PH9C36" || up.FileSize != 10 || up.Uploader.UserID != 42 {
				t.Fatalf("Verify accepted %q as %+v", rawURL, up)
			}
		}
		if err != nil && core.ErrorCode(err) != api.CodeSignatureMismatch && core.ErrorCode(err) != api.CodeUploadURLExpired {
			t.Fatalf("Verify: unexpected error code %s", core.ErrorCode(err))
		}
	})
}

func TestRotation(t *testing.T) {
	oldSecret, newSecret := testSecret, strings.Repeat("n", 32)
	mustNew := func(current string, previous ...string) *Signer {
		var ps []Previous
		for _, p := range previous {
			ps = append(ps, Previous{Secret: p})
		}
		s, err := New(current, ps...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	swapKeyID := func(r *http.Request) {
		q := r.URL.Query()
		q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), KeyID(oldSecret), KeyID(newSecret), 1))
		r.URL.RawQuery = q.Encode()
	}
	tests := []struct {
		name     string
		signer   *Signer // issues the URL
		verifier *Signer
		tamper   func(*http.Request)
		now      time.Time
		want     api.Code // "" means valid
	}{
		{name: "new URL, new secret with previous", signer: mustNew(newSecret, oldSecret), verifier: mustNew(newSecret, oldSecret), now: issued},
		{name: "old URL, new secret with previous", signer: mustNew(oldSecret), verifier: mustNew(newSecret, oldSecret), now: issued},
		{name: "old URL, previous removed", signer: mustNew(oldSecret), verifier: mustNew(newSecret), now: issued, want: api.CodeSignatureMismatch},
		{name: "old URL still expires", signer: mustNew(oldSecret), verifier: mustNew(newSecret, oldSecret), now: issued.Add(time.Hour + time.Second), want: api.CodeUploadURLExpired},
		{name: "new URL before the swap (new secret given as previous)", signer: mustNew(newSecret), verifier: mustNew(oldSecret, newSecret), now: issued},
		{name: "old URL with the new key id", signer: mustNew(oldSecret), verifier: mustNew(newSecret, oldSecret), tamper: swapKeyID, now: issued, want: api.CodeSignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerify(t, tt.signer, tt.verifier, tt.tamper, tt.now, tt.want)
		})
	}
}

func TestNewURLsNameTheCurrentKey(t *testing.T) {
	newSecret := strings.Repeat("n", 32)
	s, _ := New(newSecret, Previous{Secret: testSecret})
	u, _ := url.Parse(presign(t, s).URL)
	if got, want := u.Query().Get("X-Amz-Credential"), KeyID(newSecret)+"/20261126/us-east-1/s3/aws4_request"; got != want {
		t.Errorf("X-Amz-Credential: got %q, want %q", got, want)
	}
	if got := KeyID(newSecret); len(got) != 10 || !strings.HasPrefix(got, "ui") || got == KeyID(testSecret) {
		t.Errorf("KeyID: got %q, want ui and 8 hex digits, different per secret", got)
	}
}

// TestRetiredSecret: a previous secret verifies the URLs it signed up to
// its retirement plus the allowed skew, by their date and their token's
// time, and refuses later ones, so that whoever holds a leaked secret
// cannot go on minting URLs (a false early date does not help: the token's
// time gives it away, and the service refuses a token older than the claim
// window).
func TestRetiredSecret(t *testing.T) {
	oldSecret, newSecret := testSecret, strings.Repeat("n", 32)
	old, err := New(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	const oldToken = "01GC9JEN2X052BAKW905PH9C36" // 2022, long before issued
	freshToken := ulid.MustNew(ulid.Timestamp(issued), rand.Reader).String()
	tests := []struct {
		name      string
		retiredAt time.Time
		token     string
		signedAt  time.Time
		want      api.Code // "" means valid
	}{
		{name: "not retired", token: freshToken, signedAt: issued},
		{name: "signed at its retirement", retiredAt: issued, token: freshToken, signedAt: issued},
		{name: "signed before its retirement", retiredAt: issued.Add(time.Hour), token: freshToken, signedAt: issued},
		{name: "signed within the skew after it", retiredAt: issued.Add(-maxSkew), token: freshToken, signedAt: issued},
		{name: "signed after it and the skew", retiredAt: issued.Add(-maxSkew - time.Second), token: freshToken, signedAt: issued, want: api.CodeSignatureMismatch},
		{name: "dated before it, token after it", retiredAt: issued.Add(-time.Hour), token: freshToken, signedAt: issued.Add(-2 * time.Hour), want: api.CodeSignatureMismatch},
		{name: "dated and token before it", retiredAt: issued.Add(-time.Hour), token: oldToken, signedAt: issued.Add(-2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier, err := New(newSecret, Previous{Secret: oldSecret, RetiredAt: tt.retiredAt})
			if err != nil {
				t.Fatal(err)
			}
			target, err := old.PresignPut(context.Background(), core.PresignParams{
				BaseURL: "http://images.example.test:8080", Token: tt.token, FileSize: 10, Now: tt.signedAt, TTL: 3 * time.Hour,
				Headers: map[string]string{"Content-Disposition": `attachment; filename="x.png"`, "Content-Type": "image/png"},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = verifier.Verify(request(target), issued)
			if got := core.ErrorCode(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
				t.Fatalf("Verify: got %v (code %q), want code %q", err, got, tt.want)
			}
			if tt.want != "" && !strings.Contains(err.Error(), "retired") {
				t.Errorf("Verify: got %v, want it to say the secret is retired", err)
			}
		})
	}
	// The current secret signs on, whatever the previous one's retirement.
	s, _ := New(newSecret, Previous{Secret: oldSecret, RetiredAt: issued.Add(-time.Hour)})
	if _, err := s.Verify(request(presign(t, s)), issued); err != nil {
		t.Errorf("Verify of the current secret's URL: got %v, want nil", err)
	}
}

func TestNewRejectsBadPreviousSecrets(t *testing.T) {
	tests := []struct {
		name     string
		previous []Previous
	}{
		{"short previous", []Previous{{Secret: "short"}}},
		{"previous same as current", []Previous{{Secret: testSecret}}},
		{"previous given twice", []Previous{{Secret: strings.Repeat("p", 32)}, {Secret: strings.Repeat("p", 32)}}},
	}
	for _, tt := range tests {
		if _, err := New(testSecret, tt.previous...); err == nil {
			t.Errorf("New(%s): got nil error, want one", tt.name)
		}
	}
}

// TestMissingHeaderIsNamed: a signed header omitted whose issued value the
// URL does not carry (a URL sealed before it carried Content-Disposition)
// gets a message naming it.
func TestMissingHeaderIsNamed(t *testing.T) {
	s, _ := New(testSecret)
	target := presign(t, s)
	// The same URL, its seal made without the disposition, and signed again.
	u, _ := url.Parse(target.URL)
	q := u.Query()
	v, err := s.keys[0].sealFor("01GC9JEN2X052BAKW905PH9C36", sealed{Size: 10, User: 42, Addr: "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	q.Set(paramSealed, v)
	q.Del("X-Amz-Signature")
	u.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, u.String(), nil)
	req.Header.Set("Content-Disposition", target.Headers["Content-Disposition"])
	req.Header.Set("X-Amz-Server-Side-Encryption", "AES256")
	resigned, _, err := s.keys[0].signer.PresignHTTP(context.Background(), s.keys[0].creds, req, "UNSIGNED-PAYLOAD", service, region, issued)
	if err != nil {
		t.Fatal(err)
	}
	r := request(core.UploadTarget{URL: resigned, Headers: target.Headers})
	if _, err := s.Verify(r, issued); err != nil {
		t.Fatalf("Verify of the re-signed URL with its headers: %v", err)
	}
	r.Header.Del("Content-Disposition")
	_, err = s.Verify(r, issued)
	var e *core.Error
	if !errors.As(err, &e) || e.Code != api.CodeSignatureMismatch || !strings.Contains(e.Message, "Content-Disposition header is missing") {
		t.Fatalf("Verify without a header it cannot fill: got %v, want SignatureMismatch naming the header", err)
	}
}

// TestWithoutEncryptionHeader: with the service's encryption header turned
// off (--upload-sse none), URLs sign and require only the others, and a
// PUT may still omit Content-Disposition.
func TestWithoutEncryptionHeader(t *testing.T) {
	s, _ := New(testSecret)
	target, err := s.PresignPut(context.Background(), core.PresignParams{
		BaseURL: "http://images.example.test:8080", Token: "01GC9JEN2X052BAKW905PH9C36", FileSize: 10, Now: issued, TTL: time.Hour,
		Headers: map[string]string{"Content-Disposition": `attachment; filename="x.png"`, "Content-Type": "image/png"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(target.URL); u.Query().Get("X-Amz-SignedHeaders") != "content-disposition;host" {
		t.Errorf("signed headers: got %q, want content-disposition;host", u.Query().Get("X-Amz-SignedHeaders"))
	}
	r := request(target)
	if up, err := s.Verify(r, issued); err != nil || up.ContentType != "image/png" {
		t.Fatalf("Verify: got %+v, %v; want the png upload", up, err)
	}
	r.Header.Del("Content-Disposition")
	if up, err := s.Verify(r, issued); err != nil || up.ContentType != "image/png" {
		t.Fatalf("Verify without Content-Disposition: got %+v, %v; want the png upload", up, err)
	}
	r.Header.Set("X-Amz-Server-Side-Encryption", "AES256")
	if _, err := s.Verify(r, issued); err != nil {
		t.Errorf("Verify with an unsigned encryption header: got %v, want it ignored (as S3 ignores unsigned headers)", err)
	}
}

// TestSeal: what a URL carries opens only with the key and token it was
// sealed for, and any change to it is refused (the signature already
// covers it; the seal must hold on its own too).
func TestSeal(t *testing.T) {
	s, _ := New(testSecret, Previous{Secret: strings.Repeat("p", 32)})
	current, previous := s.keys[0], s.keys[1]
	want := sealed{Size: 123, User: 42, Addr: "192.0.2.7"}
	v, err := current.sealFor("01GC9JEN2X052BAKW905PH9C36", want)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "192.0.2.7") || strings.Contains(v, "123") {
		t.Errorf("sealed value %q shows what it carries", v)
	}
	if got, err := current.open("01GC9JEN2X052BAKW905PH9C36", v); err != nil || got != want {
		t.Fatalf("open: got %+v, %v; want %+v", got, err, want)
	}
	again, _ := current.sealFor("01GC9JEN2X052BAKW905PH9C36", want)
	if again == v {
		t.Errorf("sealing twice gave the same value %q; want a fresh nonce each time", v)
	}
	flipped := []byte(v)
	flipped[len(flipped)-3] ^= 1
	for name, open := range map[string]func() (sealed, error){
		"other token": func() (sealed, error) { return current.open("01GC9JEN2X052BAKW905PH9C37", v) },
		"other key":   func() (sealed, error) { return previous.open("01GC9JEN2X052BAKW905PH9C36", v) },
		"changed":     func() (sealed, error) { return current.open("01GC9JEN2X052BAKW905PH9C36", string(flipped)) },
		"cut":         func() (sealed, error) { return current.open("01GC9JEN2X052BAKW905PH9C36", v[:10]) },
		"not base64":  func() (sealed, error) { return current.open("01GC9JEN2X052BAKW905PH9C36", "!!"+v) },
		"empty":       func() (sealed, error) { return current.open("01GC9JEN2X052BAKW905PH9C36", "") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("open (%s): got %+v, nil; want an error", name, got)
		}
	}
}
