package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
)

// reply is one scripted answer of the fake server.
type reply struct {
	status int
	header map[string]string
	body   string
	// hangup closes the connection without an answer (after reading the
	// whole request body): a network error for the client.
	hangup bool
}

func apiError(status int, code api.Code, detail, pointer string) reply {
	src := ""
	if pointer != "" {
		src = fmt.Sprintf(`,"source":{"pointer":%q}`, pointer)
	}
	return reply{status: status, body: fmt.Sprintf(`{"errors":[{"code":%q,"title":"T %s","detail":%q,"status":"%d"%s}]}`,
		code, code, detail, status, src)}
}

func withHeader(r reply, k, v string) reply {
	r.header = map[string]string{k: v}
	return r
}

const (
	fakeToken = "01GC9JEN2X052BAKW905PH9C36"
	fakePath  = "/hc/user_images/Bvj4bPDuRd-7d5hFVszvmQ.jpeg"
)

var fakeUploadHeaders = map[string]string{
	"Content-Disposition":          `attachment; filename="` + fakeToken + `.jpeg"`,
	"Content-Type":                 "image/jpeg",
	"X-Amz-Server-Side-Encryption": "AES256",
}

// request is what the fake server received.
type request struct {
	header http.Header
	body   []byte
}

// fake is an API server and, apart, an object store taking the PUTs, both
// answering from scripts and then with success.
type fake struct {
	api, store *httptest.Server

	mu                    sync.Mutex
	create, put, claim    []reply
	creates, puts, claims []request
	onCreate              func(n int) // called before answering the n-th create (from 1)
	onPut                 func()      // called before answering a PUT
}

// hooks sets onCreate and onPut.
func (f *fake) hooks(onCreate func(int), onPut func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCreate, f.onPut = onCreate, onPut
}

func newFake(t *testing.T) *fake {
	f := &fake{}
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v2/guide/user_images/uploads":
			n := f.record(&f.creates, r)
			f.mu.Lock()
			hook := f.onCreate
			f.mu.Unlock()
			if hook != nil {
				hook(n)
			}
			f.answer(w, &f.create, reply{status: 200, body: fmt.Sprintf(`{"upload":{"headers":%s,"token":%q,"url":%q}}`,
				mustJSON(fakeUploadHeaders), fakeToken, f.store.URL+"/bucket/"+fakeToken+"?X-Amz-Signature=abc&x=1")})
		case "POST /api/v2/guide/user_images":
			f.record(&f.claims, r)
			f.answer(w, &f.claim, reply{status: 201, body: `{"user_image":{"content_type":"image/jpeg","path":"` + fakePath + `","size":42}}`})
		default:
			http.Error(w, "no such route", http.StatusNotFound)
		}
	}))
	f.store = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/bucket/"+fakeToken || r.URL.Query().Get("X-Amz-Signature") != "abc" {
			http.Error(w, "bad PUT "+r.URL.String(), http.StatusBadRequest)
			return
		}
		f.record(&f.puts, r)
		f.mu.Lock()
		hook := f.onPut
		f.mu.Unlock()
		if hook != nil {
			hook()
		}
		f.answer(w, &f.put, reply{status: 200})
	}))
	t.Cleanup(f.api.Close)
	t.Cleanup(f.store.Close)
	return f
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (f *fake) record(to *[]request, r *http.Request) int {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	*to = append(*to, request{header: r.Header.Clone(), body: b})
	return len(*to)
}

func (f *fake) answer(w http.ResponseWriter, script *[]reply, success reply) {
	f.mu.Lock()
	rep := success
	if len(*script) > 0 {
		rep, *script = (*script)[0], (*script)[1:]
	}
	f.mu.Unlock()
	if rep.hangup {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (f *fake) counts() (creates, puts, claims int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.creates), len(f.puts), len(f.claims)
}

// newTestClient returns a client of f whose waits are recorded, not slept.
func newTestClient(t *testing.T, f *fake, opts ...Option) (*Client, *[]time.Duration) {
	t.Helper()
	c, err := New(f.api.URL, append([]Option{WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 30 * time.Second})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, &waits
}

// onlyReader hides every method but Read: a body that cannot be rewound.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testJPEG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testPicture(), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPicture() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for y := range 12 {
		for x := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 20), 99, 255})
		}
	}
	return img
}

