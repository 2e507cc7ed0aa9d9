package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/internal/testkit/pgtest"

	"github.com/userimages/userimages/client/api"
)

// webhookReceiver is a host app's webhook endpoint on loopback: it
// verifies each request's signature with the Standard Webhooks algorithm
// written in this package from the specification (hookReceiver.verify),
// and records the events it accepted, by webhook-id. While down it answers
// 503; refuse makes it answer 503 to the next n requests.
type webhookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	verifier *hookReceiver // its key; set once the endpoint is added
	down     bool
	refuse   int
	tries    map[string]int // requests per webhook-id, refused ones too
	events   map[string]api.WebhookEvent
	bad      []string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	w := &webhookReceiver{tries: map[string]int{}, events: map[string]api.WebhookEvent{}}
	w.srv = httptest.NewServer(w)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tries[id]++
	if why := w.verifier.verify(r, body); why != "" {
		w.bad = append(w.bad, why)
		http.Error(rw, why, http.StatusUnauthorized)
		return
	}
	if w.down || w.refuse > 0 {
		w.refuse = max(w.refuse-1, 0)
		http.Error(rw, "not now", http.StatusServiceUnavailable)
		return
	}
	var ev api.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" || ev.Data.ID == "" || strings.Contains(string(body), "client_addr") {
		w.bad = append(w.bad, fmt.Sprintf("body %s: %v", body, err))
	}
	w.events[id] = ev
	rw.WriteHeader(http.StatusNoContent)
}

// addEndpoint registers the receiver with `webhook add` (store args
// locate the deployment) and keeps the secret it prints.
func (w *webhookReceiver) addEndpoint(t *testing.T, env []string, storeArgs ...string) string {
	t.Helper()
	out := runCLIEnv(t, env, "", append([]string{"webhook", "add", "--url", w.srv.URL + "/hooks"}, storeArgs...)...)
	var id, secret string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "id":
			id = strings.TrimSpace(v)
		case "secret":
			secret = strings.TrimSpace(v)
		}
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(id, "ep_") || !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 24 {
		t.Fatalf("webhook add printed %q, want an id and a whsec_ secret", out)
	}
	w.mu.Lock()
	w.verifier = &hookReceiver{key: key}
	w.mu.Unlock()
	return id
}

func (w *webhookReceiver) set(f func(w *webhookReceiver)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

// waitFor waits until an accepted event satisfies match, and returns its
// webhook-id and the event.
func (w *webhookReceiver) waitFor(t *testing.T, what string, match func(api.WebhookEvent) bool) (string, api.WebhookEvent) {
	t.Helper()
	// A try in flight when a server is killed is leased for a minute.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for id, ev := range w.events {
			if match(ev) {
				w.mu.Unlock()
				return id, ev
			}
		}
		w.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Fatalf("no %s within 90 s; received %+v, bad %v", what, w.events, w.bad)
	return "", api.WebhookEvent{}
}

func (w *webhookReceiver) triesOf(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tries[id]
}

func (w *webhookReceiver) checkVerified(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bad) > 0 {
		t.Errorf("the receiver refused: %v", w.bad)
	}
}

// about matches events of type typ about the image at path.
func about(typ, path string) func(api.WebhookEvent) bool {
	return func(ev api.WebhookEvent) bool { return ev.Type == typ && ev.Data.Path == path }
}

// webhookArgs make retries quick for tests.
var webhookArgs = []string{"--webhook-retry-delay", "200ms", "--webhook-max-retry-delay", "1s"}

