// Package e2e runs the real userimages binary over real HTTP on loopback:
// the reference page's curl and Go samples, authentication, graceful
// shutdown and crash durability.
package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"userimages/core"
	"userimages/internal/jpegpad"
)

// binPath is the userimages binary built once by TestMain.
var binPath string

const (
	brandID = "10016" // registered by every startServer
	// otherBrand is registered where a test passes otherBrandArgs.
	otherBrand = "20000"
	// startTimeout and stopTimeout only guard against hangs; nothing asserts
	// on speed.
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

var otherBrandArgs = []string{"--brand", otherBrand}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "userimages-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "userimages")
	// The package directory is inside the module, so the import path builds
	// the module's binary whatever the working directory.
	build := exec.Command("go", "build", "-o", binPath, "userimages/cmd/userimages")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build userimages/cmd/userimages:", err)
		return 1
	}
	return m.Run()
}

// cleanEnv is the environment without USERIMAGES_* variables, which would
// otherwise set the binary's flags.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "USERIMAGES_") })
}

// runCLI runs a one-shot userimages command and returns its standard output.
func runCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return runCLIEnv(t, nil, stdin, args...)
}

// runCLIEnv is runCLI with env added to the command's environment.
func runCLIEnv(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("userimages %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// addUser creates a user with the binary's `user add`.
func addUser(t *testing.T, dataDir, email, password string) {
	t.Helper()
	out := runCLI(t, password+"\n", "user", "add", "--data", dataDir, "--email", email, "--password-stdin")
	if !strings.Contains(out, email) {
		t.Fatalf("user add printed %q, want it to name %s", out, email)
	}
}

// serverWithUser starts a server on a new data directory holding the user
// email, and returns it with an API token of that user.
func serverWithUser(t *testing.T, email, password string) (*server, string) {
	t.Helper()
	data := t.TempDir()
	addUser(t, data, email, password)
	token := apiToken(t, data, email)
	return startServer(t, data), token
}

// apiToken creates an API token with the binary's `user token`.
func apiToken(t *testing.T, dataDir, email string) string {
	t.Helper()
	tok := strings.TrimSpace(runCLI(t, "", "user", "token", "--data", dataDir, "--email", email))
	if tok == "" || strings.ContainsAny(tok, " \n") {
		t.Fatalf("user token printed %q, want one token", tok)
	}
	return tok
}

// logSink receives the server's standard error: it writes every line to a
// file and remembers the "msg" of every JSON line.
type logSink struct {
	file *os.File

	mu      sync.Mutex
	partial []byte
	msgs    []string
	addr    string
	changed chan struct{} // closed and replaced on every new line
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.file.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(l.partial[:i], &line) == nil {
			l.msgs = append(l.msgs, line.Msg)
			if line.Msg == "listening" && l.addr == "" {
				l.addr = line.Addr
			}
		}
		l.partial = l.partial[i+1:]
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// waitFor waits until cond holds for the lines seen so far, the process
// exits, or the timeout passes.
func (l *logSink) waitFor(exited <-chan struct{}, timeout time.Duration, cond func(msgs []string, addr string) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok := cond(l.msgs, l.addr)
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-exited:
			l.mu.Lock()
			defer l.mu.Unlock()
			return cond(l.msgs, l.addr)
		case <-deadline.C:
			return false
		}
	}
}

// server is one running `userimages serve`.
type server struct {
	t       *testing.T
	dataDir string
	addr    string // host:port
	base    string // http://host:port
	cmd     *exec.Cmd
	logs    *logSink
	logPath string
	exited  chan struct{}
	waitErr error // set before exited is closed
	// dumpTail, if positive, limits the log printed when the test fails to
	// its last dumpTail bytes (for tests that start many servers).
	dumpTail int
}

// startServer starts `userimages serve --addr 127.0.0.1:0 --data dataDir
// --brand 10016` plus extraArgs, and waits for its listening address. The
// server is stopped with SIGTERM when the test ends; its log is printed if
// the test failed.
func startServer(t *testing.T, dataDir string, extraArgs ...string) *server {
	t.Helper()
	return startServerEnv(t, dataDir, nil, extraArgs...)
}

// startServerEnv is startServer with env added to the server's environment.
func startServerEnv(t *testing.T, dataDir string, env []string, extraArgs ...string) *server {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "server.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--brand", brandID}, extraArgs...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	sink := &logSink{file: f, changed: make(chan struct{})}
	cmd.Stderr = sink
	s := &server{t: t, dataDir: dataDir, cmd: cmd, logs: sink, logPath: logPath, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start userimages serve: %v", err)
	}
	go func() {
		s.waitErr = cmd.Wait() // also waits until all of stderr is in sink
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			if err := s.stop(); err != nil {
				t.Errorf("stopping the server at the end of the test: %v", err)
			}
		}
		f.Close()
		if t.Failed() {
			s.dumpLog()
		}
	})
	listening := sink.waitFor(s.exited, startTimeout, func(_ []string, addr string) bool { return addr != "" })
	if !listening {
		t.Fatalf("userimages serve %s: no listening line on stderr (exited: %v)", strings.Join(args, " "), s.hasExited())
	}
	sink.mu.Lock()
	s.addr = sink.addr
	sink.mu.Unlock()
	s.base = "http://" + s.addr
	return s
}

