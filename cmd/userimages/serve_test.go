package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// parseServe parses `serve --data <temp dir> args…` as the command does.
func parseServe(t *testing.T, args ...string) *serveCmd {
	t.Helper()
	var c cli
	parser, err := kong.New(&c, kong.Vars(flagDefaults()), kong.Vars{"version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"serve", "--data", t.TempDir()}, args...)); err != nil {
		t.Fatal(err)
	}
	return &c.Serve
}

// TestServeAddrDefault checks --addr's default: 127.0.0.1:8080, or :80
// with --domain unless the flag or USERIMAGES_ADDR gives it.
func TestServeAddrDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string // USERIMAGES_ADDR
		args []string
		want string
	}{
		{"plain", "", nil, "127.0.0.1:8080"},
		{"domain", "", []string{"--domain", "images.example.com"}, ":80"},
		{"domain and flag", "", []string{"--domain", "images.example.com", "--addr", "127.0.0.1:8081"}, "127.0.0.1:8081"},
		{"domain and variable", "127.0.0.1:8082", []string{"--domain", "images.example.com"}, "127.0.0.1:8082"},
		{"variable and flag", "127.0.0.1:8082", []string{"--addr", "127.0.0.1:8083"}, "127.0.0.1:8083"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("USERIMAGES_ADDR", tc.env) // empty counts as not given
			c := parseServe(t, tc.args...)
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			if c.Addr != tc.want {
				t.Errorf("--addr is %q, want %q", c.Addr, tc.want)
			}
		})
	}
}

