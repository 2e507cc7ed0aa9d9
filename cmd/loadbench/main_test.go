package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunWritesWhereTold: loadbench's mistakes and help go to the stderr
// run is given, nothing to its stdout.
func TestRunWritesWhereTold(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: loadbench run|noop"},
		{[]string{"bogus"}, 1, `unknown command "bogus"`},
		{[]string{"run"}, 1, "-bin is required"},
		{[]string{"run", "-h"}, 0, "-scenarios string"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tc.args, &stdout, &stderr); code != tc.code || stdout.Len() > 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: got exit %d, stdout %q, stderr %q; want %d, nothing, %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.want)
		}
	}
}
