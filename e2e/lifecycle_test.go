package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"userimages/core"
	"userimages/sqlite"
)

// The lifecycle test's server settings: a claim window short enough that
// the sweeper deletes uploads while the test runs.
const (
	lcTTL         = 2 * time.Second
	lcClaimWindow = 3 * time.Second
	lcSweepEvery  = 100 * time.Millisecond
	// lcMargin keeps the test's verdicts about the claim window away from
	// its edge: the test's clock readings bracket the server's, and the
	// database keeps times in microseconds.
	lcMargin = 100 * time.Millisecond
)

// TestLifecycleUnderKills runs uploads, claims, late claims, re-claims and
// the sweeper together while killing the server with SIGKILL at random
// moments and restarting it on the same data directory and address. Every
// answer must hold through the kills: a 201 image is served byte for byte
// forever, a claim inside the claim window of an upload whose PUT was
// answered succeeds, no claim after the window publishes anything, and, once
// the window has passed for every upload, nothing unclaimed remains. No
// request may get a 5xx.
func TestLifecycleUnderKills(t *testing.T) {
	const (
		rounds      = 12
		workers     = 6
		maxKillWait = 1800 * time.Millisecond
		minKillWait = 150 * time.Millisecond
		// Besides the workers, one goroutine makes claim storms, during
		// the kills and after them until there have been minStorms: many
		// claims of one token at once, each claiming it stormEach times.
		minStorms     = 60
		stormClaimers = 6
		stormEach     = 3
	)
	began := time.Now()
	rng := newRand(t)
	lc := newLifecycle(t)
	defer lc.close()

	lc.start()
	var wg sync.WaitGroup
	for w := range workers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			lc.work(wrng)
		}()
	}
	srng := rand.New(rand.NewPCG(rng.Uint64(), workers))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < minStorms || !lc.stopping.Load(); n++ {
			if f, ok := lc.createAndPut(srng); ok {
				lc.count("claim storms")
				lc.claimStorm(f, stormClaimers, stormEach)
			}
		}
	}()
	for range rounds {
		wait := minKillWait + time.Duration(rng.Int64N(int64(maxKillWait-minKillWait)))
		select {
		case <-time.After(wait):
		case <-lc.current().exited:
			lc.errorf("the server exited by itself (%v) before the kill", lc.current().waitErr)
		}
		lc.kill()
		lc.start()
	}
	lc.stopping.Store(true)
	workersDone := make(chan struct{})
	go func() { wg.Wait(); lc.lateClaims.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
	case <-time.After(2 * time.Minute): // a hang guard, not a speed check
		lc.errorf("workers still running 2 minutes after the last kill")
		lc.report()
		return
	}
	lc.finalChecks()
	lc.report()
	t.Logf("%d rounds in %s", rounds, time.Since(began).Round(time.Millisecond))
}

// putState says what the test knows about an upload's PUT.
type putState int

const (
	putFailed    putState = iota // refused: an unexpected answer (reported) or a URL that expired in between
	putConfirmed                 // answered 200, or 409 AlreadyUploaded after a retry
	putUncertain                 // cut off by a kill, then refused as expired
)

// lcFlow is one upload of the lifecycle test.
type lcFlow struct {
	up     uploadResponse
	data   []byte
	t0, t1 time.Time // step 1 was sent after t0 and answered before t1
	put    putState
}

// lcAnswer is the answer to one request, retried across kills.
type lcAnswer struct {
	status int
	body   []byte
	first  time.Time // when the first attempt was sent
	sent   time.Time // when the answered attempt was sent
	got    time.Time // when it was answered
	cut    bool      // an earlier attempt was cut off by a kill
}

