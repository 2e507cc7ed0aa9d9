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
// URLs carry signatures).
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
	type line struct {
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Method    string `json:"method"`
		Path      string `json:"path"`
		Status    int    `json:"status"`
	}
	var found []line
	deadline := time.Now().Add(10 * time.Second)
	for len(found) == 0 && time.Now().Before(deadline) {
		found = nil
		f, err := os.Open(srv.logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "X-Amz-Signature") {
				t.Errorf("a log line holds a signature: %s", sc.Text())
			}
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "request" && l.RequestID == id {
				found = append(found, l)
			}
		}
		f.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if len(found) != 1 {
		t.Fatalf("log lines for request %s: got %d, want 1", id, len(found))
	}
	if l := found[0]; l.Method != "PUT" || l.Path != "/uploads/"+up.Upload.Token || l.Status != 200 {
		t.Errorf("log line: got %+v, want the PUT of %s with status 200", l, up.Upload.Token)
	}
}
