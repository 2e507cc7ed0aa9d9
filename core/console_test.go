package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/testkit/testclock"
)

// newSessionService is a service with a settable clock, sessions idle
// after 10 minutes and ending after an hour, and one admin,
// ann@example.com, whose password is "correct horse".
func newSessionService(t *testing.T, configure ...func(*core.Config)) (core.Services, *testclock.Clock) {
	t.Helper()
	c := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f := newFlowFixture(t, false, func(cfg *core.Config, d *core.Stores) {
		cfg.SessionIdle, cfg.SessionMaxAge = 10*time.Minute, time.Hour
		for _, f := range configure {
			f(cfg)
		}
		d.Now = c.Now
	})
	if _, err := f.svc.Accounts.AddUser(t.Context(), "ann@example.com", "correct horse", true); err != nil {
		t.Fatal(err)
	}
	return f.svc, c
}

// TestSessions: a session lives while used within SessionIdle, never past
// SessionMaxAge, and not after sign-out.
func TestSessions(t *testing.T) {
	ctx := t.Context()
	svc, c := newSessionService(t)
	if _, err := svc.Sessions.SignIn(ctx, "ann@example.com", "wrong horse", "192.0.2.1"); core.ErrorCode(err) != api.CodeUnauthorized {
		t.Fatalf("SignIn with a wrong password: got %v, want %s", err, api.CodeUnauthorized)
	}
	tests := []struct {
		name  string
		steps []time.Duration // advances, each followed by a SessionUser
		valid bool            // of the last SessionUser
	}{
		{"fresh", []time.Duration{0}, true},
		{"used within idle time", []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, true},
		{"idle too long", []time.Duration{10 * time.Minute}, false},
		{"past max age though used", []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := svc.Sessions.SignIn(ctx, "ANN@example.com", "correct horse", "192.0.2.1")
			if err != nil || len(token) < 40 {
				t.Fatalf("SignIn: got %q, %v, want a token", token, err)
			}
			for _, d := range tt.steps {
				c.Advance(d)
				_, err = svc.Sessions.SessionUser(ctx, token)
			}
			if got := err == nil; got != tt.valid {
				t.Errorf("SessionUser after %v: got error %v, want valid %v", tt.steps, err, tt.valid)
			}
			if err != nil && core.ErrorCode(err) != api.CodeUnauthorized {
				t.Errorf("SessionUser: got code %s, want %s", core.ErrorCode(err), api.CodeUnauthorized)
			}
		})
	}
	token, err := svc.Sessions.SignIn(ctx, "ann@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := svc.Sessions.SessionUser(ctx, token); err != nil || u.Email != "ann@example.com" || !u.Admin {
		t.Fatalf("SessionUser: got %+v, %v, want ann, an admin", u, err)
	}
	if err := svc.Sessions.SignOut(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sessions.SessionUser(ctx, token); core.ErrorCode(err) != api.CodeUnauthorized {
		t.Errorf("SessionUser after SignOut: got %v, want %s", err, api.CodeUnauthorized)
	}
	for _, bad := range []string{"", "x", "\xff\xfe", string(make([]byte, 100))} {
		if _, err := svc.Sessions.SessionUser(ctx, bad); core.ErrorCode(err) != api.CodeUnauthorized {
			t.Errorf("SessionUser(%q): got %v, want %s", bad, err, api.CodeUnauthorized)
		}
	}
}

// TestReportValidation: reports name a known reason, a short detail and a
// published image; a refused property is named as a typed field (which
// the HTTP layer answers as its JSON pointer).
func TestReportValidation(t *testing.T) {
	svc, _ := newSessionService(t)
	tests := []struct {
		name, id, reason, detail string
		want                     api.Code
		field                    api.Property
	}{
		{"unknown reason", "AAAAAAAAAAAAAAAAAAAAAA", "boring", "", api.CodeInvalidProperty, api.PropReason},
		{"detail too long", "AAAAAAAAAAAAAAAAAAAAAA", api.ReportSpam, string(make([]byte, api.MaxReportDetail+1)), api.CodeInvalidProperty, api.PropDetail},
		{"no such image", "AAAAAAAAAAAAAAAAAAAAAA", api.ReportSpam, "", api.CodeNotFound, ""},
		{"not an id", "../x", api.ReportOther, "", api.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := svc.Reports.Report(t.Context(), tt.id, "a:192.0.2.1", tt.reason, tt.detail)
			var e *core.Error
			if !errors.As(err, &e) || e.Code != tt.want || e.Field != tt.field {
				t.Errorf("Report: got %#v, want %s about %q", err, tt.want, tt.field)
			}
		})
	}
}

// TestSweepExpiresSessions: the sweeper deletes sessions nobody can use
// any more, and only those.
func TestSweepExpiresSessions(t *testing.T) {
	ctx := t.Context()
	svc, c := newSessionService(t)
	stale, err := svc.Sessions.SignIn(ctx, "ann@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(9 * time.Minute)
	fresh, err := svc.Sessions.SignIn(ctx, "ann@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	if st, err := svc.Upkeep.Sweep(ctx, core.SweepOptions{}); err != nil || st.ExpiredSessions != 0 {
		t.Fatalf("Sweep without Sessions: got %+v, %v, want no session expired", st, err)
	}
	st, err := svc.Upkeep.Sweep(ctx, core.SweepOptions{Sessions: true})
	if err != nil || st.ExpiredSessions != 1 {
		t.Fatalf("Sweep: got %+v, %v, want 1 expired session", st, err)
	}
	if _, err := svc.Sessions.SessionUser(ctx, fresh); err != nil {
		t.Errorf("SessionUser of the fresh session after the sweep: got %v, want nil", err)
	}
	if _, err := svc.Sessions.SessionUser(ctx, stale); core.ErrorCode(err) != api.CodeUnauthorized {
		t.Errorf("SessionUser of the stale session: got %v, want %s", err, api.CodeUnauthorized)
	}
}
