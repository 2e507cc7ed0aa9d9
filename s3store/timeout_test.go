package s3store

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/internal/testkit/stallproxy"
	"userimages/s3store/s3test"
)

// TestStalledStore: behind a network that stops forwarding, every call
// fails within the store's timeout (retries included) as a deadline
// passed, and works again once the network does.
func TestStalledStore(t *testing.T) {
	const timeout, slack = 300 * time.Millisecond, 700 * time.Millisecond
	srv := s3test.Start(t)
	srv.Setenv(t)
	cfg, err := ParseURL(srv.URL(srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	endpoint, _ := url.Parse(cfg.Endpoint)
	proxy := stallproxy.Start(t, endpoint.Host)
	endpoint.Host = proxy.Addr()
	cfg.Endpoint, cfg.Timeout = endpoint.String(), timeout
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "images/a", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	opened, err := s.Open(ctx, "images/a")
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()

	proxy.Stall()
	for _, c := range []struct {
		what string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, "images/b", strings.NewReader("b")) }},
		{"Open", func() error { _, err := s.Open(ctx, "images/a"); return err }},
		{"Read", func() error { _, err := io.ReadAll(opened); return err }},
		{"Delete", func() error { return s.Delete(ctx, "images/a") }},
		{"List", func() error { return s.List(ctx, "images/", func(string, time.Time) error { return nil }) }},
	} {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, core.ErrUnavailable) {
			t.Errorf("%s on a stalled store: got error %v, want one matching context.DeadlineExceeded marked core.ErrUnavailable", c.what, err)
		}
		if took > timeout+slack {
			t.Errorf("%s on a stalled store: took %s, want at most %s", c.what, took, timeout+slack)
		}
	}

	// What was held is delivered late: the Delete above may yet happen,
	// as it may on a real network. Only new calls are checked.
	proxy.Resume()
	if err := s.Put(ctx, "images/c", strings.NewReader("c")); err != nil {
		t.Errorf("Put after the network came back: got error %v, want nil", err)
	}
	b, err := s.Open(ctx, "images/c")
	if err != nil {
		t.Fatalf("Open after the network came back: got error %v, want nil", err)
	}
	defer b.Close()
	if got, err := io.ReadAll(b); err != nil || string(got) != "c" {
		t.Errorf("read after the network came back: got %q, %v, want \"c\"", got, err)
	}
}

func TestConfigTimeout(t *testing.T) {
	for _, tt := range []struct {
		timeout time.Duration
		ok      bool
	}{{0, true}, {10 * time.Millisecond, true}, {time.Millisecond, false}, {-time.Second, false}} {
		if err := (Config{Bucket: "b", Timeout: tt.timeout}).Validate(); (err == nil) != tt.ok {
			t.Errorf("Config{Timeout: %s}.Validate(): got %v, want ok %v", tt.timeout, err, tt.ok)
		}
	}
}
