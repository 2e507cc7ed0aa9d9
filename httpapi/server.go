// Package httpapi is the HTTP face of userimages: the Zendesk-compatible
// routes, CORS, request logging, and the one mapping of error codes to
// statuses.
package httpapi

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"userimages/core"
	"userimages/metrics"

	"github.com/userimages/userimages/client/api"
)

// Config configures the HTTP layer.
type Config struct {
	// PublicURL is the scheme://host[:port] clients reach this server at; it
	// is the base of upload URLs. Empty: taken from each request's Host.
	PublicURL string
	// CORSOrigins may call the API and PUT uploads from a browser. "*"
	// allows any origin. Default: "*" (the API is anonymous and uses no
	// cookies, so there is nothing for a foreign page to ride on).
	CORSOrigins []string
	// CORSCredentials lets pages of CORSOrigins send credentialed requests
	// (Access-Control-Allow-Credentials), e.g. a help center that logs its
	// users in through a proxy's cookie. Only with listed origins, not "*":
	// any page could otherwise act with its visitors' credentials.
	CORSCredentials bool
	// UploadPath is the route of self-signed upload URLs, e.g. "/uploads/".
	UploadPath string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: when the direct peer is in one of them, the client address
	// (for rate limits and recorded with images) is the rightmost address
	// in X-Forwarded-For that is not. Default: none; the peer is the client.
	TrustedProxies []netip.Prefix
	// Limiter keeps the rate-limit budgets. When it fails, requests go
	// through (fail open) and a warning is logged at most every 10s.
	// Default nil: no rate limiting.
	Limiter Limiter
	// RateLimits are the budgets Limiter enforces. A zero Limit leaves its
	// route unlimited; DefaultRateLimits is what the command uses.
	RateLimits RateLimits

	// MaxConcurrentUploads caps the PUT bodies being received at once; a
	// PUT over the cap gets 503 and Retry-After without its body being
	// read. Default 64.
	MaxConcurrentUploads int
	// MaxConcurrentUploadsPerClient caps the PUT bodies one client (a user,
	// or an address, per /64 for IPv6, for anonymous uploads) sends at
	// once, so that one client's slow uploads cannot take every slot; over
	// it a PUT gets 429 and Retry-After at once, without its body being
	// stored (see refuseUpload).
	// Default 4.
	MaxConcurrentUploadsPerClient int
	// MaxConcurrentVariantsPerClient caps the cold variants (made on
	// their first request) one client (an address, per /64 for IPv6) has
	// made at once, so that one client asking for many cannot take the
	// whole variant budget (core.Config.VariantMemory) from the others;
	// over it a cold variant waits its turn (MaxQueuedVariantsPerClient).
	// Variants made already are never refused. Default 2.
	MaxConcurrentVariantsPerClient int
	// MaxQueuedVariantsPerClient is how many cold variants of one client
	// may wait, first come first served, for one of its
	// MaxConcurrentVariantsPerClient, each up to VariantQueueWait: a
	// browser loading a page of new pictures (a grid of 24 thumbnails)
	// asks for them all at once, and an <img> never retries. A cold
	// variant past the queue, or past the wait, gets 429 and
	// Retry-After. Waiting requests hold no image memory. Default 32.
	MaxQueuedVariantsPerClient int
	// VariantQueueWait is the longest a cold variant waits in its
	// client's queue. Default 10s.
	VariantQueueWait time.Duration
	// Metrics, when set, counts requests and upload outcomes and is served
	// at GET /metrics unless HideMetrics. Default nil: no metrics.
	Metrics *metrics.Metrics
	// RequestLog takes the line logRequests writes per request, at Info
	// (Error for a 5xx). Default nil: the server's log.
	RequestLog *slog.Logger
	// HideMetrics keeps GET /metrics off this handler (it answers 404, as
	// any unknown route) while Metrics still counts: the caller serves
	// Metrics.Handler elsewhere, e.g. on a private listener. Default
	// false: served here.
	HideMetrics bool
	// Composer, when set, serves the browser composer page under
	// /composer/ (see package composer), and / redirects to it. Default
	// nil: neither route.
	Composer http.Handler

	// Console, when set, returns the handler of the moderation console
	// (package console), served under ConsolePath outside CORS; it is
	// given the server, whose credential budget sign-ins are charged to
	// and which says whether a request came over HTTPS.
	// Default nil: no console.
	Console func(SignInGate) http.Handler

	// ReviewBytes, when set, serves the claim hook's bytes URLs under
	// ReviewPath (e.g. "/claim-hook/", claimhook.PathPrefix). Default nil:
	// no such route.
	ReviewBytes ReviewBytes
	ReviewPath  string

	// Redirect, when set, answers image GETs with a 302 to where it says
	// the image's bytes are (a presigned GET of the object store, or a CDN)
	// instead of streaming them through this server. Default nil: stream.
	Redirect ImageRedirector

	// UploadTimeout is how long a PUT may take, from its handler starting
	// to its last byte arriving; a slower body is cut off (400
	// IncompleteBody) and nothing is stored. It overrides the server's read
	// timeout for the PUT route. Default 2m.
	UploadTimeout time.Duration

	// BrowserMaxAge is how long a browser may keep an image response
	// (Cache-Control max-age); shared caches (a CDN, Varnish) keep it a
	// year (s-maxage), since a takedown purges them (Surrogate-Key,
	// Cache-Tag) and a browser's cache cannot be purged. Default 1h: a
	// picture taken down is gone from browsers within the hour, while a
	// browser's revalidation after it is a 304 from the nearest cache.
	BrowserMaxAge time.Duration
}

