package httpapi_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"userimages/httpapi"
	"userimages/ratelimit"

	"github.com/userimages/userimages/client/api"
)

// TestReportImage: anyone may report a published image, once per client
// counted; bad reasons and missing images are refused with their codes;
// reports are rate-limited per client.
func TestReportImage(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) {
		c.Limiter = memLimiter(t)
		c.RateLimits = httpapi.RateLimits{Report: ratelimit.PerPeriod(7, time.Minute)}
	})
	_, path := e.claimed("image/jpeg", testJPEG(t, 24, 24))
	file := strings.TrimPrefix(path, "/hc/user_images/")
	id, _, _ := strings.Cut(file, ".")
	report := func(target, body string) response {
		return e.postJSON("/api/v2/guide/user_images/"+target+"/reports", body)
	}
	for _, tt := range []struct {
		name, target, body string
		status             int
		code               api.Code // of a refusal
	}{
		{"spam, by file name", file, `{"reason":"spam","detail":"watches"}`, 202, ""},
		{"again, by id", id, `{"reason":"other"}`, 202, ""},
		{"unknown reason", id, `{"reason":"boring"}`, 422, api.CodeInvalidProperty},
		{"no reason", id, `{"detail":"x"}`, 422, api.CodeInvalidProperty},
		{"detail not a string", id, `{"reason":"spam","detail":5}`, 422, api.CodeInvalidProperty},
		{"not JSON", id, `reason=spam`, 400, api.CodeInvalidJSON},
		{"no such image", "AAAAAAAAAAAAAAAAAAAAAA", `{"reason":"spam"}`, 404, api.CodeNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := report(tt.target, tt.body)
			if res.status != tt.status {
				t.Fatalf("status: got %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.code != "" {
				checkErrorBody(t, res, tt.status, tt.code)
			}
		})
	}
	queue, err := e.svc.Reports.ReportQueue(t.Context(), 10)
	if err != nil || len(queue) != 1 || queue[0].Image.ID != id || queue[0].Reports != 1 {
		t.Fatalf("ReportQueue: got %+v, %v, want the image with one report (one per client)", queue, err)
	}
	if rs, err := e.svc.Reports.Reports(t.Context(), id); err != nil || len(rs) != 1 || rs[0].Reason != api.ReportSpam || rs[0].Detail != "watches" {
		t.Errorf("Reports: got %+v, %v, want the first report", rs, err)
	}
	// Seven were allowed a minute; the eighth is refused.
	if res := report(id, `{"reason":"spam"}`); res.status != http.StatusTooManyRequests {
		t.Errorf("report over the limit: got %d %s, want 429", res.status, res.body)
	} else {
		checkErrorBody(t, res, http.StatusTooManyRequests, api.CodeRateLimited)
	}
}

// TestReportCap: of 30 reports from 30 addresses within minutes, 20 are
// counted and the others accepted (202, as a counted one) but not
// counted; an hour later, reports count again.
func TestReportCap(t *testing.T) {
	e := newEnv(t, withTrustedLoopback)
	_, path := e.claimed("image/jpeg", testJPEG(t, 24, 24))
	id, _, _ := strings.Cut(strings.TrimPrefix(path, "/hc/user_images/"), ".")
	report := func(from string) {
		req := e.request(http.MethodPost, "/api/v2/guide/user_images/"+id+"/reports", strings.NewReader(`{"reason":"spam"}`))
		req.Header.Set("X-Forwarded-For", from)
		if res := e.do(req); res.status != http.StatusAccepted {
			t.Fatalf("report from %s: got %d %s, want 202", from, res.status, res.body)
		}
	}
	count := func() int {
		q, err := e.svc.Reports.ReportQueue(t.Context(), 10)
		if err != nil || len(q) != 1 {
			t.Fatalf("ReportQueue: got %+v, %v; want the image", q, err)
		}
		return q[0].Reports
	}
	for i := range 30 {
		report(fmt.Sprintf("198.51.100.%d", i+1))
		e.Advance(time.Second)
	}
	if got := count(); got != 20 {
		t.Errorf("after 30 reports in 30 s: %d counted, want 20 (the cap per hour)", got)
	}
	e.Advance(time.Hour)
	report("203.0.113.1")
	if got := count(); got != 21 {
		t.Errorf("a report an hour later: %d counted, want 21", got)
	}
}

// withTrustedLoopback believes X-Forwarded-For from loopback, so a test
// can send from many client addresses.
func withTrustedLoopback(c *httpapi.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}
