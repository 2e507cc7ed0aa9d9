package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"
)

// TestPanicIsA500: a handler's panic (a bug) answers a JSON 500 quoting the
// request id, and is logged with its stack.
func TestPanicIsA500(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logged, nil))}
	h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/x", strings.NewReader("abc")))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status: got %d, want 500", rec.Code)
	}
	var body api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != "InternalError" {
		t.Fatalf("body: got %s, want one InternalError", rec.Body)
	}
	if id := rec.Header().Get("X-Request-Id"); !strings.Contains(body.Errors[0].Detail, id) || strings.Contains(body.Errors[0].Detail, "boom") {
		t.Errorf("detail: got %q, want the request id %s and no internals", body.Errors[0].Detail, id)
	}
	if !strings.Contains(logged.String(), "boom") || !strings.Contains(logged.String(), "in_bytes=3") {
		t.Errorf("log: got %q, want the panic and the 3 body bytes read", logged.String())
	}
}
