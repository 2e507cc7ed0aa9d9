package httpapi_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
)

// noisyJPEG is a JPEG of random pixels, which barely compress, so the file
// is as large as a photo's:
// 660×500 encodes to about 200 KB.
func noisyJPEG(b *testing.B, w, h int) []byte {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			m.SetRGBA(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// The benchmarks below run over loopback HTTP against the real server of
// newEnv (SQLite with synchronous=FULL, local disk with fsync), without
// rate limits; the client's work is in the numbers too.

// BenchmarkCreateUpload is step 1: POST /api/v2/guide/user_images/uploads.
func BenchmarkCreateUpload(b *testing.B) {
	e := newEnv(b)
	const body = `{"content_type":"image/jpeg","file_size":200000}`
	b.ReportAllocs()
	for b.Loop() {
		if res := e.postJSON("/api/v2/guide/user_images/uploads", body); res.status != http.StatusOK {
			b.Fatalf("create upload: got %d %s, want 200", res.status, res.body)
		}
	}
}

// BenchmarkServeImage is GET /hc/user_images/<id>.jpeg of a claimed
// 200 KB JPEG, the body read into io.Discard.
func BenchmarkServeImage(b *testing.B) {
	e := newEnv(b)
	_, path := e.claimed("image/jpeg", noisyJPEG(b, 660, 500))
	url := e.srv.URL + path
	get := func() int64 {
		res, err := e.srv.Client().Get(url)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: got %d, %d bytes, error %v; want 200", path, res.StatusCode, n, err)
		}
		return n
	}
	b.SetBytes(get())
	b.ReportAllocs()
	for b.Loop() {
		get()
	}
}

// BenchmarkFullFlow is the three steps of one 200 KB JPEG: create the
// upload, PUT its bytes to the presigned URL, claim it.
func BenchmarkFullFlow(b *testing.B) {
	e := newEnv(b)
	jpg := noisyJPEG(b, 660, 500)
	b.SetBytes(int64(len(jpg)))
	b.ReportAllocs()
	for b.Loop() {
		e.claimed("image/jpeg", jpg)
	}
}
