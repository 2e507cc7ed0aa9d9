package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"userimages/core"
	"userimages/internal/testkit/pgtest"
	"userimages/internal/testkit/stallproxy"
	"userimages/postgres"
)

// testTimeout is the store timeout of these tests, and slack what a call
// may take past it (the connection being broken off, a loaded machine).
const (
	testTimeout = 300 * time.Millisecond
	slack       = 700 * time.Millisecond
)

// received records a received upload of n, anonymous, and brand "b".
func receivedUpload(t *testing.T, db *postgres.DB, n int) core.Upload {
	t.Helper()
	ctx := t.Context()
	up := core.Upload{Token: fmt.Sprintf("01J0000000000000000000%04d", n), ContentType: "image/png", FileSize: 100,
		CreatedAt: time.Now().UTC(), Uploader: core.Uploader{ClientAddr: "192.0.2.1"}}
	if err := db.AddBrand(ctx, "b"); err != nil {
		t.Fatalf("AddBrand: got error %v, want nil", err)
	}
	if err := db.CreateUpload(ctx, up); err != nil {
		t.Fatalf("CreateUpload: got error %v, want nil", err)
	}
	up.State, up.ImageID, up.Size, up.SHA256 = core.StateReceived, fmt.Sprintf("img%019d", n), 90, fmt.Sprintf("%064x", n)
	if err := db.ReceiveUpload(ctx, up); err != nil {
		t.Fatalf("ReceiveUpload: got error %v, want nil", err)
	}
	return up
}

func claimOf(up core.Upload) core.UploadClaim {
	return core.UploadClaim{Token: up.Token, BrandID: "b", NotBefore: up.CreatedAt.Add(-time.Hour), At: time.Now()}
}

// checkDeadline checks that err is a store timeout that came within the
// bound.
func checkDeadline(t *testing.T, what string, err error, took time.Duration) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("%s on a stalled database: got error %v, want one matching context.DeadlineExceeded marked core.ErrUnavailable", what, err)
	}
	if took > testTimeout+slack {
		t.Errorf("%s on a stalled database: took %s, want at most %s", what, took, testTimeout+slack)
	}
}

// TestStalledDatabase: behind a network that stops forwarding, every call
// fails within the store's timeout as a deadline passed, 16 at once
// included (they wait for the pool's few connections within the same
// deadline); a claim made then is not committed, and everything works
// again once the network does.
func TestStalledDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := stallproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	db, err := postgres.New(t.Context(), postgres.Config{URL: u.String(), Timeout: testTimeout})
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	t.Cleanup(db.Close)
	up := receivedUpload(t, db, 1)

	proxy.Stall()
	start := time.Now()
	_, err = db.ClaimUpload(t.Context(), claimOf(up))
	checkDeadline(t, "ClaimUpload", err, time.Since(start))
	start = time.Now()
	_, err = db.TokenStatus(t.Context(), up.Token)
	checkDeadline(t, "TokenStatus", err, time.Since(start))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			start := time.Now()
			_, err := db.BrandExists(t.Context(), "b")
			checkDeadline(t, fmt.Sprintf("BrandExists %d of 16 at once", i), err, time.Since(start))
		})
	}
	wg.Wait()

	proxy.Resume()
	var img core.Image
	for range 10 { // connections broken off are dropped as they are found
		if img, err = db.ClaimUpload(t.Context(), claimOf(up)); err == nil {
			break
		}
	}
	if err != nil || img.ID != up.ImageID {
		t.Fatalf("ClaimUpload after the network came back: got %+v, %v, want image %s: the stalled claim must not have committed", img, err, up.ImageID)
	}
}

// TestLockTimeout: a claim of an upload whose row another transaction
// holds locked fails within the store's timeout.
func TestLockTimeout(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := postgres.New(t.Context(), postgres.Config{URL: url, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	t.Cleanup(db.Close)
	up := receivedUpload(t, db, 2)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT FROM uploads WHERE token = $1 FOR UPDATE`, up.Token); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.ClaimUpload(t.Context(), claimOf(up))
	if took := time.Since(start); !errors.Is(err, core.ErrUnavailable) || took > testTimeout+slack {
		t.Errorf("ClaimUpload of a locked row: got error %v after %s, want one marked core.ErrUnavailable within %s", err, took, testTimeout+slack)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		timeout time.Duration
		ok      bool
	}{{0, true}, {10 * time.Millisecond, true}, {5 * time.Second, true}, {time.Millisecond, false}, {-time.Second, false}} {
		if err := (postgres.Config{Timeout: tt.timeout}).Validate(); (err == nil) != tt.ok {
			t.Errorf("Config{Timeout: %s}.Validate(): got %v, want ok %v", tt.timeout, err, tt.ok)
		}
	}
}