func (a lcAnswer) String() string {
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

func (a lcAnswer) code() string {
	if a.status < 400 {
		return ""
	}
	return errorCode(a.body)
}

// lifecycle is the state of TestLifecycleUnderKills: the server of the
// current generation and everything the test was answered.
type lifecycle struct {
	t    *testing.T
	data string
	addr string        // fixed after the first start, so upload URLs stay valid
	done chan struct{} // closed when the test ends

	stopping   atomic.Bool    // workers finish their operation and return
	lateClaims sync.WaitGroup // late claims still sleeping

	mu      sync.Mutex // guards the server fields
	gen     int
	srv     *server
	client  *http.Client // of srv only: no request reuses a connection to a killed server
	servers []*server
	killed  bool          // srv is killed or being killed
	up      chan struct{} // closed when the next server is up

	rmu        sync.Mutex // guards the records below
	flows      map[string]*lcFlow
	paths      map[string]string // token -> path of its 201s
	claimed    []string          // tokens answered 201, for re-claims
	unclaimed  []string          // tokens never claimed on purpose
	lastCreate time.Time
	serverErrs []string // every 5xx
	errs       []string
	notes      []string
	n          map[string]int // counters for the log
}

func newLifecycle(t *testing.T) *lifecycle {
	return &lifecycle{
		t:     t,
		data:  t.TempDir(),
		done:  make(chan struct{}),
		up:    make(chan struct{}),
		flows: map[string]*lcFlow{},
		paths: map[string]string{},
		n:     map[string]int{},
	}
}

func (lc *lifecycle) close() { close(lc.done) }

func (lc *lifecycle) base() string { return "http://" + lc.addr }

// start starts the next server on the data directory, on the address of the
// first one.
func (lc *lifecycle) start() {
	lc.t.Helper()
	addr := "127.0.0.1:0"
	if lc.addr != "" {
		addr = lc.addr
	}
	srv := startServer(lc.t, lc.data, "--addr", addr, "--brand", otherBrand,
		"--upload-url-ttl", lcTTL.String(), "--claim-window", lcClaimWindow.String(), "--sweep-interval", lcSweepEvery.String(),
		"--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off",
		// Every worker stands for another user, all from 127.0.0.1.
		"--max-concurrent-uploads-per-client", "64")
	srv.dumpTail = 6 << 10
	if lc.addr == "" {
		lc.addr = srv.addr // before any worker starts
	} else if srv.addr != lc.addr {
		lc.t.Fatalf("restarted server listens on %s, want %s", srv.addr, lc.addr)
	}
	lc.mu.Lock()
	lc.gen++
	lc.srv, lc.killed = srv, false
	lc.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	lc.servers = append(lc.servers, srv)
	close(lc.up)
	lc.mu.Unlock()
}

func (lc *lifecycle) current() *server {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.srv
}

// kill kills the current server with SIGKILL.
func (lc *lifecycle) kill() {
	lc.mu.Lock()
	lc.killed = true
	lc.up = make(chan struct{})
	srv, client := lc.srv, lc.client
	lc.mu.Unlock()
	srv.kill()
	client.CloseIdleConnections()
}

// awaitUp returns the generation of the running server and the client to
// reach it with, waiting for one while the server is down; false if the test
// ended.
func (lc *lifecycle) awaitUp() (int, *http.Client, bool) {
	for {
		lc.mu.Lock()
		gen, client, killed, up := lc.gen, lc.client, lc.killed, lc.up
		lc.mu.Unlock()
		if !killed {
			return gen, client, true
		}
		select {
		case <-up:
		case <-lc.done:
			return 0, nil, false
		}
	}
}

// wasKilled reports whether the server of generation gen has been killed.
func (lc *lifecycle) wasKilled(gen int) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return gen < lc.gen || lc.killed
}

func (lc *lifecycle) errorf(format string, args ...any) {
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	lc.errs = append(lc.errs, fmt.Sprintf(format, args...))
}

func (lc *lifecycle) notef(format string, args ...any) {
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	lc.notes = append(lc.notes, fmt.Sprintf(format, args...))
}

func (lc *lifecycle) count(what string) {
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	lc.n[what]++
}

// send makes one request, and makes it again on the next server when a kill
// cuts it off. It returns false, having recorded an error, when a request
// fails while its server is up.
func (lc *lifecycle) send(step, method, url string, header map[string]string, body []byte) (lcAnswer, bool) {
	var a lcAnswer
	for attempt := 0; ; attempt++ {
		gen, client, ok := lc.awaitUp()
		if !ok {
			return a, false
		}
		a.sent = time.Now()
		if attempt == 0 {
			a.first = a.sent
		}
		res, b, err := do(client, method, url, "", header, body)
		a.got = time.Now()
		if err == nil {
			a.status, a.body = res.StatusCode, b
			if a.status >= 500 {
				lc.rmu.Lock()
				lc.serverErrs = append(lc.serverErrs, fmt.Sprintf("%s (%s %s): got %s", step, method, url, a))
				lc.rmu.Unlock()
			}
			return a, true
		}
		if !lc.wasKilled(gen) {
			lc.errorf("%s (%s %s): %v while the server was up", step, method, url, err)
			return a, false
		}
		a.cut = true
		lc.count("requests cut by a kill")
	}
}

