package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestSigningSecretFirstStart: the secret is generated once, kept 0600, and
// processes starting together on a new data directory agree on it.
func TestSigningSecretFirstStart(t *testing.T) {
	t.Setenv("USERIMAGES_SIGNING_SECRET", "")
	dir := t.TempDir()
	secrets := make([]string, 8)
	var wg sync.WaitGroup
	for i := range secrets {
		wg.Go(func() {
			s, err := signingSecret(dir)
			if err != nil {
				t.Error(err)
			}
			secrets[i] = s
		})
	}
	wg.Wait()
	for i, s := range secrets {
		if len(s) != 64 || s != secrets[0] {
			t.Errorf("secret %d: got %q, want the same 64 hex digits as the first", i, s)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "signing-secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: got %v, %v; want mode 0600", info.Mode(), err)
	}
	if again, err := signingSecret(dir); err != nil || again != secrets[0] {
		t.Errorf("after restart: got %q, %v; want the kept secret", again, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir: got %d entries, want only the secret (no temp files)", len(entries))
	}
	t.Setenv("USERIMAGES_SIGNING_SECRET", "given-by-env-given-by-env-given-by-env")
	if s, _ := signingSecret(dir); s != "given-by-env-given-by-env-given-by-env" {
		t.Errorf("with the env var: got %q, want it", s)
	}
}