// TestWebhooks: the real binary delivers signed webhooks to a receiver on
// loopback that verifies each signature: image.claimed with the image's
// path, id, brand, type and size; report.created to a receiver refusing
// twice, delivered at the third try with the same webhook-id;
// image.taken_down from the API and from the CLI (written by the CLI's
// process, delivered by the server); image.deleted by the upload token;
// image.erased by user erase, naming the uploader as image.claimed did;
// an event pending when the server is killed -9 (the receiver down) is
// delivered after the restart with its webhook-id. webhook ls and
// webhook deliveries show the endpoint and its deliveries.
func TestWebhooks(t *testing.T) {
	data := t.TempDir()
	const admin, adminPW = "mod@example.com", "moderator-password"
	runCLI(t, adminPW+"\n", "user", "add", "--admin", "--data", data, "--email", admin, "--password-stdin")
	addUser(t, data, "ann@example.com", "ann's password")
	recv := newWebhookReceiver(t)
	epID := recv.addEndpoint(t, nil, "--data", data)
	srv := startServer(t, data, webhookArgs...)
	rng := mrand.New(mrand.NewPCG(26, 2))

	_, path, id := published(t, srv.base, "", encodeJPEG(t, rng, 200, 150))
	claimed := time.Now()
	_, ev := recv.waitFor(t, "image.claimed", about(api.EventImageClaimed, path))
	t.Logf("image.claimed received %v after the claim's answer (the worker polls every second)", time.Since(claimed).Round(time.Millisecond))
	if ev.Data.ID != id || ev.Data.BrandID != brandID || ev.Data.ContentType != "image/jpeg" || ev.Data.Size <= 0 || ev.Data.Uploader != nil || len(ev.Data.SHA256) != 64 {
		t.Errorf("image.claimed: got %+v, want the image's id %s, brand, type, size, no uploader", ev.Data, id)
	}

	recv.set(func(w *webhookReceiver) { w.refuse = 2 })
	res, body, err := do(http.DefaultClient, http.MethodPost, srv.base+"/api/v2/guide/user_images/"+id+"/reports", "", nil, []byte(`{"reason":"spam","detail":"call 555 0100"}`))
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("report: got %v %s, want 202", err, body)
	}
	msg, ev := recv.waitFor(t, "report.created", about(api.EventReportCreated, path))
	if n := recv.triesOf(msg); n != 3 || ev.Data.Reason != "spam" {
		t.Errorf("report.created %s: %d requests with its webhook-id, reason %q; want 3 (two refused), spam", msg, n, ev.Data.Reason)
	}

	// Takedowns: over the API, from the CLI, and by the uploader.
	if code, body := deleteImage(t, srv.base, id, basicAuth(admin, adminPW), ""); code != http.StatusNoContent {
		t.Fatalf("DELETE as admin: got %d %s", code, body)
	}
	recv.waitFor(t, "image.taken_down over the API", about(api.EventImageTakenDown, path))
	_, path2, _ := published(t, srv.base, "", encodeJPEG(t, rng, 200, 150))
	runCLI(t, "", "images", "rm", "--data", data, "--reason", "legal", path2)
	_, ev = recv.waitFor(t, "image.taken_down from the CLI", about(api.EventImageTakenDown, path2))
	if ev.Data.Reason != "legal" {
		t.Errorf("image.taken_down from the CLI: reason %q, want legal", ev.Data.Reason)
	}
	token3, path3, id3 := published(t, srv.base, "", encodeJPEG(t, rng, 200, 150))
	if code, body := deleteImage(t, srv.base, id3, "", token3); code != http.StatusNoContent {
		t.Fatalf("DELETE with the upload token: got %d %s", code, body)
	}
	recv.waitFor(t, "image.deleted", about(api.EventImageDeleted, path3))
	// A signed-in uploader's image: its events name them; erased with them.
	_, path5, _ := published(t, srv.base, basicAuth("ann@example.com", "ann's password"), encodeJPEG(t, rng, 200, 150))
	_, ev = recv.waitFor(t, "image.claimed of a signed-in uploader", about(api.EventImageClaimed, path5))
	runCLI(t, "", "user", "erase", "--data", data, "--email", "ann@example.com")
	_, erased := recv.waitFor(t, "image.erased", about(api.EventImageErased, path5))
	if ev.Data.Uploader == nil || erased.Data.Uploader == nil || erased.Data.Uploader.UserID != ev.Data.Uploader.UserID || ev.Data.Uploader.UserID == 0 {
		t.Errorf("events of ann's image: uploader %+v then %+v, want her user id in both", ev.Data.Uploader, erased.Data.Uploader)
	}

	// Killed with an event pending: delivered after the restart.
	recv.set(func(w *webhookReceiver) { w.down = true })
	_, path4, _ := published(t, srv.base, "", encodeJPEG(t, rng, 200, 150))
	var pending string
	for deadline := time.Now().Add(30 * time.Second); pending == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(runCLI(t, "", "webhook", "deliveries", epID, "--data", data), "\n") {
			if strings.Contains(line, "image.claimed") && strings.Contains(line, "pending") && strings.Contains(line, "503") {
				pending = strings.Fields(line)[0]
			}
		}
	}
	if pending == "" {
		t.Fatal("no pending delivery of the last claim after a 503 within 30 s")
	}
	srv.kill()
	recv.set(func(w *webhookReceiver) { w.down = false })
	startServer(t, data, webhookArgs...)
	msg, _ = recv.waitFor(t, "image.claimed after kill -9", about(api.EventImageClaimed, path4))
	if msg != pending {
		t.Errorf("after the restart: webhook-id %s, want the pending one's %s", msg, pending)
	}
	recv.checkVerified(t)
	ls := runCLI(t, "", "webhook", "ls", "--data", data)
	if !strings.Contains(ls, epID) || !strings.Contains(ls, recv.srv.URL) || strings.Contains(ls, "whsec_") {
		t.Errorf("webhook ls: got %q, want the endpoint, never its secret", ls)
	}
}

