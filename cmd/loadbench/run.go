package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// harness holds the run's settings and the results so far.
type harness struct {
	bin, nginx, versity string
	vips                string // vipsthumbnail, the peer of variant-cold; "" skips it
	work                string // temporary directory of data dirs and logs
	profile             string // directory of CPU profiles, or ""
	peers               bool   // also run the peers
	c                   int
	d                   time.Duration
	rounds              int // of the alternating comparisons (create, get, variant-get)
	scaleSizes          []int
	scaleC              int
	scaleD              time.Duration
	imgs                testImages
	progress            io.Writer // where runs and notes are told as they happen
	results             []result
	notes               []string
}

func (h *harness) add(r result) {
	h.results = append(h.results, r)
	fmt.Fprintf(h.progress, "  %-7s %-10s %-7s r%d c=%-3d %8.1f req/s %8.1f MB/s p50 %7.2f ms p99 %7.2f ms peak RSS %6.1f MiB CPU %.0f µs/req load %.1f errors %d %s\n",
		r.Scenario, r.Target, r.Op, r.Round, r.Concurrency, r.ReqPerSec, r.MBPerSec, r.P50Ms, r.P99Ms, r.PeakRSSMiB, r.CPUUsPerReq, r.LoadAvg, r.Errors, r.FirstError)
}

func (h *harness) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	h.notes = append(h.notes, s)
	fmt.Fprintln(h.progress, "  note:", s)
}

// report is what -json writes.
type report struct {
	Date       string   `json:"date"`
	Command    string   `json:"command"`
	Cores      int      `json:"cores"`
	CPU        string   `json:"cpu"`
	GoVersion  string   `json:"go"`
	Results    []result `json:"results"`
	Comparison []ratio  `json:"comparison"`
	Notes      []string `json:"notes,omitempty"`
}

