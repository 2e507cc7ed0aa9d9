package localdisk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"testing"

	"userimages/localdisk"
)

// benchKeys makes image keys like the server's: "images/" and 22 random
// characters of URL-safe base64, so they spread over the shard directories.
type benchKeys struct{ r *rand.Rand }

func newBenchKeys() *benchKeys { return &benchKeys{rand.New(rand.NewPCG(1, 2))} }

func (k *benchKeys) next() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(k.r.Uint32())
	}
	return "images/" + base64.RawURLEncoding.EncodeToString(b[:])
}

func benchData(size int) []byte {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

// BenchmarkPut is a durable write of one new object: temp file, write,
// fsync, link, directory fsync. Each object is deleted again outside the
// timing, so the disk use stays flat.
func BenchmarkPut(b *testing.B) {
	for _, bench := range []struct {
		name string
		size int
	}{{"200KB", 200_000}, {"2MB", 2_000_000}} {
		b.Run(bench.name, func(b *testing.B) {
			s, err := localdisk.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			data, keys, ctx := benchData(bench.size), newBenchKeys(), context.Background()
			b.SetBytes(int64(bench.size))
			b.ReportAllocs()
			for b.Loop() {
				key := keys.next()
				if err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(ctx, key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkOpenRead opens a stored 200 KB object and reads it whole, as
// serving an image does (here into io.Discard).
func BenchmarkOpenRead(b *testing.B) {
	const size = 200_000
	s, err := localdisk.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx, key := context.Background(), newBenchKeys().next()
	if err := s.Put(ctx, key, bytes.NewReader(benchData(size))); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		blob, err := s.Open(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, blob)
		blob.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes, error %v; want %d bytes", n, err, size)
		}
	}
}