// ImageRedirector says where a client can fetch an image's bytes itself.
//
// Contract: RedirectURL returns an absolute URL that serves the bytes of the
// object key (see core.ImageKey) for at least maxAge, and maxAge is how long
// clients may cache the redirect. Errors are internal.
type ImageRedirector interface {
	RedirectURL(ctx context.Context, key string) (url string, maxAge time.Duration, err error)
}

// Defaults of Config.
const (
	DefaultMaxConcurrentUploads           = 64
	DefaultMaxConcurrentUploadsPerClient  = 4
	DefaultMaxConcurrentVariantsPerClient = 2
	DefaultMaxQueuedVariantsPerClient     = 32
	DefaultVariantQueueWait               = 10 * time.Second
	DefaultUploadTimeout                  = 2 * time.Minute
	DefaultBrowserMaxAge                  = time.Hour
)

// sharedMaxAge is how long shared caches keep an image response: the
// bytes at a path never change, and a takedown purges them.
const sharedMaxAge = 365 * 24 * time.Hour

// uploadsFullRetryAfter is the Retry-After of a PUT refused because the
// cap of concurrent uploads is reached: about the time an upload takes.
const uploadsFullRetryAfter = "5"

// Server serves the API.
type Server struct {
	svc Services
	// verifier checks the PUTs of upload URLs that point at this server
	// (svc.Uploads.Carrier); nil when they point elsewhere.
	verifier core.UploadCarrier
	cfg      Config
	log      *slog.Logger
	// cacheControl is the Cache-Control of images (see sendImage).
	cacheControl string
	now          func() time.Time
	// uploads holds one element per PUT body being received; clientUploads
	// counts them per client.
	uploads       chan struct{}
	clientUploads clientSlots
	// clientVariants counts the cold variants each client is having
	// made, and queues those waiting for their turn.
	clientVariants *clientQueue
	// limiterWarned is when a failing limiter was last logged (UnixNano).
	limiterWarned atomic.Int64
}