// TestWebhooksTwoInstances: two instances on one PostgreSQL deliver every
// event, each claimed on either; duplicates, allowed by at-least-once,
// are counted and reported in the test log.
func TestWebhooksTwoInstances(t *testing.T) {
	db, blob := pgtest.URL(t), "file:"+filepath.Join(t.TempDir(), "blobs")
	env := []string{"USERIMAGES_SIGNING_SECRET=" + hex.EncodeToString([]byte("one secret for both instances!!!"))}
	recv := newWebhookReceiver(t)
	recv.addEndpoint(t, env, "--db", db, "--blob", blob)
	args := append([]string{"--db", db, "--blob", blob, "--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off"}, webhookArgs...)
	a, b := startServerEnv(t, t.TempDir(), env, args...), startServerEnv(t, t.TempDir(), env, args...)
	rng := mrand.New(mrand.NewPCG(26, 3))
	const n = 20
	var paths []string
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		if i == n/2 {
			recv.set(func(w *webhookReceiver) { w.refuse = 3 }) // some retries too
		}
		_, path, _ := published(t, srv.base, "", encodeJPEG(t, rng, 120, 90))
		paths = append(paths, path)
	}
	for _, p := range paths {
		recv.waitFor(t, "image.claimed of "+p, about(api.EventImageClaimed, p))
	}
	recv.checkVerified(t)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	requests, refused := 0, 3
	for _, c := range recv.tries {
		requests += c
	}
	dups := requests - refused - len(recv.events)
	t.Logf("%d events claimed on two instances: %d delivered, %d requests, %d refused on purpose, %d duplicates", n, len(recv.events), requests, refused, dups)
	if len(recv.events) != n || dups < 0 {
		t.Errorf("got %d events from %d requests, want %d", len(recv.events), requests, n)
	}
}

// TestConsoleWebhooks: the console's Webhooks page lists the endpoints
// and their recent deliveries (state, attempts, last answer, next try).
// An endpoint that keeps failing (--webhook-disable-after 1s here) is
// disabled and the page says so; Enable and Retry now (POST forms, like
// the others behind the console's cross-origin protection) send the
// failed delivery again, with its webhook-id. axe-core checks the page.
func TestConsoleWebhooks(t *testing.T) {
	data := t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	up, down := newWebhookReceiver(t), newWebhookReceiver(t)
	up.addEndpoint(t, nil, "--data", data)
	downID := down.addEndpoint(t, nil, "--data", data)
	down.set(func(w *webhookReceiver) { w.down = true })
	srv := startServer(t, data, append([]string{"--webhook-disable-after", "1s"}, webhookArgs...)...)
	rng := mrand.New(mrand.NewPCG(26, 4))
	_, path, _ := published(t, srv.base, "", encodeJPEG(t, rng, 200, 150))
	msg, _ := up.waitFor(t, "image.claimed", about(api.EventImageClaimed, path))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ls := runCLI(t, "", "webhook", "ls", "--data", data); strings.Contains(ls, "disabled since") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failing endpoint was not disabled within 30 s")
		}
	}

	ctx := newBrowser(t, t.TempDir())
	visit(t, ctx, srv, "/admin/webhooks")
	fillIn(t, ctx, "Email", consoleAdmin)
	fillIn(t, ctx, "Password", consoleAdminPW)
	press(t, ctx, "main", "Sign in")
	text := pageText(t, ctx)
	for _, want := range []string{up.srv.URL, down.srv.URL, "1 endpoint is disabled", msg, "delivered", "failed", "not sent: the endpoint is disabled"} {
		if !strings.Contains(text, want) {
			t.Errorf("webhooks page: want %q in %q", want, text)
		}
	}
	checkAccessible(t, ctx, "the webhooks page")
	saveScreenshots(t, ctx, "console-webhooks")

	down.set(func(w *webhookReceiver) { w.down = false })
	press(t, ctx, "#"+downID, "Enable")
	press(t, ctx, "#"+downID, "Retry now")
	if text := pageText(t, ctx); !strings.Contains(text, "due now") {
		t.Errorf("after Retry now: want the flash, got %q", text)
	}
	got, _ := down.waitFor(t, "the retried image.claimed", about(api.EventImageClaimed, path))
	if got != msg {
		t.Errorf("retried delivery: webhook-id %s, want the event's %s", got, msg)
	}
	visit(t, ctx, srv, "/admin/webhooks")
	checkAccessible(t, ctx, "the webhooks page after Retry now")
	up.checkVerified(t)
}
