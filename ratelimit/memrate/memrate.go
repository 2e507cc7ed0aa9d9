// Package memrate is the in-process rate limiter: a token bucket per key
// (golang.org/x/time/rate), in a map bounded by evicting idle keys. Its
// budgets are per process; use redisrate to share them between instances.
package memrate

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"userimages/internal/config"
	"userimages/ratelimit"
)

// DefaultMaxKeys is Config.MaxKeys's default: about 20 MB at most.
const DefaultMaxKeys = 100_000

// Config configures a Limiter.
type Config struct {
	// MaxKeys caps the keys kept. Keys whose budget is full again are
	// dropped first, which changes nothing; past the cap the least recently
	// used key is dropped, which gives it a fresh budget. Default
	// DefaultMaxKeys.
	MaxKeys int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter implements httpapi.Limiter in process memory.
type Limiter struct {
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*list.Element // of *bucket
	lru  *list.List               // most recently used first
}

type bucket struct {
	key   string
	limit ratelimit.Limit
	lim   *rate.Limiter
}

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config).
type ConfigField string

// ConfigMaxKeys is Config.MaxKeys.
const ConfigMaxKeys ConfigField = "MaxKeys"

// Validate checks c; it is pure, and the error is a *config.FieldError.
func (c Config) Validate() error {
	if c.MaxKeys < 0 {
		return config.Invalid(ConfigMaxKeys, c.MaxKeys, "must be positive")
	}
	return nil
}

// New returns a Limiter, or an error if cfg is invalid.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("memrate: %w", err)
	}
	cfg.MaxKeys = cmp.Or(cfg.MaxKeys, DefaultMaxKeys)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{maxKeys: cfg.MaxKeys, now: cfg.Now, keys: map[string]*list.Element{}, lru: list.New()}, nil
}

// Allow implements httpapi.Limiter. It never fails.
func (l *Limiter) Allow(_ context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, limit, now)
	if b.AllowN(now, 1) {
		return ratelimit.Result{Allowed: true, Remaining: int(b.TokensAt(now))}, nil
	}
	// Less than one request's share is left; one fits when it has refilled.
	wait := time.Duration((1 - b.TokensAt(now)) * float64(limit.Interval()))
	return ratelimit.Result{RetryAfter: min(max(wait, 1), limit.Interval())}, nil
}

// bucket returns key's bucket under limit, creating it full, and first
// drops keys that are idle or over the cap. l.mu is held.
func (l *Limiter) bucket(key string, limit ratelimit.Limit, now time.Time) *rate.Limiter {
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		b := e.Value.(*bucket)
		if b.limit != limit { // reconfigured
			b.limit = limit
			b.lim.SetLimitAt(now, rate.Every(limit.Interval()))
			b.lim.SetBurstAt(now, limit.Burst)
		}
		return b.lim
	}
	// From the least recently used end, drop keys whose budget is full
	// again (they are as good as new), and any while there are too many.
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		old := e.Value.(*bucket)
		if len(l.keys) < l.maxKeys && old.lim.TokensAt(now) < float64(old.limit.Burst) {
			break
		}
		l.lru.Remove(e)
		delete(l.keys, old.key)
	}
	b := &bucket{key: key, limit: limit, lim: rate.NewLimiter(rate.Every(limit.Interval()), limit.Burst)}
	l.keys[key] = l.lru.PushFront(b)
	return b.lim
}

// len is the number of keys kept, for tests.
func (l *Limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