// work runs random operations until the test stops.
func (lc *lifecycle) work(rng *rand.Rand) {
	for !lc.stopping.Load() {
		switch p := rng.IntN(100); {
		case p < 35:
			lc.fullFlow(rng)
		case p < 55:
			lc.lateFlow(rng)
		case p < 75:
			lc.unclaimedFlow(rng)
		default:
			lc.reclaim(rng)
		}
	}
}

// newJPEG returns a fresh JPEG of about 2 to 60 KB made by the standard
// library's encoder, which writes no metadata: the server serves it as it
// is.
func newJPEG(rng *rand.Rand) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(rng, 56+rng.IntN(240), 56+rng.IntN(240)), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// create is step 1 of a new flow.
func (lc *lifecycle) create(data []byte) (*lcFlow, bool) {
	body, _ := json.Marshal(map[string]any{"content_type": "image/jpeg", "file_size": len(data)})
	a, ok := lc.send("create upload", http.MethodPost, lc.base()+"/api/v2/guide/user_images/uploads", jsonHeader, body)
	if !ok {
		return nil, false
	}
	if a.status != http.StatusOK {
		lc.errorf("create upload: got %s, want 200", a)
		return nil, false
	}
	f := &lcFlow{data: data, t0: a.sent, t1: a.got}
	if err := json.Unmarshal(a.body, &f.up); err != nil || !core.ValidToken(f.up.Upload.Token) {
		lc.errorf("create upload: got %s, want an upload with a token (%v)", a, err)
		return nil, false
	}
	lc.rmu.Lock()
	lc.flows[f.up.Upload.Token] = f
	if f.t1.After(lc.lastCreate) {
		lc.lastCreate = f.t1
	}
	lc.rmu.Unlock()
	return f, true
}

// putBytes is step 2.
func (lc *lifecycle) putBytes(f *lcFlow) putState {
	a, ok := lc.send("put", http.MethodPut, f.up.Upload.URL, f.up.Upload.Headers, f.data)
	switch {
	case !ok:
		return putFailed
	case a.status == http.StatusOK:
		return putConfirmed
	case a.cut && a.status == http.StatusConflict && a.code() == "AlreadyUploaded":
		return putConfirmed // the cut attempt had stored the bytes
	case a.cut && a.status == http.StatusForbidden && a.code() == "UploadURLExpired":
		return putUncertain
	case a.status == http.StatusForbidden && a.code() == "UploadURLExpired" && a.got.Sub(f.t0) >= lcTTL:
		return putFailed // a loaded machine took longer than the URL's lifetime between steps 1 and 2
	}
	lc.errorf("put of token %s: got %s, want 200 (or, after a kill cut it off, 409 AlreadyUploaded or 403 UploadURLExpired; or 403 UploadURLExpired %s after the create was sent)", f.up.Upload.Token, a, lcTTL)
	return putFailed
}

// createAndPut runs steps 1 and 2.
func (lc *lifecycle) createAndPut(rng *rand.Rand) (*lcFlow, bool) {
	f, ok := lc.create(newJPEG(rng))
	if !ok {
		return nil, false
	}
	f.put = lc.putBytes(f)
	return f, f.put != putFailed
}

// claimBody is step 3's request.
func claimBody(token, brand string) []byte {
	b, _ := json.Marshal(map[string]string{"token": token, "brand_id": brand})
	return b
}

