package storetest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/core"
)

// The console's records: sessions, reports, the blocklist view and the
// moderation events (core.SessionStore, core.ReportStore and the console
// part of core.ModerationStore).

func testSessions(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	uid, err := s.AddUser(ctx, core.User{Email: "mod@example.com", PasswordHash: []byte("x"), Admin: true, CreatedAt: base})
	noErr(t, "AddUser", err)
	ses := core.Session{Hash: sha(1), UserID: uid, CreatedAt: base, LastSeen: base}
	noErr(t, "CreateSession", s.CreateSession(ctx, ses))
	wantErr(t, "CreateSession again", s.CreateSession(ctx, ses), core.ErrExist)
	got, err := s.Session(ctx, ses.Hash)
	noErr(t, "Session", err)
	checkSession(t, "Session", got, ses)

	ses.LastSeen = base.Add(time.Hour)
	noErr(t, "TouchSession", s.TouchSession(ctx, ses.Hash, ses.LastSeen))
	got, err = s.Session(ctx, ses.Hash)
	noErr(t, "Session after TouchSession", err)
	checkSession(t, "Session after TouchSession", got, ses)
	noErr(t, "TouchSession of a missing session", s.TouchSession(ctx, sha(2), base))

	// Expiry: one session idle too long, one too old, one alive.
	idle := core.Session{Hash: sha(3), UserID: uid, CreatedAt: base, LastSeen: base.Add(10 * time.Minute)}
	old := core.Session{Hash: sha(4), UserID: uid, CreatedAt: base.Add(-time.Hour), LastSeen: base.Add(3 * time.Hour)}
	for _, x := range []core.Session{idle, old} {
		noErr(t, "CreateSession", s.CreateSession(ctx, x))
	}
	n, err := s.ExpireSessions(ctx, base.Add(30*time.Minute), base.Add(-30*time.Minute))
	noErr(t, "ExpireSessions", err)
	if n != 2 {
		t.Errorf("ExpireSessions: got %d deleted, want 2 (one idle, one too old)", n)
	}
	for _, gone := range []core.Session{idle, old} {
		_, err := s.Session(ctx, gone.Hash)
		wantErr(t, "Session after ExpireSessions", err, core.ErrNotFound)
	}
	if _, err := s.Session(ctx, ses.Hash); err != nil {
		t.Errorf("Session alive after ExpireSessions: got error %v, want nil", err)
	}

	noErr(t, "DeleteSession", s.DeleteSession(ctx, ses.Hash))
	_, err = s.Session(ctx, ses.Hash)
	wantErr(t, "Session after DeleteSession", err, core.ErrNotFound)
	noErr(t, "DeleteSession again", s.DeleteSession(ctx, ses.Hash))
}

func checkSession(t *testing.T, what string, got, want core.Session) {
	t.Helper()
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastSeen", got.LastSeen, want.LastSeen)
	if got.Hash != want.Hash || got.UserID != want.UserID {
		t.Errorf("%s: got hash %q user %d, want %q %d", what, got.Hash, got.UserID, want.Hash, want.UserID)
	}
}

