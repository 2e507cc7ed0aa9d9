package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/userimages/userimages/client/api"
)

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
}

// TestSrcset: with the picture's width known, no width at or over it is
// listed, and the picture itself is, at its width; unknown, every width.
func TestSrcset(t *testing.T) {
	const u = "https://img.example.com/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg"
	v := func(w string) string { return u + "?w=" + w + "&auto=format " + w + "w" }
	for _, tc := range []struct {
		name   string
		width  int
		widths []int
		want   string
	}{
		{"unknown width", 0, []int{160, 320}, v("160") + ", " + v("320")},
		{"wider than every width", 2000, []int{160, 320}, v("160") + ", " + v("320") + ", " + u + " 2000w"},
		{"500 px", 500, api.DefaultVariantWidths, v("160") + ", " + v("320") + ", " + u + " 500w"},
		{"exactly a width", 320, []int{160, 320, 640}, v("160") + ", " + u + " 320w"},
		{"narrower than every width", 100, []int{160, 320}, ""},
		{"no widths", 500, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := Image{URL: u, Width: tc.width, Height: 10}
			if got := img.Srcset(tc.widths); got != tc.want {
				t.Errorf("Srcset(%v) of a %d px picture: got %q, want %q", tc.widths, tc.width, got, tc.want)
			}
		})
	}
}

// TestImageSize: the size is read from both headers, positive, or not at
// all; Measure reads it with a HEAD, and a server that does not say it
// leaves it unknown.
func TestImageSize(t *testing.T) {
	for _, tc := range []struct {
		w, h         string
		wantW, wantH int
	}{
		{"500", "375", 500, 375},
		{"", "", 0, 0},
		{"500", "", 0, 0},
		{"0", "10", 0, 0},
		{"-5", "10", 0, 0},
		{"5x", "10", 0, 0},
	} {
		h := http.Header{}
		if tc.w != "" {
			h.Set(api.ImageWidthHeader, tc.w)
		}
		if tc.h != "" {
			h.Set(api.ImageHeightHeader, tc.h)
		}
		if w, ht := imageSize(h); w != tc.wantW || ht != tc.wantH {
			t.Errorf("imageSize(%q, %q): got %d×%d, want %d×%d", tc.w, tc.h, w, ht, tc.wantW, tc.wantH)
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("Measure sent %s, want HEAD", r.Method)
		}
		switch r.URL.Path {
		case "/sized.jpeg":
			w.Header().Set(api.ImageWidthHeader, "640")
			w.Header().Set(api.ImageHeightHeader, "480")
		case "/gone.jpeg":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if img, err := c.Measure(ctx, Image{URL: srv.URL + "/sized.jpeg"}); err != nil || img.Width != 640 || img.Height != 480 {
		t.Errorf("Measure(sized): got %d×%d, %v, want 640×480", img.Width, img.Height, err)
	}
	if img, err := c.Measure(ctx, Image{URL: srv.URL + "/old.jpeg", Width: 7}); err != nil || img.Width != 0 || img.Height != 0 {
		t.Errorf("Measure(no headers): got %d×%d, %v, want 0×0, nil", img.Width, img.Height, err)
	}
	var e *Error
	if _, err := c.Measure(ctx, Image{URL: srv.URL + "/gone.jpeg"}); !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Errorf("Measure(gone): got %v, want an *Error of status 404", err)
	}
}
