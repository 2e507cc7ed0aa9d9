package client

import "testing"

func TestVariantURL(t *testing.T) {
	img := Image{URL: "https://img.example.com/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg"}
	for _, tc := range []struct {
		w      int
		format string
		want   string
	}{
		{640, "", img.URL + "?w=640&auto=format"},
		{320, "webp", img.URL + "?w=320&fm=webp"},
	} {
		if got := img.VariantURL(tc.w, tc.format); got != tc.want {
			t.Errorf("VariantURL(%d, %q): got %s, want %s", tc.w, tc.format, got, tc.want)
		}
	}
	if got, want := img.Srcset([]int{160, 320}), img.URL+"?w=160&auto=format 160w, "+img.URL+"?w=320&auto=format 320w"; got != want {
		t.Errorf("Srcset: got %s, want %s", got, want)
	}
}