// New returns a Server, or an error if cfg is invalid. The PUT route of
// upload URLs is served when svc's uploads are carried to this server
// (core.UploadCarrier), not when they point elsewhere (an object store).
// now is the clock (default time.Now); network deadlines use
// the real time regardless.
func New(svc Services, cfg Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("httpapi config: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	var verifier core.UploadCarrier
	if svc.Uploads != nil {
		verifier = svc.Uploads.Carrier()
	}
	return &Server{svc: svc, verifier: verifier, cfg: cfg, log: log, now: now,
		cacheControl:   fmt.Sprintf("public, max-age=%d, s-maxage=%d, immutable", int(cfg.BrowserMaxAge.Seconds()), int(sharedMaxAge.Seconds())),
		uploads:        make(chan struct{}, cfg.MaxConcurrentUploads),
		clientUploads:  clientSlots{max: cfg.MaxConcurrentUploadsPerClient, held: map[string]int{}},
		clientVariants: newClientQueue(cfg.MaxConcurrentVariantsPerClient, cfg.MaxQueuedVariantsPerClient, cfg.VariantQueueWait)}, nil
}

// jsonAliasPrefix is where paths may end in ".json", as Zendesk's API
// accepts (…/uploads.json): such a path is served by its route without
// the suffix. No route there ends in .json itself, and image ids have no
// dot.
const jsonAliasPrefix = "/api/v2/"

// putPattern is the route of upload PUTs, under cfg.UploadPath: the last
// segment is the upload's token (api.PropToken of step 3).
func (s *Server) putPattern() api.Route {
	return api.Route("PUT " + s.cfg.UploadPath + "{" + string(api.PropToken) + "}")
}

// Handler returns the routes wrapped in logging and CORS.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// route registers h, and a JSON 405 for the path's other methods (a
	// method-less fallback would conflict with the DELETE route's wildcard).
	route := func(pattern api.Route, h http.HandlerFunc) {
		method, path := pattern.Method(), pattern.Path()
		mux.HandleFunc(string(pattern), h)
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m != method {
				mux.HandleFunc(m+" "+path, s.methodNotAllowed(method))
			}
		}
	}
	route(api.RouteCreateUpload, s.api(s.createUpload))
	route(api.RouteClaim, s.api(s.claim))
	route(api.RouteDeleteImage, s.api(s.deleteImage))
	route(api.RouteReport, s.api(s.reportImage))
	route(api.RouteImage, s.api(s.serveImage))
	route(api.RouteMe, s.api(s.showMe))
	if s.verifier != nil {
		route(s.putPattern(), s.api(s.receiveUpload))
	}
	if s.cfg.ReviewBytes != nil {
		route(s.reviewPattern(), s.api(s.serveReviewBytes))
	}
	mux.HandleFunc(string(api.RouteHealth), func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.StatusResponse{Status: "ok"})
	})
	mux.HandleFunc(string(api.RouteReady), s.api(s.ready))
	route(api.RouteOpenAPI, serveOpenAPI)
	if s.cfg.Metrics != nil && !s.cfg.HideMetrics {
		mux.Handle("GET /metrics", s.cfg.Metrics.Handler()) // metricsPath
	}
	if s.cfg.Composer != nil {
		route("GET /composer/", s.cfg.Composer.ServeHTTP)
		route("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/composer/", http.StatusFound)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, core.Errorf(api.CodeNotFound, "no such route"))
	})
	apiRoutes := s.withoutCORSFor(metricsPath, mux, s.cors(jsonAliases(mux)))
	if s.cfg.Console == nil {
		return s.logRequests(apiRoutes)
	}
	// The console is served outside CORS: its pages ride on a cookie,
	// which no other origin may send with a credentialed request.
	console := s.cfg.Console(s)
	return s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(ConsolePath, "/") || strings.HasPrefix(r.URL.Path, ConsolePath) {
			console.ServeHTTP(w, r)
			return
		}
		apiRoutes.ServeHTTP(w, r)
	}))
}

// metricsPath serves Config.Metrics. It is for a scraper, never for a
// page: it carries no CORS headers, so no other origin's script can read
// the server's version, memory or request counts (upload volume).
const metricsPath = "/metrics"

// withoutCORSFor serves path by plain (no CORS headers, and a preflight
// is answered as any other unknown request is) and every other path by
// withCORS.
func (s *Server) withoutCORSFor(path string, plain, withCORS http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			plain.ServeHTTP(w, r)
			return
		}
		withCORS.ServeHTTP(w, r)
	})
}

// ConsolePath is where Config.Console is served.
const ConsolePath = "/admin/"

// SignInGate is what a browser console needs of the API: the rate limit
// of credentials, which its sign-ins are charged to, and whether a
// request came over HTTPS, which its cookies are marked Secure by (*Server
// implements it; see Server.AdmitSignIn and Server.OverHTTPS for the
// contracts).
type SignInGate interface {
	AdmitSignIn(w http.ResponseWriter, r *http.Request) error
	OverHTTPS(r *http.Request) bool
	ClientAddr(r *http.Request) string
}

// jsonAliases serves a path under jsonAliasPrefix ending in ".json" as the
// path without it. The route's pattern is passed back to the request the
// logger and metrics see (the ServeMux sets it on the request it serves),
// so an alias is counted under its route's one pattern.
func jsonAliases(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := strings.CutSuffix(r.URL.Path, ".json")
		if !ok || !strings.HasPrefix(path, jsonAliasPrefix) {
			mux.ServeHTTP(w, r)
			return
		}
		u := *r.URL
		u.Path, u.RawPath = path, ""
		alias := *r
		alias.URL = &u
		mux.ServeHTTP(w, &alias)
		r.Pattern = alias.Pattern
	})
}