// runCmd runs the scenarios, telling their progress on stderr, and prints
// the report on stdout.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	h := &harness{progress: stderr}
	fs.StringVar(&h.bin, "bin", "", "the userimages binary (required)")
	fs.StringVar(&h.nginx, "nginx", "nginx", "the nginx binary")
	fs.StringVar(&h.versity, "versitygw", "versitygw", "the versitygw binary")
	fs.StringVar(&h.vips, "vips", "vipsthumbnail", "libvips' vipsthumbnail, the peer of variant-cold (\"\" skips it)")
	scenarios := fs.String("scenarios", "create,get,put,flow,put256,scale,variant-get,variant-cold", "comma-separated scenarios to run")
	fs.IntVar(&h.c, "c", 32, "concurrent clients of create, get, put and flow")
	fs.DurationVar(&h.d, "d", 10*time.Second, "duration of each measured run of create, get, put, flow and put256")
	fs.IntVar(&h.rounds, "rounds", 3, "rounds of create, get and variant-get: ours and the peer alternate, one run each a round; ratios are of the medians")
	sizes := fs.String("scale-sizes", "1000,1000000", "images stored before the scale scenario, one run each")
	fs.IntVar(&h.scaleC, "scale-c", 16, "the moderate concurrency of the scale scenario (it also runs at 1)")
	fs.DurationVar(&h.scaleD, "scale-d", 3*time.Second, "duration of each operation of the scale scenario")
	fs.StringVar(&h.profile, "profile", "", "write CPU profiles of our server during create, get, put and flow to this directory (serve --cpuprofile)")
	fs.BoolVar(&h.peers, "peers", true, "also run the peers (no-op, nginx, versitygw); false with -profile measures only ours")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	keep := fs.Bool("keep", false, "keep the temporary directory of data and logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h.nginx, h.versity = lookPath(h.nginx), lookPath(h.versity)
	if h.vips != "" {
		h.vips = lookPath(h.vips)
	}
	if h.bin == "" {
		return fmt.Errorf("run: -bin is required (go build -o /tmp/userimages ./cmd/userimages)")
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-scale-sizes: %q is not a positive number", s)
		}
		h.scaleSizes = append(h.scaleSizes, n)
	}
	var err error
	if h.work, err = os.MkdirTemp("", "loadbench-"); err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stderr, "loadbench: data and logs in", h.work)
	} else {
		defer os.RemoveAll(h.work)
	}
	if h.profile != "" {
		if err := os.MkdirAll(h.profile, 0o755); err != nil {
			return err
		}
	}
	if h.imgs, err = makeImages(); err != nil {
		return err
	}
	h.note("images: GET %d bytes (660x500 JPEG); PUT and flow %d bytes (1920x1640 JPEG + comments); scale claims %d bytes",
		len(h.imgs.small), len(h.imgs.big), len(h.imgs.tiny))
	all := map[string]func(context.Context) error{
		"create": h.create, "get": h.get, "put": h.put, "flow": h.flow, "put256": h.put256, "scale": h.scale,
		"variant-get": h.variantGet, "variant-cold": h.variantCold,
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		fn, ok := all[s]
		if !ok {
			return fmt.Errorf("unknown scenario %q", s)
		}
		fmt.Fprintf(stderr, "loadbench: %s\n", s)
		if err := fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	cmp := compare(h.results)
	rep := report{Date: time.Now().UTC().Format(time.RFC3339), Command: "loadbench run " + strings.Join(args, " "),
		Cores: runtime.NumCPU(), CPU: cpuModel(), GoVersion: runtime.Version(), Results: h.results, Comparison: cmp, Notes: h.notes}
	printReport(stdout, rep)
	if *jsonOut != "" {
		return writeJSON(*jsonOut, rep)
	}
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// fresh returns a new empty directory under the work directory.
func (h *harness) fresh(name string) (string, error) {
	dir := filepath.Join(h.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o700)
}

func (h *harness) profileFile(scenario string) string {
	if h.profile == "" {
		return ""
	}
	return filepath.Join(h.profile, "cpu-"+scenario+".pprof")
}

// create: step 1 against our server and against the no-op handler that
// decodes the same JSON and answers a body of the same size, alternating
// (h.rounds rounds).
func (h *harness) create(ctx context.Context) error {
	data, err := h.fresh("create")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	ours, err := h.startOurs(data, h.profileFile("create"))
	if err != nil {
		return err
	}
	defer ours.stop()
	c := newClient(h.c)
	_, size, err := createUpload(ctx, c, ours.base, 200_000)
	if err != nil {
		return err
	}
	sides := []side{{"userimages", ours.pid(), createLoop(c, ours.base)}}
	if h.peers {
		noop, err := h.startNoop(size)
		if err != nil {
			return err
		}
		defer noop.stop()
		nc := newClient(h.c)
		if _, n, err := createUpload(ctx, nc, noop.base, 200_000); err != nil || n != size {
			return fmt.Errorf("no-op peer answered %d bytes (want %d): %v", n, size, err)
		}
		sides = append(sides, side{"noop", noop.pid(), createLoop(nc, noop.base)})
		h.note("create: both answer %d-byte bodies", size)
	}
	h.alternate(ctx, "create", "create", sides...)
	return nil
}

// createLoop asks base for upload URLs (step 1).
func createLoop(c *http.Client, base string) op {
	return func(ctx context.Context, _ int) (int64, error) {
		_, n, err := createUpload(ctx, c, base, 200_000)
		return int64(n), err
	}
}

// getLoop GETs url and checks that want bytes arrive.
func getLoop(c *http.Client, url string, want int) op {
	return func(ctx context.Context, _ int) (int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		res, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil {
			return n, err
		}
		if res.StatusCode != http.StatusOK || n != int64(want) {
			return n, fmt.Errorf("GET %s: status %d, %d bytes, want 200 and %d", url, res.StatusCode, n, want)
		}
		return n, nil
	}
}

// get: GET of a claimed ~200 KB JPEG from our server and of the same bytes
// from nginx with sendfile, alternating (h.rounds rounds).
func (h *harness) get(ctx context.Context) error {
	data, err := h.fresh("get")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	ours, err := h.startOurs(data, h.profileFile("get"))
	if err != nil {
		return err
	}
	defer ours.stop()
	c := newClient(h.c)
	img, err := flow(ctx, c, ours.base, h.imgs.small)
	if err != nil {
		return err
	}
	buf, err := do(ctx, c, http.MethodGet, ours.base+img.UserImage.Path, nil, nil, http.StatusOK, nil)
	if err != nil {
		return err
	}
	served := bytes.Clone(buf.Bytes())
	h.note("get: %d bytes served (the stored copy, metadata stripped)", len(served))
	return h.againstNginx(ctx, "get", side{"userimages", ours.pid(), getLoop(c, ours.base+img.UserImage.Path, len(served))}, "image.jpeg", served)
}

// againstNginx alternates ours with nginx serving served as name, the
// peer of a GET scenario (when h.peers), and with net/http's FileServer
// serving it (gofile): the floor of a Go server, not a goal.
func (h *harness) againstNginx(ctx context.Context, scenario string, ours side, name string, served []byte) error {
	if !h.peers {
		h.alternate(ctx, scenario, "get", ours)
		return nil
	}
	root, err := h.fresh("nginx-" + scenario)
	if err != nil {
		return err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, name), served, 0o644); err != nil {
		return err
	}
	ngx, err := h.startNginx(root)
	if err != nil {
		return err
	}
	defer ngx.stop()
	gof, err := h.startGofile(root)
	if err != nil {
		return err
	}
	defer gof.stop()
	c, gc := newClient(h.c), newClient(h.c)
	h.alternate(ctx, scenario, "get", ours, side{"nginx", ngx.pid(), getLoop(c, ngx.base+"/"+name, len(served))},
		side{"gofile", gof.pid(), getLoop(gc, gof.base+"/"+name, len(served))})
	return nil
}

