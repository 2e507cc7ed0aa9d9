package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// TestSignInThrottle: after the 5 free failures an account waits 1 s,
// then 2 s, 4 s, … at most 10 s (refused with RateLimited and the wait,
// right password or not, before any hash); a wait passed lets one more
// try through; a success clears the account's count; Unlock ends a wait;
// another address is refused while the account waits, and the address
// waits for failures at any account; the failures are audited once per
// hour with their count.
func TestSignInThrottle(t *testing.T) {
	ctx := t.Context()
	svc, c := newSessionService(t, func(cfg *core.Config) { cfg.SignInMaxDelay = 10 * time.Second })
	signIn := func(password, from string) (time.Duration, error) {
		_, err := svc.Sessions.SignIn(ctx, "ann@example.com", password, from)
		var e *core.Error
		if errors.As(err, &e) && e.Code == api.CodeRateLimited {
			return e.RetryAfter, err
		}
		return 0, err
	}
	for i := range 5 {
		if _, err := signIn("wrong", "192.0.2.1"); core.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("free failure %d: got %v, want Unauthorized", i+1, err)
		}
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		wait, err := signIn("correct horse", "198.51.100."+want.String()[:1])
		if core.ErrorCode(err) != api.CodeRateLimited || wait != want {
			t.Fatalf("right password while waiting: got %v (wait %s), want RateLimited, wait %s", err, wait, want)
		}
		c.Advance(want)
		if _, err := signIn("wrong", "192.0.2.2"); core.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("after the wait of %s: got %v, want another try (Unauthorized)", want, err)
		}
	}
	events, err := svc.Moderation.ModerationEvents(ctx, "ann@example.com", 10)
	if err != nil || len(events) != 1 || events[0].Action != core.ActionSignInFailures || events[0].Reason != "5 failed sign-ins in a row" {
		t.Errorf("audit after 11 failures in a minute: got %+v, %v; want one record of the 5 that began the wait", events, err)
	}
	if err := svc.Accounts.Unlock(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn("correct horse", "203.0.113.9"); err != nil {
		t.Fatalf("right password after Unlock: got %v, want a session", err)
	}
	// The address 192.0.2.1 failed 5 times: its next failure (at another
	// account) makes it wait; the account's count was cleared by success.
	c.Advance(30 * time.Minute)
	if _, err := svc.Sessions.SignIn(ctx, "nobody@example.com", "x", "192.0.2.1"); core.ErrorCode(err) != api.CodeUnauthorized {
		t.Fatalf("address's 6th failure: got %v, want Unauthorized", err)
	}
	if wait, err := signIn("correct horse", "192.0.2.1"); core.ErrorCode(err) != api.CodeRateLimited || wait != 2*time.Second {
		t.Errorf("from the waiting address: got %v (wait %s), want RateLimited, 2s", err, wait)
	}
	// After the success, the count starts again: a record when it reaches
	// the free failures, and the next at most an hour later, counting what
	// came since.
	for range 5 {
		signIn("wrong", "203.0.113.10")
	}
	c.Advance(time.Minute)
	signIn("wrong", "203.0.113.10")
	c.Advance(59 * time.Minute)
	signIn("wrong", "203.0.113.11")
	events, _ = svc.Moderation.ModerationEvents(ctx, "ann@example.com", 10)
	if len(events) != 3 || events[1].Reason != "5 failed sign-ins in a row" || !strings.HasPrefix(events[0].Reason, "2 more failed sign-ins since") {
		t.Errorf("audit after a success: got %+v, want records of 5 in a row, then 2 more an hour later", events)
	}
	// Failures more than an hour old are forgotten: the count starts again.
	c.Advance(61 * time.Minute)
	for i := range 5 {
		if _, err := signIn("wrong", "203.0.113.12"); core.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("free failure %d after an hour's quiet: got %v, want Unauthorized", i+1, err)
		}
	}
}
