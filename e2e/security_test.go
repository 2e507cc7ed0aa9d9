package e2e

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"userimages/core"
	"userimages/selfsign"
)

// TestInventedMethodsLeaveMetricsBounded: requests with invented methods
// (Go takes any token as a method, and the catch-all route answers them)
// are counted under one method label, "other", so that 40 of them, each
// 1.5 KB long, leave the size of /metrics as it was within a few KB.
func TestInventedMethodsLeaveMetricsBounded(t *testing.T) {
	srv := startServer(t, t.TempDir())
	invent := func(i int) string { return strings.Repeat(string(rune('A'+i%26)), 1500) + strings.Repeat("Z", i) }
	send := func(i int) {
		t.Helper()
		res, _, err := do(http.DefaultClient, invent(i), srv.base+"/api/v2/guide/user_images", "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("invented method: got %d, want a 4xx", res.StatusCode)
		}
	}
	// The label "other" exists from here on, and the scrapes' own
	// counters from the second scrape.
	send(0)
	var before []byte
	for range 2 {
		var err error
		if before, err = fetch(http.DefaultClient, srv.base, "/metrics"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 40; i++ {
		send(i)
	}
	after, err := fetch(http.DefaultClient, srv.base, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("/metrics: %d bytes before, %d after 40 invented methods", len(before), len(after))
	// The Go runtime's metrics change a little between scrapes.
	if d := len(after) - len(before); d > 4096 {
		t.Errorf("/metrics grew by %d bytes (%d to %d), want under 4 KB", d, len(before), len(after))
	}
	if strings.Contains(string(after), "AAAAAAAA") {
		t.Error("an invented method is a label value of /metrics")
	}
	if !strings.Contains(string(after), `method="other"`) {
		t.Error(`no method="other" in /metrics`)
	}
}

// TestRetiredSigningSecret: after a rotation, the previous secret, retired
// at USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT, verifies the URLs it
// signed before then and refuses (403) those it signed after it (plus the
// 5 minutes of allowed skew), so that a leaked secret stops minting URLs.
// The URL signed before is signed here, dated in the past as an instance
// still on the old secret would have signed it; the one signed after is
// issued by the binary itself, on the old secret, after the retirement.
func TestRetiredSigningSecret(t *testing.T) {
	oldSecret, newSecret := strings.Repeat("0123456789abcdef", 4), strings.Repeat("fedcba9876543210", 4)
	data := t.TempDir()
	img := encodeJPEG(t, newRand(t), 16, 16)

	old := startServerEnv(t, data, []string{"USERIMAGES_SIGNING_SECRET=" + oldSecret})
	after, err := createUpload(http.DefaultClient, old.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	retiredAt := now.Add(-10 * time.Minute)
	before := signedWith(t, oldSecret, "http://"+old.addr, now.Add(-40*time.Minute), len(img))
	srv := startServerEnv(t, data, []string{"USERIMAGES_SIGNING_SECRET=" + newSecret,
		"USERIMAGES_SIGNING_SECRET_PREVIOUS=" + oldSecret,
		"USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT=" + retiredAt.Format(time.RFC3339)}, "--addr", old.addr)

	res, body, err := do(http.DefaultClient, http.MethodPut, after.Upload.URL, "", after.Upload.Headers, img)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusForbidden || errorCode(body) != "SignatureMismatch" || !strings.Contains(string(body), "retired") {
		t.Errorf("PUT of a URL signed with the previous secret after its retirement: got %d %s, want 403 SignatureMismatch saying the secret is retired", res.StatusCode, body)
	}
	if err := putUpload(http.DefaultClient, before, img); err != nil {
		t.Fatalf("PUT of a URL signed with the previous secret before its retirement: %v", err)
	}
	if _, err := claim(http.DefaultClient, srv.base, "", before.Upload.Token, brandID); err != nil {
		t.Fatal(err)
	}
	fresh, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
	if err == nil {
		err = putUpload(http.DefaultClient, fresh, img)
	}
	if err != nil {
		t.Fatalf("an upload signed with the new secret: %v", err)
	}
}

// signedWith is an upload URL for base signed with secret at signedAt, with
// a token of that time: what an instance on secret issued then.
func signedWith(t *testing.T, secret, base string, signedAt time.Time, size int) uploadResponse {
	t.Helper()
	signer, err := selfsign.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	token := ulid.MustNew(ulid.Timestamp(signedAt), rand.Reader).String()
	headers := map[string]string{"Content-Disposition": `attachment; filename="` + token + `.jpeg"`,
		"Content-Type": "image/jpeg", "X-Amz-Server-Side-Encryption": "AES256"}
	target, err := signer.PresignPut(context.Background(), core.PresignParams{BaseURL: base, Token: token, Headers: headers,
		FileSize: int64(size), Uploader: core.Uploader{ClientAddr: "127.0.0.1"}, Now: signedAt, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var up uploadResponse
	up.Upload.URL, up.Upload.Token, up.Upload.Headers = target.URL, token, target.Headers
	return up
}

// TestDuplicatedSignedParameter: an upload URL with a second value of a
// signed parameter (or of the signature) is refused with 403, as S3
// refuses it, even when the first value is the one signed.
func TestDuplicatedSignedParameter(t *testing.T) {
	srv := startServer(t, t.TempDir())
	img := encodeJPEG(t, newRand(t), 16, 16)
	for _, extra := range []string{"X-Amz-Signature=00", "X-Amz-Expires=604800", "X-Amz-Date=20260101T000000Z", "Content-Type=text%2Fhtml"} {
		up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
		if err != nil {
			t.Fatal(err)
		}
		res, body, err := do(http.DefaultClient, http.MethodPut, up.Upload.URL+"&"+extra, "", up.Upload.Headers, img)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusForbidden || errorCode(body) != "SignatureMismatch" {
			t.Errorf("PUT with %s added: got %d %s, want 403 SignatureMismatch", extra, res.StatusCode, body)
		}
		// The URL as issued still works: nothing was stored.
		if err := putUpload(http.DefaultClient, up, img); err != nil {
			t.Errorf("PUT of the URL as issued after the refused one: %v", err)
		}
	}
}

// TestConsoleCookieSecureBehindProxy: behind a proxy that terminates TLS
// (plain HTTP to the server) and no --public-url, the console's session
// cookie is Secure when the proxy is trusted (--trusted-proxy) and says
// https in X-Forwarded-Proto, and only then.
func TestConsoleCookieSecureBehindProxy(t *testing.T) {
	data := t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	behindProxy := startServer(t, data, "--trusted-proxy", "127.0.0.1")
	direct := startServer(t, data)
	for _, tc := range []struct {
		name       string
		srv        *server
		proto      string
		wantSecure bool
	}{
		{"trusted proxy says https", behindProxy, "https", true},
		{"trusted proxy says http", behindProxy, "http", false},
		{"untrusted peer says https", direct, "https", false},
	} {
		req, _ := http.NewRequest(http.MethodPost, tc.srv.base+"/admin/login",
			strings.NewReader(url.Values{"email": {consoleAdmin}, "password": {consoleAdminPW}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", tc.proto)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var session *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "userimages_session" {
				session = c
			}
		}
		if session == nil || session.Value == "" || session.Secure != tc.wantSecure || !session.HttpOnly {
			t.Errorf("%s: sign-in got %s and session cookie %+v, want one with Secure %v", tc.name, res.Status, session, tc.wantSecure)
		}
	}
}

// TestWrongPasswordDeletesThrottled: DELETE of an image checks
// credentials, so it spends the address's budget of credentials as every
// route that checks them does: of 40 wrong-password DELETEs from one
// address, those over --rate-limit-auth answer 429, and the image stays.
func TestWrongPasswordDeletesThrottled(t *testing.T) {
	data := t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	srv := startServer(t, data, "--rate-limit-auth", "10/m")
	img := encodeJPEG(t, newRand(t), 16, 16)
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
	if err == nil {
		err = putUpload(http.DefaultClient, up, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	published, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(published.UserImage.Path, "/hc/user_images/"), ".jpeg")
	counts := map[int]int{}
	for range 40 {
		res, body, err := do(http.DefaultClient, http.MethodDelete, srv.base+"/api/v2/guide/user_images/"+id, basicAuth(consoleAdmin, "wrong password"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[res.StatusCode]++
		if res.StatusCode == http.StatusTooManyRequests && (errorCode(body) != "RateLimited" || res.Header.Get("Retry-After") == "") {
			t.Errorf("429: got %s (Retry-After %q), want RateLimited with Retry-After", body, res.Header.Get("Retry-After"))
		}
	}
	t.Logf("40 wrong-password DELETEs: %v", counts)
	// The budget refills at 10 a minute while the DELETEs run.
	if counts[http.StatusUnauthorized] > 12 || counts[http.StatusTooManyRequests] < 28 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 40 {
		t.Errorf("40 wrong-password DELETEs: got statuses %v, want 10 (a few more if the budget refilled) 401, the rest 429", counts)
	}
	if _, err := fetch(http.DefaultClient, srv.base, published.UserImage.Path); err != nil {
		t.Errorf("the image after the DELETEs: %v", err)
	}
}

// TestClaimOnlyByUploader: the token of an upload a signed-in user made
// cannot be claimed anonymously or by another user (each gets the answer
// a token no upload has gets), before or after its owner claims it; its
// owner claims it. An anonymous upload is claimed by whoever holds the
// token, as on Zendesk. On the embedded default (see
// TestClaimOnlyByUploaderScaleOut for PostgreSQL and S3).
func TestClaimOnlyByUploader(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "ann@example.com", "ann-password")
	addUser(t, data, "bob@example.com", "bob-password")
	ann, bob := basicAuth("ann@example.com/token", apiToken(t, data, "ann@example.com")), basicAuth("bob@example.com", "bob-password")
	runClaimOnlyByUploader(t, startServer(t, data), ann, bob)
}

// TestClaimOnlyByUploaderScaleOut is TestClaimOnlyByUploader on
// PostgreSQL and S3 (Versity): the bytes go to the bucket and the claim
// checks them.
func TestClaimOnlyByUploaderScaleOut(t *testing.T) {
	d := newScaleOut(t)
	d.cli(t, "ann-password\n", "user", "add", "--email", "ann@example.com", "--password-stdin")
	d.cli(t, "bob-password\n", "user", "add", "--email", "bob@example.com", "--password-stdin")
	ann := basicAuth("ann@example.com/token", strings.TrimSpace(d.cli(t, "", "user", "token", "--email", "ann@example.com")))
	runClaimOnlyByUploader(t, d.start(t), ann, basicAuth("bob@example.com", "bob-password"))
}

// runClaimOnlyByUploader runs TestClaimOnlyByUploader's steps on srv with
// the credentials of two users.
func runClaimOnlyByUploader(t *testing.T, srv *server, ann, bob string) {
	img := encodeJPEG(t, newRand(t), 16, 16)
	upload := func(auth string) string {
		t.Helper()
		up, err := createUpload(http.DefaultClient, srv.base, auth, "image/jpeg", len(img))
		if err == nil {
			err = putUpload(http.DefaultClient, up, img)
		}
		if err != nil {
			t.Fatal(err)
		}
		return up.Upload.Token
	}
	claimAnswer := func(auth, token string) (int, string) {
		t.Helper()
		res, b, err := postClaim(http.DefaultClient, srv.base, auth, token, brandID)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b)
	}
	// A token of now that no upload has.
	unknownStatus, unknownBody := claimAnswer("", ulid.Make().String())
	if unknownStatus < 400 || unknownStatus >= 500 {
		t.Fatalf("claim of an unknown token: got %d %s, want a 4xx", unknownStatus, unknownBody)
	}
	refusedAsUnknown := func(what, auth, token string) {
		t.Helper()
		if status, body := claimAnswer(auth, token); status != unknownStatus || body != unknownBody {
			t.Errorf("%s: got %d %s, want %d %s, as for an unknown token", what, status, body, unknownStatus, unknownBody)
		}
	}

	token := upload(ann)
	refusedAsUnknown("anonymous claim of ann's upload", "", token)
	refusedAsUnknown("bob's claim of ann's upload", bob, token)
	published, err := claim(http.DefaultClient, srv.base, ann, token, brandID)
	if err != nil {
		t.Fatalf("ann's claim of her upload: %v", err)
	}
	refusedAsUnknown("anonymous claim after ann's", "", token)
	refusedAsUnknown("bob's claim after ann's", bob, token)
	if again, err := claim(http.DefaultClient, srv.base, ann, token, brandID); err != nil || again != published {
		t.Errorf("ann's claim again: got %+v, %v; want %+v", again, err, published)
	}
	if _, err := fetch(http.DefaultClient, srv.base, published.UserImage.Path); err != nil {
		t.Error(err)
	}

	if _, err := claim(http.DefaultClient, srv.base, bob, upload(""), brandID); err != nil {
		t.Errorf("bob's claim of an anonymous upload: %v", err)
	}
}
