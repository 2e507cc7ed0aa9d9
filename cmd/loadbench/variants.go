package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"userimages/internal/testkit/testphoto"
)

// variantQuery is the variant the scenarios ask for: the 640 px
// WebP.
const variantQuery = "?w=640&fm=webp"

// photos12MP makes n distinct 4000×3000 photo-like JPEGs (about 2.8 MB
// each), untimed, with every core.
func photos12MP(n int) [][]byte {
	ps := make([][]byte, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range ps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ps[i] = testphoto.JPEG(4000, 3000, uint64(1000+i), 0)
		})
	}
	wg.Wait()
	return ps
}

// variantGet: GETs of a stored variant (640 px WebP of a 2 MB photo) from
// our server and of the same bytes from nginx with sendfile, alternating;
// and the bytes a reader saves.
func (h *harness) variantGet(ctx context.Context) error {
	data, err := h.fresh("variant-get")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	ours, err := h.startOurs(data, h.profileFile("variant-get"), "--max-file-size", "10000000")
	if err != nil {
		return err
	}
	defer ours.stop()
	c := newClient(h.c)
	photo := testphoto.JPEG(3264, 2448, 7, 0) // 8 MP: a 2 MB phone photo
	img, err := flow(ctx, c, ours.base, photo)
	if err != nil {
		return err
	}
	buf, err := do(ctx, c, "GET", ours.base+img.UserImage.Path+variantQuery, nil, nil, 200, nil)
	if err != nil {
		return err
	}
	served := bytes.Clone(buf.Bytes())
	h.note("variant-get: a %d-byte 3264x2448 JPEG is served at 640 px as a %d-byte WebP (%.1f%% of the original)",
		img.UserImage.Size, len(served), 100*float64(len(served))/float64(img.UserImage.Size))
	return h.againstNginx(ctx, "variant-get", side{"userimages", ours.pid(), getLoop(c, ours.base+img.UserImage.Path+variantQuery, len(served))}, "variant.webp", served)
}

// coldPhotos is how many distinct 12 MP photos a round of the cold
// scenario makes variants of: each side of a round works through them all
// once, so a round ends when they are used up.
const coldPhotos = 24

// variantCold: first requests of 640 px WebP variants of distinct 12 MP
// JPEGs (each made on request) at concurrency = cores, against libvips'
// vipsthumbnail doing the same resize of the same files in one process,
// alternating in h.rounds rounds (ABBA, as alternate): every round our
// server makes the variants of its own uploads of the photos (so all are
// cold), prepared untimed before the first round. Both sides are also
// given in CPU time per image, which other work on the machine disturbs
// less than wall time.
func (h *harness) variantCold(ctx context.Context) error {
	photos := photos12MP(coldPhotos)
	data, err := h.fresh("variant-cold")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	ours, err := h.startOurs(data, h.profileFile("variant-cold"), "--max-file-size", "10000000")
	if err != nil {
		return err
	}
	defer ours.stop()
	conc := runtime.NumCPU()
	c := newClient(conc)
	rounds := max(1, h.rounds)
	all, err := prepare(rounds*len(photos), 4, func(i int) (string, error) {
		img, err := flow(ctx, c, ours.base, photos[i%len(photos)])
		return img.UserImage.Path, err
	})
	if err != nil {
		return err
	}
	// Every accepted image is hashed (PDQ) in the background after its
	// PUT: the rounds start once that is done.
	if !waitIdle(ctx, ours.pid(), 3*time.Minute) {
		h.note("variant-cold: our server was still busy 3 minutes after the uploads")
	}
	var vips *vipsPeer
	if h.peers && h.vips != "" {
		if vips, err = h.newVipsPeer(photos); err != nil {
			return err
		}
		defer os.RemoveAll(vips.dir)
	}
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		paths := &pool[string]{items: all.items[(round-1)*len(photos) : round*len(photos)]}
		sides := []func() error{
			func() error { return h.coldOurs(ctx, ours.pid(), c, ours.base, paths, conc, round) },
		}
		if vips != nil {
			sides = append(sides, func() error { return vips.run(ctx, h, round) })
		}
		if round%2 == 0 {
			slices.Reverse(sides)
		}
		for _, run := range sides {
			settle(ctx)
			if err := run(); err != nil {
				return err
			}
		}
	}
	if vips != nil {
		h.note("variant-cold libvips (%s): p50/p99 are of one process per image, its start included; images/s of one process over every file; mean WebP %d bytes",
			vipsVersion(h.vips), vips.meanSize())
	}
	return nil
}

