package e2e

import (
	"net/http"
	"strings"
	"testing"
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
