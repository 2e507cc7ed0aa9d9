package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// recorder captures the status and size of a response. It keeps the
// underlying writer's ReadFrom so that files still go out by sendfile.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	code   api.Code // of an error answer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		// net/http's response: an *os.File (or an io.LimitedReader of
		// one) goes out with sendfile(2).
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests gives each request an id (X-Request-Id) and logs one line
// when it ends. Nothing that grants access is logged: query strings carry
// signatures and are left out, and an upload URL's path carries its
// token, which claims the upload (see loggedPath).
func (s *Server) logRequests(next http.Handler) http.Handler {
	requestLog := cmp.Or(s.cfg.RequestLog, s.log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		req := r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		body := &countingBody{ReadCloser: r.Body}
		req.Body = body
		s.serveRecovering(rec, req, next)
		if s.cfg.Metrics != nil {
			s.count(req.Pattern, r, rec, body.n, time.Since(start))
		}
		requestLog.LogAttrs(r.Context(), levelFor(rec.status), "request",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", s.loggedPath(r.URL.Path)),
			slog.Int64("status", int64(rec.status)), slog.Int64("bytes", rec.bytes),
			slog.Int64("in_bytes", body.n), slog.String("remote", s.ClientAddr(r)),
			slog.Duration("duration", time.Since(start)))
	})
}

// loggedPath is path as the request log shows it: under the upload path,
// whatever follows is cut to a token's first core.TokenTimeLen characters,
// its time, which tells nothing of its random part; anyone who reads the
// log could otherwise claim the upload while its token lasts.
func (s *Server) loggedPath(path string) string {
	token, ok := strings.CutPrefix(path, s.cfg.UploadPath)
	if !ok || s.cfg.UploadPath == "" || len(token) <= core.TokenTimeLen {
		return path
	}
	return s.cfg.UploadPath + token[:core.TokenTimeLen] + "…"
}

// serveRecovering serves req, turning a panic into a logged 500 (every
// panic is a bug) so that the client gets an answer and the log a line.
func (s *Server) serveRecovering(rec *recorder, req *http.Request, next http.Handler) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			if rec.status == 0 {
				s.writeError(rec, req, err)
			} else {
				s.log.ErrorContext(req.Context(), "panic after the answer started", "request_id", requestID(req.Context()), "err", err)
			}
		}
	}()
	next.ServeHTTP(rec, req)
}

// countingBody counts the request body bytes a handler read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// count records a finished request in the metrics. req.Pattern, set by
// the ServeMux, names the route without unbounded path values.
func (s *Server) count(pattern string, r *http.Request, rec *recorder, bodyBytes int64, d time.Duration) {
	m := s.cfg.Metrics
	m.Request(pattern, r.Method, rec.status, d)
	switch route := api.Route(pattern); {
	case route == api.RouteImage:
		m.BytesServed(rec.bytes)
	case route != api.RouteCreateUpload && route != s.putPattern() && route != api.RouteClaim:
	case rec.code != "":
		m.UploadRefused(string(rec.code))
	case route == api.RouteCreateUpload:
		m.UploadCreated()
	case route == s.putPattern():
		m.BytesReceived(bodyBytes)
	case route == api.RouteClaim:
		m.UploadClaimed()
	}
}

// corsAllowedHeaders are the request headers, besides those browsers
// always allow, that pages may send: the upload steps', the upload token
// a page deletes its upload with (api.UploadTokenHeader) and Zendesk
// clients' (its help-center theme sends X-CSRF-Token, jQuery sends
// X-Requested-With). Lower case, as in Access-Control-Request-Headers.
var corsAllowedHeaders = []string{"authorization", "content-type", "content-disposition",
	"x-amz-server-side-encryption", strings.ToLower(api.UploadTokenHeader), "x-csrf-token", "x-requested-with"}

// corsAllowedHeaderPrefix allows Zendesk clients' own headers
// (X-Zendesk-Client, X-Zendesk-App-Id, …).
const corsAllowedHeaderPrefix = "x-zendesk-"

// corsExposedHeaders are the response headers pages may read.
// X-Amz-Error-Code names an upload PUT's refusal as S3 does, for S3
// clients.
const corsExposedHeaders = "ETag, X-Amz-Error-Code, X-Request-Id, Retry-After, X-Rate-Limit, X-Rate-Limit-Remaining, " + api.ImageWidthHeader + ", " + api.ImageHeightHeader

// cors lets pages on the allowed origins call the API, PUT uploads with
// the returned headers and read images with fetch; it answers preflights
// itself, on every path. With any origin allowed, every response says
// Access-Control-Allow-Origin: *, whatever the request, so a cached
// response (an image cached for a year) serves any later CORS read. With
// listed origins the answer depends on Origin, so every response says
// Vary: Origin.
func (s *Server) cors(next http.Handler) http.Handler {
	anyOrigin := slices.Contains(s.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		allowed := anyOrigin
		if anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Add("Vary", "Origin")
			if allowed = origin != "" && slices.Contains(s.cfg.CORSOrigins, origin); allowed {
				h.Set("Access-Control-Allow-Origin", origin)
				if s.cfg.CORSCredentials {
					h.Set("Access-Control-Allow-Credentials", "true")
				}
			}
		}
		if allowed {
			h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
				if hs := allowedRequestHeaders(r.Header.Values("Access-Control-Request-Headers")); hs != "" {
					h.Set("Access-Control-Allow-Headers", hs)
				}
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedRequestHeaders returns the names of a preflight's
// Access-Control-Request-Headers that pages may send, comma-separated.
// Each name is checked on its own: a name not allowed is left out, so the
// browser refuses the request that would send it.
func allowedRequestHeaders(requested []string) string {
	var ok []string
	for _, list := range requested {
		for name := range strings.SplitSeq(list, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if slices.Contains(corsAllowedHeaders, name) || zendeskHeader(name) {
				ok = append(ok, name)
			}
		}
	}
	return strings.Join(ok, ", ")
}

// zendeskHeader reports whether name is X-Zendesk- and a rest made of
// letters, digits and dashes: nothing that could split or smuggle a header.
func zendeskHeader(name string) bool {
	rest, ok := strings.CutPrefix(name, corsAllowedHeaderPrefix)
	if !ok || rest == "" || len(name) > 64 {
		return false
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func levelFor(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return slog.LevelInfo
}
