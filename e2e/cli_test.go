package e2e

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"userimages/internal/testkit/testcert"
)

// runCommand runs the binary with args in dir (the test's directory when
// ""), with env added to a clean environment.
func runCommand(t *testing.T, dir string, env []string, args ...string) uploadRun {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return uploadRun{stdout.String(), stderr.String(), exit.ExitCode()}
	case err != nil:
		t.Fatalf("userimages %s: %v", strings.Join(args, " "), err)
	}
	return uploadRun{stdout.String(), stderr.String(), 0}
}

// TestCLITraps runs the binary on each trap of issue 15 that a user
// following the README and DEPLOYMENT.md fell into: each is refused with
// exit status 1, nothing on stdout, and one line on stderr naming what to
// give, and leaves nothing behind.
func TestCLITraps(t *testing.T) {
	data := t.TempDir()
	// A deployment to migrate from; brand add says what it did.
	if out := runCLI(t, "", "brand", "add", "--data", data, "10016", "10017"); out != "registered brand 10016\nregistered brand 10017\n" {
		t.Errorf("brand add printed %q, want a line per brand registered", out)
	}
	const pg = "postgres://userimages@127.0.0.1:1/userimages"
	// A port in use (the data directory, relative, is in the working
	// directory, which must stay empty); --data where nothing can be made.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	certDir := t.TempDir()
	pair := testcert.SelfSigned(t, "localhost")
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	for f, b := range map[string][]byte{certFile: pair.Cert, keyFile: pair.Key} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inUse := busy.Addr().String()
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"migrate to a database without a bucket", nil, []string{"migrate", "--from", data, "--to", pg},
			`--to "postgres://userimages@127.0.0.1:1/userimages": a store address alone is not a deployment; give the pair 'DB BLOB'`},
		{"migrate from a lone SQLite address", nil, []string{"migrate", "--from", "sqlite:" + filepath.Join(data, "userimages.db"), "--to", t.TempDir()},
			`--from "sqlite:`},
		{"migrate to a pair whose database is a bucket", nil, []string{"migrate", "--from", data, "--to", "s3://b file:x"},
			`--to: the first of 'DB BLOB' must be sqlite:PATH or postgres://…`},
		{"serve on PostgreSQL from the environment without --blob", []string{"USERIMAGES_DB=" + pg}, []string{"serve", "--data", t.TempDir()},
			"--db " + pg + " needs --blob too"},
		{"admin command on PostgreSQL without --blob", nil, []string{"brand", "ls", "--db", pg},
			"--db " + pg + " needs --blob too"},
		{"serve with a bucket and the default SQLite", nil, []string{"serve", "--data", t.TempDir(), "--blob", "s3://photos?endpoint=http://127.0.0.1:1"},
			"--blob s3://photos?endpoint=http://127.0.0.1:1 needs --db too"},
		{"--addr in use", nil, []string{"serve", "--data", "new-data", "--addr", inUse},
			"--addr " + inUse + ": the port is in use by another program; stop it or give another --addr"},
		{"--https-addr in use", nil, []string{"serve", "--data", "new-data", "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--https-addr", inUse},
			"--https-addr " + inUse + ": the port is in use by another program; stop it or give another --https-addr"},
		{"--data where nothing can be made", nil, []string{"serve", "--data", "/proc/userimages-data", "--addr", "127.0.0.1:0"}, "userimages: --data: "},
		{"unknown flag", nil, []string{"serve", "--bogus"}, "userimages: unknown flag --bogus (see userimages serve --help)"},
		{"unknown subcommand", nil, []string{"brand", "rename"}, "(see userimages brand --help)"},
		{"scheme-less --server", nil, []string{"upload", "--server", "127.0.0.1:8080", "--brand", "10016", "photo.jpg"},
			"--server 127.0.0.1:8080: give the scheme too, e.g. --server http://127.0.0.1:8080"},
		{"upload with two brands", nil, []string{"upload", "--brand", "10016,20000", "photo.jpg"}, "--brand 10016,20000: give one brand id"},
		{"gc without the claim window", nil, []string{"gc", "--data", data}, "missing flags: --claim-window"},
		{"backup of a scale-out deployment", nil, []string{"backup", "--db", pg, "--blob", "s3://b", "--to", t.TempDir()},
			"backup: only the embedded default (SQLite and file: bytes) is backed up here"},
		{"backup of a wrong --data", nil, []string{"backup", "--data", filepath.Join(data, "missing"), "--to", t.TempDir()}, "no userimages data in"},
		{"verify where no backup is", nil, []string{"backup", "verify", t.TempDir()}, "verify: no complete backup there"},
		{"restore from where no backup is", nil, []string{"restore", "--from", t.TempDir(), "--data", filepath.Join(t.TempDir(), "new")},
			"restore: no complete backup there"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runCommand(t, dir, tc.env, tc.args...)
			if r.exit != 1 || r.stdout != "" {
				t.Errorf("got exit %d, stdout %q; want 1 and nothing", r.exit, r.stdout)
			}
			if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "userimages: ") {
				t.Errorf("stderr: got %q, want one line starting userimages:", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr: got %q, want it to say %q", r.stderr, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("the command left %v in its working directory, want nothing", left)
			}
		})
	}
}