func testReports(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	imgs := publishN(t, s, 3)
	report := func(img, reporter int, reason string, at time.Duration) core.Report {
		return core.Report{ImageID: imgs[img].ID, Reporter: reporters[reporter], Reason: reason, Detail: "détail " + reason, At: base.Add(at)}
	}
	// Image 1 is reported twice, image 0 once, image 2 never.
	reports := []core.Report{report(0, 0, "spam", 1), report(1, 0, "nudity", 2), report(1, 1, "other", 3)}
	for _, r := range reports {
		noErr(t, "AddReport", s.AddReport(ctx, r))
	}
	again := reports[0]
	again.Reason = "violence"
	wantErr(t, "AddReport by the same reporter", s.AddReport(ctx, again), core.ErrExist)

	queue, err := s.ReportedImages(ctx, 10)
	noErr(t, "ReportedImages", err)
	var got []string
	for _, ri := range queue {
		got = append(got, ri.Image.ID+":"+string(rune('0'+ri.Reports)))
	}
	if want := []string{imgs[1].ID + ":2", imgs[0].ID + ":1"}; !slices.Equal(got, want) {
		t.Errorf("ReportedImages: got %v, want %v (most reported first)", got, want)
	}
	if len(queue) > 0 {
		checkImage(t, "ReportedImages[0]", queue[0].Image, imgs[1])
	}
	if q, err := s.ReportedImages(ctx, 1); err != nil || len(q) != 1 {
		t.Errorf("ReportedImages(limit 1): got %d, %v, want 1, nil", len(q), err)
	}

	rs, err := s.Reports(ctx, imgs[1].ID)
	noErr(t, "Reports", err)
	if len(rs) != 2 || rs[0].Reporter != reporters[1] || rs[0].Reason != "other" || rs[0].Detail != "détail other" || rs[1].Reason != "nudity" {
		t.Errorf("Reports: got %+v, want image 1's two, newest first", rs)
	} else {
		checkTime(t, "Reports[0].At", rs[0].At, reports[2].At)
	}

	listed, err := s.ListImages(ctx, core.ImageFilter{Reported: true, Limit: 10})
	noErr(t, "ListImages(Reported)", err)
	if len(listed) != 2 || listed[0].ID != imgs[1].ID || listed[1].ID != imgs[0].ID {
		t.Errorf("ListImages(Reported): got %d images, want images 1 and 0", len(listed))
	}

	dismiss := core.ModerationEvent{Action: core.ActionDismiss, Target: imgs[1].ID, By: "user:1", Reason: "fine", At: base.Add(time.Hour)}
	noErr(t, "DismissReports", s.DismissReports(ctx, dismiss))
	wantErr(t, "DismissReports again", s.DismissReports(ctx, dismiss), core.ErrNotFound)
	if rs, err := s.Reports(ctx, imgs[1].ID); err != nil || len(rs) != 0 {
		t.Errorf("Reports after DismissReports: got %d, %v, want 0, nil", len(rs), err)
	}
	evs, err := s.ModerationEvents(ctx, imgs[1].ID, 10)
	noErr(t, "ModerationEvents", err)
	if len(evs) != 1 || evs[0].Action != core.ActionDismiss || evs[0].By != "user:1" || evs[0].Reason != "fine" {
		t.Errorf("ModerationEvents(image 1): got %+v, want the dismissal", evs)
	} else {
		checkTime(t, "ModerationEvents[0].At", evs[0].At, dismiss.At)
	}
	if evs, err := s.ModerationEvents(ctx, imgs[0].ID, 10); err != nil || len(evs) != 0 {
		t.Errorf("ModerationEvents(image 0): got %d, %v, want 0, nil", len(evs), err)
	}

	// Taking image 0 down takes its reports, which name their reporters.
	noErr(t, "DeleteImage", s.DeleteImage(ctx, core.Deletion{Image: imgs[0], By: "user:1", Reason: "spam", At: base.Add(2 * time.Hour)}))
	if rs, err := s.Reports(ctx, imgs[0].ID); err != nil || len(rs) != 0 {
		t.Errorf("Reports after DeleteImage: got %d, %v, want 0, nil", len(rs), err)
	}
}

// publishN publishes images 1 to n and returns them, oldest first.
func publishN(t *testing.T, s MetadataStore, n int) []core.Image {
	t.Helper()
	var imgs []core.Image
	for i := range n {
		up := newUpload(i+1, 0)
		img := newImage(i+1, up)
		mustPublish(t, s, up, img)
		imgs = append(imgs, img)
	}
	return imgs
}

// reporters are reporters as the service names them.
var reporters = []string{"a:192.0.2.1", "u:7"}

