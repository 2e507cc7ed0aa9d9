// Package ratelimittest is the conformance suite of httpapi.Limiter: every
// limiter adapter runs Run against its real backing store.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"userimages/ratelimit"
	"userimages/ratelimit/redisrate"
)

// Factory returns a fresh Limiter whose keys no other test sees, and a
// function that lets d pass on the limiter's clock (moving a fake clock, or
// sleeping when the limiter keeps real time).
type Factory func(t *testing.T) (l Limiter, wait func(d time.Duration))

// Limiter is what the suite checks: httpapi.Limiter's one method, declared
// here so that the suite does not import the HTTP layer (Go's interfaces
// are satisfied structurally; the contract is httpapi.Limiter's).
type Limiter interface {
	Allow(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error)
}

// A long period keeps budgets from refilling while a case runs, whatever
// the clock does. The refill cases use a short one and wait; their steps
// have most of a second of slack either way, so a slow machine passes too.
var (
	threePerHour = ratelimit.PerPeriod(3, time.Hour)
	fivePerHour  = ratelimit.PerPeriod(5, time.Hour)
	burstOfTwo   = ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 2}
	fastRefill   = ratelimit.PerPeriod(2, 2*time.Second) // one request per second
)

// step is one Allow call and what it must answer. retry, when set, is
// checked as 0 < RetryAfter <= Interval.
type step struct {
	key       string
	limit     ratelimit.Limit
	wait      time.Duration // before the call
	allowed   bool
	remaining int
	retry     bool
}

// Run checks the contract of httpapi.Limiter.
func Run(t *testing.T, newLimiter Factory) {
	for _, tt := range cases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, wait := newLimiter(t)
			for i, s := range tt.steps {
				s.check(t, i, l, wait)
			}
		})
	}
	t.Run("concurrent requests share one budget exactly", func(t *testing.T) {
		l, _ := newLimiter(t)
		sharedBudget(t, l)
	})
}

// testCase is a sequence of steps on a fresh limiter.
type testCase struct {
	name  string
	steps []step
}

// cases are the sequences Run checks.
func cases() []testCase {
	allow := func(key string, limit ratelimit.Limit, remaining int) step {
		return step{key: key, limit: limit, allowed: true, remaining: remaining}
	}
	deny := func(key string, limit ratelimit.Limit) step {
		return step{key: key, limit: limit, retry: true}
	}
	after := func(d time.Duration, s step) step { s.wait = d; return s }

	return []testCase{
		{"a new key has the whole burst", []step{allow("a", threePerHour, 2)}},
		{"the burst is spent, then refused", []step{
			allow("a", threePerHour, 2), allow("a", threePerHour, 1), allow("a", threePerHour, 0),
			deny("a", threePerHour),
		}},
		{"a refused request takes nothing", []step{
			allow("a", threePerHour, 2), allow("a", threePerHour, 1), allow("a", threePerHour, 0),
			deny("a", threePerHour), deny("a", threePerHour), deny("a", threePerHour),
		}},
		{"keys are independent", []step{
			allow("a", threePerHour, 2), allow("a", threePerHour, 1), allow("a", threePerHour, 0),
			deny("a", threePerHour),
			allow("b", threePerHour, 2),
			deny("a", threePerHour),
		}},
		{"limits are independent of each other per key", []step{
			allow("a", threePerHour, 2), allow("b", fivePerHour, 4), allow("b", fivePerHour, 3),
		}},
		{"burst larger than rate", []step{
			allow("a", burstOfTwo, 1), allow("a", burstOfTwo, 0), deny("a", burstOfTwo),
		}},
		{"keys may be any text", []step{
			allow("create:a:2001:db8::/64", threePerHour, 2), allow("create:a:2001:db8::/64", threePerHour, 1),
			allow("claim:u:42 ü/\x00*?[", threePerHour, 2),
		}},
		{"the budget refills at the rate", []step{
			allow("a", fastRefill, 1), allow("a", fastRefill, 0), deny("a", fastRefill),
			after(1100*time.Millisecond, allow("a", fastRefill, 0)),
		}},
		{"a refill never exceeds the burst", []step{
			allow("a", fastRefill, 1),
			after(1200*time.Millisecond, allow("a", fastRefill, 1)),
			allow("a", fastRefill, 0), deny("a", fastRefill),
		}},
	}
}

// check makes the step's call, the i-th of its case, on l, waiting first
// with wait, and fails t unless it answers as the step says.
func (s step) check(t *testing.T, i int, l Limiter, wait func(time.Duration)) {
	t.Helper()
	if s.wait > 0 {
		wait(s.wait)
	}
	got, err := l.Allow(context.Background(), s.key, s.limit)
	if err != nil {
		t.Fatalf("step %d: Allow(%q, %s): %v", i, s.key, s.limit, err)
	}
	if got.Allowed != s.allowed || got.Remaining != s.remaining {
		t.Fatalf("step %d: Allow(%q, %s): got allowed %v remaining %d, want %v %d",
			i, s.key, s.limit, got.Allowed, got.Remaining, s.allowed, s.remaining)
	}
	switch {
	case s.retry && (got.RetryAfter <= 0 || got.RetryAfter > s.limit.Interval()):
		t.Fatalf("step %d: RetryAfter: got %s, want in (0, %s]", i, got.RetryAfter, s.limit.Interval())
	case !s.retry && got.RetryAfter != 0:
		t.Fatalf("step %d: RetryAfter of an allowed request: got %s, want 0", i, got.RetryAfter)
	}
}

// sharedBudget checks that concurrent requests for one key on l share one
// budget exactly: each allowed one takes one unit, each remaining count
// is answered once.
func sharedBudget(t *testing.T, l Limiter) {
	const workers, each = 8, 10
	limit := ratelimit.PerPeriod(25, time.Hour)
	var mu sync.Mutex
	allowed, remaining := 0, map[int]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				res, err := l.Allow(context.Background(), "shared", limit)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if res.Allowed {
					allowed++
					remaining[res.Remaining]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != limit.Burst {
		t.Errorf("allowed: got %d of %d requests, want %d", allowed, workers*each, limit.Burst)
	}
	for r := range limit.Burst {
		if remaining[r] != 1 {
			t.Errorf("remaining %d: got it %d times, want once (all: %v)", r, remaining[r], remaining)
			break
		}
	}
}

// Redis returns a client of the test Redis at USERIMAGES_TEST_REDIS_URL
// (scripts/test.sh sets it) and a key prefix no other test run uses; the
// prefix's keys are deleted when t ends. Without that Redis, t is skipped
// saying why, except under CI (CI set), where the tests must run.
func Redis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") != "" {
		unavailable = t.Fatalf
	}
	url := os.Getenv("USERIMAGES_TEST_REDIS_URL")
	if url == "" {
		unavailable("no test Redis: set USERIMAGES_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0), as scripts/test.sh does")
		return nil, ""
	}
	client, err := redisrate.NewClient(url)
	if err != nil {
		t.Fatalf("USERIMAGES_TEST_REDIS_URL %q: %v", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		unavailable("no Redis answers at USERIMAGES_TEST_REDIS_URL %s: %v", url, err)
		return nil, ""
	}
	var b [8]byte
	rand.Read(b[:])
	prefix := "userimages-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, "*"+prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return client, prefix
}