// api adapts a handler that returns its error, answering that error as
// JSON with its status: the one place handlers' errors are written.
func (s *Server) api(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) methodNotAllowed(allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowed == http.MethodGet {
			allowed = "GET, HEAD"
		}
		w.Header().Set("Allow", allowed+", OPTIONS")
		s.writeError(w, r, core.Errorf(api.CodeMethodNotAllowed, "use %s", allowed))
	}
}

// caller authenticates the request: anonymous unless an Authorization
// header is sent, which must then be valid. It is where the API checks
// credentials, the only one, and it charges them to the client address's
// Auth budget first (see AdmitSignIn), so that no route can let a guesser
// try passwords unthrottled, or take the few password-hashing slots.
// Over the budget the error has api.CodeRateLimited and the caller is the
// anonymous one.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (core.Uploader, error) {
	up := core.Uploader{ClientAddr: s.ClientAddr(r)}
	header := r.Header.Get("Authorization")
	if header == "" {
		return up, nil
	}
	if err := s.AdmitSignIn(w, r); err != nil {
		return up, err
	}
	uid, err := s.authenticate(r.Context(), header, up.ClientAddr)
	up.UserID = uid
	return up, err
}

// authenticate checks an Authorization header sent from the client
// address from, for caller: a Bearer JWT (three dot-separated parts,
// which API tokens, hex digits, never have) is the host app's, checked
// by HostUsers; anything else is Accounts'.
func (s *Server) authenticate(ctx context.Context, header, from string) (int64, error) {
	scheme, cred, _ := strings.Cut(header, " ")
	if cred = strings.TrimSpace(cred); strings.EqualFold(scheme, "Bearer") && strings.Count(cred, ".") == 2 {
		if s.svc.HostUsers == nil {
			return 0, core.Errorf(api.CodeUnauthorized, "this server accepts no JWTs")
		}
		return s.svc.HostUsers.Authenticate(ctx, cred)
	}
	return s.svc.Accounts.Authenticate(ctx, header, from)
}

// baseURL is where upload URLs point: PublicURL, else this request's host.
func (s *Server) baseURL(r *http.Request) (string, error) {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL, nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if u, err := url.Parse(scheme + "://" + r.Host); r.Host == "" || err != nil || u.Host != r.Host || u.Path != "" {
		return "", core.Errorf(api.CodeInvalidHost, "the Host header is missing or invalid; upload URLs are built from it (or from the server's --public-url)")
	}
	return scheme + "://" + r.Host, nil
}