// coldOurs is our side of a round of variant-cold: the variants of the
// photos at paths, conc at a time.
func (h *harness) coldOurs(ctx context.Context, pid int, c *http.Client, base string, paths *pool[string], conc, round int) error {
	var size atomic.Int64
	r := drive(ctx, "variant-cold", "userimages", "cold", pid, conc, 10*time.Minute, func(ctx context.Context, _ int) (int64, error) {
		p, err := paths.take()
		if err != nil {
			return 0, err
		}
		buf, err := do(ctx, c, "GET", base+p+variantQuery, nil, nil, 200, nil)
		if err != nil {
			return 0, err
		}
		size.Add(int64(buf.Len()))
		return int64(buf.Len()), nil
	})
	r.Round = round
	h.add(r)
	if r.Requests == 0 {
		return fmt.Errorf("variant-cold: no variant made (%s)", r.FirstError)
	}
	h.note("variant-cold round %d userimages: %.0f ms of CPU per 12 MP JPEG → 640 px WebP (%d images, c=%d), mean WebP %d bytes",
		round, r.CPUUsPerReq/1000, r.Requests, conc, size.Load()/int64(r.Requests))
	return nil
}

// vipsPeer is libvips' side of variant-cold: the photos as files.
type vipsPeer struct {
	bin   string
	dir   string
	files []string
}

func (h *harness) newVipsPeer(photos [][]byte) (*vipsPeer, error) {
	dir, err := h.fresh("vips")
	if err != nil {
		return nil, err
	}
	v := &vipsPeer{bin: h.vips, dir: dir}
	for i, p := range photos {
		f := filepath.Join(dir, fmt.Sprintf("p%02d.jpg", i))
		if err := os.WriteFile(f, p, 0o644); err != nil {
			return nil, err
		}
		v.files = append(v.files, f)
	}
	return v, nil
}

// run is one round: one process over every file (its throughput and
// CPU), then one process per file (the latency of each, start included).
func (v *vipsPeer) run(ctx context.Context, h *harness, round int) error {
	load := loadAvg()
	cmd := exec.CommandContext(ctx, v.bin, append(slices.Clone(v.files), "-s", "640", "-o", "%s.webp[Q=80]")...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	if err != nil {
		return fmt.Errorf("vipsthumbnail: %v: %s", err, out)
	}
	cpu := cpuOf(cmd.ProcessState)
	var lats []time.Duration
	for _, f := range v.files {
		t := time.Now()
		if out, err := exec.CommandContext(ctx, v.bin, f, "-s", "640", "-o", "%s-1.webp[Q=80]").CombinedOutput(); err != nil {
			return fmt.Errorf("vipsthumbnail: %v: %s", err, out)
		}
		lats = append(lats, time.Since(t))
	}
	s := summarize(lats)
	n := len(v.files)
	h.add(result{Scenario: "variant-cold", Target: "libvips", Op: "cold", Round: round, Concurrency: 1, Seconds: wall.Seconds(), Requests: n,
		ReqPerSec: float64(n) / wall.Seconds(), P50Ms: ms(s.P50), P90Ms: ms(s.P90), P99Ms: ms(s.P99), MaxMs: ms(s.Max), MeanMs: ms(s.Mean), LoadAvg: load})
	h.note("variant-cold round %d libvips: %d images in one process in %s, %.0f ms of CPU per image",
		round, n, wall.Round(time.Millisecond), 1000*cpu.Seconds()/float64(n))
	return nil
}

// meanSize is the mean size of the WebPs of the last run.
func (v *vipsPeer) meanSize() int {
	sizes := 0
	for _, f := range v.files {
		if st, err := os.Stat(strings.TrimSuffix(f, ".jpg") + ".webp"); err == nil {
			sizes += int(st.Size())
		}
	}
	return sizes / len(v.files)
}

// waitIdle waits until process pid uses less than 5 % of a core over a
// second, or until limit; it reports whether it did.
func waitIdle(ctx context.Context, pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c0 := procCPU(pid)
		time.Sleep(time.Second)
		if procCPU(pid)-c0 < 50*time.Millisecond {
			return true
		}
	}
	return false
}

// procCPU is the user + system CPU time process pid has used.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th fields of the line.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / 100 // USER_HZ
}

// treeCPU is the CPU time of pid and its descendants (nginx's workers).
func treeCPU(pid int) time.Duration {
	var sum time.Duration
	for _, p := range procTree(pid) {
		sum += procCPU(p)
	}
	return sum
}

func cpuOf(ps *os.ProcessState) time.Duration {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return ps.UserTime() + ps.SystemTime()
}

func vipsVersion(bin string) string {
	out, err := exec.Command(bin, "--vips-version").Output()
	if err != nil {
		return "version unknown"
	}
	return strings.TrimSpace(string(out))
}