// claimOnce claims a flow that no other operation claims, but for the
// claimers-1 other claims running at the same time (and this one, earlier),
// and checks the answer against the claim window. It returns the image path
// of a 201.
func (lc *lifecycle) claimOnce(f *lcFlow, claimers int) (string, bool) {
	token := f.up.Upload.Token
	a, ok := lc.send("claim", http.MethodPost, lc.base()+"/api/v2/guide/user_images", jsonHeader, claimBody(token, brandID))
	if !ok {
		return "", false
	}
	inWindow := a.got.Before(f.t0.Add(lcClaimWindow - lcMargin))     // the server's check was inside the window
	afterWindow := a.first.After(f.t1.Add(lcClaimWindow + lcMargin)) // every attempt was after it
	when := fmt.Sprintf("answered %s after step 1 was sent (claim window %s)", a.got.Sub(f.t0).Round(time.Millisecond), lcClaimWindow)
	if claimers > 1 {
		when += fmt.Sprintf(", while %d claims of the token ran at once", claimers)
	}
	switch {
	case a.status == http.StatusCreated:
		path, ok := lc.claimed201(f, a)
		if ok && claimers == 1 && afterWindow {
			lc.errorf("claim of token %s sent %s after step 1 was answered: got 201 (%s), want 410 TokenExpired or 404 TokenNotFound: the claim window is %s",
				token, a.first.Sub(f.t1).Round(time.Millisecond), path, lcClaimWindow)
		}
		return path, ok
	case a.status >= 500:
		return "", false // recorded by send
	case inWindow && f.put == putConfirmed:
		var hint string
		if claimers > 1 && (a.code() == "TokenNotFound" || a.code() == "NotUploaded") {
			// What core.Uploads.Claim does when another claim publishes the
			// token between its lookups: the upload row, then the staged
			// bytes, are gone, and it does not look for the image again.
			hint = " (a concurrent claim of the same token won, and the loser reported the upload row or the staged bytes it had just deleted as missing instead of returning the winner's image)"
		}
		lc.errorf("claim of token %s whose PUT was answered 200, %s: got %s, want 201%s", token, when, a, hint)
	case a.status == http.StatusGone && a.code() == "TokenExpired",
		a.status == http.StatusNotFound && a.code() == "TokenNotFound":
		if inWindow {
			lc.errorf("claim of token %s, %s: got %s, want 201 or 409 NotUploaded", token, when, a)
		}
		lc.count("claims refused as expired or swept")
	case a.status == http.StatusConflict && a.code() == "NotUploaded":
		if f.put == putConfirmed {
			// A sweep between the claim's expiry check and its copy of the
			// staged bytes: a misleading code, but nothing is lost.
			lc.notef("claim of token %s whose PUT was answered 200, %s: got %s (the window closed during the claim)", token, when, a)
		}
		lc.count("claims refused as not uploaded")
	default:
		lc.errorf("claim of token %s, %s: got %s, want 201, 410 TokenExpired, 404 TokenNotFound or 409 NotUploaded", token, when, a)
	}
	return "", false
}

// claimed201 records a 201 answer to a claim of f and checks it.
func (lc *lifecycle) claimed201(f *lcFlow, a lcAnswer) (string, bool) {
	token := f.up.Upload.Token
	var img imageResponse
	if err := json.Unmarshal(a.body, &img); err != nil {
		lc.errorf("claim of token %s: got 201 with %s: %v", token, a, err)
		return "", false
	}
	path := img.UserImage.Path
	if img.UserImage.Size != int64(len(f.data)) || img.UserImage.ContentType != "image/jpeg" || !strings.HasPrefix(path, "/hc/user_images/") {
		lc.errorf("claim of token %s: got %s, want a %d-byte image/jpeg under /hc/user_images/", token, a, len(f.data))
		return "", false
	}
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	lc.n["201 answers"]++
	switch prev, seen := lc.paths[token]; {
	case !seen:
		lc.paths[token] = path
		lc.claimed = append(lc.claimed, token)
	case prev != path:
		lc.errs = append(lc.errs, fmt.Sprintf("claim of token %s: got 201 with path %s, want %s, the path of its earlier 201", token, path, prev))
		return "", false
	}
	return path, true
}

