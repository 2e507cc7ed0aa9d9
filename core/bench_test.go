package core_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"userimages/internal/jpegpad"
)

// BenchmarkReceiveUpload is the embedded default's PUT of a 2 MB photo
// whose comments are stripped: the image checked as it streams, the copy
// to serve stored (fsynced) and the upload recorded.
func BenchmarkReceiveUpload(b *testing.B) {
	f := newFlowFixture(b, true)
	m := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 13)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	body, err := jpegpad.Pad(buf.Bytes(), 2_000_000, rand.NewChaCha8([32]byte{1}))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		up := carriedUpload(body)
		up.ContentType = "image/jpeg"
		if err := f.svc.Uploads.ReceiveUpload(b.Context(), up, int64(len(body)), bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
