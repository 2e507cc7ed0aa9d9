package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
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

// coldPhotos is how many distinct 12 MP photos the cold scenario makes:
// each is generated once, so the run ends when they are used up.
const coldPhotos = 24

// variantCold: first requests of 640 px WebP variants of distinct 12 MP
// JPEGs (each made on request) at concurrency = cores, then libvips'
// vipsthumbnail doing the same resize of the same files in one process.
// Both are also given in CPU seconds per image, which other work on the
// machine disturbs less than wall time.
func (h *harness) variantCold(ctx context.Context) error {
	photos := photos12MP(coldPhotos)
	data, err := h.fresh("variant-cold")
	if err != nil {
		return err
	}
	ours, err := h.startOurs(data, h.profileFile("variant-cold"), "--max-file-size", "10000000")
	if err != nil {
		return err
	}
	conc := runtime.NumCPU()
	c := newClient(conc)
	paths, err := prepare(len(photos), 4, func(i int) (string, error) {
		img, err := flow(ctx, c, ours.base, photos[i])
		return img.UserImage.Path, err
	})
	if err != nil {
		ours.stop()
		return err
	}
	settle(ctx)
	cpu0 := procCPU(ours.pid())
	r := drive(ctx, "variant-cold", "userimages", "cold", ours.pid(), conc, 10*time.Minute, func(ctx context.Context, _ int) (int64, error) {
		p, err := paths.take()
		if err != nil {
			return 0, err
		}
		buf, err := do(ctx, c, "GET", ours.base+p+variantQuery, nil, nil, 200, nil)
		if err != nil {
			return 0, err
		}
		return int64(buf.Len()), nil
	})
	cpu := procCPU(ours.pid()) - cpu0
	h.add(r)
	ours.stop()
	os.RemoveAll(data)
	if r.Requests > 0 {
		h.note("variant-cold userimages: %.0f ms of CPU per 12 MP JPEG → 640 px WebP (%d images, c=%d)", 1000*cpu.Seconds()/float64(r.Requests), r.Requests, conc)
	}
	if !h.peers || h.vips == "" {
		return nil
	}
	dir, err := h.fresh("vips")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var files []string
	for i, p := range photos {
		f := filepath.Join(dir, fmt.Sprintf("p%02d.jpg", i))
		if err := os.WriteFile(f, p, 0o644); err != nil {
			return err
		}
		files = append(files, f)
	}
	settle(ctx)
	// One process over every file: its throughput (and CPU).
	cmd := exec.CommandContext(ctx, h.vips, append(files, "-s", "640", "-o", "%s.webp[Q=80]")...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	if err != nil {
		return fmt.Errorf("vipsthumbnail: %v: %s", err, out)
	}
	vipsCPU := cpuOf(cmd.ProcessState)
	// One process per file: the latency of each, start included.
	var lats []time.Duration
	for _, f := range files {
		t := time.Now()
		if out, err := exec.CommandContext(ctx, h.vips, f, "-s", "640", "-o", "%s-1.webp[Q=80]").CombinedOutput(); err != nil {
			return fmt.Errorf("vipsthumbnail: %v: %s", err, out)
		}
		lats = append(lats, time.Since(t))
	}
	s := summarize(lats)
	h.add(result{Scenario: "variant-cold", Target: "libvips", Op: "cold", Concurrency: 1, Seconds: wall.Seconds(), Requests: len(files),
		ReqPerSec: float64(len(files)) / wall.Seconds(), P50Ms: ms(s.P50), P90Ms: ms(s.P90), P99Ms: ms(s.P99), MaxMs: ms(s.Max), MeanMs: ms(s.Mean), LoadAvg: loadAvg()})
	sizes := 0
	for _, f := range files {
		if st, err := os.Stat(strings.TrimSuffix(f, ".jpg") + ".webp"); err == nil {
			sizes += int(st.Size())
		}
	}
	h.note("variant-cold libvips (%s): %d images in one process in %s, %.0f ms of CPU per image; p50/p99 are of one process per image, its start included; mean WebP %d bytes",
		vipsVersion(h.vips), len(files), wall.Round(time.Millisecond), 1000*vipsCPU.Seconds()/float64(len(files)), sizes/len(files))
	return nil
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