// TestCLIEnvironment: an environment variable is read by the commands
// whose help names it, and a flag wins over it, repeatable flags included.
func TestCLIEnvironment(t *testing.T) {
	data := t.TempDir()
	// DEPLOYMENT.md's own USERIMAGES_BRAND for the server, and a flag that
	// must replace it rather than add to it (startServer adds --brand 10016).
	srv := startServerEnv(t, data, []string{"USERIMAGES_BRAND=777,778"}, "--brand", "888")
	if got, want := runCLI(t, "", "brand", "ls", "--data", data), "10016\n888\n"; got != want {
		t.Errorf("brands after serve --brand 10016 --brand 888 with USERIMAGES_BRAND=777,778: got %q, want %q", got, want)
	}
	photo := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(photo, encodeJPEG(t, newRand(t), 40, 30), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server's USERIMAGES_BRAND is not upload's: its --brand is alone.
	r := runCommand(t, "", []string{"USERIMAGES_BRAND=10016,20000", "USERIMAGES_SERVER=" + srv.base}, "upload", "--brand", brandID, photo)
	if r.exit != 0 || !strings.HasPrefix(r.stdout, "/hc/user_images/") {
		t.Errorf("upload with USERIMAGES_BRAND=10016,20000 set: got exit %d, stdout %q, stderr %q; want the path", r.exit, r.stdout, r.stderr)
	}
	// --server wins over USERIMAGES_SERVER.
	r = runCommand(t, "", []string{"USERIMAGES_SERVER=http://127.0.0.1:1"}, "upload", "--server", srv.base, "--brand", brandID, photo)
	if r.exit != 0 {
		t.Errorf("upload --server over USERIMAGES_SERVER: got exit %d, stderr %q; want 0", r.exit, r.stderr)
	}
}

// TestCLIHelp: every command and subcommand answers -h and --help alike,
// on stdout with status 0, naming flags --like-this, and --version says
// what was built.
func TestCLIHelp(t *testing.T) {
	commands := [][]string{{}, {"serve"}, {"gc"}, {"brand"}, {"brand", "add"}, {"brand", "ls"}, {"brand", "rm"}, {"user"}, {"user", "add"},
		{"user", "token"}, {"user", "token", "ls"}, {"user", "token", "revoke"}, {"user", "ls"}, {"user", "disable"}, {"user", "enable"}, {"user", "password"}, {"images"}, {"images", "ls"}, {"images", "rm"}, {"images", "log"}, {"migrate"}, {"upload"},
		{"backup"}, {"backup", "create"}, {"backup", "verify"}, {"restore"}, {"hash"},
		{"blocklist"}, {"blocklist", "import"}, {"blocklist", "ls"}, {"blocklist", "export"}, {"blocklist", "rm"}}
	singleDash := regexp.MustCompile(`(?m)(^|\s)-[a-z][a-z-]+`)
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		short := runCommand(t, "", nil, append(cmd, "-h")...)
		long := runCommand(t, "", nil, append(cmd, "--help")...)
		if short.exit != 0 || long.exit != 0 || short.stderr != "" || short.stdout != long.stdout {
			t.Errorf("%s: -h gave %d %q, --help %d; want 0, the same help on stdout", name, short.exit, short.stderr, long.exit)
			continue
		}
		if want := strings.TrimSpace("Usage: userimages " + name); !strings.HasPrefix(short.stdout, want) {
			t.Errorf("%s -h: got %q, want it to start %q", name, short.stdout, want)
		}
		if !strings.Contains(short.stdout, "  -h, --help") {
			t.Errorf("%s -h: no --help line:\n%s", name, short.stdout)
		}
		if m := singleDash.FindString(short.stdout); m != "" {
			t.Errorf("%s -h: names a flag %q with one dash:\n%s", name, m, short.stdout)
		}
	}
	r := runCommand(t, "", nil, "--version")
	if r.exit != 0 || !strings.HasPrefix(r.stdout, "userimages ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("--version: got %d %q %q, want userimages, the module version and %s", r.exit, r.stdout, r.stderr, runtime.Version())
	}
	// The defaults of --server and --data; every status --retries retries.
	for _, c := range []struct{ cmd, want string }{
		{"upload", "(default: http://127.0.0.1:8080)"}, {"upload", "429, 502, 503, 504, 507"}, {"brand", "(default: ./userimages-data)"},
	} {
		r := runCommand(t, "", nil, c.cmd, "add", "--help")
		if c.cmd == "upload" {
			r = runCommand(t, "", nil, c.cmd, "--help")
		}
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), c.want) {
			t.Errorf("%s --help: want %q in it:\n%s", c.cmd, c.want, r.stdout)
		}
	}
	if r := runCommand(t, "", nil, "serve", "--help"); !strings.Contains(r.stdout, "--addr=HOST:PORT") || !strings.Contains(r.stdout, "$USERIMAGES_ADDR") {
		t.Errorf("serve --help: want --addr with its variable:\n%s", r.stdout)
	}
}