func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *server) dumpLog() {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		s.t.Logf("server log %s: %v", s.logPath, err)
		return
	}
	if s.dumpTail > 0 && len(b) > s.dumpTail {
		b = append([]byte("[…]"), b[len(b)-s.dumpTail:]...)
	}
	s.t.Logf("server log (%s, data %s):\n%s", s.addr, s.dataDir, b)
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns an error unless the server exited with status 0.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !s.hasExited() {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	return s.wait()
}

// wait waits for the process to exit (killing it after stopTimeout) and
// returns an error unless it exited with status 0.
func (s *server) wait() error {
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server did not exit within %s of SIGTERM; killed", stopTimeout)
	}
	if s.waitErr != nil {
		return fmt.Errorf("server exited with %v", s.waitErr)
	}
	return nil
}

// kill is kill -9: no chance to finish anything.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// logged reports whether the server has logged a line with this msg.
func (s *server) logged(msg string) bool {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return slices.Contains(s.logs.msgs, msg)
}

func (s *server) waitForLog(msg string) bool {
	return s.logs.waitFor(s.exited, stopTimeout, func(msgs []string, _ string) bool { return slices.Contains(msgs, msg) })
}

// Authorization header values.

func basicAuth(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// uploadResponse is step 1's answer.
type uploadResponse struct {
	Upload struct {
		Headers map[string]string `json:"headers"`
		Token   string            `json:"token"`
		URL     string            `json:"url"`
	} `json:"upload"`
}

// imageResponse is step 3's answer.
type imageResponse struct {
	UserImage struct {
		ContentType string `json:"content_type"`
		Path        string `json:"path"`
		Size        int64  `json:"size"`
	} `json:"user_image"`
}

// errorResponse is the error document.
type errorResponse struct {
	Errors []struct {
		Code   string `json:"code"`
		Title  string `json:"title"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// errorCode returns the code of the first error of an error document, or a
// description of why body is not one.
func errorCode(body []byte) string {
	var e errorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Sprintf("<not JSON: %v: %q>", err, body)
	}
	if len(e.Errors) == 0 {
		return fmt.Sprintf("<no errors in %q>", body)
	}
	return e.Errors[0].Code
}

// do sends one request and reads the whole answer. auth may be empty
// (anonymous). It never calls t: the crash test uses it off the test
// goroutine.
func do(c *http.Client, method, url, auth string, header map[string]string, body []byte) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res, b, fmt.Errorf("%s %s: read body: %w", method, req.URL.Path, err)
	}
	return res, b, nil
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// errStatus is an HTTP answer other than the expected one.
type errStatus struct {
	step   string
	status int
	body   []byte
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s: got status %d, body %s", e.step, e.status, bytes.TrimSpace(e.body))
}

// createUpload is step 1.
func createUpload(c *http.Client, base, auth, contentType string, size int) (uploadResponse, error) {
	body, _ := json.Marshal(map[string]any{"content_type": contentType, "file_size": size})
	res, b, err := do(c, http.MethodPost, base+"/api/v2/guide/user_images/uploads", auth, jsonHeader, body)
	if err != nil {
		return uploadResponse{}, err
	}
	if res.StatusCode != http.StatusOK {
		return uploadResponse{}, &errStatus{"create upload", res.StatusCode, b}
	}
	var up uploadResponse
	if err := json.Unmarshal(b, &up); err != nil {
		return up, fmt.Errorf("create upload: %v: %s", err, b)
	}
	return up, nil
}

// putUpload is step 2: the bytes to upload.url with every upload.header.
func putUpload(c *http.Client, up uploadResponse, data []byte) error {
	res, b, err := do(c, http.MethodPut, up.Upload.URL, "", up.Upload.Headers, data)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return &errStatus{"put upload", res.StatusCode, b}
	}
	// As S3 answers: the quoted MD5 of the bytes, which S3 clients read.
	if sum := md5.Sum(data); res.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		return fmt.Errorf("put upload: ETag %q, want the quoted MD5 of the %d bytes", res.Header.Get("ETag"), len(data))
	}
	return nil
}

// claim is step 3.
func claim(c *http.Client, base, auth, token, brand string) (imageResponse, error) {
	res, b, err := postClaim(c, base, auth, token, brand)
	if err != nil {
		return imageResponse{}, err
	}
	if res.StatusCode != http.StatusCreated {
		return imageResponse{}, &errStatus{"claim", res.StatusCode, b}
	}
	var img imageResponse
	if err := json.Unmarshal(b, &img); err != nil {
		return img, fmt.Errorf("claim: %v: %s", err, b)
	}
	return img, nil
}

// postClaim POSTs step 3 and returns the answer, whatever its status.
func postClaim(c *http.Client, base, auth, token, brand string) (*http.Response, []byte, error) {
	body, _ := json.Marshal(map[string]string{"token": token, "brand_id": brand})
	return do(c, http.MethodPost, base+"/api/v2/guide/user_images", auth, jsonHeader, body)
}

// statusOf returns the HTTP status of an errStatus, or 0.
func statusOf(err error) int {
	var e *errStatus
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}

// fetch GETs path from base and returns its bytes; status must be 200.
func fetch(c *http.Client, base, path string) ([]byte, error) {
	res, b, err := do(c, http.MethodGet, base+path, "", nil, nil)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, &errStatus{"get " + path, res.StatusCode, b}
	}
	return b, nil
}

// Test images, made with the standard library's encoders.

func testImage(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c0 := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{c0.R + uint8(x*7), c0.G + uint8(y*5), c0.B + uint8(rng.IntN(32)), 255})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, rng *rand.Rand, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(rng, w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, rng *rand.Rand, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(rng, w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, rng *rand.Rand, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, testImage(rng, w, h), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// padJPEG returns a valid JPEG of exactly size bytes: base (a JPEG) with
// comment (COM) segments of random bytes inserted after its SOI marker.
// Decoders skip comments, so the image is unchanged; this makes large,
// incompressible files of any size without encoding megapixels. size must
// be 0 or at least len(base)+4.
func padJPEG(base []byte, size int, rng *rand.ChaCha8) []byte {
	out, err := jpegpad.Pad(base, size, rng)
	if err != nil {
		panic(err)
	}
	return out
}

// newRand returns a generator seeded from the clock, logging the seed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// rngBytes returns a fast generator of random bytes seeded from rng.
func rngBytes(rng *rand.Rand) *rand.ChaCha8 {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	return rand.NewChaCha8(seed)
}

// checkRowServed checks that the image of a database row is served with
// exactly the row's size and SHA-256: nothing partial is reachable.
func checkRowServed(base string, row core.Image) error {
	path := core.Path(row)
	got, err := fetch(http.DefaultClient, base, path)
	if err != nil {
		return fmt.Errorf("image row %s (token %s): %w", row.ID, row.Token, err)
	}
	sum := sha256.Sum256(got)
	if int64(len(got)) != row.Size || hex.EncodeToString(sum[:]) != row.SHA256 {
		return fmt.Errorf("GET %s: got %d bytes with sha256 %x, want the row's %d bytes with sha256 %s", path, len(got), sum, row.Size, row.SHA256)
	}
	return nil
}
