package main

import (
	"testing"

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
