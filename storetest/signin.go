package storetest

import (
	"testing"
	"time"

	"userimages/core"
)

// testSignInFailures: failures count up per key from 1, each with its
// time; an audit event is written in the same transaction and marks the
// record audited; records are read together and cleared by key.
func testSignInFailures(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	const acct, addr = "account:ann@example.com", "address:192.0.2.1"
	if got, err := s.SignInFailures(ctx, acct, addr); err != nil || len(got) != 0 {
		t.Fatalf("SignInFailures of a new store: got %v, %v; want none", got, err)
	}
	recordThree(t, s, acct)
	if _, err := s.RecordSignInFailure(ctx, addr, base, nil); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	var seen core.SignInFailures
	f, err := s.RecordSignInFailure(ctx, acct, at, func(r core.SignInFailures) *core.ModerationEvent {
		seen = r
		return &core.ModerationEvent{Action: core.ActionSignInFailures, Target: "ann@example.com", By: "throttle", Reason: "4 failed sign-ins", At: at}
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Failures != 4 || f.Failures != 4 || f.Audited != 4 {
		t.Errorf("audited failure: audit saw %+v, got %+v; want 4 failures, 4 audited", seen, f)
	}
	checkTime(t, "AuditedAt", f.AuditedAt, at)
	events, err := s.ModerationEvents(ctx, "ann@example.com", 10)
	if err != nil || len(events) != 1 || events[0].Action != core.ActionSignInFailures || events[0].Reason != "4 failed sign-ins" {
		t.Errorf("ModerationEvents: got %+v, %v; want the audit record", events, err)
	}
	got, err := s.SignInFailures(ctx, acct, addr, "account:nobody")
	if err != nil || len(got) != 2 || got[acct].Failures != 4 || got[acct].Audited != 4 || got[addr].Failures != 1 {
		t.Errorf("SignInFailures: got %+v, %v; want ann's 4 (audited) and the address's 1", got, err)
	}
	if err := s.ClearSignInFailures(ctx, acct, "account:nobody"); err != nil {
		t.Fatal(err)
	}
	got, err = s.SignInFailures(ctx, acct, addr)
	if err != nil || len(got) != 1 || got[addr].Failures != 1 {
		t.Errorf("after clearing the account: got %+v, %v; want only the address's", got, err)
	}
	if f, err := s.RecordSignInFailure(ctx, acct, at, nil); err != nil || f.Failures != 1 || f.Audited != 0 {
		t.Errorf("a failure after clearing: got %+v, %v; want a count from 1", f, err)
	}
}

// recordThree records 3 failures of key, a second apart from base, with
// no audit, checking each count.
func recordThree(t *testing.T, s MetadataStore, key string) {
	t.Helper()
	noAudit := func(core.SignInFailures) *core.ModerationEvent { return nil }
	for i := 1; i <= 3; i++ {
		f, err := s.RecordSignInFailure(t.Context(), key, base.Add(time.Duration(i)*time.Second), noAudit)
		if err != nil {
			t.Fatal(err)
		}
		if f.Failures != i || f.Audited != 0 || !f.AuditedAt.IsZero() {
			t.Errorf("failure %d: got %+v, want %d failures, none audited", i, f, i)
		}
		checkTime(t, "Last", f.Last, base.Add(time.Duration(i)*time.Second))
	}
}