// TestRevokeAndDisable: `user token revoke` and `user disable` take effect
// on a running server at once (they are kept in the metadata store, which
// every request reads): the revoked token and the disabled user's token
// and password get 401; the user's images stay served. `user token ls`
// lists ids and times, nothing of which is a part of a token, and revoke
// takes those ids.
func TestRevokeAndDisable(t *testing.T) {
	const email, password = "leak@example.com", "leaky-password-1"
	srv, leaked := serverWithUser(t, email, password)
	data := srv.dataDir
	kept := apiToken(t, data, email)
	c := &http.Client{Timeout: 10 * time.Second}
	me := func(auth string) int {
		t.Helper()
		res, _, err := do(c, http.MethodGet, srv.base+"/api/v2/users/me", auth, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	asToken := func(tok string) string { return basicAuth(email+"/token", tok) }
	for _, auth := range []string{asToken(leaked), asToken(kept), basicAuth(email, password), "Bearer " + kept} {
		if got := me(auth); got != http.StatusOK {
			t.Fatalf("before: GET users/me: got %d, want 200", got)
		}
	}
	img := encodeJPEG(t, newRand(t), 40, 30)
	up, err := createUpload(c, srv.base, asToken(kept), "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	published, err := claim(c, srv.base, asToken(kept), up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}

	list := runCLI(t, "", "user", "token", "ls", "--data", data, "--email", email)
	// Nothing listed is a part of a token: the ids are random, made apart.
	for _, field := range strings.Fields(list) {
		if strings.Contains(leaked, field) || strings.Contains(kept, field) {
			t.Errorf("user token ls shows %q, a part of a token:\n%s", field, list)
		}
	}
	ids := regexp.MustCompile(`(?m)^(tok_[0-9a-f]{16})\s`).FindAllStringSubmatch(list, -1)
	if len(ids) != 2 || strings.Contains(list, "never") {
		t.Fatalf("user token ls: got\n%s\nwant both ids (tok_ and 16 hex digits), each used", list)
	}
	leakedID := ids[0][1] // oldest first: serverWithUser made it

	if out := runCLI(t, "", "user", "token", "revoke", "--data", data, leakedID); !strings.Contains(out, "revoked "+leakedID) {
		t.Errorf("user token revoke printed %q", out)
	}
	if got := me(asToken(leaked)); got != http.StatusUnauthorized {
		t.Errorf("revoked token: got %d, want 401", got)
	}
	if got := me(asToken(kept)); got != http.StatusOK {
		t.Errorf("the other token after the revocation: got %d, want 200", got)
	}
	if r := runCommand(t, "", nil, "user", "token", "revoke", "--data", data, leakedID); r.exit != 1 || !strings.Contains(r.stderr, "no API token has id "+leakedID) {
		t.Errorf("revoking twice: got %d %q, want 1 and no such token", r.exit, r.stderr)
	}
	// The token's first 12 characters, the id before issue 24, name nothing.
	if r := runCommand(t, "", nil, "user", "token", "revoke", "--data", data, kept[:12]); r.exit != 1 || !strings.Contains(r.stderr, "no API token has id") {
		t.Errorf("revoking by the token's first 12 characters: got %d %q, want 1 and no such token", r.exit, r.stderr)
	}
	if got := me(asToken(kept)); got != http.StatusOK {
		t.Errorf("the kept token after a revocation by its first characters: got %d, want 200", got)
	}

	runCLI(t, "", "user", "disable", "--data", data, "--email", email)
	for name, auth := range map[string]string{"token": asToken(kept), "bearer": "Bearer " + kept, "password": basicAuth(email, password)} {
		if got := me(auth); got != http.StatusUnauthorized {
			t.Errorf("disabled user's %s: got %d, want 401", name, got)
		}
	}
	if _, err := fetch(c, srv.base, published.UserImage.Path); err != nil {
		t.Errorf("the disabled user's image %s: %v, want it still served", published.UserImage.Path, err)
	}
	if users := runCLI(t, "", "user", "ls", "--data", data); !regexp.MustCompile(`(?m)^1\s+leak@example.com\s+false\s+true\s`).MatchString(users) {
		t.Errorf("user ls: got\n%s\nwant the user disabled", users)
	}

	// user enable undoes user disable.
	if out := runCLI(t, "", "user", "enable", "--data", data, "--email", email); !strings.Contains(out, "enabled "+email) {
		t.Errorf("user enable printed %q", out)
	}
	for name, auth := range map[string]string{"token": asToken(kept), "password": basicAuth(email, password)} {
		if got := me(auth); got != http.StatusOK {
			t.Errorf("enabled user's %s: got %d, want 200", name, got)
		}
	}
	// user password --password-stdin changes it: the old one gets 401.
	const newPassword = "a-new-password-2"
	if out := runCLI(t, newPassword+"\n", "user", "password", "--data", data, "--email", email, "--password-stdin"); !strings.Contains(out, email) {
		t.Errorf("user password printed %q", out)
	}
	if got := me(basicAuth(email, password)); got != http.StatusUnauthorized {
		t.Errorf("the old password after user password: got %d, want 401", got)
	}
	// Five failed sign-ins from this address so far: the throttle makes it
	// wait a second before the next.
	time.Sleep(time.Second)
	if got := me(basicAuth(email, newPassword)); got != http.StatusOK {
		t.Errorf("the new password: got %d, want 200", got)
	}
	if r := runCommand(t, "", []string{"USERIMAGES_PASSWORD=short"}, "user", "password", "--data", data, "--email", email); r.exit != 1 || !strings.Contains(r.stderr, "8 to 72 bytes") {
		t.Errorf("user password with a short one: got %d %q, want 1 and the rule", r.exit, r.stderr)
	}
}

// TestBrandRm: a brand with images is kept unless --take-down, which takes
// each image down with an audit record; a running server then refuses
// claims for it and no longer serves its images.
func TestBrandRm(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--brand", "20000")
	c := &http.Client{Timeout: 10 * time.Second}
	img := encodeJPEG(t, newRand(t), 40, 30)
	up, err := createUpload(c, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	published, err := claim(c, srv.base, "", up.Upload.Token, "20000")
	if err != nil {
		t.Fatal(err)
	}

	r := runCommand(t, "", nil, "brand", "rm", "--data", data, "20000")
	if r.exit != 1 || !strings.Contains(r.stderr, "brand 20000 has images") {
		t.Errorf("brand rm of a brand with images: got %d %q, want 1 and a refusal", r.exit, r.stderr)
	}
	if _, err := fetch(c, srv.base, published.UserImage.Path); err != nil {
		t.Errorf("after the refused brand rm: %v, want the image served", err)
	}
	out := runCLI(t, "", "brand", "rm", "--data", data, "--take-down", "--reason", "customer left", "20000")
	if !strings.Contains(out, "took down 1 images of brand 20000") || !strings.Contains(out, "removed brand 20000") {
		t.Errorf("brand rm --take-down printed %q", out)
	}
	if got := runCLI(t, "", "brand", "ls", "--data", data); got != brandID+"\n" {
		t.Errorf("brand ls after brand rm: got %q, want %s only", got, brandID)
	}
	if _, err := fetch(c, srv.base, published.UserImage.Path); statusOf(err) != http.StatusNotFound {
		t.Errorf("the brand's image after brand rm --take-down: got %v, want 404", err)
	}
	if log := runCLI(t, "", "images", "log", "--data", data); !strings.Contains(log, published.UserImage.Path) || !strings.Contains(log, "customer left") {
		t.Errorf("images log: got\n%s\nwant the image taken down for \"customer left\"", log)
	}
	up, err = createUpload(c, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	if _, err := claim(c, srv.base, "", up.Upload.Token, "20000"); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("claim for the removed brand: got %v, want 422 BrandNotFound", err)
	}
	if r := runCommand(t, "", nil, "brand", "rm", "--data", data, "20000"); r.exit != 1 || !strings.Contains(r.stderr, `no brand has id "20000"`) {
		t.Errorf("brand rm twice: got %d %q", r.exit, r.stderr)
	}
}

// TestCLIHash: `userimages hash` prints HASH,QUALITY,FILE as Meta's
// pdq-photo-hasher printed it for the same file (pdq/testdata/goldens.csv),
// and fails, naming it, on a file that is not an image, after hashing the
// others.
func TestCLIHash(t *testing.T) {
	const png = "../pdq/testdata/shapes-700x520.png"
	goldens, err := os.ReadFile("../pdq/testdata/goldens.csv")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for line := range strings.Lines(string(goldens)) {
		if f := strings.Split(strings.TrimSpace(line), ","); len(f) == 10 && f[9] == "testdata/shapes-700x520.png" {
			want = f[0] + "," + f[8] + "," + png + "\n"
		}
	}
	r := runCommand(t, "", nil, "hash", png, "cli_test.go")
	if r.exit != 1 || r.stdout != want || !strings.Contains(r.stderr, "cli_test.go: not a JPEG, PNG, GIF or WebP file") {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 1, %q and an error naming cli_test.go", r.exit, r.stdout, r.stderr, want)
	}
}
