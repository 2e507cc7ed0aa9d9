package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLogsRedactTokens: a token in an error, a string attribute or the
// message is cut to its time in the log line.
func TestLogsRedactTokens(t *testing.T) {
	const token = "01JEXZ8Q3M7T9V2W4X6Y8Z0A1B"
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, logOptions()))
	err := fmt.Errorf("claim %s: %w", token, errors.New("disk full"))
	log.Error("storage fault "+token, "err", err, "key", "staging/"+token, "n", 3)
	got := buf.String()
	if strings.Contains(got, token[10:]) {
		t.Errorf("log line holds the token: %s", got)
	}
	for _, want := range []string{`"err":"claim 01JEXZ8Q3M…: disk full"`, `"key":"staging/01JEXZ8Q3M…"`, `"msg":"storage fault 01JEXZ8Q3M…"`, `"n":3`} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %s: want %s", got, want)
		}
	}
}
