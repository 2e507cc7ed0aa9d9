package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/httpapi"
)

// failingImages answers every image GET with err, as core.Serving would
// pass on an error of its stores.
type failingImages struct {
	httpapi.Images
	err error
}

func (f failingImages) OpenImage(context.Context, string, string) (core.Image, core.Blob, error) {
	return core.Image{}, nil, f.err
}

// TestErrorsClassified: a fault a store marked is retryable (503, or 507
// for a full one) and says nothing of its cause; an error nobody
// classified is a bug, answered 500 and logged with the request id.
func TestErrorsClassified(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	tests := []struct {
		name       string
		err        error
		status     int
		code       api.Code
		retryAfter bool
	}{
		{"unrecognised", errors.New("wiring bug: no scratch space"), http.StatusInternalServerError, api.CodeInternalError, false},
		{"crypto/rand failed", fmt.Errorf("new image id: %w", errors.New("getrandom: resource busy")), http.StatusInternalServerError, api.CodeInternalError, false},
		{"store unavailable", fmt.Errorf("image x: %w", core.StoreFault(refused)), http.StatusServiceUnavailable, api.CodeStorageUnavailable, true},
		{"store deadline", fmt.Errorf("image x: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, api.CodeStorageUnavailable, true},
		{"disk full", fmt.Errorf("image x: %w", core.StoreFault(fmt.Errorf("write: %w", syscall.ENOSPC))), http.StatusInsufficientStorage, api.CodeInsufficientStorage, true},
		{"store full", core.StoreFault(fmt.Errorf("%w: quota", core.ErrFull)), http.StatusInsufficientStorage, api.CodeInsufficientStorage, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			srv, err := httpapi.New(httpapi.Services{Images: failingImages{err: tt.err}}, httpapi.Config{}, log, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.png", nil))
			if rec.Code != tt.status {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.status)
			}
			var body api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != tt.code {
				t.Fatalf("body: got %s, want one %s", rec.Body, tt.code)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.retryAfter {
				t.Errorf("Retry-After set: got %v, want %v", got, tt.retryAfter)
			}
			if detail := body.Errors[0].Detail; strings.Contains(detail, "127.0.0.1") || strings.Contains(detail, "bug") || strings.Contains(detail, "getrandom") {
				t.Errorf("detail: got %q, want no internals", detail)
			}
			id := rec.Header().Get("X-Request-Id")
			if id == "" || !strings.Contains(logged.String(), "request_id="+id) || !strings.Contains(logged.String(), tt.err.Error()) {
				t.Errorf("log: got %q, want the cause with request_id=%s", logged.String(), id)
			}
			if tt.code == api.CodeInternalError && (!strings.Contains(body.Errors[0].Detail, id) || !strings.Contains(logged.String(), "level=ERROR")) {
				t.Errorf("500: detail %q, log %q: want the request id quoted and the error logged at ERROR", body.Errors[0].Detail, logged.String())
			}
		})
	}
}