func testBlocklist(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	imgs := publishN(t, s, 2)
	for n, img := range imgs {
		d := core.Deletion{Image: img, By: "user:1", Reason: "spam", Blocked: true, At: base.Add(time.Duration(n+1) * time.Hour)}
		noErr(t, "DeleteImage", s.DeleteImage(ctx, d))
		got, err := s.Deletion(ctx, img.ID)
		noErr(t, "Deletion", err)
		checkImage(t, "Deletion", got.Image, img)
		if got.By != d.By || got.Reason != d.Reason || !got.Blocked {
			t.Errorf("Deletion: got %+v, want %+v", got, d)
		}
	}
	_, err := s.Deletion(ctx, imageID(99))
	wantErr(t, "Deletion of an image never taken down", err, core.ErrNotFound)

	bl, err := s.Blocklist(ctx, 10)
	noErr(t, "Blocklist", err)
	if len(bl) != 2 || bl[0].SHA256 != imgs[1].SHA256 || bl[1].SHA256 != imgs[0].SHA256 {
		t.Errorf("Blocklist: got %+v, want both SHA-256s, newest first", bl)
	} else {
		checkTime(t, "Blocklist[0].At", bl[0].At, base.Add(2*time.Hour))
	}
	unblock := core.ModerationEvent{Action: core.ActionUnblock, Target: imgs[0].SHA256, By: "cli:root", Reason: "appeal", At: base.Add(3 * time.Hour)}
	noErr(t, "Unblock", s.Unblock(ctx, unblock))
	wantErr(t, "Unblock again", s.Unblock(ctx, unblock), core.ErrNotFound)
	if ok, err := s.IsBlocked(ctx, imgs[0].SHA256); err != nil || ok {
		t.Errorf("IsBlocked after Unblock: got %v, %v, want false, nil", ok, err)
	}
	evs, err := s.ModerationEvents(ctx, "", 10)
	noErr(t, "ModerationEvents", err)
	if len(evs) != 1 || evs[0].Action != core.ActionUnblock || evs[0].Target != imgs[0].SHA256 || evs[0].Reason != "appeal" {
		t.Errorf("ModerationEvents: got %+v, want the unblock", evs)
	}
}

func testListImagesConsole(t *testing.T, open openMeta) {
	s := open(t)
	var all []core.Image // oldest first
	for n := range 4 {
		up := newUpload(n+1, 0)
		if n%2 == 1 {
			up.Uploader.ClientAddr = "2001:db8::1"
		}
		img := newImage(n+1, up)
		mustPublish(t, s, up, img)
		all = append(all, img)
	}
	tests := []struct {
		name   string
		filter core.ImageFilter
		want   []int // indexes in all, newest first
	}{
		{"address", core.ImageFilter{ClientAddr: "2001:db8::1", Limit: 10}, []int{3, 1}},
		{"after", core.ImageFilter{After: all[2].CreatedAt, Limit: 10}, []int{3, 2}},
		{"between", core.ImageFilter{After: all[1].CreatedAt, Before: all[3].CreatedAt, Limit: 10}, []int{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListImages(t.Context(), tt.filter)
			noErr(t, "ListImages", err)
			var gotIDs, wantIDs []string
			for _, img := range got {
				gotIDs = append(gotIDs, img.ID)
			}
			for _, i := range tt.want {
				wantIDs = append(wantIDs, all[i].ID)
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("ListImages(%+v): got %v, want %v", tt.filter, gotIDs, wantIDs)
			}
		})
	}
}

// pagesAfter reads every record list pages, limit at a time, after the
// last one of each page.
func pagesAfter[R any](t *testing.T, what string, list func(context.Context, R, int) ([]R, error)) []R {
	t.Helper()
	var after R
	var out []R
	for range 100 {
		page, err := list(t.Context(), after, 2)
		noErr(t, what, err)
		if len(page) == 0 {
			return out
		}
		if len(page) > 2 {
			t.Fatalf("%s: got %d records, want at most 2", what, len(page))
		}
		out = append(out, page...)
		after = page[len(page)-1]
	}
	t.Fatalf("%s: got no empty page after 100 pages", what)
	return nil
}