// TestServeSessionFlags: console sessions last at least a minute unused,
// and at most as long as they may last unused.
func TestServeSessionFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"longer", []string{"--session-idle", "2h", "--session-max-age", "24h"}, false},
		{"idle too short", []string{"--session-idle", "30s"}, true},
		{"max age under idle", []string{"--session-idle", "2h", "--session-max-age", "1h"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := parseServe(t, tc.args...).validate(); (err != nil) != tc.wantErr {
				t.Errorf("validate: got error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestServeFlagErrors: a value a package's Validate refuses is refused by
// validate, naming the flag (and a related flag) rather than the field.
func TestServeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--variant-memory", "100KiB"}, "--variant-memory 102400: must be at least 1 MiB"},
		{[]string{"--session-idle", "30s"}, "--session-idle 30s: must be at least 1m"},
		{[]string{"--session-idle", "2h", "--session-max-age", "1h"}, "--session-max-age 1h0m0s: must be at least --session-idle 2h0m0s"},
		{[]string{"--claim-window", "30m"}, "--claim-window 30m0s: must be at least --upload-url-ttl 1h0m0s"},
		{[]string{"--variant-widths", "30000"}, "--variant-widths 30000: must be at least 1 and at most --max-side 20000"},
		{[]string{"--content-type", "image/svg+xml"}, `--content-type "image/svg+xml": want one of image/jpeg`},
		{[]string{"--upload-sse", "AES128"}, `--upload-sse "AES128": want AES256, aws:kms or none`},
		{[]string{"--min-free-space=-1"}, "--min-free-space -1: must not be negative"},
		{[]string{"--max-concurrent-uploads=-1"}, "--max-concurrent-uploads -1: must be at least 1"},
		{[]string{"--public-url", "https://x.example/path"}, `--public-url "https://x.example/path": want scheme://host[:port] with no path`},
		{[]string{"--cors-credentials"}, "--cors-credentials needs --cors-origin to list the origins, not *"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--acme-email", "a@example.com"}, "--acme-email needs --domain"},
		{[]string{"--read-timeout", "0s"}, "--read-timeout 0s: must be positive"},
		{[]string{"--sweep-interval", "0s"}, "--sweep-interval 0s: must be positive"},
		{[]string{"--cdn-url", "https://cdn.example"}, "--cdn-url needs --serve-mode redirect"},
		{[]string{"--db", "sqlite:x", "--blob", "s3://b?endpoint=ftp://x"}, `--blob: s3 url: endpoint "ftp://x": want an http(s) URL`},
		{[]string{"--db", "sqlite:x", "--blob", "s3://b", "--max-file-size", "9000000"}, "--max-file-size 9000000: at most 8388608 with an s3:// --blob"},
		{[]string{"--redis", "http://x"}, "--redis: redis url"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := parseServe(t, tc.args...).validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestFieldFlags: every flag a field maps to is one of a command's, so
// that no error names a flag that does not exist.
func TestFieldFlags(t *testing.T) {
	var c cli
	parser, err := kong.New(&c, kong.Vars(flagDefaults()), kong.Vars{"version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	var walk func(*kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			flags["--"+f.Name] = true
		}
		for _, child := range n.Children {
			walk(child)
		}
	}
	walk(parser.Model.Node)
	if len(flags) < 40 {
		t.Fatalf("found %d flags, want all of them", len(flags))
	}
	for field, flag := range fieldFlags() {
		if strings.HasPrefix(flag, "--") && !flags[flag] {
			t.Errorf("field %v maps to %s, which no command has", field, flag)
		}
	}
}

// TestStartLine: on a terminal the server says in one line where it
// serves, the composer and the console, at the address people reach.
func TestStartLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	any, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer any.Close()
	anyPort := strconv.Itoa(any.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		s    *server
		want string
	}{
		{&server{ln: ln}, "http://" + ln.Addr().String()},
		{&server{ln: any}, "http://localhost:" + anyPort},
		{&server{ln: ln, httpsLn: any}, "https://localhost:" + anyPort},
		{&server{ln: ln, publicURL: "https://img.example.com/"}, "https://img.example.com"},
	} {
		if got := tc.s.baseURL(); got != tc.want {
			t.Errorf("got base URL %q, want %q", got, tc.want)
		}
	}
	want := "userimages is serving http://localhost:8080: the composer at http://localhost:8080/composer/, the moderation console at http://localhost:8080/admin/"
	if got := startLine("http://localhost:8080"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal: logs piped to a file would get the line")
	}
}

// TestServeClaimHookFlags: --claim-hook needs its secret in the
// environment, well formed; its other flags are checked and named.
func TestServeClaimHookFlags(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, tc := range []struct {
		secret string
		args   []string
		want   string // "" for none
	}{
		{secret, []string{"--claim-hook", "http://127.0.0.1:9000/hook"}, ""},
		{secret, []string{"--claim-hook", "http://127.0.0.1:9000/hook", "--claim-hook-timeout", "30s", "--claim-hook-on-error", "allow",
			"--claim-hook-bytes-url", "https://images.internal:8443"}, ""},
		{"", nil, ""},
		{"", []string{"--claim-hook", "http://127.0.0.1:9000/hook"}, "--claim-hook needs its secret in USERIMAGES_CLAIM_HOOK_SECRET: whsec_ and the base64 of 24 to 64 random bytes"},
		{"abc", []string{"--claim-hook", "http://127.0.0.1:9000/hook"}, `USERIMAGES_CLAIM_HOOK_SECRET: stdwebhook: malformed secret: it must start with "whsec_"`},
		{"whsec_AAAA", []string{"--claim-hook", "http://127.0.0.1:9000/hook"}, "USERIMAGES_CLAIM_HOOK_SECRET: stdwebhook: malformed secret: the key has 3 bytes"},
		{secret, []string{"--claim-hook", "ftp://x/hook"}, `--claim-hook "ftp://x/hook": want an http(s) URL`},
		{secret, []string{"--claim-hook", "http://x/hook", "--claim-hook-bytes-url", "http://x/y"}, `--claim-hook-bytes-url "http://x/y": want scheme://host[:port]`},
		{secret, []string{"--claim-hook-bytes-url", "http://x"}, "--claim-hook-bytes-url needs --claim-hook"},
		{secret, []string{"--claim-hook-timeout", "50ms"}, "--claim-hook-timeout 50ms: must be between 100ms and 1m0s"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("USERIMAGES_CLAIM_HOOK_SECRET", tc.secret)
			err := parseServe(t, tc.args...).validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	c := parseServe(t, "--claim-hook", "http://x/hook")
	if c.HookTime != 5*time.Second || c.HookOnError != "fail" {
		t.Errorf("defaults: --claim-hook-timeout %s, --claim-hook-on-error %s; want 5s and fail", c.HookTime, c.HookOnError)
	}
}

// TestServeJWTFlagErrors: the host app's JWT flags are checked before
// anything opens, the secret file read, the errors naming the flags.
func TestServeJWTFlagErrors(t *testing.T) {
	dir := t.TempDir()
	short, good := filepath.Join(dir, "short"), filepath.Join(dir, "good")
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // "" for none
	}{
		{[]string{"--jwt-issuer", "https://app.example"}, "--jwt-issuer needs --jwt-secret-file or a JWKS URL"},
		{[]string{"--jwt-secret-file", good}, "--jwt-issuer is required"},
		{[]string{"--jwt-jwks-url", "https://app.example/jwks.json", "--jwt-issuer", "https://app.example"}, "--jwt-audience is required"},
		{[]string{"--jwt-secret-file", short, "--jwt-issuer", "i", "--jwt-audience", "a"}, "--jwt-secret-file holds 9 bytes; an HS256 secret must be at least 32 (its hash size): make one with `openssl rand -hex 32`"},
		{[]string{"--jwt-secret-file", filepath.Join(dir, "absent"), "--jwt-issuer", "i", "--jwt-audience", "a"}, "--jwt-secret-file: open"},
		{[]string{"--jwt-jwks-url", "ftp://app.example/jwks", "--jwt-issuer", "i", "--jwt-audience", "a"}, `--jwt-jwks-url "ftp://app.example/jwks": must be an http:// or https:// URL`},
		{[]string{"--jwt-secret-file", good, "--jwt-issuer", "i", "--jwt-audience", "a"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := parseServe(t, tc.args...).validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
