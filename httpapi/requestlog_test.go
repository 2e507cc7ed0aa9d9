package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestLogHidesTokens: the request log line of an upload URL's PUT
// shows its path with the token cut to its time, and no query string.
func TestRequestLogHidesTokens(t *testing.T) {
	const token = "01JEXZ8Q3M7T9V2W4X6Y8Z0A1B"
	for _, tc := range []struct{ target, want string }{
		{"/uploads/" + token + "?X-Amz-Signature=abc", `path=/uploads/01JEXZ8Q3M…`},
		{"/uploads/" + token + "/more", `path=/uploads/01JEXZ8Q3M…`},
		{"/uploads/short", `path=/uploads/short`},
		{"/api/v2/guide/user_images?token=" + token, `path=/api/v2/guide/user_images `},
		{"/hc/user_images/abc.png", `path=/hc/user_images/abc.png `},
	} {
		var logged bytes.Buffer
		s := &Server{cfg: Config{UploadPath: "/uploads/"}, log: slog.New(slog.NewTextHandler(&logged, nil))}
		h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, tc.target, nil))
		if got := logged.String(); !strings.Contains(got, tc.want) || strings.Contains(got, token[10:]) || strings.Contains(got, "X-Amz") {
			t.Errorf("%s: got log %q, want %s and nothing of the token's random part or the query", tc.target, got, tc.want)
		}
	}
}
