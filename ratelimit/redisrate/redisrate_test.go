package redisrate_test

import (
	"context"
	"testing"
	"time"

	"userimages/ratelimit"
	"userimages/ratelimit/ratelimittest"
	"userimages/ratelimit/redisrate"
)

// TestConformance runs the suite against the real Redis; Redis keeps its
// own clock, so the suite's waits are real.
func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) (ratelimittest.Limiter, func(time.Duration)) {
		client, prefix := ratelimittest.Redis(t)
		l, err := redisrate.New(client, redisrate.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return l, time.Sleep
	})
}

func TestInstancesShareBudgets(t *testing.T) {
	c1, prefix := ratelimittest.Redis(t)
	c2, _ := ratelimittest.Redis(t)
	l1, _ := redisrate.New(c1, redisrate.Config{Prefix: prefix})
	l2, _ := redisrate.New(c2, redisrate.Config{Prefix: prefix})
	other, _ := redisrate.New(c2, redisrate.Config{Prefix: prefix + "other:"})
	limit := ratelimit.PerPeriod(4, time.Hour)
	ctx := context.Background()
	for i, step := range []struct {
		l    *redisrate.Limiter
		want bool
	}{{l1, true}, {l2, true}, {l1, true}, {l2, true}, {l1, false}, {l2, false}, {other, true}} {
		got, err := step.l.Allow(ctx, "k", limit)
		if err != nil || got.Allowed != step.want {
			t.Fatalf("request %d: got %+v, %v; want allowed %v", i, got, err, step.want)
		}
	}
}

func TestUnreachableRedisFails(t *testing.T) {
	client, err := redisrate.NewClient("redis://127.0.0.1:1/0") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	l, _ := redisrate.New(client, redisrate.Config{Timeout: 200 * time.Millisecond})
	got, err := l.Allow(context.Background(), "k", ratelimit.PerPeriod(1, time.Minute))
	if err == nil || got != (ratelimit.Result{}) {
		t.Fatalf("Allow: got %+v, %v; want the zero Result and an error", got, err)
	}
}

func TestConfig(t *testing.T) {
	client, _ := redisrate.NewClient("redis://127.0.0.1:1/0")
	defer client.Close()
	tests := []struct {
		name    string
		cfg     redisrate.Config
		wantErr bool
	}{
		{name: "defaults", cfg: redisrate.Config{}},
		{name: "negative timeout", cfg: redisrate.Config{Timeout: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		if _, err := redisrate.New(client, tt.cfg); (err != nil) != tt.wantErr {
			t.Errorf("%s: got error %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
	if _, err := redisrate.NewClient("http://127.0.0.1:6379"); err == nil {
		t.Error("NewClient(http URL): got nil error, want one")
	}
}
