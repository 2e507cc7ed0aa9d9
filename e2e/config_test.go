package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeConfiguration: --public-url is the base of upload URLs, and
// USERIMAGES_* variables configure serve like its flags (which win).
func TestServeConfiguration(t *testing.T) {
	env := []string{"USERIMAGES_MAX_FILE_SIZE=5000", "USERIMAGES_CONTENT_TYPE=image/png,image/gif", "USERIMAGES_PUBLIC_URL=https://images.example.test"}
	srv := startServerEnv(t, t.TempDir(), env, "--public-url", "https://help.example.test:8443")
	c := http.DefaultClient

	up, err := createUpload(c, srv.base, "", "image/png", 5000)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.Upload.URL, "https://help.example.test:8443/uploads/"+up.Upload.Token+"?") {
		t.Errorf("upload URL: got %s, want it on the flag's --public-url", up.Upload.URL)
	}
	for _, tt := range []struct {
		contentType string
		size        int
		code        string
	}{
		{"image/png", 5001, "FileTooLarge"},           // USERIMAGES_MAX_FILE_SIZE
		{"image/jpeg", 100, "UnsupportedContentType"}, // USERIMAGES_CONTENT_TYPE
	} {
		_, err := createUpload(c, srv.base, "", tt.contentType, tt.size)
		if got := errorCodeOf(err); got != tt.code {
			t.Errorf("create %s of %d bytes: got %v, want %s", tt.contentType, tt.size, err, tt.code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if res, body, err := do(c, http.MethodGet, srv.base+path, "", nil, nil); err != nil || res.StatusCode != 200 {
			t.Errorf("GET %s: got %v %s", path, err, body)
		}
	}
}

func errorCodeOf(err error) string {
	if e, ok := err.(*errStatus); ok {
		return errorCode(e.body)
	}
	return ""
}

// TestCPUProfile: serve --cpuprofile writes a pprof profile (gzip) of the
// run when the server stops.
func TestCPUProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	srv := startServer(t, t.TempDir(), "--cpuprofile", prof)
	if _, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", 1000); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prof)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile: got %d bytes, %v; want a gzip-compressed pprof profile", len(b), err)
	}
}

// TestCORSCredentialsFlag: --cors-credentials allows credentialed requests
// from the listed origins (here set through its environment variable), and
// the server refuses to start with it and any origin.
func TestCORSCredentialsFlag(t *testing.T) {
	for _, args := range [][]string{{"--cors-credentials"}, {"--cors-credentials", "--cors-origin", "*"}} {
		cmd := exec.Command(binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--cors-credentials needs --cors-origin") {
			t.Errorf("serve %s: got %v, %q; want it refused, naming --cors-origin", strings.Join(args, " "), err, out)
		}
	}
	const origin = "https://help.example.test"
	srv := startServerEnv(t, t.TempDir(), []string{"USERIMAGES_CORS_CREDENTIALS=true"}, "--cors-origin", origin)
	res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+"/api/v2/users/me.json", "", map[string]string{"Origin": origin}, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET users/me.json: got %v %s", err, body)
	}
	if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" || res.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("Access-Control-Allow-Credentials %q, -Allow-Origin %q: want true and %s", got, res.Header.Get("Access-Control-Allow-Origin"), origin)
	}
}

// TestServeFlagBounds: a value out of a package's bounds is refused at
// start, naming the flag, before any store is opened: the data directory
// is not even created.
func TestServeFlagBounds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--variant-memory", "100KiB"}, "userimages: --variant-memory 102400: must be at least 1 MiB\n"},
		{[]string{"--session-idle", "2h", "--session-max-age", "1h"}, "userimages: --session-max-age 1h0m0s: must be at least --session-idle 2h0m0s\n"},
		{[]string{"--claim-window", "10m"}, "userimages: --claim-window 10m0s: must be at least --upload-url-ttl 1h0m0s\n"},
		{[]string{"--max-concurrent-uploads-per-client=-2"}, "userimages: --max-concurrent-uploads-per-client -2: must be at least 1\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			cmd := exec.Command(binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, tc.args...)...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			if err == nil || string(out) != tc.want {
				t.Errorf("got %v, output %q; want it refused with %q", err, out, tc.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory exists (%v): something was opened before the flags were checked", err)
			}
		})
	}
}
