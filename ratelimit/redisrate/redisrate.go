// Package redisrate is the rate limiter shared by every instance that uses
// the same Redis: GCRA (github.com/go-redis/redis_rate), evaluated
// atomically in Redis on Redis's clock, one key per budget, expiring when
// the budget is full again.
package redisrate

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"userimages/internal/config"
	"userimages/ratelimit"
)

// Defaults of Config.
const (
	DefaultPrefix  = "userimages:"
	DefaultTimeout = 500 * time.Millisecond
)

// Config configures a Limiter.
type Config struct {
	// Prefix starts every key this Limiter writes (after redis_rate's own
	// "rate:"), so that deployments and tests sharing a Redis stay apart.
	// Default DefaultPrefix.
	Prefix string
	// Timeout bounds each decision; past it Allow fails, so a slow or
	// unreachable Redis delays requests by at most this. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config).
type ConfigField string

// ConfigTimeout is Config.Timeout.
const ConfigTimeout ConfigField = "Timeout"

// Validate checks c; it is pure, and the error is a *config.FieldError.
func (c Config) Validate() error {
	if c.Timeout < 0 {
		return config.Invalid(ConfigTimeout, c.Timeout, "must be positive")
	}
	return nil
}

// Limiter implements httpapi.Limiter on Redis.
type Limiter struct {
	rl      *redis_rate.Limiter
	prefix  string
	timeout time.Duration
}

// New returns a Limiter on client, or an error if cfg is invalid. client
// should have ContextTimeoutEnabled (NewClient sets it) so that Timeout
// holds on the network.
func New(client redis.UniversalClient, cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redisrate: %w", err)
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if client == nil {
		return nil, fmt.Errorf("redisrate: no client")
	}
	return &Limiter{rl: redis_rate.NewLimiter(client), prefix: cfg.Prefix, timeout: cfg.Timeout}, nil
}

// NewClient returns a client for a redis:// or rediss:// URL
// (redis://[user:password@]host:port/db), which respects context deadlines
// and, unless the URL sets them, dials within 1s and reads and writes
// within 500ms: a rate limiter must not hold requests up for long.
func NewClient(rawURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	u, _ := url.Parse(rawURL) // ParseURL accepted it
	q := u.Query()
	if !q.Has("dial_timeout") {
		opts.DialTimeout = time.Second
	}
	if !q.Has("read_timeout") {
		opts.ReadTimeout = DefaultTimeout
	}
	if !q.Has("write_timeout") {
		opts.WriteTimeout = DefaultTimeout
	}
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

// Allow implements httpapi.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := l.rl.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: limit.Rate, Burst: limit.Burst, Period: limit.Period})
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if res.Allowed == 0 {
		return ratelimit.Result{RetryAfter: min(max(res.RetryAfter, 1), limit.Interval())}, nil
	}
	return ratelimit.Result{Allowed: true, Remaining: max(res.Remaining, 0)}, nil
}