// putPoolSize is how many uploads are prepared for a PUT run: enough for
// 400 MB/s over d (the disk of the reference machine takes ~150 MB/s).
func (h *harness) putPoolSize(d time.Duration) int {
	return max(256, int(d.Seconds()*200))
}

// put: 2 MB PUTs to the upload URLs of our step 1, then the same bytes to
// Versity S3 Gateway through presigned PUTs. The URLs are made before the
// timed run; a run ends early if they are used up.
func (h *harness) put(ctx context.Context) error {
	return h.putRun(ctx, "put", h.c, h.d, h.profileFile("put"))
}

// put256: 256 concurrent 2 MB uploads, for the peak RSS; our server's cap
// of concurrent uploads is raised to 256 so that all of them are received.
func (h *harness) put256(ctx context.Context) error {
	return h.putRun(ctx, "put256", 256, min(h.d, 5*time.Second), "", "--max-concurrent-uploads", "256")
}

func (h *harness) putRun(ctx context.Context, scenario string, conc int, d time.Duration, profile string, extra ...string) error {
	data, err := h.fresh(scenario)
	if err != nil {
		return err
	}
	ours, err := h.startOurs(data, profile, extra...)
	if err != nil {
		return err
	}
	c := newClient(conc)
	n := h.putPoolSize(d)
	ups, err := uploadPool(ctx, c, ours.base, n, len(h.imgs.big), nil)
	if err != nil {
		ours.stop()
		return err
	}
	settle(ctx)
	put := func(p *pool[upload]) op {
		return func(ctx context.Context, _ int) (int64, error) {
			up, err := p.take()
			if err != nil {
				return 0, err
			}
			return int64(len(h.imgs.big)), putUpload(ctx, c, up, h.imgs.big)
		}
	}
	r := drive(ctx, scenario, "userimages", "put", ours.pid(), conc, d, put(ups))
	h.add(r)
	ours.stop()
	os.RemoveAll(data)
	if r.Requests+r.Errors >= n {
		h.note("%s userimages: the %d prepared uploads ran out before %s", scenario, n, d)
	}
	if !h.peers {
		return nil
	}

	root, err := h.fresh(scenario + "-s3")
	if err != nil {
		return err
	}
	vgw, err := h.startVersity(root)
	if err != nil {
		return err
	}
	defer func() { vgw.stop(); os.RemoveAll(root) }()
	c = newClient(conc)
	urls, err := presignedPuts(ctx, vgw.base, n, int64(len(h.imgs.big)))
	if err != nil {
		return err
	}
	settle(ctx)
	r = drive(ctx, scenario, "versitygw", "put", vgw.pid(), conc, d, put(&pool[upload]{items: urls}))
	h.add(r)
	if r.Requests+r.Errors >= n {
		h.note("%s versitygw: the %d presigned URLs ran out before %s", scenario, n, d)
	}
	return nil
}

