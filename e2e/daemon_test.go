package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startDaemon starts cmd, a daemon running in the foreground, and returns
// once ready reports true; it stops the daemon with stop when the test ends
// (killing it after stopTimeout). The test fails if the daemon exits before
// it is ready or is not ready within startTimeout. Failure messages, and the
// test's log if it failed, hold the daemon's output and what logs adds
// (nil: nothing).
func startDaemon(t *testing.T, cmd *exec.Cmd, stop os.Signal, ready func() bool, logs func() string) {
	t.Helper()
	name := filepath.Base(cmd.Path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	describe := func() string {
		s := "output:\n" + out.String()
		if logs != nil {
			s += "\n" + logs()
		}
		return s
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s %s", name, describe())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for !ready() {
		select {
		case err := <-exited:
			t.Fatalf("%s exited at start: %v\n%s", name, err, describe())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within %s\n%s", name, startTimeout, describe())
		}
	}
}

// unavailable skips t for want of a tool or service (why), or fails it
// under CI, where scripts/test.sh provides them all.
func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this fails rather than skips)", why)
	}
	t.Skip(why)
}
