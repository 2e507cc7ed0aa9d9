package storetest

import (
	"slices"
	"testing"
	"time"

	"userimages/core"
)

func testListImages(t *testing.T, open openMeta) {
	s := open(t)
	var all []core.Image // oldest first
	for n := range 6 {
		up := newUpload(n, 0)
		up.Uploader.UserID = int64(n % 3) // users 0 (anonymous), 1, 2
		img := newImage(n, up)
		if n%2 == 1 {
			img.BrandID = "brand2"
		}
		mustPublish(t, s, up, img)
		all = append(all, img)
	}
	ids := func(imgs []core.Image) []string {
		var out []string
		for _, img := range imgs {
			out = append(out, img.ID)
		}
		return out
	}
	newestFirst := func(keep func(core.Image) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		filter core.ImageFilter
		want   []string
	}{
		{"all", core.ImageFilter{Limit: 10}, newestFirst(func(core.Image) bool { return true })},
		{"limit", core.ImageFilter{Limit: 2}, newestFirst(func(core.Image) bool { return true })[:2]},
		{"brand", core.ImageFilter{BrandID: "brand2", Limit: 10}, newestFirst(func(i core.Image) bool { return i.BrandID == "brand2" })},
		{"user", core.ImageFilter{UserID: 1, Limit: 10}, newestFirst(func(i core.Image) bool { return i.Uploader.UserID == 1 })},
		{"anonymous", core.ImageFilter{Anonymous: true, Limit: 10}, newestFirst(func(i core.Image) bool { return i.Uploader.UserID == 0 })},
		{"before", core.ImageFilter{Before: all[3].CreatedAt, Limit: 10}, newestFirst(func(i core.Image) bool { return i.CreatedAt.Before(all[3].CreatedAt) })},
		{"brand and user", core.ImageFilter{BrandID: "brand2", UserID: 2, Limit: 10}, newestFirst(func(i core.Image) bool {
			return i.BrandID == "brand2" && i.Uploader.UserID == 2
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListImages(t.Context(), tt.filter)
			noErr(t, "ListImages", err)
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("ListImages(%+v): got %v, want %v", tt.filter, ids(got), tt.want)
			}
		})
	}
	got, err := s.ListImages(t.Context(), core.ImageFilter{Limit: 1})
	noErr(t, "ListImages", err)
	if len(got) == 1 {
		checkImage(t, "ListImages newest", got[0], all[len(all)-1])
	}
}

func testDeleteImage(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	keep, gone, blocked := newImage(1, newUpload(1, 0)), newImage(2, newUpload(2, 0)), newImage(3, newUpload(3, 0))
	blocked.SHA256 = "aa" + blocked.SHA256[2:]
	for n, img := range []core.Image{keep, gone, blocked} {
		mustPublish(t, s, newUpload(n+1, 0), img)
	}
	if ok, err := s.IsBlocked(ctx, blocked.SHA256); err != nil || ok {
		t.Fatalf("IsBlocked before: got %v, %v, want false, nil", ok, err)
	}
	first := core.Deletion{Image: gone, By: "user:7", Reason: "spam", At: base.Add(2 * time.Hour)}
	second := core.Deletion{Image: blocked, By: "cli:root", Reason: "abuse", Blocked: true, At: base.Add(3 * time.Hour)}
	noErr(t, "DeleteImage(gone)", s.DeleteImage(ctx, first))
	noErr(t, "DeleteImage(blocked)", s.DeleteImage(ctx, second))
	wantErr(t, "DeleteImage(gone) again", s.DeleteImage(ctx, first), core.ErrNotFound)
	checkNoImage(t, s, gone.ID)
	checkNoImage(t, s, blocked.ID)
	got, err := s.Image(ctx, keep.ID)
	noErr(t, "Image(keep)", err)
	checkImage(t, "Image(keep)", got, keep)

	if ok, err := s.IsBlocked(ctx, blocked.SHA256); err != nil || !ok {
		t.Errorf("IsBlocked(blocked): got %v, %v, want true, nil", ok, err)
	}
	if ok, err := s.IsBlocked(ctx, gone.SHA256); err != nil || ok {
		t.Errorf("IsBlocked(deleted without block): got %v, %v, want false, nil", ok, err)
	}
	for _, tt := range []struct {
		token string
		want  bool
	}{{gone.Token, true}, {blocked.Token, true}, {keep.Token, false}, {ulid(99), false}} {
		if got := status(t, s, tt.token).TakenDown; got != tt.want {
			t.Errorf("TokenStatus(%s).TakenDown: got %v, want %v", tt.token, got, tt.want)
		}
	}
	log, err := s.Deletions(ctx, 10)
	noErr(t, "Deletions", err)
	if len(log) != 2 {
		t.Fatalf("Deletions: got %d entries, want 2", len(log))
	}
	for i, want := range []core.Deletion{second, first} { // newest first
		got := log[i]
		checkImage(t, "Deletions image", got.Image, want.Image)
		checkTime(t, "Deletions At", got.At, want.At)
		if got.By != want.By || got.Reason != want.Reason || got.Blocked != want.Blocked {
			t.Errorf("Deletions[%d]: got by %q reason %q blocked %v, want %q %q %v", i, got.By, got.Reason, got.Blocked, want.By, want.Reason, want.Blocked)
		}
	}
	if log, _ := s.Deletions(ctx, 1); len(log) != 1 {
		t.Errorf("Deletions(limit 1): got %d entries", len(log))
	}
}
