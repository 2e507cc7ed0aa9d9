package storetest

import (
	"testing"
	"time"

	"userimages/core"
)

// testErasePersonalData: a user's erasure disables them and removes their
// API tokens, sessions and unclaimed uploads, takes their name and words
// out of their reports (which still count) and their address out of their
// images' audit records, with an audit record, in one transaction; other
// users keep everything; an unknown user changes nothing.
func testErasePersonalData(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	ann, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser(ann)", err)
	bob, err := s.AddUser(ctx, core.User{Email: "bob@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser(bob)", err)
	// Images 1 and 2, uploaded by ann and bob; ann's is taken down.
	imgs := make([]core.Image, 2)
	for i, uid := range []int64{ann, bob} {
		up := newUpload(i+1, 0)
		up.Uploader.UserID = uid
		imgs[i] = newImage(i+1, up)
		mustPublish(t, s, up, imgs[i])
	}
	noErr(t, "DeleteImage", s.DeleteImage(ctx, core.Deletion{Image: imgs[0], By: "user:1", Reason: "erasure", At: base.Add(2 * time.Hour)}))
	for _, uid := range []int64{ann, bob} {
		name := map[int64]string{ann: "ann", bob: "bob"}[uid]
		noErr(t, "AddAPIToken", s.AddAPIToken(ctx, core.APIToken{ID: "tok-" + name, Selector: "sel-" + name, UserID: uid, Hash: []byte("h"), CreatedAt: base}))
		noErr(t, "CreateSession", s.CreateSession(ctx, core.Session{Hash: "ses-" + name, UserID: uid, CreatedAt: base, LastSeen: base}))
		up := newUpload(10+int(uid), 0)
		up.Uploader.UserID = uid
		mustUpload(t, s, up)
		noErr(t, "AddReport", s.AddReport(ctx, core.Report{ImageID: imgs[1].ID, Reporter: "u:" + name, Reason: "privacy", Detail: name + "'s own words", At: base}))
	}
	erasure := func(uid int64, at time.Duration) core.PersonalDataErasure {
		return core.PersonalDataErasure{UserID: uid, Reporter: "u:ann", Alias: "erased:x1",
			Event: core.ModerationEvent{Action: core.ActionErase, Target: "user:ann", By: "cli:root", Reason: "request", At: base.Add(at)}}
	}
	wantErr(t, "ErasePersonalData of no user", s.ErasePersonalData(ctx, erasure(99, 3*time.Hour)), core.ErrNotFound)
	if evs, err := s.ModerationEvents(ctx, "user:ann", 10); err != nil || len(evs) != 0 {
		t.Errorf("events after erasing no user: got %+v, %v; want none", evs, err)
	}
	noErr(t, "ErasePersonalData", s.ErasePersonalData(ctx, erasure(ann, 4*time.Hour)))

	for uid, erased := range map[int64]bool{ann: true, bob: false} {
		u, err := s.User(ctx, uid)
		noErr(t, "User", err)
		tokens, err := s.APITokens(ctx, uid)
		noErr(t, "APITokens", err)
		_, sesErr := s.Session(ctx, "ses-"+map[int64]string{ann: "ann", bob: "bob"}[uid])
		st := status(t, s, ulid(10+int(uid)))
		if got := u.Disabled && len(tokens) == 0 && sesErr != nil && st.Upload == nil; got != erased {
			t.Errorf("user %d: disabled %v, %d tokens, session error %v, upload %v; want all gone: %v", uid, u.Disabled, len(tokens), sesErr, st.Upload, erased)
		}
	}
	rs, err := s.Reports(ctx, imgs[1].ID)
	noErr(t, "Reports", err)
	got := map[string]string{}
	for _, r := range rs {
		got[r.Reporter] = r.Detail
	}
	if len(rs) != 2 || got["erased:x1"] != "" || got["u:bob"] != "bob's own words" {
		t.Errorf("reports after the erasure: got %+v, want ann's under erased:x1 with no detail, bob's unchanged", rs)
	}
	d, err := s.Deletion(ctx, imgs[0].ID)
	noErr(t, "Deletion", err)
	if d.Image.Uploader.ClientAddr != "" || d.Image.Uploader.UserID != ann || d.Reason != "erasure" {
		t.Errorf("audit record of ann's image: got %+v, want her address gone, the rest kept", d)
	}
	evs, err := s.ModerationEvents(ctx, "user:ann", 10)
	if err != nil || len(evs) != 1 || evs[0].Action != core.ActionErase || evs[0].By != "cli:root" {
		t.Errorf("events: got %+v, %v; want the erasure", evs, err)
	}
	// Again, later: nothing left to erase is no error.
	noErr(t, "ErasePersonalData again", s.ErasePersonalData(ctx, erasure(ann, 5*time.Hour)))
}