func TestUploadSendsTheThreeSteps(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name     string
		opts     []Option
		wantAuth string
	}{
		{"anonymous", nil, ""},
		{"password", []Option{WithPassword("ann@example.com", "pa:ss word")}, basic("ann@example.com:pa:ss word")},
		{"api token", []Option{WithAPIToken("ann@example.com", "tok123")}, basic("ann@example.com/token:tok123")},
		{"bearer", []Option{WithBearer("tok123")}, "Bearer tok123"},
	}
	data := testJPEG(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := newTestClient(t, f, tc.opts...)
			img, err := c.Upload(context.Background(), bytes.NewReader(data), api.JPEG.MIME, int64(len(data)), "10016", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := Image{ContentType: "image/jpeg", Path: fakePath, Size: 42, URL: f.api.URL + fakePath}
			if img != want {
				t.Errorf("got %+v, want %+v", img, want)
			}
			if len(f.creates) != 1 || len(f.puts) != 1 || len(f.claims) != 1 {
				t.Fatalf("got %d creates, %d puts, %d claims; want 1 each", len(f.creates), len(f.puts), len(f.claims))
			}
			for _, r := range []request{f.creates[0], f.claims[0]} {
				if got := r.header.Get("Authorization"); got != tc.wantAuth {
					t.Errorf("API request Authorization: got %q, want %q", got, tc.wantAuth)
				}
				if got := r.header.Get("Content-Type"); got != "application/json" {
					t.Errorf("API request Content-Type: got %q, want application/json", got)
				}
			}
			var create map[string]any
			if err := json.Unmarshal(f.creates[0].body, &create); err != nil {
				t.Fatal(err)
			}
			if create["content_type"] != "image/jpeg" || create["file_size"] != float64(len(data)) || len(create) != 2 {
				t.Errorf("create body: got %s, want content_type image/jpeg and file_size %d", f.creates[0].body, len(data))
			}
			put := f.puts[0]
			if got := put.header.Get("Authorization"); got != "" {
				t.Errorf("PUT Authorization: got %q, want none sent to the upload URL", got)
			}
			for k, v := range fakeUploadHeaders {
				if got := put.header.Get(k); got != v {
					t.Errorf("PUT %s: got %q, want %q", k, got, v)
				}
			}
			if !bytes.Equal(put.body, data) {
				t.Errorf("PUT body: got %d bytes, want the %d of the image", len(put.body), len(data))
			}
			if got, want := string(bytes.TrimSpace(f.claims[0].body)), `{"brand_id":"10016","token":"`+fakeToken+`"}`; got != want {
				t.Errorf("claim body: got %s, want %s (brand_id a string)", got, want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	busy := withHeader(apiError(503, api.CodeServiceUnavailable, "too many uploads", ""), "Retry-After", "5")
	bare := func(status int) reply {
		return reply{status: status, body: "<html><body>" + http.StatusText(status) + "</body></html>"}
	}
	s3 := reply{status: 403, header: map[string]string{"Content-Type": "application/xml"}, body: `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`}

	cases := []struct {
		name               string
		create, put, claim []reply
		unseekable         bool
		// wantErr: nil for success, else the *Error wanted (compared on
		// Status, Code and RetryAfter).
		wantErr               *Error
		wantCreates, wantPuts int
		wantClaims            int
		wantWaits             []time.Duration // exact waits; nil: not checked
	}{
		{name: "gateway errors then success", create: []reply{bare(502), bare(503), bare(504)},
			wantCreates: 4, wantPuts: 1, wantClaims: 1},
		{name: "storage faults then success", put: []reply{withHeader(apiError(503, api.CodeStorageUnavailable, "store failed", ""), "Retry-After", "2")},
			claim:       []reply{withHeader(apiError(507, api.CodeInsufficientStorage, "disk full", ""), "Retry-After", "1")},
			wantCreates: 1, wantPuts: 2, wantClaims: 2, wantWaits: []time.Duration{2 * time.Second, time.Second}},
		{name: "503 until attempts are spent", create: []reply{busy, busy, busy, busy},
			wantErr: &Error{Status: 503, Code: api.CodeServiceUnavailable, RetryAfter: 5 * time.Second}, wantCreates: 4,
			wantWaits: []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{name: "429 honours Retry-After", create: []reply{withHeader(apiError(429, api.CodeRateLimited, "slow", ""), "Retry-After", "2")},
			wantCreates: 2, wantPuts: 1, wantClaims: 1, wantWaits: []time.Duration{2 * time.Second}},
		{name: "Retry-After over MaxDelay is not waited for", create: []reply{withHeader(apiError(429, api.CodeRateLimited, "slow", ""), "Retry-After", "120")},
			wantErr: &Error{Status: 429, Code: api.CodeRateLimited, RetryAfter: 2 * time.Minute}, wantCreates: 1, wantWaits: []time.Duration{}},
		{name: "network error on create", create: []reply{{hangup: true}}, wantCreates: 2, wantPuts: 1, wantClaims: 1},
		{name: "422 not retried", create: []reply{apiError(422, api.CodeFileTooLarge, "file_size 2500000 is over the limit of 2000000 bytes", "/file_size")},
			wantErr: &Error{Status: 422, Code: api.CodeFileTooLarge}, wantCreates: 1},
		{name: "401 not retried", create: []reply{apiError(401, api.CodeUnauthorized, "wrong password", "")},
			wantErr: &Error{Status: 401, Code: api.CodeUnauthorized}, wantCreates: 1},
		{name: "400 not retried", create: []reply{apiError(400, api.CodeInvalidJSON, "not JSON", "")},
			wantErr: &Error{Status: 400, Code: api.CodeInvalidJSON}, wantCreates: 1},
		{name: "500 not retried", create: []reply{apiError(500, api.CodeInternalError, "quote request id 1", "")},
			wantErr: &Error{Status: 500, Code: api.CodeInternalError}, wantCreates: 1},
		{name: "2xx with an errors array is a failure", create: []reply{apiError(200, api.CodeFileTooLarge, "too big", "/file_size")},
			wantErr: &Error{Status: 200, Code: api.CodeFileTooLarge}, wantCreates: 1},

		{name: "PUT 503 retried when the body rewinds", put: []reply{busy}, wantCreates: 1, wantPuts: 2, wantClaims: 1},
		{name: "PUT 503 not retried when it cannot", put: []reply{busy}, unseekable: true,
			wantErr: &Error{Status: 503, Code: api.CodeServiceUnavailable, RetryAfter: 5 * time.Second}, wantCreates: 1, wantPuts: 1},
		{name: "PUT network error not retried when the body cannot rewind", put: []reply{{hangup: true}}, unseekable: true,
			wantErr: nil, wantCreates: 1, wantPuts: 1, wantClaims: 0},
		{name: "PUT that landed, then AlreadyUploaded: claimed", put: []reply{{hangup: true}, apiError(409, api.CodeAlreadyUploaded, "already received", "")},
			wantCreates: 1, wantPuts: 2, wantClaims: 1},
		{name: "AlreadyUploaded on the first PUT is an error", put: []reply{apiError(409, api.CodeAlreadyUploaded, "already received", "")},
			wantErr: &Error{Status: 409, Code: api.CodeAlreadyUploaded}, wantCreates: 1, wantPuts: 1},
		{name: "S3 XML error", put: []reply{s3}, wantErr: &Error{Status: 403, Code: "SignatureDoesNotMatch"}, wantCreates: 1, wantPuts: 1},
		{name: "PUT 413 not retried", put: []reply{apiError(413, api.CodePayloadTooLarge, "longer", "")},
			wantErr: &Error{Status: 413, Code: api.CodePayloadTooLarge}, wantCreates: 1, wantPuts: 1},

		{name: "claim retried on 503 and network errors", claim: []reply{busy, {hangup: true}}, wantCreates: 1, wantPuts: 1, wantClaims: 3},
		{name: "claim 409 not retried", claim: []reply{apiError(409, api.CodeAlreadyClaimed, "other brand", "")},
			wantErr: &Error{Status: 409, Code: api.CodeAlreadyClaimed}, wantCreates: 1, wantPuts: 1, wantClaims: 1},
		{name: "claim 410 not retried", claim: []reply{apiError(410, api.CodeTokenExpired, "expired", "/token")},
			wantErr: &Error{Status: 410, Code: api.CodeTokenExpired}, wantCreates: 1, wantPuts: 1, wantClaims: 1},
		{name: "HTML 502s until attempts are spent", claim: []reply{bare(502), bare(502), bare(502), bare(502)},
			wantErr: &Error{Status: 502, Code: ""}, wantCreates: 1, wantPuts: 1, wantClaims: 4},
	}
	data := testJPEG(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.create, f.put, f.claim = tc.create, tc.put, tc.claim
			c, waits := newTestClient(t, f)
			var r io.Reader = bytes.NewReader(data)
			if tc.unseekable {
				r = onlyReader{r}
			}
			img, err := c.Upload(context.Background(), r, api.JPEG.MIME, int64(len(data)), "10016", nil)
			creates, puts, claims := f.counts()
			if creates != tc.wantCreates || puts != tc.wantPuts || claims != tc.wantClaims {
				t.Errorf("got %d creates, %d puts, %d claims; want %d, %d, %d", creates, puts, claims, tc.wantCreates, tc.wantPuts, tc.wantClaims)
			}
			if tc.wantWaits != nil && !slices.Equal(*waits, tc.wantWaits) {
				t.Errorf("waited %v, want %v", *waits, tc.wantWaits)
			}
			for _, w := range *waits {
				if w <= 0 || w > c.policy.MaxDelay {
					t.Errorf("waited %s, want within (0, %s]", w, c.policy.MaxDelay)
				}
			}
			switch {
			case tc.wantErr == nil && tc.wantClaims == 0:
				if err == nil {
					t.Fatalf("got %+v, want an error", img)
				}
				var e *Error
				if errors.As(err, &e) {
					t.Errorf("got *Error %v, want a network error", err)
				}
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("got error %v, want success", err)
				}
				if img.Path != fakePath {
					t.Errorf("got path %q, want %q", img.Path, fakePath)
				}
				for i, p := range f.puts {
					if !bytes.Equal(p.body, data) {
						t.Errorf("PUT %d: got %d bytes, want the image's %d", i+1, len(p.body), len(data))
					}
				}
			default:
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %v (%T), want an *Error", err, err)
				}
				if e.Status != tc.wantErr.Status || e.Code != tc.wantErr.Code || e.RetryAfter != tc.wantErr.RetryAfter {
					t.Errorf("got Status %d Code %q RetryAfter %s, want %d %q %s", e.Status, e.Code, e.RetryAfter,
						tc.wantErr.Status, tc.wantErr.Code, tc.wantErr.RetryAfter)
				}
				if e.Detail == "" {
					t.Errorf("got empty Detail in %#v", e)
				}
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	f := newFake(t)
	f.create = []reply{apiError(422, api.CodeFileTooLarge, "file_size 2500000 is over the limit of 2000000 bytes", "/file_size")}
	c, _ := newTestClient(t, f)
	_, err := c.Upload(context.Background(), bytes.NewReader(make([]byte, 10)), api.JPEG.MIME, 10, "10016", nil)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *Error", err)
	}
	want := Error{Status: 422, Code: api.CodeFileTooLarge, Title: "T FileTooLarge",
		Detail: "file_size 2500000 is over the limit of 2000000 bytes", Pointer: "/file_size"}
	if *e != want {
		t.Errorf("got %#v, want %#v", *e, want)
	}
	if got, want := err.Error(), "create upload: FileTooLarge (HTTP 422): file_size 2500000 is over the limit of 2000000 bytes"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		name string
		body string
		want *parsedError
	}{
		{"api", `{"errors":[{"code":"BrandNotFound","title":"Unknown brand","detail":"brand \"9\" does not exist","status":"422","source":{"pointer":"/brand_id"}}]}`,
			&parsedError{Code: "BrandNotFound", Title: "Unknown brand", Detail: `brand "9" does not exist`, Pointer: "/brand_id"}},
		{"guide medias", `{"errors":[{"code":"BadRequest","meta":{},"status":"400","title":"Invalid property"}]}`,
			&parsedError{Code: "BadRequest", Title: "Invalid property"}},
		{"zendesk error string", `{"error":"RecordNotFound","description":"Not found"}`,
			&parsedError{Code: "RecordNotFound", Detail: "Not found", fromLooseJSON: true}},
		{"zendesk error object", `{"error":{"title":"Forbidden","message":"You do not have access to this page."}}`,
			&parsedError{Title: "Forbidden", Detail: "You do not have access to this page.", fromLooseJSON: true}},
		{"s3", "\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>",
			&parsedError{Code: "RequestTimeTooSkewed", Detail: "The difference between the request time and the current time is too large."}},
		{"s3 without code", `<Error><Message>x</Message></Error>`, nil},
		{"html", `<html><head><title>502 Bad Gateway</title></head></html>`, nil},
		{"empty errors", `{"errors":[]}`, nil},
		{"other json", `{"upload":{}}`, nil},
		{"not json", `{oops`, nil},
		{"empty", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrorBody([]byte(tc.body))
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	got := snippet([]byte("<html>\n\t<h1>502  Bad\x00 Gateway</h1>\n" + strings.Repeat("x", 300)))
	if strings.ContainsAny(got, "\n\t\x00") || !strings.HasPrefix(got, "<html> <h1>502 Bad Gateway</h1> xxx") || !strings.HasSuffix(got, "…") {
		t.Errorf("got %q, want one line of at most 200 characters and an ellipsis", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 1 ", time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for range 100 {
			if got := p.backoff(attempt); got < ceiling/2 || got > ceiling {
				t.Fatalf("backoff(%d): got %s, want within [%s, %s]", attempt, got, ceiling/2, ceiling)
			}
		}
	}
}

func TestProgress(t *testing.T) {
	data := bytes.Repeat(testJPEG(t), 40)
	type call struct{ sent, total int64 }
	for _, retried := range []bool{false, true} {
		t.Run(fmt.Sprint("retried=", retried), func(t *testing.T) {
			f := newFake(t)
			if retried {
				f.put = []reply{{status: 502}}
			}
			c, _ := newTestClient(t, f)
			var calls []call
			_, err := c.Upload(context.Background(), bytes.NewReader(data), api.JPEG.MIME, int64(len(data)), "10016", func(sent, total int64) {
				calls = append(calls, call{sent, total})
			})
			if err != nil {
				t.Fatal(err)
			}
			size := int64(len(data))
			starts := 0
			for i, cl := range calls {
				if cl.total != size {
					t.Fatalf("call %d: got total %d, want %d", i, cl.total, size)
				}
				if cl.sent == 0 {
					starts++
				} else if cl.sent <= calls[i-1].sent || cl.sent > size {
					t.Fatalf("call %d: got sent %d after %d, want it to grow up to %d", i, cl.sent, calls[i-1].sent, size)
				}
			}
			wantStarts := 1
			if retried {
				wantStarts = 2
			}
			if starts != wantStarts {
				t.Errorf("got %d calls with sent 0, want %d (one per attempt)", starts, wantStarts)
			}
			if last := calls[len(calls)-1]; last != (call{size, size}) {
				t.Errorf("last call: got %+v, want {%d %d}", last, size, size)
			}
		})
	}
}

func TestContextCancelEndsTheWait(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.hooks(func(int) { cancel() }, nil)
	f.create = []reply{withHeader(apiError(503, api.CodeServiceUnavailable, "busy", ""), "Retry-After", "20")}
	c, err := New(f.api.URL, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Upload(ctx, bytes.NewReader([]byte("x")), api.JPEG.MIME, 1, "10016", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s, want the cancel to end the 20 s wait", d)
	}
	if creates, _, _ := f.counts(); creates != 1 {
		t.Errorf("got %d creates, want 1", creates)
	}
}

func TestContextDeadlineDuringPut(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	defer close(release)
	f.hooks(nil, func() { <-release })
	c, _ := newTestClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Upload(ctx, bytes.NewReader([]byte("abc")), api.JPEG.MIME, 3, "10016", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func TestLocalBodyErrorsAreNotRetried(t *testing.T) {
	cases := []struct {
		name    string
		r       io.Reader
		size    int64
		wantMsg string
	}{
		{"read error", &failingReader{n: 100}, 1000, "disk on fire"},
		{"shorter than declared", bytes.NewReader(make([]byte, 10)), 20, "ended after 10 of the 20 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := newTestClient(t, f)
			_, err := c.Upload(context.Background(), tc.r, api.JPEG.MIME, tc.size, "10016", nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v, want an error saying %q", err, tc.wantMsg)
			}
			if _, puts, claims := f.counts(); puts > 1 || claims != 0 {
				t.Errorf("got %d puts and %d claims, want at most 1 and 0", puts, claims)
			}
		})
	}
}

func TestUploadArguments(t *testing.T) {
	cases := []struct {
		name        string
		r           io.Reader
		contentType string
		size        int64
		brand       string
		wantCode    api.Code
	}{
		{"no brand", bytes.NewReader([]byte("x")), api.JPEG.MIME, 1, "", api.CodeInvalidProperty},
		{"no content type", bytes.NewReader([]byte("x")), "", 1, "10016", api.CodeUnsupportedContentType},
		{"zero size", bytes.NewReader(nil), api.JPEG.MIME, 0, "10016", api.CodeInvalidFileSize},
		{"unknown size, not seekable", onlyReader{strings.NewReader("x")}, api.JPEG.MIME, -1, "10016", api.CodeInvalidFileSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := newTestClient(t, f)
			_, err := c.Upload(context.Background(), tc.r, tc.contentType, tc.size, tc.brand, nil)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || e.Status != 0 {
				t.Fatalf("got %v, want a local *Error (Status 0) with code %s", err, tc.wantCode)
			}
			if creates, _, _ := f.counts(); creates != 0 {
				t.Errorf("got %d requests, want none", creates)
			}
		})
	}

	t.Run("unknown size, seekable", func(t *testing.T) {
		f := newFake(t)
		c, _ := newTestClient(t, f)
		r := bytes.NewReader([]byte("0123456789"))
		r.Seek(4, io.SeekStart)
		if _, err := c.Upload(context.Background(), r, api.JPEG.MIME, -1, "10016", nil); err != nil {
			t.Fatal(err)
		}
		if got := string(f.puts[0].body); got != "456789" {
			t.Errorf("PUT body: got %q, want the rest of the reader %q", got, "456789")
		}
	})
}

func TestDetectContentType(t *testing.T) {
	var pngBuf, gifBuf bytes.Buffer
	if err := png.Encode(&pngBuf, testPicture()); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gifBuf, testPicture(), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		head     []byte
		want     string
		wantCode api.Code
	}{
		{"jpeg", testJPEG(t), api.JPEG.MIME, ""},
		{"png", pngBuf.Bytes(), api.PNG.MIME, ""},
		{"gif", gifBuf.Bytes(), api.GIF.MIME, ""},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), api.WebP.MIME, ""},
		{"bmp", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), "", api.CodeUnsupportedContentType},
		{"text", []byte("hello, world\n"), "", api.CodeUnsupportedContentType},
		{"pdf", []byte("%PDF-1.7\n"), "", api.CodeUnsupportedContentType},
		{"empty", nil, "", api.CodeInvalidFileSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectContentType(tc.head)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			var e *Error
			if tc.wantCode == "" && err != nil || tc.wantCode != "" && (!errors.As(err, &e) || e.Code != tc.wantCode) {
				t.Errorf("got error %v, want code %q", err, tc.wantCode)
			}
		})
	}
}

func TestUploadFile(t *testing.T) {
	dir := t.TempDir()
	data := testJPEG(t)
	photo := filepath.Join(dir, "photo.bin") // the name does not matter, the bytes do
	notImage := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(photo, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notImage, []byte("just text, named like a picture"), 0o644); err != nil {
		t.Fatal(err)
	}

	f := newFake(t)
	f.put = []reply{{status: 503}} // a file rewinds, so the PUT is retried
	c, _ := newTestClient(t, f)
	if _, err := c.UploadFile(context.Background(), photo, "10016", nil); err != nil {
		t.Fatal(err)
	}
	var create map[string]any
	json.Unmarshal(f.creates[0].body, &create)
	if create["content_type"] != api.JPEG.MIME || create["file_size"] != float64(len(data)) {
		t.Errorf("create body: got %s, want image/jpeg of %d bytes", f.creates[0].body, len(data))
	}
	if len(f.puts) != 2 || !bytes.Equal(f.puts[1].body, data) {
		t.Errorf("got %d PUTs, want 2, the second with the whole file", len(f.puts))
	}

	_, err := c.UploadFile(context.Background(), notImage, "10016", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != api.CodeUnsupportedContentType || e.Status != 0 || !strings.Contains(e.Detail, "JPEG, PNG, GIF and WebP") {
		t.Errorf("not an image: got %v, want a local UnsupportedContentType naming the accepted types", err)
	}
	if _, err := c.UploadFile(context.Background(), filepath.Join(dir, "missing.png"), "10016", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
	if _, err := c.UploadFile(context.Background(), dir, "10016", nil); err == nil {
		t.Errorf("directory: got no error")
	}
	if creates, _, _ := f.counts(); creates != 1 {
		t.Errorf("got %d creates, want 1 (only the image)", creates)
	}
}

func TestNew(t *testing.T) {
	cases := []struct {
		name     string
		base     string
		opts     []Option
		wantErr  bool
		wantBase string
	}{
		{"plain", "http://127.0.0.1:8080", nil, false, "http://127.0.0.1:8080"},
		{"trailing slash", "https://acme.zendesk.com/", nil, false, "https://acme.zendesk.com"},
		{"path prefix", "https://example.com/images/", nil, false, "https://example.com/images"},
		{"no scheme", "127.0.0.1:8080", nil, true, ""},
		{"ftp", "ftp://example.com", nil, true, ""},
		{"query", "https://example.com/?a=b", nil, true, ""},
		{"user in URL", "https://ann:pw@example.com", nil, true, ""},
		{"two credentials", "https://example.com", []Option{WithBearer("a"), WithAPIToken("ann@example.com", "b")}, true, ""},
		{"email with colon", "https://example.com", []Option{WithPassword("ann:x@example.com", "pw")}, true, ""},
		{"empty token", "https://example.com", []Option{WithAPIToken("ann@example.com", "")}, true, ""},
		{"bearer with space", "https://example.com", []Option{WithBearer("a b")}, true, ""},
		{"nil http client", "https://example.com", []Option{WithHTTPClient(nil)}, true, ""},
		{"zero retry policy", "https://example.com", []Option{WithRetry(RetryPolicy{})}, true, ""},
		{"no retry", "https://example.com", []Option{WithRetry(NoRetry())}, false, "https://example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.base, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if err == nil && c.BaseURL() != tc.wantBase {
				t.Errorf("BaseURL: got %q, want %q", c.BaseURL(), tc.wantBase)
			}
		})
	}
}