// checkServed GETs path and compares it with the uploaded bytes.
func (lc *lifecycle) checkServed(f *lcFlow, path, when string) {
	a, ok := lc.send("get", http.MethodGet, lc.base()+path, nil, nil)
	if !ok {
		return
	}
	if a.status != http.StatusOK {
		lc.errorf("GET %s %s: got %s, want 200", path, when, a)
		return
	}
	if !bytes.Equal(a.body, f.data) {
		lc.errorf("GET %s %s: got %d bytes (sha256 %x), want the %d uploaded bytes (sha256 %x)",
			path, when, len(a.body), sha256.Sum256(a.body), len(f.data), sha256.Sum256(f.data))
	}
}

// fullFlow runs the three steps, sometimes claiming twice at once, and
// fetches the image.
func (lc *lifecycle) fullFlow(rng *rand.Rand) {
	f, ok := lc.createAndPut(rng)
	if !ok {
		return
	}
	lc.count("full flows")
	if rng.IntN(5) > 0 {
		if path, ok := lc.claimOnce(f, 1); ok {
			lc.checkServed(f, path, "right after its 201")
		}
		return
	}
	lc.count("concurrent double claims")
	lc.claimStorm(f, 2, 1)
}

// claimStorm claims f from claimers goroutines at once, each up to each
// times in a row: every answer inside the claim window must be 201 with the
// one path, and the image must be served.
func (lc *lifecycle) claimStorm(f *lcFlow, claimers, each int) {
	var wg sync.WaitGroup
	paths := make([]string, claimers)
	for i := range paths {
		wg.Go(func() {
			for range each {
				path, ok := lc.claimOnce(f, claimers)
				if !ok {
					return
				}
				paths[i] = path
			}
		})
	}
	wg.Wait()
	for _, path := range paths {
		if path != "" {
			lc.checkServed(f, path, "right after its 201")
			return
		}
	}
}

// lateFlow uploads and leaves the claim to a goroutine that sends it around
// the edge of the claim window, while the worker goes on.
func (lc *lifecycle) lateFlow(rng *rand.Rand) {
	f, ok := lc.createAndPut(rng)
	if !ok {
		return
	}
	lc.count("late claims")
	at := f.t0.Add(lcClaimWindow - 500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second))))
	lc.lateClaims.Add(1)
	go func() {
		defer lc.lateClaims.Done()
		select {
		case <-time.After(time.Until(at)):
		case <-lc.done:
			return
		}
		if path, ok := lc.claimOnce(f, 1); ok {
			lc.count("late claims answered 201")
			lc.checkServed(f, path, "right after its late 201")
		}
	}()
}

// unclaimedFlow creates an upload that is never claimed: PUT, or not even
// that (then an early claim is refused as not uploaded).
func (lc *lifecycle) unclaimedFlow(rng *rand.Rand) {
	var f *lcFlow
	if rng.IntN(4) > 0 {
		var ok bool
		if f, ok = lc.createAndPut(rng); !ok {
			return
		}
		lc.count("uploads PUT and never claimed")
	} else {
		var ok bool
		if f, ok = lc.create(newJPEG(rng)); !ok {
			return
		}
		lc.count("uploads never PUT")
		token := f.up.Upload.Token
		a, ok := lc.send("claim before put", http.MethodPost, lc.base()+"/api/v2/guide/user_images", jsonHeader, claimBody(token, brandID))
		if ok && (a.status != http.StatusConflict || a.code() != "NotUploaded") && a.status < 500 {
			lc.errorf("claim of token %s before its PUT: got %s, want 409 NotUploaded", token, a)
		}
	}
	lc.rmu.Lock()
	lc.unclaimed = append(lc.unclaimed, f.up.Upload.Token)
	lc.rmu.Unlock()
}

