package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"userimages/core"
	"userimages/sqlite"
)

// crashFlow is one three-step upload of the crash test and how far the
// server's answers got before the kill.
type crashFlow struct {
	data   []byte // uploaded
	served []byte // data without its comment padding, which the server strips
	token  string // step 1 answered 200
	put    bool   // step 2 answered 200
	path   string // step 3 answered 201
}

// TestCrashDurability kills the server with SIGKILL while uploads and
// claims are in flight, restarts it on the same data directory and checks
// that every answer it gave still holds: every 201 image is served byte for
// byte, every 200 PUT can still be claimed, and nothing partial is reachable.
func TestCrashDurability(t *testing.T) {
	const (
		rounds    = 3
		workers   = 8
		perWorker = 40 // flows per worker and round, at most
		maxSize   = 1_500_000
	)
	data := t.TempDir()
	rng := newRand(t)
	published := map[string][]byte{} // image path -> bytes, every image ever answered or recovered

	var pending []*crashFlow // the flows of the round killed last
	for round := 0; ; round++ {
		// Every flow stands for another user, all from 127.0.0.1.
		srv := startServer(t, data, "--max-concurrent-uploads-per-client", "64")
		recoverFlows(t, srv, pending, published)
		checkPublished(t, srv, published)
		checkEveryRow(t, srv, published)
		if t.Failed() || round == rounds {
			t.Logf("%d rounds, %d images published", round, len(published))
			return
		}
		pending = crashRound(t, srv, rng, workers, perWorker, maxSize)
	}
}

// crashRound runs workers concurrent upload loops against srv and kills it
// at a random moment after a random number of successful claims.
func crashRound(t *testing.T, srv *server, rng *rand.Rand, workers, perWorker, maxSize int) []*crashFlow {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	killAfter := 2 + rng.IntN(20) // successful claims before the kill
	var (
		mu       sync.Mutex
		flows    []*crashFlow
		claimed  int
		killed   atomic.Bool
		stop     = make(chan struct{})
		trigger  = make(chan struct{})
		finished = make(chan struct{})
		wg       sync.WaitGroup
	)
	// failed reports an error unless it is the connection failure the kill
	// causes.
	failed := func(step string, err error) {
		if statusOf(err) != 0 || !killed.Load() {
			t.Errorf("%s while the server was up: %v", step, err)
		}
	}
	for w := range workers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		bytesRng := rngBytes(wrng)
		base := encodeJPEG(t, wrng, 16+wrng.IntN(48), 16+wrng.IntN(48))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				select {
				case <-stop:
					return
				default:
				}
				f := &crashFlow{data: padJPEG(base, len(base)+4+wrng.IntN(maxSize-len(base)-4), bytesRng), served: base}
				up, err := createUpload(client, srv.base, "", "image/jpeg", len(f.data))
				if err != nil {
					failed("create upload", err)
					return
				}
				mu.Lock()
				f.token = up.Upload.Token
				flows = append(flows, f)
				mu.Unlock()
				if err := putUpload(client, up, f.data); err != nil {
					failed("put", err)
					return
				}
				mu.Lock()
				f.put = true
				mu.Unlock()
				img, err := claim(client, srv.base, "", up.Upload.Token, brandID)
				if err != nil {
					failed("claim", err)
					return
				}
				mu.Lock()
				f.path = img.UserImage.Path
				claimed++
				if claimed == killAfter {
					close(trigger)
				}
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()

	select {
	case <-trigger:
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
	case <-finished:
	case <-time.After(2 * time.Minute): // a hang guard, not a speed check
		t.Errorf("got fewer than %d claims before the hang guard fired", killAfter)
	}
	killed.Store(true)
	srv.kill()
	close(stop)
	<-finished

	mu.Lock()
	defer mu.Unlock()
	if claimed == 0 {
		t.Errorf("got no 201 before the kill; want at least one")
	}
	puts, inFlight := 0, 0
	for _, f := range flows {
		if f.put {
			puts++
		}
		if f.path == "" {
			inFlight++
		}
	}
	t.Logf("killed after %d claims (target %d): %d uploads created, %d PUTs answered, %d flows unfinished", claimed, killAfter, len(flows), puts, inFlight)
	return flows
}

// recoverFlows checks the flows of a killed server on its successor: what
// was answered must hold, and what was in flight is either complete or
// absent.
func recoverFlows(t *testing.T, srv *server, flows []*crashFlow, published map[string][]byte) {
	t.Helper()
	c := http.DefaultClient
	for _, f := range flows {
		switch {
		case f.path != "":
			// Answered 201: checked by checkPublished.
			published[f.path] = f.served
		case f.put:
			// Answered 200: the bytes are durable, so the claim succeeds
			// (or had succeeded, unanswered) with exactly these bytes.
			img, err := claim(c, srv.base, "", f.token, brandID)
			if err != nil {
				t.Errorf("claim of token %s after the restart (its PUT had answered 200): %v", f.token, err)
				continue
			}
			published[img.UserImage.Path] = f.served
		default:
			// The PUT was unanswered: all of its bytes were stored, or none.
			img, err := claim(c, srv.base, "", f.token, brandID)
			var e *errStatus
			switch {
			case err == nil:
				published[img.UserImage.Path] = f.served
			case errors.As(err, &e) && e.status == http.StatusConflict && errorCode(e.body) == "NotUploaded":
			default:
				t.Errorf("claim of token %s after the restart (its PUT was cut off): got %v, want 201 or 409 NotUploaded", f.token, err)
			}
		}
	}
}

// checkPublished checks that every image answered so far is served with the
// uploaded bytes.
func checkPublished(t *testing.T, srv *server, published map[string][]byte) {
	t.Helper()
	for path, want := range published {
		got, err := fetch(http.DefaultClient, srv.base, path)
		if err != nil {
			t.Errorf("image answered 201 earlier: %v", err)
			continue
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("GET %s: got %d bytes (sha256 %x), want the %d uploaded bytes (sha256 %x)", path, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
		}
	}
}

// checkEveryRow reads every image row of the database and checks that its
// path serves exactly the bytes the row describes, and that every row is an
// image the test knows it uploaded.
func checkEveryRow(t *testing.T, srv *server, published map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(srv.dataDir, "userimages.db"))
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	rows, err := db.Images(ctx)
	db.Close()
	if err != nil {
		t.Fatalf("list image rows: %v", err)
	}
	if len(rows) != len(published) {
		t.Errorf("image rows: got %d, want %d (one per image answered or recovered)", len(rows), len(published))
	}
	for _, row := range rows {
		if err := checkRowServed(srv.base, row); err != nil {
			t.Error(err)
			continue
		}
		if _, ok := published[core.Path(row)]; !ok {
			t.Errorf("image row %s (token %s): not an image the test was answered or recovered", row.ID, row.Token)
		}
	}
}
