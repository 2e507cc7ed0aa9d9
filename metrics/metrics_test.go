package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMethodLabel(t *testing.T) {
	for _, tc := range []struct{ method, want string }{
		{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"}, {"PATCH", "PATCH"},
		{"DELETE", "DELETE"}, {"CONNECT", "CONNECT"}, {"OPTIONS", "OPTIONS"}, {"TRACE", "TRACE"},
		{"get", "other"}, {"PROPFIND", "other"}, {strings.Repeat("X", 1500), "other"}, {"", "other"},
	} {
		if got := methodLabel(tc.method); got != tc.want {
			t.Errorf("methodLabel(%.20q): got %q, want %q", tc.method, got, tc.want)
		}
	}
}

// TestInventedMethodsBounded: requests with ever new invented methods add
// nothing to the exposition once "other" has been seen.
func TestInventedMethodsBounded(t *testing.T) {
	m := New()
	m.Request("", "FIRST", 404, time.Millisecond)
	before := exposition(t, m)
	for i := range 40 {
		m.Request("", strings.Repeat(string(rune('A'+i%26)), 1500)+"x", 404, time.Millisecond)
	}
	after := exposition(t, m)
	if strings.Contains(after, "AAAA") {
		t.Errorf("an invented method is a label value:\n%.2000s", after)
	}
	// The Go collector's values change size a little between scrapes.
	if d := len(after) - len(before); d > 1024 {
		t.Errorf("exposition grew by %d bytes (from %d to %d), want < 1 KiB", d, len(before), len(after))
	}
	if !strings.Contains(after, `userimages_http_requests_total{method="other",route="unmatched",status="404"} 41`) {
		t.Errorf("want the 41 requests counted under method=\"other\":\n%s", grep(after, "userimages_http_requests_total"))
	}
}

func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grep(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
