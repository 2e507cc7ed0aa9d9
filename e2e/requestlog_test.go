package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRequestLog: every request gets one structured log line carrying the
// request id the client saw in X-Request-Id, and no query string (upload
// URLs carry signatures). After a full flow (create, PUT, claim, GET) no
// line holds the upload's token, which would let a reader of the log
// claim it: the PUT's path shows only the token's first 10 characters, its
// time.
func TestRequestLog(t *testing.T) {
	srv := startServer(t, t.TempDir())
	img := encodeJPEG(t, newRand(t), 16, 16)
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, up.Upload.URL, strings.NewReader(string(img)))
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get("X-Request-Id")
	if len(id) != 16 {
		t.Fatalf("X-Request-Id: got %q, want 16 hex digits", id)
	}
	got, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(http.DefaultClient, srv.base, got.UserImage.Path); err != nil {
		t.Fatal(err)
	}
	// A second claim (answered 201 again) and a PUT to a token's URL with
	// a bad signature are logged too.
	if _, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID); err != nil {
		t.Fatal(err)
	}
	if res, _, err := do(http.DefaultClient, http.MethodPut, srv.base+"/uploads/"+up.Upload.Token+"?X-Amz-Signature=00", "", nil, img); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT with a bad signature: got %v %v, want 403", res, err)
	}
	type line struct {
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Method    string `json:"method"`
		Path      string `json:"path"`
		Status    int    `json:"status"`
	}
	var found []line
	requests := 0
	deadline := time.Now().Add(10 * time.Second)
	for (len(found) == 0 || requests < 6) && time.Now().Before(deadline) {
		found, requests = nil, 0
		f, err := os.Open(srv.logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "X-Amz-Signature") {
				t.Errorf("a log line holds a signature: %s", sc.Text())
			}
			// The token's first 10 characters are its time; the rest is
			// its secret.
			if strings.Contains(sc.Text(), up.Upload.Token[10:]) {
				t.Errorf("a log line holds the upload token %s: %s", up.Upload.Token, sc.Text())
			}
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "request" {
				requests++
				if l.RequestID == id {
					found = append(found, l)
				}
			}
		}
		f.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if requests < 6 {
		t.Errorf("request log lines: got %d, want the 6 requests made", requests)
	}
	if len(found) != 1 {
		t.Fatalf("log lines for request %s: got %d, want 1", id, len(found))
	}
	if l := found[0]; l.Method != "PUT" || l.Path != "/uploads/"+up.Upload.Token[:10]+"…" || l.Status != 200 {
		t.Errorf("log line: got %+v, want the PUT of %s… with status 200", l, up.Upload.Token[:10])
	}
}

// TestRequestLogOnSIGTERM: the request log is buffered (flushed every
// 100 ms), yet a server stopped by SIGTERM has written a line for every
// request, those answered just before and the one in flight at the
// signal, which it finishes and logs after "shutting down".
func TestRequestLogOnSIGTERM(t *testing.T) {
	// One upload body at once from a client: a second PUT's 429 says the
	// first is in the server's hands.
	srv := startServer(t, t.TempDir(), "--max-concurrent-uploads-per-client", "1")
	const n = 40
	ids := map[string]bool{}
	for range n {
		res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/hc/user_images/01KBRS0000000000000000000A.png", "", nil, nil)
		if err != nil || res.StatusCode != http.StatusNotFound {
			t.Fatalf("GET of no image: %v %v, want 404", res, err)
		}
		ids[res.Header.Get("X-Request-Id")] = true
	}
	// A PUT whose body is half sent when the server is told to stop.
	img := encodeJPEG(t, newRand(t), 64, 64)
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	// Its own connection: an idle one from before is closed at SIGTERM.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPut, up.Upload.URL, pr)
	req.ContentLength = int64(len(img))
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	done := make(chan *http.Response, 1)
	go func() {
		res, err := c.Do(req)
		if err != nil {
			t.Errorf("the PUT in flight: %v", err)
		}
		done <- res
	}()
	if _, err := pw.Write(img[:len(img)/2]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		other, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := do(http.DefaultClient, http.MethodPut, other.Upload.URL, "", other.Upload.Headers, img)
		if err != nil {
			t.Fatal(err)
		}
		ids[res.Header.Get("X-Request-Id")] = true
		if res.StatusCode == http.StatusTooManyRequests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second PUT: %s, want 429 while the first is received", res.Status)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	if !srv.waitForLog("shutting down: finishing in-flight requests") {
		t.Fatal("the server did not log that it is shutting down")
	}
	if _, err := pw.Write(img[len(img)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if res := <-done; res == nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the PUT in flight at SIGTERM: %v, want 200", res)
	} else {
		res.Body.Close()
		ids[res.Header.Get("X-Request-Id")] = true
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	total := len(ids)
	b, err := os.ReadFile(srv.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" {
			delete(ids, l.RequestID)
		}
	}
	if len(ids) > 0 {
		t.Errorf("after SIGTERM, %d of the %d requests have no line in the log: %v", len(ids), total, ids)
	}
}
