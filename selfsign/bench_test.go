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
// the server does before reading the body.
func BenchmarkVerify(b *testing.B) {
	s, err := New(testSecret)
	if err != nil {
		b.Fatal(err)
	}
	r := request(presign(b, s))
	now := issued.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(r, now); err != nil {
			b.Fatal(err)
		}
	}
}
