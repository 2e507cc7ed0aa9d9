package selfsign

import (
	"testing"
	"time"
)

// BenchmarkPresignPut is step 1's signing: one SigV4 presigned PUT URL.
func BenchmarkPresignPut(b *testing.B) {
	s, err := New(testSecret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		presign(b, s)
	}
}

// BenchmarkVerify is step 2's check of an upload URL and its headers, as
// the server does before reading the body: with the returned headers, and
// with only Content-Type (Uppy 6), whose omitted Content-Disposition is
// opened from the URL's seal.
func BenchmarkVerify(b *testing.B) {
	s, err := New(testSecret)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		omitted []string
	}{{"headers", nil}, {"only-content-type", []string{"Content-Disposition", "X-Amz-Server-Side-Encryption"}}} {
		b.Run(bc.name, func(b *testing.B) {
			r := request(presign(b, s))
			for _, h := range bc.omitted {
				r.Header.Del(h)
			}
			now := issued.Add(time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Verify(r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