// reclaim claims an already claimed token again, for its brand and for
// another, PUTs to its URL again and fetches its image.
func (lc *lifecycle) reclaim(rng *rand.Rand) {
	lc.rmu.Lock()
	if len(lc.claimed) == 0 {
		lc.rmu.Unlock()
		lc.fullFlow(rng)
		return
	}
	token := lc.claimed[rng.IntN(len(lc.claimed))]
	f, path := lc.flows[token], lc.paths[token]
	lc.rmu.Unlock()
	lc.count("re-claims")

	a, ok := lc.send("re-claim", http.MethodPost, lc.base()+"/api/v2/guide/user_images", jsonHeader, claimBody(token, brandID))
	if ok && a.status < 500 {
		if a.status != http.StatusCreated {
			lc.errorf("re-claim of token %s (answered 201 with %s earlier): got %s, want 201 with the same path", token, path, a)
		} else {
			lc.claimed201(f, a)
		}
	}
	a, ok = lc.send("re-claim for another brand", http.MethodPost, lc.base()+"/api/v2/guide/user_images", jsonHeader, claimBody(token, otherBrand))
	if ok && a.status < 500 && (a.status != http.StatusConflict || a.code() != "AlreadyClaimed") {
		lc.errorf("claim of token %s for brand %s (claimed for %s): got %s, want 409 AlreadyClaimed", token, otherBrand, brandID, a)
	}
	if rng.IntN(3) == 0 {
		a, ok = lc.send("put after claim", http.MethodPut, f.up.Upload.URL, f.up.Upload.Headers, f.data)
		if ok && a.status < 500 && (a.status != http.StatusConflict || a.code() != "AlreadyUploaded") &&
			(a.status != http.StatusForbidden || a.code() != "UploadURLExpired") {
			lc.errorf("PUT to the URL of claimed token %s: got %s, want 409 AlreadyUploaded or 403 UploadURLExpired", token, a)
		}
	}
	lc.checkServed(f, path, "on a re-claim")
}

// finalChecks runs on the last server after the workers have stopped: every
// 201 image is served, every image row serves its bytes, nothing unclaimed
// outlives the claim window, and no file without a row is reachable.
func (lc *lifecycle) finalChecks() {
	t := lc.t
	ctx := context.Background()
	srv := lc.current()
	db, err := sqlite.Open(ctx, filepath.Join(lc.data, "userimages.db"))
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	defer db.Close()

	lc.rmu.Lock()
	paths := maps.Clone(lc.paths)
	flows := maps.Clone(lc.flows)
	unclaimed := slices.Clone(lc.unclaimed)
	lastCreate := lc.lastCreate
	lc.rmu.Unlock()

	// (1) Every image answered 201 is served byte for byte.
	for token, path := range paths {
		f := flows[token]
		got, err := fetch(http.DefaultClient, srv.base, path)
		if err != nil {
			lc.errorf("image answered 201 earlier: %v", err)
		} else if !bytes.Equal(got, f.data) {
			lc.errorf("GET %s at the end: got %d bytes (sha256 %x), want the %d uploaded bytes (sha256 %x)",
				path, len(got), sha256.Sum256(got), len(f.data), sha256.Sum256(f.data))
		}
	}

	// (2) Every image row serves the bytes it describes, and is a 201 the
	// test saw.
	rows, err := db.Images(ctx)
	if err != nil {
		t.Fatalf("list image rows: %v", err)
	}
	rowIDs := map[string]bool{}
	rowTokens := map[string]bool{}
	for _, row := range rows {
		path := core.Path(row)
		rowIDs[row.ID], rowTokens[row.Token] = true, true
		if err := checkRowServed(srv.base, row); err != nil {
			lc.errorf("%v", err)
			continue
		}
		if want, ok := paths[row.Token]; !ok {
			lc.errorf("image row %s (token %s, %s): no claim of this token was answered 201", row.ID, row.Token, path)
		} else if want != path {
			lc.errorf("image row of token %s: got path %s, want %s, the path its claims were answered", row.Token, path, want)
		}
	}
	for token, path := range paths {
		if !rowTokens[token] {
			lc.errorf("token %s answered 201 with %s: got no image row, want one", token, path)
		}
	}

	// (5) An image file without a row is not reachable.
	imageFiles := 0
	walkObjects(t, filepath.Join(lc.data, "blobs", "images"), func(name string) {
		imageFiles++
		if rowIDs[name] {
			return
		}
		lc.count("image files without a row (claims cut by a kill)")
		if core.ValidImageID(name) {
			res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/hc/user_images/"+name+".jpeg", "", nil, nil)
			if err != nil || res.StatusCode != http.StatusNotFound {
				lc.errorf("GET of image file %s, which has no row: got %v %v, want 404", name, statusText(res), err)
			}
		}
	})
	if imageFiles < len(rows) {
		lc.errorf("image files: got %d, want at least one per image row (%d)", imageFiles, len(rows))
	}

	// (3) Once the claim window has passed for every upload, the sweeper
	// leaves no upload row and no staged bytes.
	time.Sleep(time.Until(lastCreate.Add(lcClaimWindow + 3*lcSweepEvery + lcMargin)))
	var uploads int64
	staged := 0
	for start := time.Now(); ; { // bounded by a hang guard, not a speed check
		uploads, _, err = db.Counts(ctx)
		if err != nil {
			t.Fatalf("count rows: %v", err)
		}
		staged = countObjects(t, filepath.Join(lc.data, "blobs", "staging"))
		if uploads == 0 && staged == 0 || time.Since(start) > 30*time.Second {
			break
		}
		time.Sleep(lcSweepEvery)
	}
	if uploads != 0 || staged != 0 {
		lc.errorf("after the claim window of every upload and 30 s of sweeps: got %d upload rows and %d staged files, want none", uploads, staged)
	}
	for _, token := range unclaimed {
		res, b, err := do(http.DefaultClient, http.MethodPost, srv.base+"/api/v2/guide/user_images", "", jsonHeader, claimBody(token, brandID))
		if err != nil || res.StatusCode != http.StatusNotFound || errorCode(b) != "TokenNotFound" {
			lc.errorf("claim of never-claimed token %s after the sweeps: got %s %s %v, want 404 TokenNotFound", token, statusText(res), bytes.TrimSpace(b), err)
		}
	}
	if len(unclaimed) == 0 {
		lc.errorf("uploads never claimed: got none, want some for the sweeper")
	}

	// `userimages gc` on the stopped server finds nothing left to sweep.
	if err := srv.stop(); err != nil {
		lc.errorf("stopping the last server with SIGTERM: %v", err)
	}
	out := strings.TrimSpace(runCLI(t, "", "gc", "--data", lc.data, "--claim-window", lcClaimWindow.String()))
	if m := regexp.MustCompile(`^expired uploads: 0, staged orphans: 0, image orphans: \d+$`).FindString(out); m == "" {
		lc.errorf("userimages gc after the sweeps: got %q, want 0 expired uploads and 0 staged orphans", out)
	}
	uploads, images, err := db.Counts(ctx)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if staged := countObjects(t, filepath.Join(lc.data, "blobs", "staging")); uploads != 0 || staged != 0 || images != int64(len(rows)) {
		lc.errorf("after userimages gc: got %d upload rows, %d staged files, %d image rows; want 0, 0, %d", uploads, staged, images, len(rows))
	}
}

