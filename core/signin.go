package core

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Defaults of the sign-in throttle (Config.SignIn…).
const (
	// DefaultSignInFreeFailures failed sign-ins in a row cost nothing: a
	// person mistyping a password is never kept waiting.
	DefaultSignInFreeFailures = 5
	// DefaultSignInDelay is the wait after the first failure past the free
	// ones; each further failure doubles it.
	DefaultSignInDelay = time.Second
	// DefaultSignInMaxDelay caps the wait: a guesser gets one try per
	// account (and per address) every 5 minutes, and an attacker failing on
	// purpose keeps an account waiting at most this long after their last
	// try, never locked out for good (`user unlock` ends the wait at once).
	DefaultSignInMaxDelay = 5 * time.Minute
	// signInAuditEvery spaces the audit records of an account's failed
	// sign-ins: at most one per account per hour, with the count.
	signInAuditEvery = time.Hour
	// signInForgetAfter: a key whose last failure is older starts again
	// from 0, so that an address shared by many people (an office's NAT)
	// is not kept waiting for mistypes spread over days. Longer than any
	// wait: a guesser at the longest wait is never forgotten.
	signInForgetAfter = time.Hour
)

// ActionSignInFailures is the audit record of an account's failed
// sign-ins (ModerationEvent): Target is the account's email, Reason says
// how many failed since the last such record.
const ActionSignInFailures = "signin_failures"

// SignInFailures is what is kept of the failed sign-ins of one key (an
// account or a client address): how many in a row since the last success
// or unlock, the last one's time, and how many of them are audited.
type SignInFailures struct {
	Failures  int
	Last      time.Time
	Audited   int
	AuditedAt time.Time
}

// SignInFailureStore keeps failed sign-ins, shared by every instance of a
// deployment (the metadata store), so that a guesser spread over
// instances is throttled as one and `user unlock` reaches them all.
//
// Contract (storetest.TestSignInFailures):
//   - SignInFailures returns the records of the keys that have one.
//   - RecordSignInFailure adds one failure at `at` to key's record
//     (creating it), in one transaction with audit's event when audit,
//     called with the updated record, returns one; the record's Audited
//     then becomes its Failures and AuditedAt the event's At.
//   - ClearSignInFailures deletes the records of keys; missing ones are
//     no error.
//   - Errors are store faults.
type SignInFailureStore interface {
	SignInFailures(ctx context.Context, keys ...string) (map[string]SignInFailures, error)
	RecordSignInFailure(ctx context.Context, key string, at time.Time, audit func(SignInFailures) *ModerationEvent) (SignInFailures, error)
	ClearSignInFailures(ctx context.Context, keys ...string) error
}

// signInThrottle makes failed sign-ins cost growing waits, per account and
// per client address, checked before any password hash is: after
// free failures in a row, delay, doubling with each further one up to
// maxDelay. A success clears the account's count (not the address's, so
// that signing in to one's own account does not buy more guesses at
// others').
type signInThrottle struct {
	store           SignInFailureStore
	free            int
	delay, maxDelay time.Duration
	now             func() time.Time
}

// wait is how long after its last failure a key with n failures waits.
func (t *signInThrottle) wait(n int) time.Duration {
	if n < t.free {
		return 0
	}
	d := t.delay
	for i := t.free; i < n && d < t.maxDelay; i++ {
		d *= 2
	}
	return min(d, t.maxDelay)
}

// accountKey and addressKey are the keys of an account (its email) and of
// a client address (per /64 for IPv6, as rate limits are).
func accountKey(email string) string { return "account:" + strings.ToLower(email) }

func addressKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		if a = a.Unmap(); a.Is6() {
			p, _ := a.Prefix(64)
			return "address:" + p.String()
		}
		return "address:" + a.String()
	}
	return "address:" + addr
}

// admit refuses, with api.CodeRateLimited and how long to wait, a sign-in
// whose account or address is waiting; it reports whether the account has
// failures to clear on success.
func (t *signInThrottle) admit(ctx context.Context, account, addr string) (accountFailed bool, err error) {
	keys := []string{addressKey(addr)}
	if account != "" {
		keys = append(keys, account)
	}
	recs, err := t.store.SignInFailures(ctx, keys...)
	if err != nil {
		return false, fmt.Errorf("sign-in failures: %w", err)
	}
	var wait time.Duration
	var stale []string
	for _, k := range keys {
		r, ok := recs[k]
		if ok && t.now().Sub(r.Last) > max(signInForgetAfter, 2*t.maxDelay) {
			stale = append(stale, k)
			delete(recs, k)
			continue
		}
		wait = max(wait, r.Last.Add(t.wait(r.Failures)).Sub(t.now()))
	}
	if len(stale) > 0 {
		if err := t.store.ClearSignInFailures(ctx, stale...); err != nil {
			return false, fmt.Errorf("forget old sign-in failures: %w", err)
		}
	}
	if wait > 0 {
		return false, &Error{Code: api.CodeRateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed sign-ins for this account or from this address; retry in %d s", int(math.Ceil(wait.Seconds())))}
	}
	return recs[account].Failures > 0, nil
}

// failed records a failed sign-in of account (if known) from addr, and
// audits the account's failures at most once per signInAuditEvery.
func (t *signInThrottle) failed(ctx context.Context, account, addr string) error {
	now := t.now()
	if _, err := t.store.RecordSignInFailure(ctx, addressKey(addr), now, nil); err != nil {
		return err
	}
	if account == "" {
		return nil
	}
	email := strings.TrimPrefix(account, "account:")
	_, err := t.store.RecordSignInFailure(ctx, account, now, func(r SignInFailures) *ModerationEvent {
		if r.Failures < t.free || now.Sub(r.AuditedAt) < signInAuditEvery {
			return nil
		}
		reason := fmt.Sprintf("%d failed sign-ins in a row", r.Failures)
		if !r.AuditedAt.IsZero() {
			reason = fmt.Sprintf("%d more failed sign-ins since %s", r.Failures-r.Audited, r.AuditedAt.UTC().Format(time.RFC3339))
		}
		return &ModerationEvent{Action: ActionSignInFailures, Target: email, By: "sign-in throttle", Reason: reason, At: now}
	})
	return err
}