// flow: complete three-step flows of the 2 MB JPEG, metadata stripping on
// (the default).
func (h *harness) flow(ctx context.Context) error {
	data, err := h.fresh("flow")
	if err != nil {
		return err
	}
	ours, err := h.startOurs(data, h.profileFile("flow"))
	if err != nil {
		return err
	}
	defer func() { ours.stop(); os.RemoveAll(data) }()
	c := newClient(h.c)
	img, err := flow(ctx, c, ours.base, h.imgs.big)
	if err != nil {
		return err
	}
	h.note("flow: a %d-byte upload is served as %d bytes (comments stripped)", len(h.imgs.big), img.UserImage.Size)
	// Steps 1 and 2 alone, then all three, of the same bytes at the same
	// concurrency: what the claim adds.
	settle(ctx)
	createPut := func(ctx context.Context, _ int) (int64, error) {
		up, _, err := createUpload(ctx, c, ours.base, len(h.imgs.big))
		if err != nil {
			return 0, err
		}
		return int64(len(h.imgs.big)), putUpload(ctx, c, up, h.imgs.big)
	}
	h.add(drive(ctx, "flow", "userimages", "create+put", ours.pid(), h.c, h.d, createPut))
	settle(ctx)
	fn := func(ctx context.Context, _ int) (int64, error) {
		_, err := flow(ctx, c, ours.base, h.imgs.big)
		return int64(len(h.imgs.big)), err
	}
	h.add(drive(ctx, "flow", "userimages", "flow", ours.pid(), h.c, h.d, fn))
	// Idle: the server closes SQLite readers unused for 2 s.
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	if n, err := openFilesUnder(ours.pid(), data); err == nil {
		h.note("flow: %d files of the data directory (SQLite handles) open in our server idle for 5 s after the runs", n)
	}
	return nil
}

// scale: create, claim and GET latency with n images already stored, at
// concurrency 1 and scale-c; the images are inserted straight into the
// database of the stopped server's data directory.
func (h *harness) scale(ctx context.Context) error {
	for _, n := range h.scaleSizes {
		data, err := h.fresh(fmt.Sprintf("scale-%d", n))
		if err != nil {
			return err
		}
		t0 := time.Now()
		paths, err := seed(ctx, data, n, h.imgs.small, 256)
		if err != nil {
			return fmt.Errorf("seed %d images: %w", n, err)
		}
		h.note("scale: seeded %d images in %s (%d with bytes on disk)", n, time.Since(t0).Round(100*time.Millisecond), len(paths))
		ours, err := h.startOurs(data, "")
		if err != nil {
			return err
		}
		target := "images=" + strconv.Itoa(n)
		err = h.scaleOps(ctx, ours, target, paths)
		ours.stop()
		os.RemoveAll(data)
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) scaleOps(ctx context.Context, ours *proc, target string, paths []string) error {
	for _, conc := range slices.Compact([]int{1, h.scaleC}) {
		c := newClient(conc)
		settle(ctx)
		h.add(drive(ctx, "scale", target, "create", ours.pid(), conc, h.scaleD, func(ctx context.Context, _ int) (int64, error) {
			_, n, err := createUpload(ctx, c, ours.base, 200_000)
			return int64(n), err
		}))
		// Uploads whose bytes are in, for the claims: made untimed.
		ups, err := uploadPool(ctx, c, ours.base, int(h.scaleD.Seconds()*250)+64, len(h.imgs.tiny), h.imgs.tiny)
		if err != nil {
			return err
		}
		settle(ctx)
		r := drive(ctx, "scale", target, "claim", ours.pid(), conc, h.scaleD, func(ctx context.Context, _ int) (int64, error) {
			up, err := ups.take()
			if err != nil {
				return 0, err
			}
			_, err = claim(ctx, c, ours.base, up.Upload.Token)
			return 0, err
		})
		h.add(r)
		if r.Requests+r.Errors >= len(ups.items) {
			h.note("scale %s claim c=%d: the %d prepared uploads ran out", target, conc, len(ups.items))
		}
		settle(ctx)
		rngs := make([]*rand.Rand, conc)
		for i := range rngs {
			rngs[i] = rand.New(rand.NewPCG(uint64(i), 7))
		}
		h.add(drive(ctx, "scale", target, "get", ours.pid(), conc, h.scaleD, func(ctx context.Context, w int) (int64, error) {
			p := paths[rngs[w].IntN(len(paths))]
			return getLoop(c, ours.base+p, len(h.imgs.small))(ctx, w)
		}))
	}
	return nil
}

// lookPath finds name on PATH or in $(go env GOPATH)/bin.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}