func (s *Server) createUpload(w http.ResponseWriter, r *http.Request) error {
	up, err := s.admit(w, r, "create", s.cfg.RateLimits.Create)
	if err != nil {
		return err
	}
	var req api.CreateUploadRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	base, err := s.baseURL(r)
	if err != nil {
		return err
	}
	created, err := s.svc.Uploads.CreateUpload(r.Context(), core.CreateUploadInput{ContentType: req.ContentType, FileSize: req.FileSize, Uploader: up, BaseURL: base})
	if err != nil {
		return err
	}
	var resp api.CreateUploadResponse
	resp.Upload.Headers, resp.Upload.Token, resp.Upload.URL = created.Headers, created.Token, created.URL
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// receiveUpload takes step 2's PUT. Order matters: nothing is looked up
// before the token's syntax and the signature are checked, and no body is
// read before a slot under the cap of concurrent uploads is taken.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) error {
	// The body must arrive within UploadTimeout of now, in real time.
	deadline := time.Now().Add(s.cfg.UploadTimeout)
	if !core.ValidToken(r.PathValue(string(api.PropToken))) {
		return core.Errorf(api.CodeSignatureMismatch, "this is not an upload URL issued by this server")
	}
	upload, err := s.verifier.Verify(r, s.now())
	if err != nil {
		return err
	}
	if _, err := s.admit(w, r, "put", s.cfg.RateLimits.Put); err != nil {
		return err
	}
	// The client's slots first: one client over its share must not take
	// a slot that another client's upload could use.
	client := subject(core.Uploader{UserID: upload.Uploader.UserID, ClientAddr: s.ClientAddr(r)})
	if !s.clientUploads.acquire(client) {
		s.refuseUpload(w, r, upload.FileSize, core.Errorf(api.CodeRateLimited, "this client is sending %d uploads at once already, the most allowed; retry in %s s",
			s.cfg.MaxConcurrentUploadsPerClient, uploadsFullRetryAfter))
		return nil
	}
	defer s.clientUploads.release(client)
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		s.refuseUpload(w, r, upload.FileSize, core.Errorf(api.CodeServiceUnavailable, "too many uploads are in progress; retry in %s s", uploadsFullRetryAfter))
		return nil
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(deadline); err != nil {
		s.log.WarnContext(r.Context(), "cannot bound the upload time", "request_id", requestID(r.Context()), "err", err)
	}
	// Leave time to answer even when the body came at the last moment.
	_ = rc.SetWriteDeadline(deadline.Add(uploadAnswerTime))
	// The MD5 of the bytes read, which on success are exactly the body.
	sum := md5.New()
	body := &deadlineReader{r: io.TeeReader(r.Body, sum)}
	if err := s.svc.Uploads.ReceiveUpload(r.Context(), upload, r.ContentLength, body); err != nil {
		if body.timedOut {
			err = core.Errorf(api.CodeIncompleteBody, "the body did not arrive within %s; nothing was stored", s.cfg.UploadTimeout)
		}
		return err
	}
	// As S3 answers a PutObject: S3 clients read the ETag (Uppy 5's AwsS3
	// never settles without it).
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum.Sum(nil))+`"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// refuseUpload answers a PUT refused before any of its body was stored,
// with err and Retry-After, at once; then, unless the client asked first
// (Expect: 100-continue) and so sends no body, it reads and discards the
// body for at most refusedBodyTime. A client that writes its whole body
// before it reads an answer (browsers, Go's client) would otherwise find
// the connection reset under it and never see the answer.
func (s *Server) refuseUpload(w http.ResponseWriter, r *http.Request, size int64, err error) {
	w.Header().Set("Retry-After", uploadsFullRetryAfter)
	rc := http.NewResponseController(w)
	expectsContinue := strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	if expectsContinue || rc.EnableFullDuplex() != nil {
		w.Header().Set("Connection", "close") // the body stays unread
		s.writeError(w, r, err)
		return
	}
	s.writeError(w, r, err)
	if rc.Flush() != nil || rc.SetReadDeadline(time.Now().Add(refusedBodyTime)) != nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(r.Body, size+1))
}

// refusedBodyTime bounds how long the body of a refused PUT is read and
// discarded; a client slower than that has its connection closed.
const refusedBodyTime = 10 * time.Second

// uploadAnswerTime is how long after UploadTimeout the answer to a PUT may
// take to write.
const uploadAnswerTime = 30 * time.Second

// deadlineReader notes whether reading failed on a passed deadline.
type deadlineReader struct {
	r        io.Reader
	timedOut bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		d.timedOut = true
	}
	return n, err
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request) error {
	claimant, err := s.admit(w, r, "claim", s.cfg.RateLimits.Claim)
	if err != nil {
		return err
	}
	var req api.ClaimRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	img, err := s.svc.Uploads.Claim(r.Context(), req.Token, req.BrandID, claimant.UserID)
	if err != nil {
		return err
	}
	var resp api.ClaimResponse
	resp.UserImage.ContentType, resp.UserImage.Path, resp.UserImage.Size = img.ContentType, core.Path(img), img.Size
	// The body is Zendesk's; the picture's size is said in headers.
	setImageSize(w.Header(), img.Width, img.Height)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) serveImage(w http.ResponseWriter, r *http.Request) error {
	id, ext, _ := strings.Cut(r.PathValue("file"), ".")
	if r.URL.RawQuery != "" {
		return s.serveVariant(w, r, id, ext)
	}
	if s.cfg.Redirect != nil {
		return s.redirectImage(w, r, id, ext)
	}
	img, blob, err := s.svc.Images.OpenImage(r.Context(), id, ext)
	if err != nil {
		return err
	}
	defer blob.Close()
	setImageSize(w.Header(), img.Width, img.Height)
	s.sendImage(w, r, img, img.ContentType, `"`+img.SHA256+`"`, blob)
	return nil
}

// setImageSize says a picture's size (upright, in pixels) in
// api.ImageWidthHeader and api.ImageHeightHeader; nothing when it is
// unknown (0: stored before sizes were kept).
func setImageSize(h http.Header, width, height int) {
	if width > 0 && height > 0 {
		h.Set(api.ImageWidthHeader, strconv.Itoa(width))
		h.Set(api.ImageHeightHeader, strconv.Itoa(height))
	}
}

// tagImage names img in the headers caches in front purge by:
// Surrogate-Key (Fastly; Varnish through xkey) and Cache-Tag
// (Cloudflare). A takedown purges core.SurrogateKey, which the original
// and every variant carry.
func tagImage(h http.Header, img core.Image) {
	h.Set("Surrogate-Key", core.SurrogateKey(img.ID))
	h.Set("Cache-Tag", core.SurrogateKey(img.ID))
}

// sendImage answers a GET of img, original or variant, with blob: kept by
// shared caches a year and by browsers BrowserMaxAge (immutable: the
// bytes at a path never change, so a browser need not revalidate within
// that time), tagged for purges, never sniffed or run, with Range and
// conditional requests answered by http.ServeContent.
func (s *Server) sendImage(w http.ResponseWriter, r *http.Request, img core.Image, contentType, etag string, blob core.Blob) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("ETag", etag)
	h.Set("Cache-Control", s.cacheControl)
	tagImage(h, img)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	var content io.ReadSeeker = blob
	switch f, ok := blob.(fileBlob); {
	case strings.Contains(r.Header.Get("Range"), ","):
		// Several ranges: ServeContent reads them from a goroutine that
		// it does not wait for when the client goes away, while blob's
		// descriptor may go on to another request (the open-file cache):
		// the goroutine must not read or seek it once this returns.
		g := &guardedReader{r: blob}
		defer g.stop()
		content = g
	case ok && f.File() != nil:
		// net/http sends an *os.File (inside the io.LimitedReader of
		// ServeContent) with sendfile(2) instead of copying it.
		content = f.File()
		w = headerFirst{w}
	}
	http.ServeContent(w, r, "", img.CreatedAt, content)
}

// guardedReader is r until stop, then a reader that fails: stop waits for
// a Read or Seek under way.
type guardedReader struct {
	mu      sync.Mutex
	r       io.ReadSeeker
	stopped bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return 0, os.ErrClosed
	}
	return g.r.Read(p)
}

func (g *guardedReader) Seek(offset int64, whence int) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return 0, os.ErrClosed
	}
	return g.r.Seek(offset, whence)
}

func (g *guardedReader) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

// headerFirst sends the header as soon as it is written (200 or 206), so
// that net/http's ReadFrom hands the whole file to sendfile(2): with the
// header not sent yet, it first reads 512 bytes of the file into its
// buffer and writes them with the header (for a type sniff that a set
// Content-Type makes moot), a read(2) and a copy per request.
type headerFirst struct{ http.ResponseWriter }

func (h headerFirst) WriteHeader(code int) {
	h.ResponseWriter.WriteHeader(code)
	if code == http.StatusOK || code == http.StatusPartialContent {
		// An error here is the client's going away, which the body's
		// write reports again.
		_ = http.NewResponseController(h.ResponseWriter).Flush()
	}
}

// ReadFrom is the underlying writer's (net/http's, through recorder),
// which sends an *os.File with sendfile(2).
func (h headerFirst) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := h.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(h.ResponseWriter, src)
}

func (h headerFirst) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// fileBlob is a core.Blob backed by an open file (localdisk's).
type fileBlob interface{ File() *os.File }

// redirectImage answers a published image's GET with a 302 to its bytes
// elsewhere. The redirect is cached for no longer than its target is good,
// and the lookup behind it is what makes a taken-down image 404.
func (s *Server) redirectImage(w http.ResponseWriter, r *http.Request, id, ext string) error {
	img, err := s.svc.Images.PublishedImage(r.Context(), id, ext)
	if err != nil {
		return err
	}
	setImageSize(w.Header(), img.Width, img.Height)
	return s.redirectTo(w, r, img, core.ImageKey(img.ID))
}

// redirectTo answers with a 302 to the bytes of img's object key
// elsewhere, cached for no longer than the target is good, tagged for
// purges as the bytes are.
func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, img core.Image, key string) error {
	target, maxAge, err := s.cfg.Redirect.RedirectURL(r.Context(), key)
	if err != nil {
		return fmt.Errorf("redirect to %s: %w", key, err)
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(maxAge.Seconds())))
	tagImage(w.Header(), img)
	http.Redirect(w, r, target, http.StatusFound)
	return nil
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
