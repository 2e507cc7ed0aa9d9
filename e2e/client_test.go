package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// clientPathRE matches a published image path of extension ext.
func clientPathRE(ext string) *regexp.Regexp {
	return regexp.MustCompile(`^/hc/user_images/[A-Za-z0-9_-]{22}\.` + ext + `$`)
}

// clientFile writes data to name in dir and returns its path: a file for a
// client (the CLI, package client, or a browser) to upload.
func clientFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkClientImage checks an uploaded image and that its URL serves data.
func checkClientImage(t *testing.T, srv *server, img client.Image, contentType, ext string, data []byte) {
	t.Helper()
	if !clientPathRE(ext).MatchString(img.Path) {
		t.Errorf("Path: got %q, want it to match %s", img.Path, clientPathRE(ext))
	}
	if img.ContentType != contentType || img.Size != int64(len(data)) {
		t.Errorf("got content type %q size %d, want %q %d", img.ContentType, img.Size, contentType, len(data))
	}
	if want := srv.base + img.Path; img.URL != want {
		t.Errorf("URL: got %q, want %q", img.URL, want)
	}
	res, body, err := do(http.DefaultClient, http.MethodGet, img.URL, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET %s: got status %d and %d bytes, want 200 and the %d uploaded bytes", img.URL, res.StatusCode, len(body), len(data))
	}
}

// TestClientUpload uploads each image type with package client, with each
// way of authenticating, and reads the images back.
func TestClientUpload(t *testing.T) {
	const email, password = "client@example.com", "client-password-1"
	srv, token := serverWithUser(t, email, password)
	rng := newRand(t)
	dir := t.TempDir()

	images := []struct {
		contentType, ext string
		data             []byte
	}{
		{api.JPEG.MIME, "jpeg", encodeJPEG(t, rng, 200, 150)},
		{api.PNG.MIME, "png", encodePNG(t, rng, 64, 48)},
		{api.GIF.MIME, "gif", encodeGIF(t, rng, 40, 30)},
	}
	auths := []struct {
		name string
		opts []client.Option
	}{
		{"anonymous", nil},
		{"password", []client.Option{client.WithPassword(email, password)}},
		{"api token", []client.Option{client.WithAPIToken(email, token)}},
		{"bearer", []client.Option{client.WithBearer(token)}},
	}
	for _, a := range auths {
		c, err := client.New(srv.base, a.opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range images {
			t.Run(a.name+"/"+im.ext, func(t *testing.T) {
				file := clientFile(t, dir, strings.ReplaceAll(a.name, " ", "-")+"."+im.ext, im.data)
				var last, calls int64
				img, err := c.UploadFile(context.Background(), file, brandID, func(sent, total int64) {
					if total != int64(len(im.data)) || sent < last && sent != 0 {
						t.Errorf("progress(%d, %d) after %d: want totals of %d and sent growing", sent, total, last, len(im.data))
					}
					last = sent
					calls++
				})
				if err != nil {
					t.Fatal(err)
				}
				if last != int64(len(im.data)) || calls < 2 {
					t.Errorf("progress: last sent %d after %d calls, want %d after at least 2", last, calls, len(im.data))
				}
				checkClientImage(t, srv, img, im.contentType, im.ext, im.data)
			})
		}
	}

	// Upload takes any reader; one that cannot rewind is sent once.
	c, err := client.New(srv.base, client.WithAPIToken(email, token))
	if err != nil {
		t.Fatal(err)
	}
	jpeg := images[0].data
	for name, r := range map[string]io.Reader{"seekable": bytes.NewReader(jpeg), "stream": io.MultiReader(bytes.NewReader(jpeg))} {
		t.Run("reader/"+name, func(t *testing.T) {
			img, err := c.Upload(context.Background(), r, api.JPEG.MIME, int64(len(jpeg)), brandID, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkClientImage(t, srv, img, api.JPEG.MIME, "jpeg", jpeg)
		})
	}
}

// TestClientErrors checks that refusals arrive as *client.Error with the
// server's codes.
func TestClientErrors(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "erring@example.com", "erring-password-1")
	srv := startServer(t, data)
	rng := newRand(t)
	dir := t.TempDir()
	jpeg := encodeJPEG(t, rng, 64, 48)
	anon, err := client.New(srv.base)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword, err := client.New(srv.base, client.WithPassword("erring@example.com", "not-the-password"))
	if err != nil {
		t.Fatal(err)
	}
	blocked := encodeJPEG(t, rng, 32, 32)
	taken, err := anon.Upload(context.Background(), bytes.NewReader(blocked), api.JPEG.MIME, int64(len(blocked)), brandID, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCLI(t, "", "images", "rm", "--data", data, "--block", "--reason", "test", taken.Path)

	cases := []struct {
		name        string
		upload      func() (client.Image, error)
		wantStatus  int
		wantCode    api.Code
		wantPointer string
	}{
		{"too large", func() (client.Image, error) {
			return anon.UploadFile(context.Background(), clientFile(t, dir, "big.jpg", padJPEG(jpeg, 2_000_001, rngBytes(rng))), brandID, nil)
		}, 422, api.CodeFileTooLarge, "/file_size"},
		{"type the server refuses", func() (client.Image, error) {
			return anon.Upload(context.Background(), bytes.NewReader(jpeg), "image/bmp", int64(len(jpeg)), brandID, nil)
		}, 422, api.CodeUnsupportedContentType, "/content_type"},
		{"not an image, found locally", func() (client.Image, error) {
			return anon.UploadFile(context.Background(), clientFile(t, dir, "notes.png", []byte("plain text\n")), brandID, nil)
		}, 0, api.CodeUnsupportedContentType, "/content_type"},
		{"bytes of another type", func() (client.Image, error) {
			return anon.Upload(context.Background(), bytes.NewReader(jpeg), api.PNG.MIME, int64(len(jpeg)), brandID, nil)
		}, 422, api.CodeContentMismatch, ""},
		{"truncated", func() (client.Image, error) {
			half := jpeg[:len(jpeg)/2]
			return anon.Upload(context.Background(), bytes.NewReader(half), api.JPEG.MIME, int64(len(half)), brandID, nil)
		}, 422, api.CodeTruncatedImage, ""},
		{"unknown brand", func() (client.Image, error) {
			return anon.Upload(context.Background(), bytes.NewReader(jpeg), api.JPEG.MIME, int64(len(jpeg)), "424242", nil)
		}, 422, api.CodeBrandNotFound, "/brand_id"},
		{"wrong password", func() (client.Image, error) {
			return wrongPassword.Upload(context.Background(), bytes.NewReader(jpeg), api.JPEG.MIME, int64(len(jpeg)), brandID, nil)
		}, 401, api.CodeUnauthorized, ""},
		{"blocked bytes", func() (client.Image, error) {
			return anon.Upload(context.Background(), bytes.NewReader(blocked), api.JPEG.MIME, int64(len(blocked)), brandID, nil)
		}, 422, api.CodeBlockedContent, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := tc.upload()
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %+v, %v; want a *client.Error", img, err)
			}
			if e.Status != tc.wantStatus || e.Code != tc.wantCode || e.Pointer != tc.wantPointer {
				t.Errorf("got status %d code %q pointer %q, want %d %q %q", e.Status, e.Code, e.Pointer, tc.wantStatus, tc.wantCode, tc.wantPointer)
			}
			if e.Detail == "" {
				t.Errorf("got no detail in %#v", e)
			}
		})
	}
}

