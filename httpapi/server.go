// Package httpapi is the HTTP face of userimages: the Zendesk-compatible
// routes, CORS, request logging, and the one mapping of error codes to
// statuses.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"userimages/core"
)

// UploadVerifier checks the presigned PUTs of upload URLs that point at this
// server. Verify returns the upload token, or an error with
// core.CodeSignatureMismatch or core.CodeUploadURLExpired.
type UploadVerifier interface {
	Verify(r *http.Request, now time.Time) (token string, err error)
}

// Config configures the HTTP layer.
type Config struct {
	// PublicURL is the scheme://host[:port] clients reach this server at; it
	// is the base of upload URLs. Empty: taken from each request's Host.
	PublicURL string
	// CORSOrigins may call the API and PUT uploads from a browser. "*"
	// allows any origin. Default: "*" (the API is anonymous and uses no
	// cookies, so there is nothing for a foreign page to ride on).
	CORSOrigins []string
	// UploadPath is the route of self-signed upload URLs, e.g. "/uploads/".
	UploadPath string
}

// Server serves the API.
type Server struct {
	svc      *core.Service
	verifier UploadVerifier
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Server. verifier may be nil when upload URLs point
// elsewhere (an object store); the PUT route is then not served.
func New(svc *core.Service, verifier UploadVerifier, cfg Config, log *slog.Logger, now func() time.Time) *Server {
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"*"}
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if now == nil {
		now = time.Now
	}
	return &Server{svc: svc, verifier: verifier, cfg: cfg, log: log, now: now}
}

// Handler returns the routes wrapped in logging and CORS.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		mux.HandleFunc(path, s.methodNotAllowed(method))
	}
	route(http.MethodPost, "/api/v2/guide/user_images/uploads", s.createUpload)
	route(http.MethodPost, "/api/v2/guide/user_images", s.claim)
	route(http.MethodGet, "/hc/user_images/{file}", s.serveImage)
	if s.verifier != nil {
		route(http.MethodPut, s.cfg.UploadPath+"{token}", s.receiveUpload)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, core.Errorf(core.CodeNotFound, "no such route"))
	})
	return s.logRequests(s.cors(mux))
}

func (s *Server) methodNotAllowed(allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowed == http.MethodGet {
			allowed = "GET, HEAD"
		}
		w.Header().Set("Allow", allowed+", OPTIONS")
		s.writeError(w, r, core.Errorf(core.CodeMethodNotAllowed, "use %s", allowed))
	}
}

// caller authenticates the request: anonymous unless an Authorization
// header is sent, which must then be valid.
func (s *Server) caller(r *http.Request) (core.Uploader, error) {
	uid, err := s.svc.Authenticate(r.Context(), r.Header.Get("Authorization"))
	return core.Uploader{UserID: uid, ClientAddr: clientAddr(r)}, err
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type uploadResponse struct {
	Upload struct {
		Headers map[string]string `json:"headers"`
		Token   string            `json:"token"`
		URL     string            `json:"url"`
	} `json:"upload"`
}

func (s *Server) createUpload(w http.ResponseWriter, r *http.Request) {
	up, err := s.caller(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := readObject(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ct, err := stringProp(obj, "content_type")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := fileSizeProp(obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.svc.CreateUpload(r.Context(), core.CreateUploadInput{ContentType: ct, FileSize: size, Uploader: up, BaseURL: s.baseURL(r)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var resp uploadResponse
	resp.Upload.Headers, resp.Upload.Token, resp.Upload.URL = created.Headers, created.Token, created.URL
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) {
	if _, err := s.caller(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	token, err := s.verifier.Verify(r, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.ReceiveUpload(r.Context(), token, r.ContentLength, r.Body); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

type imageResponse struct {
	UserImage struct {
		ContentType string `json:"content_type"`
		Path        string `json:"path"`
		Size        int64  `json:"size"`
	} `json:"user_image"`
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request) {
	if _, err := s.caller(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := readObject(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, err := stringProp(obj, "token")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	brand, err := brandProp(obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	img, err := s.svc.Claim(r.Context(), token, brand)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var resp imageResponse
	resp.UserImage.ContentType, resp.UserImage.Path, resp.UserImage.Size = img.ContentType, core.Path(img), img.Size
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) serveImage(w http.ResponseWriter, r *http.Request) {
	id, ext, _ := strings.Cut(r.PathValue("file"), ".")
	img, blob, err := s.svc.OpenImage(r.Context(), id, ext)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer blob.Close()
	h := w.Header()
	h.Set("Content-Type", img.ContentType)
	h.Set("ETag", `"`+img.SHA256+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", img.CreatedAt, blob)
}

func asError(err error) (*core.Error, bool) {
	var e *core.Error
	ok := errors.As(err, &e)
	return e, ok
}

type ctxKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
