package core_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/internal/testkit/cputime"
	"userimages/internal/testkit/testphoto"
	"userimages/pdq"
)

// photo2MB is a photo-like JPEG of just under 2 MB (the largest upload):
// testphoto's 3000×2250 picture (6.75 MP) at quality 90.
func photo2MB(tb testing.TB) []byte {
	b := testphoto.JPEG(3000, 2250, 3, 1)
	if len(b) > 2_000_000 {
		tb.Fatalf("the photo is %d bytes, over 2 MB", len(b))
	}
	return b
}

// randomBlocked returns n random hashes of list name.
func randomBlocked(n int, name string) []core.BlockedHash {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	hs := make([]core.BlockedHash, n)
	for i := range hs {
		var h pdq.Hash
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		hs[i] = core.BlockedHash{List: name, Hash: h.String(), Quality: 100}
	}
	return hs
}

// BenchmarkPUTPhoto is the embedded PUT of a 2 MB photo (checked, hashed,
// stored with fsync, recorded): without perceptual hashing, and with it
// against 0, 1 and 1,000,000 blocked hashes. It reports the process's CPU
// per PUT and the median and 99th percentile of the PUTs' times. While no
// hash is blocked the PUT hashes nothing: "nothing-blocked" is the PUT
// alone (the queued hashes are never made), "nothing-blocked+hasher" runs
// the background hasher meanwhile, as a server does, and counts its CPU
// too (the run ends when it has hashed every PUT's picture).
func BenchmarkPUTPhoto(b *testing.B) {
	body := photo2MB(b)
	for _, c := range []struct {
		name            string
		hashing, hasher bool
		blocked         int
	}{{"unhashed", false, false, 0}, {"nothing-blocked", true, false, 0}, {"nothing-blocked+hasher", true, true, 0},
		{"hashed-1-blocked", true, false, 1}, {"hashed-1M-blocked", true, false, 1_000_000}} {
		b.Run(fmt.Sprintf("%s-%dKB", c.name, len(body)>>10), func(b *testing.B) {
			f := newFlowFixture(b, true, func(_ *core.Config, st *core.Stores) {
				if !c.hashing {
					st.Hashes = nil
				}
			})
			if c.blocked > 0 {
				if err := f.db.AddBlockedHashes(b.Context(), randomBlocked(c.blocked, "bench"), core.ModerationEvent{Action: core.ActionImportHashes, Target: "bench", By: "bench", At: time.Now()}); err != nil {
					b.Fatal(err)
				}
				if err := f.svc.Resemblance.Sync(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			if c.hasher {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go f.svc.Resemblance.RunHasher(ctx)
			}
			var times []time.Duration
			var last core.Upload
			cpu := cputime.Process()
			for b.Loop() {
				last = carriedUpload(body)
				last.ContentType = "image/jpeg"
				start := time.Now()
				if err := f.svc.Uploads.ReceiveUpload(b.Context(), last, int64(len(body)), strings.NewReader(string(body))); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			if c.hasher { // one worker, in order: the last hashed, all are
				for st, _ := f.db.TokenStatus(b.Context(), last.Token); st.Upload == nil || st.Upload.PDQ == ""; st, _ = f.db.TokenStatus(b.Context(), last.Token) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(times[(len(times)*99)/100])/1e6, "p99-ms")
		})
	}
}

// BenchmarkImportMillion imports a list of 1,000,000 hashes as
// pdq-photo-hasher prints them into SQLite (parse, store, audit) and reads
// them into an instance's index.
func BenchmarkImportMillion(b *testing.B) {
	var list strings.Builder
	for _, h := range randomBlocked(1_000_000, "") {
		fmt.Fprintf(&list, "%s,100,photo.jpg\n", h.Hash)
	}
	text := list.String()
	for b.Loop() {
		f := newFlowFixture(b, true)
		start := time.Now()
		entries, err := pdq.ParseList(strings.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		parsed := time.Since(start)
		if _, _, err := f.svc.Resemblance.ImportList(b.Context(), "million", entries, "bench", "bench"); err != nil {
			b.Fatal(err)
		}
		imported := time.Since(start)
		if err := f.svc.Resemblance.Sync(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(parsed.Seconds(), "parse-s")
		b.ReportMetric(imported.Seconds(), "import-s")
		b.ReportMetric(time.Since(start).Seconds(), "import+sync-s")
	}
}

// BenchmarkPUTBlockedPair measures what 1,000,000 blocked hashes add to a
// hashed PUT against one blocked hash (putPair).
func BenchmarkPUTBlockedPair(b *testing.B) {
	var fs [2]*flowFixture
	for i, n := range []int{1, 1_000_000} {
		fs[i] = newFlowFixture(b, true)
		if err := fs[i].db.AddBlockedHashes(b.Context(), randomBlocked(n, "bench"), core.ModerationEvent{Action: core.ActionImportHashes, Target: "bench", By: "bench", At: time.Now()}); err != nil {
			b.Fatal(err)
		}
		if err := fs[i].svc.Resemblance.Sync(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	putPair(b, fs, "1", "1M")
}

// putPair PUTs a 2 MB photo to the two instances fs alternately, PUT by
// PUT (which goes first alternates too), so that a loaded machine's swings
// fall on both: it reports each one's median and 99th percentile and the
// ratio of the medians (second / first).
func putPair(b *testing.B, fs [2]*flowFixture, names ...string) {
	body := photo2MB(b)
	var times [2][]time.Duration
	cputime.Loop(b, func(n int) {
		for k := range 2 {
			i := (n + k) % 2
			up := carriedUpload(body)
			up.ContentType = "image/jpeg"
			start := time.Now()
			if err := fs[i].svc.Uploads.ReceiveUpload(b.Context(), up, int64(len(body)), strings.NewReader(string(body))); err != nil {
				b.Fatal(err)
			}
			times[i] = append(times[i], time.Since(start))
		}
	})
	var p50 [2]float64
	for i, name := range names {
		ts := times[i]
		slices.Sort(ts)
		p50[i] = float64(ts[len(ts)/2]) / 1e6
		b.ReportMetric(p50[i], "p50-ms-"+name)
		b.ReportMetric(float64(ts[(len(ts)*99)/100])/1e6, "p99-ms-"+name)
	}
	b.ReportMetric(p50[1]/p50[0], "p50-ratio")
}
