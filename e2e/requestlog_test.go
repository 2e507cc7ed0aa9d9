package e2e

import (
	"bufio"
	"encoding/json"
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
