package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestMigrateToScaleOut fills an embedded-default deployment, moves it to
// PostgreSQL and S3 with `userimages migrate`, killing the first run part
// way through the images and resuming it, then checks that an instance on
// the new stores serves every path byte-identical, keeps the takedown and
// its blocklist, and lets the same users in.
func TestMigrateToScaleOut(t *testing.T) {
	const email, password = "mover@example.com", "mover-password-1"
	data := t.TempDir()
	addUser(t, data, email, password)
	token := apiToken(t, data, email)
	old := startServer(t, data)
	rng := newRand(t)
	auth := basicAuth(email+"/token", token)

	served := map[string][]byte{}
	var blocked []byte
	for i := range 40 {
		var body []byte
		var ct string
		switch i % 3 {
		case 0:
			ct, body = "image/jpeg", encodeJPEG(t, rng, 60+i, 40)
		case 1:
			ct, body = "image/png", encodePNG(t, rng, 30+i, 20)
		default:
			ct, body = "image/gif", encodeGIF(t, rng, 20+i, 10)
		}
		up, err := createUpload(http.DefaultClient, old.base, auth, ct, len(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := putUpload(http.DefaultClient, up, body); err != nil {
			t.Fatal(err)
		}
		img, err := claim(http.DefaultClient, old.base, auth, up.Upload.Token, brandID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fetch(http.DefaultClient, old.base, img.UserImage.Path)
		if err != nil {
			t.Fatal(err)
		}
		served[img.UserImage.Path] = got
		if i == 0 {
			blocked = body
		}
	}
	var takenDown string
	for p := range served {
		takenDown = p
		break
	}
	for p, b := range served {
		if bytes.Equal(b, blocked) {
			takenDown = p
		}
	}
	runCLI(t, "", "images", "rm", "--data", data, "--reason", "spam", "--block", takenDown)
	delete(served, takenDown)
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}

	d := newScaleOut(t)
	to := d.db + " " + d.blob
	// The first run is killed after it has copied a few images.
	killAfter(t, d.env, 5, "images copied", "migrate", "--verbose", "--page-size", "7", "--from", data, "--to", to)

	out := runCLIEnv(t, d.env, "", "migrate", "--from", data, "--to", to)
	if !strings.Contains(out, "migrate: done") {
		t.Fatalf("resumed run: got %q, want it done", out)
	}
	var images string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "images") {
			images = line
		}
	}
	if strings.Contains(images, "already there 0") {
		t.Errorf("resumed run: %q, want the images of the killed run found there already", images)
	}
	t.Logf("resumed run:\n%s", out)

	srv := d.start(t)
	for p, want := range served {
		if got, err := fetch(http.DefaultClient, srv.base, p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("GET %s from the new instance: got %d bytes, %v; want the %d served before", p, len(got), err, len(want))
		}
	}
	if _, err := fetch(http.DefaultClient, srv.base, takenDown); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET of the taken-down %s: got %v, want 404", takenDown, err)
	}
	if log := d.cli(t, "", "images", "log"); !strings.Contains(log, takenDown) {
		t.Errorf("images log on the new stores: got %q, want the takedown of %s", log, takenDown)
	}
	up, err := createUpload(http.DefaultClient, srv.base, auth, "image/jpeg", len(blocked))
	if err != nil {
		t.Fatalf("create with the migrated API token: %v", err)
	}
	if err := putUpload(http.DefaultClient, up, blocked); err != nil {
		t.Fatal(err)
	}
	if _, err := claim(http.DefaultClient, srv.base, auth, up.Upload.Token, brandID); !strings.Contains(errString(err), "BlockedContent") {
		t.Errorf("claim of blocklisted bytes on the new stores: got %v, want BlockedContent", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// killAfter runs the binary with args and kills it with SIGKILL when it
// has printed n lines containing marker on standard error.
func killAfter(t *testing.T, env []string, n int, marker string, args ...string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	seen := 0
	for lines.Scan() {
		if strings.Contains(lines.Text(), marker) {
			if seen++; seen == n {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if seen < n {
		t.Fatalf("userimages %s: saw %d lines %q before it ended, want to kill it after %d", strings.Join(args, " "), seen, marker, n)
	}
}
