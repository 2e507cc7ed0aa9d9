package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunWritesWhereTold: a command reads and writes the streams run is
// given, not the process's.
func TestRunWritesWhereTold(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args       []string
		stdin      string
		wantOut    string
		wantErrSub string
	}{
		{[]string{"brand", "add", "--data", data, "10016"}, "", "registered brand 10016\n", "starting a new data directory"},
		{[]string{"user", "add", "--data", data, "--email", "a@example.com", "--password-stdin"}, "secret password\n", "user 1: a@example.com\n", ""},
		{[]string{"brand", "ls", "--data", data}, "", "10016\n", ""},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", tc.args, code, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), tc.wantOut) || (tc.wantOut == "" && stdout.Len() > 0) {
			t.Errorf("%v: stdout %q, want %q", tc.args, stdout.String(), tc.wantOut)
		}
		if !strings.Contains(stderr.String(), tc.wantErrSub) {
			t.Errorf("%v: stderr %q, want it to say %q", tc.args, stderr.String(), tc.wantErrSub)
		}
	}
}
