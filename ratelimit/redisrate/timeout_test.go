package redisrate_test

import (
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"userimages/internal/testkit/stallproxy"
	"userimages/ratelimit"
	"userimages/ratelimit/ratelimittest"
	"userimages/ratelimit/redisrate"
)

// TestStalledRedis: behind a network that stops forwarding, every
// decision fails within Config.Timeout (16 at once included), so that the
// HTTP layer fails open in time; decisions work again once the network
// does.
func TestStalledRedis(t *testing.T) {
	const timeout, slack = 200 * time.Millisecond, 500 * time.Millisecond
	_, prefix := ratelimittest.Redis(t) // skips without a test Redis; its keys are deleted after t
	u, err := url.Parse(os.Getenv("USERIMAGES_TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := stallproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	client, err := redisrate.NewClient(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	l, err := redisrate.New(client, redisrate.Config{Prefix: prefix, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	limit := ratelimit.PerPeriod(1000, time.Hour)
	if _, err := l.Allow(t.Context(), "k", limit); err != nil {
		t.Fatalf("Allow: got error %v, want nil", err)
	}
	proxy.Stall()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			start := time.Now()
			_, err := l.Allow(t.Context(), "k", limit)
			if took := time.Since(start); err == nil || took > timeout+slack {
				t.Errorf("Allow on a stalled Redis: got error %v after %s, want an error within %s", err, took, timeout+slack)
			}
		})
	}
	wg.Wait()
	proxy.Resume()
	for range 20 { // connections broken off are dropped as they are found
		if _, err = l.Allow(t.Context(), "k", limit); err == nil {
			return
		}
	}
	t.Errorf("Allow after the network came back: got error %v, want nil", err)
}
