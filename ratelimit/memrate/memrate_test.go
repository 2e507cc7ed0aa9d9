package memrate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"userimages/internal/testkit/testclock"
	"userimages/ratelimit"
	"userimages/ratelimit/ratelimittest"
)

func newLimiter(t *testing.T, maxKeys int) (*Limiter, *testclock.Clock) {
	t.Helper()
	c := testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	l, err := New(Config{MaxKeys: maxKeys, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) (ratelimittest.Limiter, func(time.Duration)) {
		l, c := newLimiter(t, 0)
		return l, c.Advance
	})
}

func TestMemoryIsBounded(t *testing.T) {
	limit := ratelimit.PerPeriod(3, time.Minute)
	tests := []struct {
		name    string
		maxKeys int
		keys    int
		every   time.Duration // between requests
		want    int           // keys kept at the end
	}{
		{name: "busy keys up to the cap are kept", maxKeys: 100, keys: 100, every: time.Millisecond, want: 100},
		{name: "past the cap the oldest go", maxKeys: 100, keys: 250, every: time.Millisecond, want: 100},
		{name: "keys whose budget is full again go", maxKeys: 100, keys: 50, every: time.Minute, want: 1},
		{name: "only full budgets go", maxKeys: 100, keys: 50, every: 10 * time.Second, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newLimiter(t, tt.maxKeys)
			for i := range tt.keys {
				if _, err := l.Allow(context.Background(), fmt.Sprint("key", i), limit); err != nil {
					t.Fatal(err)
				}
				c.Advance(tt.every)
			}
			if got := l.len(); got != tt.want {
				t.Errorf("keys kept: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEvictedKeyStartsFull(t *testing.T) {
	l, _ := newLimiter(t, 2)
	limit := ratelimit.PerPeriod(1, time.Hour)
	ctx := context.Background()
	for _, step := range []struct {
		key  string
		want bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"a", true}} {
		if got, _ := l.Allow(ctx, step.key, limit); got.Allowed != step.want {
			t.Fatalf("Allow(%s): got allowed %v, want %v", step.key, got.Allowed, step.want)
		}
	}
}

func TestReconfiguredLimitApplies(t *testing.T) {
	l, _ := newLimiter(t, 0)
	ctx := context.Background()
	l.Allow(ctx, "a", ratelimit.PerPeriod(10, time.Hour))
	// 9 were left; lowering the burst to 2 leaves 2.
	lower := ratelimit.PerPeriod(2, time.Hour)
	if got, _ := l.Allow(ctx, "a", lower); !got.Allowed || got.Remaining != 1 {
		t.Fatalf("after lowering the burst to 2: got %+v, want allowed with 1 remaining", got)
	}
	l.Allow(ctx, "a", lower)
	if got, _ := l.Allow(ctx, "a", lower); got.Allowed {
		t.Fatalf("over the lowered burst: got %+v, want refused", got)
	}
}

func TestNewRejectsNegativeMaxKeys(t *testing.T) {
	if _, err := New(Config{MaxKeys: -1}); err == nil {
		t.Fatal("New(MaxKeys -1): got nil error, want one")
	}
}
