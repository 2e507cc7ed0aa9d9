package main

import (
	"testing"

	"github.com/alecthomas/kong"
)

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
			var c cli
			parser, err := kong.New(&c, kong.Vars(flagDefaults()), kong.Vars{"version": "test"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parser.Parse(append([]string{"serve", "--data", t.TempDir()}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if err := c.Serve.validate(); err != nil {
				t.Fatal(err)
			}
			if c.Serve.Addr != tc.want {
				t.Errorf("--addr is %q, want %q", c.Serve.Addr, tc.want)
			}
		})
	}
}
