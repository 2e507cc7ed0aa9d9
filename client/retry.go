package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// RetryPolicy says how often and how long to retry a request that failed
// in a way that may pass: a network error, 429 Too Many Requests, 502, 503
// or 504. Other answers, every other 4xx included, are never retried.
//
// Which steps are retried: creating an upload always (an upload that goes
// unused is swept by the server); the PUT of the bytes only when they can be
// read again (see Upload); the claim always (claiming a token again for the
// same brand returns the same image).
//
// Between attempts the client waits an exponential backoff with jitter,
// from BaseDelay doubling up to MaxDelay, or the server's Retry-After when
// it sent one. A Retry-After over MaxDelay ends the retries: the error is
// returned at once, its RetryAfter telling when to try again. The context
// ends the waiting too.
type RetryPolicy struct {
	// MaxAttempts is how many times one request is sent at most, the first
	// time included; 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt.
	BaseDelay time.Duration
	// MaxDelay caps any one wait, backoff or Retry-After.
	MaxDelay time.Duration
}

// DefaultRetryPolicy is 4 attempts, backing off from 500 ms, waiting at most
// 30 s at a time.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second}
}

// NoRetry sends every request once.
func NoRetry() RetryPolicy {
	return RetryPolicy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("RetryPolicy.MaxAttempts %d: must be at least 1", p.MaxAttempts)
	case p.BaseDelay <= 0:
		return fmt.Errorf("RetryPolicy.BaseDelay %s: must be positive", p.BaseDelay)
	case p.MaxDelay < p.BaseDelay:
		return fmt.Errorf("RetryPolicy.MaxDelay %s: must be at least BaseDelay %s", p.MaxDelay, p.BaseDelay)
	}
	return nil
}

// backoff is the wait after the failed attempt-th attempt: BaseDelay ×
// 2^(attempt-1), capped at MaxDelay, of which a random half is taken off.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.MaxDelay
	if shift := attempt - 1; shift < 32 && p.BaseDelay<<shift < p.MaxDelay {
		d = p.BaseDelay << shift
	}
	return d/2 + rand.N(d/2+1)
}

// RetriedStatuses are the HTTP statuses after which a request is retried
// (under a RetryPolicy), as well as after network errors. 507: full on
// this instance; space may come back, or another instance may answer.
func RetriedStatuses() []int {
	return []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		http.StatusInsufficientStorage}
}

func retryableStatus(status int) bool { return slices.Contains(RetriedStatuses(), status) }

// retry calls try (with attempt = 1, 2, …) until it succeeds, fails in a
// way it says not to retry, the policy's attempts are spent, or ctx ends.
func (c *Client) retry(ctx context.Context, try func(attempt int) (retry bool, err error)) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		again, err := try(attempt)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return fmt.Errorf("%w (the attempt had failed with: %v)", ctxErr, err)
		}
		if !again || attempt >= c.policy.MaxAttempts {
			return err
		}
		wait := c.policy.backoff(attempt)
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			if e.RetryAfter > c.policy.MaxDelay {
				return err
			}
			wait = e.RetryAfter
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (while waiting to retry after: %v)", serr, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