func statusText(res *http.Response) string {
	if res == nil {
		return "no answer"
	}
	return res.Status
}

// walkObjects calls fn with the name of every file below dir, which may not
// exist.
func walkObjects(t *testing.T, dir string, fn func(name string)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			fn(d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
}

func countObjects(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	walkObjects(t, dir, func(string) { n++ })
	return n
}

// report logs the counters and fails the test with every error collected.
func (lc *lifecycle) report() {
	t := lc.t
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	swept := 0
	lc.mu.Lock()
	for _, s := range lc.servers {
		s.logs.mu.Lock()
		for _, m := range s.logs.msgs {
			if m == "swept" {
				swept++
			}
		}
		s.logs.mu.Unlock()
	}
	servers := len(lc.servers)
	lc.mu.Unlock()
	var counts []string
	for k, v := range lc.n {
		counts = append(counts, fmt.Sprintf("%s: %d", k, v))
	}
	slices.Sort(counts)
	t.Logf("%d servers, %d uploads, %d images claimed, %d never claimed, %d sweeps that deleted something; %s",
		servers, len(lc.flows), len(lc.paths), len(lc.unclaimed), swept, strings.Join(counts, ", "))
	for _, n := range lc.notes {
		t.Logf("note: %s", n)
	}
	if len(lc.serverErrs) > 0 {
		t.Errorf("got %d answers with a 5xx status, want none:\n%s", len(lc.serverErrs), strings.Join(firstN(lc.serverErrs, 30), "\n"))
	}
	for _, e := range firstN(lc.errs, 30) {
		t.Error(e)
	}
	if len(lc.errs) > 30 {
		t.Errorf("… and %d more errors", len(lc.errs)-30)
	}
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }
