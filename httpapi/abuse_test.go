package httpapi_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"userimages/httpapi"
	"userimages/ratelimit"
	"userimages/ratelimit/memrate"
	"userimages/ratelimit/ratelimittest"
	"userimages/ratelimit/redisrate"

	"github.com/userimages/userimages/client/api"
)

// loopbackIsProxy trusts the test client as a reverse proxy, so that tests
// choose client addresses with X-Forwarded-For.
var loopbackIsProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func withLimits(l httpapi.Limiter, limits httpapi.RateLimits) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		c.Limiter, c.RateLimits, c.TrustedProxies = l, limits, loopbackIsProxy
	}
}

func memLimiter(t *testing.T) *memrate.Limiter {
	t.Helper()
	l, err := memrate.New(memrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func redisLimiter(t *testing.T, prefix string) *redisrate.Limiter {
	t.Helper()
	client, _ := ratelimittest.Redis(t)
	l, err := redisrate.New(client, redisrate.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// checkRateHeaders checks the headers of a response on a rate-limited route.
func checkRateHeaders(t *testing.T, what string, res response, limit, remaining int) {
	t.Helper()
	if got := res.header.Get("X-Rate-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("%s: X-Rate-Limit: got %q, want %d", what, got, limit)
	}
	if got := res.header.Get("X-Rate-Limit-Remaining"); got != strconv.Itoa(remaining) {
		t.Errorf("%s: X-Rate-Limit-Remaining: got %q, want %d", what, got, remaining)
	}
	if res.status != http.StatusTooManyRequests {
		return
	}
	if n, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After: got %q, want whole seconds >= 1", what, res.header.Get("Retry-After"))
	}
	if got := errorCode(res); got != api.CodeRateLimited {
		t.Errorf("%s: error code: got %q, want RateLimited", what, got)
	}
}

func errorCode(res response) api.Code {
	var body struct {
		Errors []struct{ Code api.Code } `json:"errors"`
	}
	if json.Unmarshal(res.body, &body) != nil || len(body.Errors) == 0 {
		return ""
	}
	return body.Errors[0].Code
}

// TestRateLimitSharedAcrossInstances runs two servers sharing one Redis, as
// two instances behind a load balancer: requests spread over both spend one
// budget.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	_, prefix := ratelimittest.Redis(t)
	limits := httpapi.RateLimits{Create: ratelimit.PerPeriod(4, time.Hour), Claim: ratelimit.PerPeriod(4, time.Hour)}
	e := newEnv(t, withLimits(redisLimiter(t, prefix), limits))
	other := e.newServer(withLimits(redisLimiter(t, prefix), limits))
	servers := []string{e.srv.URL, other.URL}
	body := `{"content_type":"image/jpeg","file_size":100}`

	wantStatus := []int{200, 200, 200, 200, 429, 429}
	wantRemaining := []int{3, 2, 1, 0, 0, 0}
	for i := range wantStatus {
		req, _ := http.NewRequest(http.MethodPost, servers[i%2]+createPath, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", "198.51.100.1")
		res := e.do(req)
		what := fmt.Sprintf("create %d on instance %d", i+1, i%2+1)
		if res.status != wantStatus[i] {
			t.Fatalf("%s: got %d %s, want %d", what, res.status, res.body, wantStatus[i])
		}
		checkRateHeaders(t, what, res, 4, wantRemaining[i])
	}
	// Another client, and another route of the same client, have their own.
	for _, c := range []struct {
		path, body, from string
		status           int
	}{
		{createPath, body, "198.51.100.2", 200},
		{claimPath, e.claimBody("01GC9JEN2X052BAKW905PH9C36", "10016"), "198.51.100.1", 404},
	} {
		req, _ := http.NewRequest(http.MethodPost, other.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("X-Forwarded-For", c.from)
		if res := e.do(req); res.status != c.status {
			t.Errorf("POST %s from %s: got %d %s, want %d", c.path, c.from, res.status, res.body, c.status)
		} else {
			checkRateHeaders(t, "POST "+c.path+" from "+c.from, res, 4, 3)
		}
	}
}

// TestRateLimits checks whose budget each request spends, on the in-process
// limiter.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	two := ratelimit.PerPeriod(2, time.Hour)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	type call struct {
		route  string // create, put or claim
		from   string // client address
		auth   string // Authorization header
		status int
		// remaining is the X-Rate-Limit-Remaining wanted; -1: no rate-limit
		// headers at all.
		remaining int
	}
	anon := func(route, from string, status, remaining int) call { return call{route, from, "", status, remaining} }
	as := func(auth, route, from string, status, remaining int) call {
		return call{route, from, auth, status, remaining}
	}
	// Each password check costs a bcrypt; failures of unknown users and
	// malformed headers cost little, so they stand in for wrong passwords.
	ann := basic("ann@example.com", "correct horse")
	wrong, malformed := basic("nobody@example.com", "wrong"), "Basic !!!"
	tests := []struct {
		name   string
		limits httpapi.RateLimits
		calls  []call
	}{
		{"anonymous callers are limited per address", httpapi.RateLimits{Create: two}, []call{
			anon("create", "192.0.2.1", 200, 1), anon("create", "192.0.2.1", 200, 0), anon("create", "192.0.2.1", 429, 0),
			anon("create", "192.0.2.2", 200, 1),
		}},
		{"IPv6 callers are limited per /64", httpapi.RateLimits{Create: two}, []call{
			anon("create", "2001:db8::1", 200, 1), anon("create", "2001:db8::2", 200, 0), anon("create", "2001:db8::ffff", 429, 0),
			anon("create", "2001:db8:0:1::1", 200, 1),
		}},
		{"authenticated users are limited per user, not per address", httpapi.RateLimits{Create: two}, []call{
			anon("create", "192.0.2.1", 200, 1), anon("create", "192.0.2.1", 200, 0), anon("create", "192.0.2.1", 429, 0),
			as(ann, "create", "192.0.2.1", 200, 1), as(ann, "create", "192.0.2.9", 200, 0), as(ann, "create", "192.0.2.1", 429, 0),
			anon("create", "192.0.2.1", 429, 0), anon("create", "192.0.2.9", 200, 1),
		}},
		{"failed credentials spend the address's budget", httpapi.RateLimits{Create: two}, []call{
			as(wrong, "create", "192.0.2.1", 401, 1), as(malformed, "create", "192.0.2.1", 401, 0), as(wrong, "create", "192.0.2.1", 429, 0),
			anon("create", "192.0.2.1", 429, 0), anon("create", "192.0.2.2", 200, 1),
		}},
		{"routes have their own budgets", httpapi.RateLimits{Create: two, Put: two, Claim: two}, []call{
			anon("create", "192.0.2.1", 200, 1), anon("create", "192.0.2.1", 200, 0), anon("create", "192.0.2.1", 429, 0),
			anon("put", "192.0.2.1", 200, 1), anon("put", "192.0.2.1", 200, 0), anon("put", "192.0.2.1", 429, 0),
			anon("claim", "192.0.2.1", 404, 1), anon("claim", "192.0.2.1", 404, 0), anon("claim", "192.0.2.1", 429, 0),
		}},
		{"errors spend the budget and carry the headers", httpapi.RateLimits{Claim: two}, []call{
			anon("bad claim", "192.0.2.1", 400, 1), anon("claim", "192.0.2.1", 404, 0), anon("bad claim", "192.0.2.1", 429, 0),
		}},
		{"a zero limit leaves its route unlimited", httpapi.RateLimits{Create: two}, []call{
			anon("claim", "192.0.2.1", 404, -1), anon("claim", "192.0.2.1", 404, -1), anon("claim", "192.0.2.1", 404, -1),
			anon("put", "192.0.2.1", 200, -1), anon("put", "192.0.2.1", 200, -1), anon("put", "192.0.2.1", 200, -1),
		}},
	}
	img := testJPEG(t, 20, 20)
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A server of its own, with a limiter of its own, on the
			// shared service and stores.
			srv := e.newServer(withLimits(memLimiter(t), tt.limits))
			// An unlimited instance issues the uploads the PUTs use.
			issuer := e.newServer(func(c *httpapi.Config) { c.PublicURL = srv.URL })
			for i, c := range tt.calls {
				var req *http.Request
				switch c.route {
				case "create":
					req, _ = http.NewRequest(http.MethodPost, srv.URL+createPath, strings.NewReader(`{"content_type":"image/jpeg","file_size":100}`))
				case "put":
					u := createOn(t, e, issuer.URL, len(img))
					req = e.putRequest(u, img)
				case "claim":
					req, _ = http.NewRequest(http.MethodPost, srv.URL+claimPath, strings.NewReader(e.claimBody("01GC9JEN2X052BAKW905PH9C36", "10016")))
				case "bad claim":
					req, _ = http.NewRequest(http.MethodPost, srv.URL+claimPath, strings.NewReader(`{`))
				}
				req.Header.Set("X-Forwarded-For", c.from)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				res := e.do(req)
				what := fmt.Sprintf("call %d (%s from %s)", i+1, c.route, c.from)
				if res.status != c.status {
					t.Fatalf("%s: got %d %s, want %d", what, res.status, res.body, c.status)
				}
				if c.remaining < 0 {
					if h := res.header.Get("X-Rate-Limit"); h != "" {
						t.Errorf("%s: X-Rate-Limit: got %q, want none", what, h)
					}
					continue
				}
				checkRateHeaders(t, what, res, 2, c.remaining)
			}
		})
	}
}

// createOn runs step 1 on the server at base, with the given header
// name-value pairs.
func createOn(t *testing.T, e *env, base string, size int, header ...string) upload {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+createPath, strings.NewReader(`{"content_type":"image/jpeg","file_size":`+strconv.Itoa(size)+`}`))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res := e.do(req)
	var got struct{ Upload upload }
	if res.status != http.StatusOK || json.Unmarshal(res.body, &got) != nil {
		t.Fatalf("create upload: got %d %s, want 200", res.status, res.body)
	}
	return got.Upload
}

// TestRateLimiterDownFailsOpen: when Redis is unreachable, requests go
// through, without rate-limit headers.
func TestRateLimiterDownFailsOpen(t *testing.T) {
	t.Parallel()
	client, err := redisrate.NewClient("redis://127.0.0.1:1/0") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	l, err := redisrate.New(client, redisrate.Config{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withLimits(l, httpapi.RateLimits{Create: ratelimit.PerPeriod(1, time.Hour)}))
	for i := range 3 {
		res := e.postJSON(createPath, `{"content_type":"image/jpeg","file_size":100}`)
		if res.status != http.StatusOK || res.header.Get("X-Rate-Limit") != "" {
			t.Fatalf("create %d: got %d with X-Rate-Limit %q, want 200 without", i+1, res.status, res.header.Get("X-Rate-Limit"))
		}
	}
}

// TestTrustedProxyClientAddress checks the address recorded with images and
// charged by rate limits, with and without a trusted proxy in front.
func TestTrustedProxyClientAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{name: "no trusted proxy: the peer, whatever the header says", xff: "203.0.113.9", want: "127.0.0.1"},
		{name: "through a trusted proxy: the forwarded client", trusted: loopbackIsProxy, xff: "203.0.113.9", want: "203.0.113.9"},
		{name: "forged hops are ignored", trusted: loopbackIsProxy, xff: "10.6.6.6, 203.0.113.9", want: "203.0.113.9"},
		{name: "through two trusted proxies", trusted: append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, loopbackIsProxy...), xff: "203.0.113.9, 10.0.0.5", want: "203.0.113.9"},
	}
	img := testJPEG(t, 20, 20)
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := e.newServer(func(c *httpapi.Config) {
				c.TrustedProxies, c.Limiter = tt.trusted, memLimiter(t)
				c.RateLimits = httpapi.RateLimits{Create: ratelimit.PerPeriod(1, time.Hour)}
			})
			u := createOn(t, e, srv.URL, len(img), "X-Forwarded-For", tt.xff)
			e.put(u, img)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+claimPath, strings.NewReader(e.claimBody(u.Token, "10016")))
			if res := e.do(req); res.status != 201 {
				t.Fatalf("claim: got %d %s", res.status, res.body)
			}
			st, err := e.db.TokenStatus(context.Background(), u.Token)
			if err != nil || st.Image == nil {
				t.Fatalf("TokenStatus: got %+v, %v, want the image", st, err)
			}
			if got := st.Image.Uploader.ClientAddr; got != tt.want {
				t.Errorf("recorded client address: got %q, want %q", got, tt.want)
			}
			// The budget spent is the recorded address's: a request from
			// the peer itself (no header) has its own, unless it is the one.
			req, _ = http.NewRequest(http.MethodPost, srv.URL+createPath, strings.NewReader(`{"content_type":"image/jpeg","file_size":100}`))
			res := e.do(req)
			if want := map[bool]int{true: 429, false: 200}[tt.want == "127.0.0.1"]; res.status != want {
				t.Errorf("create from the peer itself: got %d, want %d", res.status, want)
			}
		})
	}
}

// rawPut sends the request line and headers of u's PUT of size bytes on a
// new connection, with Expect: 100-continue when expect, and returns the
// connection to send the body on and a reader of its answers.
func rawPut(t *testing.T, u upload, size int, expect bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	pu, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var head strings.Builder
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", pu.RequestURI(), pu.Host, size)
	for k, v := range u.Headers {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if expect {
		head.WriteString("Expect: 100-continue\r\n")
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// readResponse reads one final response from br.
func readResponse(t *testing.T, br *bufio.Reader) response {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, body}
}

// TestSlowUploadIsCutOff trickles a PUT body slower than the upload timeout
// allows: the server answers 400 before the body is complete and stores
// nothing, so the same URL still takes a proper PUT afterwards.
func TestSlowUploadIsCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) { c.UploadTimeout = 300 * time.Millisecond })
	img := testJPEG(t, 40, 30)
	u := e.create("image/jpeg", len(img))
	before := e.snapshot()

	conn, br := rawPut(t, u, len(img), false)
	answered := make(chan response, 1)
	go func() {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			answered <- response{}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		answered <- response{res.StatusCode, res.Header, body}
	}()
	// Ten bytes at once, then one every 20ms: 40 KB/s would be plenty, this
	// is 50 B/s. Give up waiting long after the timeout.
	giveUp := time.After(10 * time.Second)
	sent := 0
	var res response
trickle:
	for {
		select {
		case res = <-answered:
			break trickle
		case <-giveUp:
			t.Fatalf("no answer after sending %d of %d bytes slowly", sent, len(img))
		case <-time.After(20 * time.Millisecond):
			n := 1
			if sent == 0 {
				n = 10
			}
			if sent+n < len(img) { // never complete the body
				if _, err := conn.Write(img[sent : sent+n]); err == nil {
					sent += n
				}
			}
		}
	}
	if res.status != http.StatusBadRequest || errorCode(res) != api.CodeIncompleteBody || !strings.Contains(string(res.body), "did not arrive within") {
		t.Fatalf("slow PUT: got %d %s, want 400 IncompleteBody saying it did not arrive in time", res.status, res.body)
	}
	if got := e.snapshot(); got != before {
		t.Errorf("store after the slow PUT: got %s, want unchanged %s", got, before)
	}
	e.put(u, img) // nothing was stored under the token
}

// TestConcurrentUploadCap fills the cap with PUTs whose bodies are held
// back; the next PUT gets 503 without its body being asked for, and once
// the held ones finish, PUTs go through again.
func TestConcurrentUploadCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) { c.MaxConcurrentUploads = 2; c.UploadTimeout = 15 * time.Second })
	img := testJPEG(t, 20, 20)
	var held []net.Conn
	var heldReaders []*bufio.Reader
	for range 2 {
		conn, br := rawPut(t, e.create("image/jpeg", len(img)), len(img), true)
		// The server asks for the body only once the upload has a slot.
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("held PUT: got %q, %v; want 100 Continue", line, err)
		}
		if blank, _ := br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("held PUT: got %q after 100 Continue, want an empty line", blank)
		}
		held, heldReaders = append(held, conn), append(heldReaders, br)
	}

	over := e.create("image/jpeg", len(img))
	_, br := rawPut(t, over, len(img), true)
	res := readResponse(t, br) // a 100 Continue here would fail the checks
	if res.status != http.StatusServiceUnavailable || errorCode(res) != api.CodeServiceUnavailable {
		t.Fatalf("PUT over the cap: got %d %s, want 503 ServiceUnavailable", res.status, res.body)
	}
	if n, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("PUT over the cap: Retry-After: got %q, want whole seconds >= 1", res.header.Get("Retry-After"))
	}

	for i, conn := range held {
		if _, err := conn.Write(img); err != nil {
			t.Fatal(err)
		}
		if res := readResponse(t, heldReaders[i]); res.status != http.StatusOK {
			t.Fatalf("held PUT %d: got %d %s, want 200", i+1, res.status, res.body)
		}
	}
	e.put(over, img)
}

func TestPutChecksTokenSyntaxFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.create("image/jpeg", 100)
	for _, path := range []string{"/uploads/" + strings.ToLower(u.Token), "/uploads/x", "/uploads/" + u.Token + "0"} {
		res := e.do(e.request(http.MethodPut, path+"?"+strings.SplitN(u.URL, "?", 2)[1], strings.NewReader("x")))
		if res.status != http.StatusForbidden || errorCode(res) != api.CodeSignatureMismatch {
			t.Errorf("PUT %s: got %d %s, want 403 SignatureMismatch", path, res.status, res.body)
		}
	}
}

func TestConfigIsValidated(t *testing.T) {
	tests := []struct {
		name string
		cfg  httpapi.Config
	}{
		{"negative upload cap", httpapi.Config{MaxConcurrentUploads: -1}},
		{"negative upload timeout", httpapi.Config{UploadTimeout: -time.Second}},
		{"rate limit without a period", httpapi.Config{RateLimits: httpapi.RateLimits{Put: ratelimit.Limit{Rate: 5, Burst: 5}}}},
		{"rate limit without a burst", httpapi.Config{RateLimits: httpapi.RateLimits{Claim: ratelimit.Limit{Rate: 5, Period: time.Minute}}}},
		{"invalid trusted proxy", httpapi.Config{TrustedProxies: []netip.Prefix{{}}}},
		{"CORS credentials with any origin", httpapi.Config{CORSCredentials: true}},
		{"CORS credentials with * listed", httpapi.Config{CORSCredentials: true, CORSOrigins: []string{"https://a.example", "*"}}},
	}
	for _, tt := range tests {
		if _, err := httpapi.New(httpapi.Services{}, tt.cfg, nil, nil); err == nil {
			t.Errorf("New(%s): got nil error, want one", tt.name)
		}
	}
	if _, err := httpapi.New(httpapi.Services{}, httpapi.Config{RateLimits: httpapi.DefaultRateLimits()}, nil, nil); err != nil {
		t.Errorf("New(defaults): got %v, want nil", err)
	}
}
