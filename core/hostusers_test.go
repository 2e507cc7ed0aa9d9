package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/testkit/embeddedtest"
)

// vouchFor is a TokenVerifier vouching for one user per token.
type vouchFor map[string]core.VouchedUser

func (v vouchFor) Verify(_ context.Context, token string) (core.VouchedUser, error) {
	u, ok := v[token]
	if !ok {
		return u, core.Errorf(api.CodeUnauthorized, "unknown token")
	}
	return u, nil
}

func TestHostUsers(t *testing.T) {
	d := embeddedtest.Open(t, core.Config{}, core.Runtime{})
	const iss = "https://app.example.com"
	long := strings.Repeat("é", 400) // 800 bytes
	hu, err := core.NewHostUsers(core.HostUsersDeps{Users: d.DB, Verifier: vouchFor{
		"ann":      {Issuer: iss, Subject: "1", Email: "ann@example.com", Name: "Ann"},
		"ann-long": {Issuer: iss, Subject: "1", Name: long, Email: "a\x00b@example.com"},
		"bare":     {Issuer: iss, Subject: "2"},
		"nul":      {Issuer: iss, Subject: "3\x00"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	id, err := hu.Authenticate(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.Svc.Accounts.User(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ann <ann@example.com> (" + core.HostUserKey(iss, "1") + ")"; u.Label() != want || u.Issuer != iss || u.Subject != "1" || u.Admin {
		t.Errorf("user: got %+v labelled %q, want %q", u, u.Label(), want)
	}
	// Claims are cut to 320 bytes on a character boundary; one that is
	// not text is dropped.
	if again, err := hu.Authenticate(ctx, "ann-long"); err != nil || again != id {
		t.Fatalf("the same subject again: got %d, %v; want %d", again, err, id)
	}
	u, _ = d.Svc.Accounts.User(ctx, id)
	if u.Name != strings.Repeat("é", 160) || u.ContactEmail != "" {
		t.Errorf("long name, NUL email: got name of %d bytes, email %q", len(u.Name), u.ContactEmail)
	}
	bare, err := hu.Authenticate(ctx, "bare")
	if err != nil || bare == id {
		t.Fatalf("another subject: got %d, %v", bare, err)
	}
	if u, _ := d.Svc.Accounts.User(ctx, bare); !strings.HasPrefix(u.Label(), "subject 2 (jwt:") {
		t.Errorf("a user with no claims: labelled %q, want by subject", u.Label())
	}
	for _, token := range []string{"nul", "forged"} {
		if _, err := hu.Authenticate(ctx, token); core.ErrorCode(err) != api.CodeUnauthorized {
			t.Errorf("%s: got %v, want Unauthorized", token, err)
		}
	}
	// Erased users stay out.
	if _, err := d.Svc.Erasure.EraseUser(ctx, core.HostUserKey(iss, "2"), "cli:test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := hu.Authenticate(ctx, "bare"); core.ErrorCode(err) != api.CodeUnauthorized {
		t.Errorf("an erased user: got %v, want Unauthorized", err)
	}
}