// testMoveReportsAndEvents pages the reports and moderation events in
// key order and imports them into another store, twice, as a resumed
// migration would.
func testMoveReportsAndEvents(t *testing.T, open openMigration) {
	src, dst := open(t), open(t)
	ctx := t.Context()
	imgs := publishN(t, src, 3)
	var wantReports []core.Report // in key order
	for _, i := range []int{0, 2} {
		for _, who := range []string{"a:192.0.2.1", "a:2001:db8::/64", "u:10", "u:9"} {
			r := core.Report{ImageID: imgs[i].ID, Reporter: who, Reason: "spam", Detail: who, At: base.Add(time.Duration(i) * time.Minute)}
			noErr(t, "AddReport", src.AddReport(ctx, r))
			wantReports = append(wantReports, r)
		}
	}
	slices.SortFunc(wantReports, func(a, b core.Report) int {
		return cmp.Or(strings.Compare(a.ImageID, b.ImageID), strings.Compare(a.Reporter, b.Reporter))
	})
	noErr(t, "AddReport", src.AddReport(ctx, core.Report{ImageID: imgs[1].ID, Reporter: "u:1", Reason: "other", At: base}))
	noErr(t, "DismissReports", src.DismissReports(ctx, core.ModerationEvent{Action: core.ActionDismiss, Target: imgs[1].ID, By: "user:1", Reason: "fine", At: base.Add(time.Hour)}))
	// Three unblocks at one time, and one earlier.
	for n, sha := range []string{sha(7), sha(5), sha(6), sha(4)} {
		d := core.Deletion{Image: imgs[0], By: "user:1", Blocked: true, At: base}
		d.Image.ID, d.Image.Token, d.Image.SHA256 = imageID(10+n), ulid(10+n), sha
		noErr(t, "ImportDeletion", src.ImportDeletion(ctx, d))
		noErr(t, "Block", src.Block(ctx, sha))
		at := base.Add(2 * time.Hour)
		if n == 3 {
			at = base.Add(30 * time.Minute)
		}
		noErr(t, "Unblock", src.Unblock(ctx, core.ModerationEvent{Action: core.ActionUnblock, Target: sha, By: "user:1", Reason: "appeal", At: at}))
	}

	reports := pagesAfter(t, "ReportsAfter", src.ReportsAfter)
	if len(reports) != len(wantReports) {
		t.Fatalf("ReportsAfter: got %d reports, want %d", len(reports), len(wantReports))
	}
	for i, r := range reports {
		if r.ImageID != wantReports[i].ImageID || r.Reporter != wantReports[i].Reporter || r.Detail != wantReports[i].Detail {
			t.Errorf("ReportsAfter[%d]: got %s %s, want %s %s (by image id, then reporter)", i, r.ImageID, r.Reporter, wantReports[i].ImageID, wantReports[i].Reporter)
		}
		checkTime(t, "ReportsAfter At", r.At, wantReports[i].At)
	}
	events := pagesAfter(t, "ModerationEventsAfter", src.ModerationEventsAfter)
	var got []string
	for _, e := range events {
		got = append(got, e.Action+" "+e.Target)
	}
	want := []string{"unblock " + sha(4), "dismiss " + imgs[1].ID, "unblock " + sha(5), "unblock " + sha(6), "unblock " + sha(7)}
	if !slices.Equal(got, want) {
		t.Errorf("ModerationEventsAfter: got %v, want %v (by time, action, target)", got, want)
	}

	for _, run := range []struct {
		name string
		want error
	}{{"first", nil}, {"resumed", core.ErrExist}} {
		for _, r := range reports {
			wantErr(t, run.name+" run: AddReport", dst.AddReport(ctx, r), run.want)
		}
		for _, e := range events {
			wantErr(t, run.name+" run: ImportModerationEvent", dst.ImportModerationEvent(ctx, e), run.want)
		}
	}
	if got := pagesAfter(t, "ReportsAfter of the copy", dst.ReportsAfter); !slices.EqualFunc(got, reports, func(a, b core.Report) bool {
		return a.ImageID == b.ImageID && a.Reporter == b.Reporter && a.Reason == b.Reason && a.Detail == b.Detail && a.At.Equal(b.At)
	}) {
		t.Errorf("ReportsAfter of the copy: got %+v, want %+v", got, reports)
	}
	if got := pagesAfter(t, "ModerationEventsAfter of the copy", dst.ModerationEventsAfter); !slices.EqualFunc(got, events, func(a, b core.ModerationEvent) bool {
		return a.Action == b.Action && a.Target == b.Target && a.By == b.By && a.Reason == b.Reason && a.At.Equal(b.At)
	}) {
		t.Errorf("ModerationEventsAfter of the copy: got %+v, want %+v", got, events)
	}
}
