package storetest

import (
	"fmt"
	"testing"
	"time"

	"userimages/core"
)

// hostUser is the user a host app with issuer vouches for as subject.
func hostUser(issuer, subject, name, email string, at time.Time) core.User {
	return core.User{Email: core.HostUserKey(issuer, subject), Issuer: issuer, Subject: subject, Name: name, ContactEmail: email, CreatedAt: at}
}

func testHostUsers(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	const iss = "https://app.example.com"
	// A local user with the address the host app's token names stays apart.
	localID, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), Admin: true, CreatedAt: base})
	noErr(t, "AddUser", err)

	want := hostUser(iss, "42", "Ann", "ann@example.com", base.Add(time.Hour))
	got, err := s.EnsureHostUser(ctx, want)
	noErr(t, "EnsureHostUser of a new user", err)
	if got.ID == 0 || got.ID == localID {
		t.Fatalf("EnsureHostUser of a new user: got id %d; want a new one (the local user is %d)", got.ID, localID)
	}
	want.ID, want.PasswordHash = got.ID, []byte{}
	checkUser(t, "EnsureHostUser of a new user", got, want)
	for what, find := range map[string]func() (core.User, error){
		"User":        func() (core.User, error) { return s.User(ctx, want.ID) },
		"UserByEmail": func() (core.User, error) { return s.UserByEmail(ctx, want.Email) },
	} {
		got, err := find()
		noErr(t, what, err)
		checkUser(t, what+" of a host user", got, want)
	}

	// Seen again, later: the same user, created when first seen.
	got, err = s.EnsureHostUser(ctx, hostUser(iss, "42", "Ann", "ann@example.com", base.Add(2*time.Hour)))
	noErr(t, "EnsureHostUser again", err)
	checkUser(t, "EnsureHostUser again", got, want)

	// New claims replace the old ones.
	want.Name, want.ContactEmail = "Ann B.", ""
	got, err = s.EnsureHostUser(ctx, hostUser(iss, "42", "Ann B.", "", base.Add(3*time.Hour)))
	noErr(t, "EnsureHostUser with new claims", err)
	checkUser(t, "EnsureHostUser with new claims", got, want)
	// A disabled user's are not changed, and Disabled is kept.
	noErr(t, "DisableUser", s.DisableUser(ctx, want.ID))
	want.Disabled = true
	got, err = s.EnsureHostUser(ctx, hostUser(iss, "42", "Ann C.", "c@example.com", base.Add(4*time.Hour)))
	noErr(t, "EnsureHostUser of a disabled user", err)
	checkUser(t, "EnsureHostUser of a disabled user", got, want)

	// An erasure empties the claims, and a later token does not bring
	// them back.
	erased, err := s.EnsureHostUser(ctx, hostUser(iss, "erased", "Eve", "eve@example.com", base))
	noErr(t, "EnsureHostUser(erased)", err)
	noErr(t, "ErasePersonalData", s.ErasePersonalData(ctx, core.PersonalDataErasure{UserID: erased.ID, Reporter: "u:erased", Alias: "erased-1",
		Event: core.ModerationEvent{Action: core.ActionErase, Target: fmt.Sprintf("user:%d", erased.ID), By: "cli:test", At: base}}))
	got, err = s.EnsureHostUser(ctx, hostUser(iss, "erased", "Eve", "eve@example.com", base.Add(time.Hour)))
	noErr(t, "EnsureHostUser after the erasure", err)
	if got.ID != erased.ID || !got.Disabled || got.Name != "" || got.ContactEmail != "" {
		t.Errorf("EnsureHostUser after the erasure: got %+v, want user %d disabled, with no name or email", got, erased.ID)
	}

	// Another issuer, or a subject differing only in case, is another user.
	seen := map[int64]bool{localID: true, want.ID: true, erased.ID: true}
	for _, u := range []core.User{hostUser("https://other.example.com", "42", "", "", base), hostUser(iss, "Ab", "", "", base), hostUser(iss, "ab", "", "", base)} {
		got, err := s.EnsureHostUser(ctx, u)
		noErr(t, fmt.Sprintf("EnsureHostUser(%s, %s)", u.Issuer, u.Subject), err)
		if seen[got.ID] {
			t.Errorf("EnsureHostUser(%s, %s): got id %d, another user's", u.Issuer, u.Subject, got.ID)
		}
		seen[got.ID] = true
	}
	local, err := s.User(ctx, localID)
	noErr(t, "User of the local user", err)
	if local.Email != "ann@example.com" || local.Issuer != "" || !local.Admin {
		t.Errorf("the local user with the host user's address: got %+v, want it unchanged", local)
	}
}

// testRaceHostUser: instances seeing a new user at once all get its one row.
func testRaceHostUser(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	ids := make([]int64, 8)
	fns := make([]func() error, len(ids))
	for i := range fns {
		fns[i] = func() error {
			u, err := s.EnsureHostUser(ctx, hostUser("https://app.example.com", "7", "Bo", "bo@example.com", base))
			ids[i] = u.ID
			return err
		}
	}
	for i, err := range race(fns...) {
		noErr(t, fmt.Sprintf("EnsureHostUser %d", i), err)
	}
	for i, id := range ids {
		if id == 0 || id != ids[0] {
			t.Errorf("EnsureHostUser %d: got id %d, want %d as the others", i, id, ids[0])
		}
	}
	users, err := s.Users(ctx)
	noErr(t, "Users", err)
	if len(users) != 1 {
		t.Errorf("Users after the race: got %d, want 1", len(users))
	}
}