func TestCustomHTTPClient(t *testing.T) {
	f := newFake(t)
	var seen []string
	var mu sync.Mutex
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := New(f.api.URL, WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(context.Background(), bytes.NewReader([]byte("abc")), api.JPEG.MIME, 3, "10016", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /api/v2/guide/user_images/uploads", "PUT /bucket/" + fakeToken, "POST /api/v2/guide/user_images"}
	if !slices.Equal(seen, want) {
		t.Errorf("got requests %q, want %q", seen, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPutErrorHidesTheUploadURL: a PUT that fails in transport is reported
// without the upload URL's signature or token, which the standard client
// would quote in full.
func TestPutErrorHidesTheUploadURL(t *testing.T) {
	f := newFake(t)
	storeHost := strings.TrimPrefix(f.store.URL, "http://")
	f.store.Close()
	c, _ := newTestClient(t, f)
	_, err := c.Upload(context.Background(), bytes.NewReader([]byte("abc")), api.JPEG.MIME, 3, "10016", nil)
	if err == nil {
		t.Fatal("upload to a closed store: got nil error")
	}
	if msg := err.Error(); strings.Contains(msg, "X-Amz-Signature") || strings.Contains(msg, fakeToken) || !strings.Contains(msg, storeHost) {
		t.Errorf("error: got %q, want the store's host %s and neither the signature nor the token", msg, storeHost)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("error %v: want a *url.Error still", err)
	}
}
