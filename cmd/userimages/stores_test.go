package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/selfsign"
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

// TestPreviousSigningSecret: the previous secret and its retirement time
// come from the environment; a retirement time needs a secret and must be
// RFC 3339.
func TestPreviousSigningSecret(t *testing.T) {
	secret := strings.Repeat("p", 32)
	tests := []struct {
		secret, retired string
		want            []selfsign.Previous
		wantErr         bool
	}{
		{},
		{secret: secret, want: []selfsign.Previous{{Secret: secret}}},
		{secret: secret, retired: "2026-12-06T11:00:00Z", want: []selfsign.Previous{{Secret: secret, RetiredAt: time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)}}},
		{secret: secret, retired: "2026-12-06 11:00", wantErr: true},
		{retired: "2026-12-06T11:00:00Z", wantErr: true},
	}
	for _, tt := range tests {
		t.Setenv("USERIMAGES_SIGNING_SECRET_PREVIOUS", tt.secret)
		t.Setenv("USERIMAGES_SIGNING_SECRET_PREVIOUS_RETIRED_AT", tt.retired)
		got, err := previousSigningSecret()
		if (err != nil) != tt.wantErr || !slices.EqualFunc(got, tt.want, func(a, b selfsign.Previous) bool {
			return a.Secret == b.Secret && a.RetiredAt.Equal(b.RetiredAt)
		}) {
			t.Errorf("previous %q retired %q: got %+v, %v; want %+v (error: %v)", tt.secret, tt.retired, got, err, tt.want, tt.wantErr)
		}
	}
}