// TestClientRetriesThroughFlakyProxy puts a proxy between the client and
// the server that answers the first create with 503 and drops the answers
// of the first PUT and the first claim after the server handled them: the
// client must retry each, take the PUT's 409 AlreadyUploaded as the bytes
// having landed, and get the one image the first claim made.
func TestClientRetriesThroughFlakyProxy(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	rng := newRand(t)
	img := encodeJPEG(t, rng, 90, 70)

	var mu sync.Mutex
	seen := map[string]int{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		step := r.Method + " " + r.URL.Path
		if r.Method == http.MethodPut {
			step = "PUT"
		}
		mu.Lock()
		seen[step]++
		n := seen[step]
		mu.Unlock()
		if step == "POST /api/v2/guide/user_images/uploads" && n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"errors":[{"code":"ServiceUnavailable","title":"Service unavailable","detail":"injected","status":"503"}]}`)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		out, err := http.NewRequest(r.Method, srv.base+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		out.Header = r.Header.Clone()
		out.Host = r.Host // upload URLs are signed for the host the client called
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		defer res.Body.Close()
		answer, _ := io.ReadAll(res.Body)
		if (step == "PUT" || step == "POST /api/v2/guide/user_images") && n == 1 {
			if res.StatusCode/100 != 2 {
				t.Errorf("proxy: the server answered the first %s with %d %s, want success", step, res.StatusCode, answer)
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // the server did the work; the client never hears
			}
			return
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		w.Write(answer)
	}))
	defer proxy.Close()

	c, err := client.New(proxy.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Upload(context.Background(), bytes.NewReader(img), api.JPEG.MIME, int64(len(img)), brandID, nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	counts := fmt.Sprint(seen)
	mu.Unlock()
	if want := "map[POST /api/v2/guide/user_images:2 POST /api/v2/guide/user_images/uploads:2 PUT:2]"; counts != want {
		t.Errorf("requests through the proxy: got %s, want %s", counts, want)
	}
	if want := proxy.URL + got.Path; got.URL != want {
		t.Errorf("URL: got %q, want %q", got.URL, want)
	}
	got.URL = srv.base + got.Path // read it back from the server itself
	checkClientImage(t, srv, got, api.JPEG.MIME, "jpeg", img)
	ls := runCLI(t, "", "images", "ls", "--data", data)
	if n := strings.Count(ls, "/hc/user_images/"); n != 1 || !strings.Contains(ls, got.Path) {
		t.Errorf("images ls: got\n%s\nwant exactly the one image %s", ls, got.Path)
	}
}

// uploadRun is the outcome of one `userimages upload`.
type uploadRun struct {
	stdout, stderr string
	exit           int
}

// runUploadCLI runs `userimages upload args…` with the clean environment plus
// env.
func runUploadCLI(t *testing.T, env []string, args ...string) uploadRun {
	t.Helper()
	return runCommand(t, "", env, append([]string{"upload"}, args...)...)
}

// TestUploadCommand runs `userimages upload` as a subprocess.
func TestUploadCommand(t *testing.T) {
	const email, password = "cli@example.com", "cli-password-1"
	srv, token := serverWithUser(t, email, password)
	rng := newRand(t)
	dir := t.TempDir()
	jpegData, pngData, gifData := encodeJPEG(t, rng, 120, 90), encodePNG(t, rng, 50, 40), encodeGIF(t, rng, 30, 20)
	a := clientFile(t, dir, "a.jpg", jpegData)
	b := clientFile(t, dir, "b.png", pngData)
	c := clientFile(t, dir, "c.gif", gifData)
	big := clientFile(t, dir, "big.jpg", padJPEG(jpegData, 2_400_000, rngBytes(rng)))
	notes := clientFile(t, dir, "notes.jpg", []byte("not a picture\n"))

	// checkPaths checks that out is one path per line, each serving want.
	checkPaths := func(t *testing.T, out string, want ...[]byte) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("stdout: got %q, want %d lines of paths", out, len(want))
		}
		for i, p := range lines {
			if !regexp.MustCompile(`^/hc/user_images/[A-Za-z0-9_-]{22}\.(jpeg|png|gif)$`).MatchString(p) {
				t.Errorf("line %d: got %q, want an image path", i+1, p)
				continue
			}
			got, err := fetch(http.DefaultClient, srv.base, p)
			if err != nil {
				t.Error(err)
			} else if !bytes.Equal(got, want[i]) {
				t.Errorf("GET %s: got %d bytes, want the %d of file %d", p, len(got), len(want[i]), i+1)
			}
		}
	}

	t.Run("paths, anonymous", func(t *testing.T) {
		r := runUploadCLI(t, nil, "--server", srv.base, "--brand", brandID, a, b)
		if r.exit != 0 {
			t.Fatalf("exit status %d, want 0; stderr:\n%s", r.exit, r.stderr)
		}
		checkPaths(t, r.stdout, jpegData, pngData)
		if r.stderr != "" {
			t.Errorf("stderr: got %q, want nothing (no progress bar when stderr is not a terminal)", r.stderr)
		}
	})

	for _, cred := range [][]string{
		{"--user", email + ":" + password},
		{"--token", email + "/token:" + token},
		{"--bearer", token},
	} {
		t.Run("paths, "+cred[0], func(t *testing.T) {
			r := runUploadCLI(t, nil, append([]string{"--server", srv.base, "--brand", brandID}, append(cred, c)...)...)
			if r.exit != 0 {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", r.exit, r.stderr)
			}
			checkPaths(t, r.stdout, gifData)
		})
	}

	t.Run("server and credentials from the environment", func(t *testing.T) {
		r := runUploadCLI(t, []string{"USERIMAGES_SERVER=" + srv.base, "USERIMAGES_TOKEN=" + email + "/token:" + token}, "--brand", brandID, a)
		if r.exit != 0 {
			t.Fatalf("exit status %d, want 0; stderr:\n%s", r.exit, r.stderr)
		}
		checkPaths(t, r.stdout, jpegData)
	})

	t.Run("json", func(t *testing.T) {
		r := runUploadCLI(t, nil, "--server", srv.base, "--token", email+"/token:"+token, "--brand", brandID, "--json", a, big, c)
		if r.exit != 1 {
			t.Errorf("exit status %d, want 1 (big.jpg fails); stderr:\n%s", r.exit, r.stderr)
		}
		type result struct {
			File        string `json:"file"`
			Path        string `json:"path"`
			URL         string `json:"url"`
			Size        int64  `json:"size"`
			ContentType string `json:"content_type"`
			Error       *struct {
				Code   string `json:"code"`
				Detail string `json:"detail"`
				Status int    `json:"status"`
			} `json:"error"`
		}
		var got []result
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		for dec.More() {
			var res result
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("stdout %q: %v", r.stdout, err)
			}
			got = append(got, res)
		}
		if len(got) != 3 || strings.Count(r.stdout, "\n") != 3 {
			t.Fatalf("stdout: got %q, want 3 JSON objects, one a line", r.stdout)
		}
		for i, want := range []struct {
			file, contentType string
			data              []byte
		}{{a, "image/jpeg", jpegData}, {c, "image/gif", gifData}} {
			res := got[2*i]
			if res.File != want.file || res.Error != nil || res.ContentType != want.contentType || res.Size != int64(len(want.data)) ||
				res.URL != srv.base+res.Path {
				t.Errorf("object %d: got %+v, want file %s, %s of %d bytes, url = server + path", 2*i+1, res, want.file, want.contentType, len(want.data))
			}
			checkPaths(t, res.Path+"\n", want.data)
		}
		if e := got[1]; e.File != big || e.Error == nil || e.Error.Code != "FileTooLarge" || e.Error.Status != 422 || e.Error.Detail == "" || e.Path != "" {
			t.Errorf("object 2: got %+v (error %+v), want big.jpg with a FileTooLarge 422 error and a detail", e, e.Error)
		}
	})

	// Each run sends c.gif first; the flags after it win over the first
	// --brand. A bad file fails alone; bad credentials or a bad brand fail
	// c.gif too and stop the run.
	failures := []struct {
		name    string
		args    []string
		allFail bool
		wantMsg []string
	}{
		{"too large", []string{big}, false, []string{"big.jpg is 2.4 MB; the server accepts at most 2 MB",
			"over the limit of 2000000 bytes", "1 of 2 files failed"}},
		{"not an image", []string{notes}, false, []string{"notes.jpg: the file looks like text/plain; only JPEG, PNG, GIF and WebP images",
			"1 of 2 files failed"}},
		{"missing file", []string{filepath.Join(dir, "missing.png")}, false, []string{"missing.png: no such file", "1 of 2 files failed"}},
		{"wrong password", []string{"--user", email + ":nope", a, b}, true, []string{"check --user/--token", "Unauthorized",
			"1 of 3 files failed; 2 not tried"}},
		{"unknown brand", []string{"--brand", "424242", a, b}, true, []string{"check --brand", "BrandNotFound",
			"1 of 3 files failed; 2 not tried"}},
	}
	for _, f := range failures {
		t.Run("fails: "+f.name, func(t *testing.T) {
			r := runUploadCLI(t, nil, append([]string{"--server", srv.base, "--brand", brandID, c}, f.args...)...)
			if r.exit != 1 {
				t.Errorf("exit status %d, want 1", r.exit)
			}
			if f.allFail {
				if r.stdout != "" {
					t.Errorf("stdout: got %q, want nothing", r.stdout)
				}
			} else {
				checkPaths(t, r.stdout, gifData)
			}
			for _, m := range f.wantMsg {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr: got %q, want it to say %q", r.stderr, m)
				}
			}
		})
	}

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"--server", srv.base, a},                  // no brand
			{"--server", srv.base, "--brand", brandID}, // no files
			{"--server", srv.base, "--brand", brandID, "--bearer", "x", "--user", "a@b.c:d", a}, // two credentials
			{"--server", srv.base, "--brand", brandID, "--token", "just-a-token", a},
			{"--server", "localhost:1", "--brand", brandID, a},
		} {
			if r := runUploadCLI(t, nil, args...); r.exit != 1 || r.stdout != "" || r.stderr == "" {
				t.Errorf("upload %q: got exit %d, stdout %q, stderr %q; want 1, nothing, a message", args, r.exit, r.stdout, r.stderr)
			}
		}
	})

	t.Run("progress bar on a terminal", func(t *testing.T) {
		script, err := exec.LookPath("script")
		if err != nil {
			t.Skip("no script(1) to run the command on a terminal")
		}
		quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
		command := strings.Join([]string{quote(binPath), "upload", "--server", quote(srv.base), "--brand", brandID, quote(b)}, " ")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, "-qefc", command, "/dev/null")
		cmd.Env = cleanEnv()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("script -c %s: %v; output %q", command, err, out)
		}
		if !bytes.Contains(out, []byte("\r")) || !bytes.Contains(out, []byte("100%")) || !bytes.Contains(out, []byte("b.png [")) {
			t.Errorf("terminal output: got %q, want a progress bar for b.png reaching 100%%", out)
		}
		clear := []byte("\r\x1b[K")
		if i := bytes.LastIndex(out, clear); i < 0 || !clientPathRE("png").Match(bytes.TrimSpace(out[i+len(clear):])) {
			t.Errorf("terminal output: got %q, want the path on a cleared line at the end", out)
		}
	})
}
