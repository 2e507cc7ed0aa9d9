package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"userimages/composer"
	"userimages/console"
	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/metrics"
	"userimages/ratelimit/memrate"
	"userimages/ratelimit/redisrate"
	"userimages/s3store"
	"userimages/selfsign"
	"userimages/variant"
)

// variantMemorySlack is what Go's soft memory limit allows over
// --variant-memory: the server's own heap (connections, caches, the
// WebP encoder's compiled module).
const variantMemorySlack = 48 << 20

// serveCmd is the configuration of `userimages serve`: every field is a
// flag, with its default and environment variable in its tags. It is
// filled by the one parser (kong), checked by validate, and turned into a
// server by buildServer.
type serveCmd struct {
	Addr       string        `help:"Address to listen on (port 0 picks a free one); default 127.0.0.1:8080, or :80 with --domain. With HTTPS on, it only answers ACME challenges and redirects to HTTPS." env:"USERIMAGES_ADDR" placeholder:"HOST:PORT"`
	Domain     []string      `help:"Serve HTTPS for this host name with a certificate obtained and renewed over ACME, kept in --data (repeatable; the variable is comma-separated); --addr then defaults to :80 and redirects to HTTPS." env:"USERIMAGES_DOMAIN" placeholder:"NAME"`
	HTTPSAddr  string        `name:"https-addr" help:"With --domain or --tls-cert: address HTTPS is served on (default :443)." default:":443" env:"USERIMAGES_HTTPS_ADDR" placeholder:"HOST:PORT"`
	ACMEDir    string        `name:"acme-directory" help:"With --domain: directory URL of the ACME CA (default: Let's Encrypt)." env:"USERIMAGES_ACME_DIRECTORY" placeholder:"URL"`
	ACMEEmail  string        `name:"acme-email" help:"With --domain: contact address of the ACME account (optional)." env:"USERIMAGES_ACME_EMAIL" placeholder:"EMAIL"`
	TLSCert    string        `name:"tls-cert" help:"Serve HTTPS with this PEM certificate chain (with --tls-key), reloaded when the file changes." env:"USERIMAGES_TLS_CERT" placeholder:"FILE"`
	TLSKey     string        `name:"tls-key" help:"PEM private key of --tls-cert." env:"USERIMAGES_TLS_KEY" placeholder:"FILE"`
	HSTSMaxAge time.Duration `name:"hsts-max-age" help:"With HTTPS: max-age of the Strict-Transport-Security header (0 sends none)." default:"${hsts_max_age}" env:"USERIMAGES_HSTS_MAX_AGE"`
	location
	ServeMode   string        `help:"How images in an S3 store are served: stream (through this server) or redirect (302 to a presigned GET, or to --cdn-url)." default:"stream" enum:"stream,redirect" env:"USERIMAGES_SERVE_MODE"`
	CDNURL      string        `name:"cdn-url" help:"With --serve-mode redirect: base URL of a CDN in front of the bucket; an image redirects to BASE/KEY (default: a presigned GET)." env:"USERIMAGES_CDN_URL" placeholder:"URL"`
	RedirectTTL time.Duration `name:"redirect-ttl" help:"With --serve-mode redirect: how long a presigned GET is good; browsers cache the redirect half as long." default:"15m" env:"USERIMAGES_REDIRECT_TTL"`
	UploadSSE   string        `name:"upload-sse" help:"X-Amz-Server-Side-Encryption header upload URLs sign and return: AES256, aws:kms or none (for object stores that refuse it)." default:"${upload_sse}" env:"USERIMAGES_UPLOAD_SSE"`
	PublicURL   string        `name:"public-url" help:"scheme://host[:port] clients reach this server at (default: https://<first --domain>, else each request's Host)." env:"USERIMAGES_PUBLIC_URL" placeholder:"URL"`
	Brand       []string      `help:"Register a brand id (repeatable; the variable is comma-separated)." env:"USERIMAGES_BRAND" placeholder:"ID"`
	CORSOrigin  []string      `name:"cors-origin" help:"Origin allowed to call from a browser (repeatable; default \"*\")." env:"USERIMAGES_CORS_ORIGIN" placeholder:"ORIGIN"`
	CORSCreds   bool          `name:"cors-credentials" help:"Let pages of the --cors-origin origins send credentialed requests (cookies, HTTP auth); needs origins listed, not *." env:"USERIMAGES_CORS_CREDENTIALS"`
	ContentType []string      `name:"content-type" help:"Accepted content type (repeatable; default all of image/jpeg, image/png, image/gif, image/webp)." env:"USERIMAGES_CONTENT_TYPE" placeholder:"TYPE"`
	MaxFileSize int64         `name:"max-file-size" help:"Largest accepted file_size, in bytes." default:"${max_file_size}" env:"USERIMAGES_MAX_FILE_SIZE" placeholder:"BYTES"`
	KeepMeta    bool          `name:"keep-metadata" help:"Serve images with their EXIF, XMP, IPTC and comments (default: stripped, keeping the ICC profile and orientation)." env:"USERIMAGES_KEEP_METADATA"`
	MaxPixels   int64         `name:"max-pixels" help:"Largest accepted width × height, checked from the header before decoding." default:"${max_pixels}" env:"USERIMAGES_MAX_PIXELS"`
	MaxSide     int           `name:"max-side" help:"Largest accepted width or height." default:"${max_side}" env:"USERIMAGES_MAX_SIDE"`
	UploadTTL   time.Duration `name:"upload-url-ttl" help:"How long an upload URL accepts its PUT." default:"${upload_url_ttl}" env:"USERIMAGES_UPLOAD_URL_TTL"`
	ClaimWindow time.Duration `name:"claim-window" help:"How long an upload can be claimed before it is swept." default:"${claim_window}" env:"USERIMAGES_CLAIM_WINDOW"`
	SessionIdle time.Duration `name:"session-idle" help:"How long a moderation console session lasts unused." default:"${session_idle}" env:"USERIMAGES_SESSION_IDLE"`
	SessionMax  time.Duration `name:"session-max-age" help:"How long a moderation console session lasts at most after sign-in." default:"${session_max_age}" env:"USERIMAGES_SESSION_MAX_AGE"`
	SweepEvery  time.Duration `name:"sweep-interval" help:"How often expired uploads are swept." default:"10m" env:"USERIMAGES_SWEEP_INTERVAL"`
	Shutdown    time.Duration `name:"shutdown-timeout" help:"How long in-flight requests may finish after SIGINT/SIGTERM." default:"30s" env:"USERIMAGES_SHUTDOWN_TIMEOUT"`
	RedisPrefix string        `name:"redis-prefix" help:"Prefix of the rate-limit keys in Redis, for deployments sharing one Redis." default:"${redis_prefix}" env:"USERIMAGES_REDIS_PREFIX"`
	Redis       string        `help:"redis://[user:password@]host:port/db keeping rate limits shared by all instances (default: kept in this process)." env:"USERIMAGES_REDIS" placeholder:"URL"`
	LimitCreate limitFlag     `name:"rate-limit-create" help:"Requests to create an upload per client, RATE/PERIOD (e.g. 60/m) or off." default:"${rate_limit_create}" env:"USERIMAGES_RATE_LIMIT_CREATE" placeholder:"RATE/PERIOD"`
	LimitPut    limitFlag     `name:"rate-limit-put" help:"Upload PUTs per client, RATE/PERIOD or off." default:"${rate_limit_put}" env:"USERIMAGES_RATE_LIMIT_PUT" placeholder:"RATE/PERIOD"`
	LimitClaim  limitFlag     `name:"rate-limit-claim" help:"Claims per client, RATE/PERIOD or off." default:"${rate_limit_claim}" env:"USERIMAGES_RATE_LIMIT_CLAIM" placeholder:"RATE/PERIOD"`
	LimitReport limitFlag     `name:"rate-limit-report" help:"Reports of images per client, RATE/PERIOD or off." default:"${rate_limit_report}" env:"USERIMAGES_RATE_LIMIT_REPORT" placeholder:"RATE/PERIOD"`
	LimitAuth   limitFlag     `name:"rate-limit-auth" help:"Requests sending credentials per client address, charged before the password hash is checked, RATE/PERIOD or off." default:"${rate_limit_auth}" env:"USERIMAGES_RATE_LIMIT_AUTH" placeholder:"RATE/PERIOD"`
	Proxies     []prefixFlag  `name:"trusted-proxy" help:"CIDR or address of a reverse proxy whose X-Forwarded-For is believed (repeatable)." env:"USERIMAGES_TRUSTED_PROXY" placeholder:"CIDR"`
	MaxUploads  int           `name:"max-concurrent-uploads" help:"Upload bodies received at once; more get 503." default:"${max_concurrent_uploads}" env:"USERIMAGES_MAX_CONCURRENT_UPLOADS"`
	MaxClientUp int           `name:"max-concurrent-uploads-per-client" help:"Upload bodies received at once from one client (user, or address per /64 for IPv6); more get 429." default:"${max_concurrent_uploads_per_client}" env:"USERIMAGES_MAX_CONCURRENT_UPLOADS_PER_CLIENT"`
	MinFree     int64         `name:"min-free-space" help:"Bytes of free space on the data disk under which /readyz answers 503 (default: 64 × --max-file-size)." env:"USERIMAGES_MIN_FREE_SPACE" placeholder:"BYTES"`
	UploadTime  time.Duration `name:"upload-timeout" help:"How long an upload PUT may take to send its body." default:"${upload_timeout}" env:"USERIMAGES_UPLOAD_TIMEOUT"`
	ReadHeader  time.Duration `name:"read-header-timeout" help:"How long a client may take to send a request's headers." default:"10s" env:"USERIMAGES_READ_HEADER_TIMEOUT"`
	ReadTime    time.Duration `name:"read-timeout" help:"How long a client may take to send a whole request (except upload PUTs: --upload-timeout)." default:"1m" env:"USERIMAGES_READ_TIMEOUT"`
	WriteTime   time.Duration `name:"write-timeout" help:"How long a response may take, from the end of the request headers." default:"5m" env:"USERIMAGES_WRITE_TIMEOUT"`
	IdleTime    time.Duration `name:"idle-timeout" help:"How long an idle keep-alive connection stays open." default:"2m" env:"USERIMAGES_IDLE_TIMEOUT"`
	VarWidths   []int         `name:"variant-widths" help:"Widths GET <image path>?w=W serves (any other W answers 400 InvalidVariant)." default:"${variant_widths}" env:"USERIMAGES_VARIANT_WIDTHS" placeholder:"W,…"`
	VarMemory   sizeFlag      `name:"variant-memory" help:"Budget of the memory variants being made hold at once (decoded pixels, mostly), e.g. 256MiB; over it requests wait, then get 503. Go's soft memory limit is set to it plus 48 MiB unless GOMEMLIMIT is set." default:"${variant_memory}" env:"USERIMAGES_VARIANT_MEMORY" placeholder:"BYTES"`
	VarPregen   []variantFlag `name:"variant-pregenerate" help:"Variant made in the background when an image is claimed, WIDTH.FORMAT, e.g. 640.webp (repeatable; the variable is comma-separated; default none: made on first request)." env:"USERIMAGES_VARIANT_PREGENERATE" placeholder:"W.FMT"`
	CPUProfile  string        `name:"cpuprofile" help:"Write a CPU profile (pprof) of the whole run to this file when the server stops." env:"USERIMAGES_CPUPROFILE" placeholder:"FILE"`
}

// defaultAddr is --addr when neither the flag nor its variable gives it
// and HTTPS is not served for a --domain.
const defaultAddr = "127.0.0.1:8080"

// httpsConfig is how HTTPS is served, if at all.
func (c *serveCmd) httpsConfig() httpsserve.Config {
	return httpsserve.Config{Domains: c.Domain, ACMEDirectory: c.ACMEDir, ACMEEmail: c.ACMEEmail, DataDir: c.Data,
		CertFile: c.TLSCert, KeyFile: c.TLSKey, HSTSMaxAge: c.HSTSMaxAge}
}

// validate checks what the parser cannot: every rule that spans flags or
// bounds a value. It is the one place a configuration is refused before
// anything is opened.
func (c *serveCmd) validate() error {
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"upload-timeout", c.UploadTime}, {"read-header-timeout", c.ReadHeader}, {"read-timeout", c.ReadTime},
		{"write-timeout", c.WriteTime}, {"idle-timeout", c.IdleTime}} {
		if err := positive(d.flag, d.d); err != nil {
			return err
		}
	}
	switch {
	case c.CORSCreds && (len(c.CORSOrigin) == 0 || slices.Contains(c.CORSOrigin, "*")):
		return fmt.Errorf("--cors-credentials needs --cors-origin to list the origins, not *: any page could otherwise act with its visitors' credentials")
	case c.MaxUploads < 1:
		return fmt.Errorf("--max-concurrent-uploads %d: must be at least 1", c.MaxUploads)
	case c.MaxClientUp < 1:
		return fmt.Errorf("--max-concurrent-uploads-per-client %d: must be at least 1", c.MaxClientUp)
	case c.MinFree < 0:
		return fmt.Errorf("--min-free-space %d: must not be negative", c.MinFree)
	case c.SessionIdle < time.Minute:
		return fmt.Errorf("--session-idle %s: must be at least 1m", c.SessionIdle)
	case c.SessionMax < c.SessionIdle:
		return fmt.Errorf("--session-max-age %s: must be at least --session-idle %s", c.SessionMax, c.SessionIdle)
	case c.CDNURL != "" && c.ServeMode != "redirect":
		return fmt.Errorf("--cdn-url needs --serve-mode redirect")
	case c.ServeMode == "redirect" && !strings.HasPrefix(c.Blob, "s3://"):
		return fmt.Errorf("--serve-mode redirect needs image bytes in an object store (--blob s3://…)")
	case c.ServeMode == "redirect" && c.CDNURL == "" && (c.RedirectTTL < 2*time.Second || c.RedirectTTL > 7*24*time.Hour):
		return fmt.Errorf("--redirect-ttl %s: must be between 2s and 7 days (the SigV4 limit)", c.RedirectTTL)
	case strings.HasPrefix(c.Blob, "s3://") && c.MaxFileSize > s3store.MaxPutSize:
		// A claim writes the checked copy to the bucket through a buffer of
		// at most this size: larger uploads could never be published.
		return fmt.Errorf("--max-file-size %d: at most %d with an s3:// --blob", c.MaxFileSize, s3store.MaxPutSize)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: want scheme://host[:port] with no path", c.PublicURL)
		}
	}
	if c.CDNURL != "" {
		u, err := url.Parse(c.CDNURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("--cdn-url %q: want http(s)://host[/path]", c.CDNURL)
		}
	}
	if err := c.httpsConfig().Validate(); err != nil {
		return err
	}
	if c.Addr == "" { // given by neither the flag nor USERIMAGES_ADDR
		c.Addr = defaultAddr
		if len(c.Domain) > 0 {
			c.Addr = ":80" // where ACME CAs send HTTP-01 challenges and browsers type the name
		}
	}
	return c.check("--db", "--blob")
}

// server is a built server, ready to run.
type server struct {
	http      *http.Server // the API: on ln, or on httpsLn with HTTPS on
	ln        net.Listener // plain HTTP
	redirect  *http.Server // with HTTPS on: ACME challenges and redirects to HTTPS on ln
	httpsLn   net.Listener // with HTTPS on
	publicURL string       // --public-url, or the HTTPS origin of the first --domain
	svc       core.Services
	metrics   *metrics.Metrics
	closers   []func()
}

func (s *server) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// buildServer opens the stores of a validated configuration, and wires the
// service, the HTTP API and the listener.
func buildServer(ctx context.Context, c *serveCmd, log *slog.Logger) (_ *server, err error) {
	s := &server{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	st, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	var proxies []netip.Prefix
	for _, p := range c.Proxies {
		proxies = append(proxies, netip.Prefix(p))
	}
	svc, err := st.services(core.Config{MaxFileSize: c.MaxFileSize, ContentTypes: c.ContentType, UploadURLTTL: c.UploadTTL, ClaimWindow: c.ClaimWindow,
		KeepMetadata: c.KeepMeta, SessionIdle: c.SessionIdle, SessionMaxAge: c.SessionMax, MaxPixels: c.MaxPixels, MaxSide: c.MaxSide, ServerSideEncryption: c.UploadSSE, MinFreeSpace: c.MinFree,
		VariantWidths: c.VarWidths, VariantMemory: int64(c.VarMemory), VariantPregenerate: variants(c.VarPregen)}, log)
	if err != nil {
		return nil, err
	}
	s.svc = svc
	for _, b := range c.Brand {
		if err := svc.Accounts.AddBrand(ctx, b); err != nil {
			return nil, fmt.Errorf("--brand %s: %w", b, err)
		}
	}
	limiter, closeLimiter, err := newLimiter(ctx, c.Redis, c.RedisPrefix, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeLimiter)
	if s.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.ln.Close() })
	s.publicURL = c.PublicURL
	var https *httpsserve.Server
	if httpsCfg := c.httpsConfig(); httpsCfg.Enabled() {
		if https, err = httpsserve.New(httpsCfg, log); err != nil {
			return nil, err
		}
		if s.httpsLn, err = net.Listen("tcp", c.HTTPSAddr); err != nil {
			return nil, fmt.Errorf("--https-addr: %w", err)
		}
		s.closers = append(s.closers, func() { s.httpsLn.Close() })
		if s.publicURL == "" {
			s.publicURL = https.PublicURL(httpsPort(s.httpsLn))
		}
	}
	s.metrics = metrics.New()
	cons, err := console.New(console.Config{Sessions: svc.Sessions, Accounts: svc.Accounts, Moderation: svc.Moderation, Log: log, SecureCookies: strings.HasPrefix(s.publicURL, "https://"),
		ImageOrigins: imageOrigins(c, st)})
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.ServicesOf(svc), httpapi.Config{
		Console:                       func(g httpapi.SignInGate) http.Handler { return cons.Handler(g) },
		Redirect:                      redirector(c, st.s3),
		Metrics:                       s.metrics,
		PublicURL:                     s.publicURL,
		CORSOrigins:                   c.CORSOrigin,
		CORSCredentials:               c.CORSCreds,
		UploadPath:                    selfsign.PathPrefix,
		TrustedProxies:                proxies,
		Limiter:                       limiter,
		RateLimits:                    httpapi.RateLimits{Create: c.LimitCreate.l, Put: c.LimitPut.l, Claim: c.LimitClaim.l, Auth: c.LimitAuth.l, Report: c.LimitReport.l},
		MaxConcurrentUploads:          c.MaxUploads,
		MaxConcurrentUploadsPerClient: c.MaxClientUp,
		UploadTimeout:                 c.UploadTime,
		Composer:                      composer.Handler(composerConfig(svc, s.publicURL, st)),
	}, log, nil)
	if err != nil {
		return nil, err
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: c.ReadHeader,
			ReadTimeout:       c.ReadTime,
			WriteTimeout:      c.WriteTime,
			IdleTimeout:       c.IdleTime,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	// Plain HTTP serves the API, or with HTTPS only ACME challenges and
	// redirects; HTTPS serves the API (HTTP/2, HSTS).
	s.http = newServer(api.Handler())
	if https != nil {
		s.http.Handler, s.http.TLSConfig = https.Handler(s.http.Handler), https.TLSConfig()
		s.redirect = newServer(https.RedirectHandler(httpsPort(s.httpsLn)))
	}
	return s, nil
}

// httpsPort is the port ln listens on.
func httpsPort(ln net.Listener) int {
	return ln.Addr().(*net.TCPAddr).Port
}

// serve runs the servers until one fails or all are shut down; errc gets
// one value per server.
func (s *server) serve(errc chan<- error) (servers int) {
	if s.redirect == nil {
		go func() { errc <- s.http.Serve(s.ln) }()
		return 1
	}
	go func() { errc <- s.http.ServeTLS(s.httpsLn, "", "") }()
	go func() { errc <- s.redirect.Serve(s.ln) }()
	return 2
}

// shutdown finishes in-flight requests on every server.
func (s *server) shutdown(ctx context.Context) error {
	for _, srv := range []*http.Server{s.http, s.redirect} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	return nil
}

// Run serves until ctx ends, then finishes in-flight requests.
func (c *serveCmd) Run(ctx context.Context) error {
	if err := c.validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if c.CPUProfile != "" {
		stop, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	s, err := buildServer(ctx, c, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if os.Getenv("GOMEMLIMIT") == "" {
		// Freed pixel buffers are reused rather than the heap doubling
		// past the variant budget (GOGC's growth).
		debug.SetMemoryLimit(int64(c.VarMemory) + variantMemorySlack)
	}
	// The WebP encoder's WebAssembly is compiled once (~0.3 s): not in
	// the first variant request.
	go func() {
		if err := variant.Warm(); err != nil {
			log.Warn("the WebP encoder failed to start; WebP variants will fail", "err", err)
			return
		}
		log.Info("WebP encoder ready", "engine", variant.WebPEngine())
	}()
	sweepCtx, stopSweeper := context.WithCancel(context.Background())
	defer stopSweeper()
	go s.svc.Upkeep.RunSweeper(sweepCtx, c.SweepEvery, core.SweepOptions{Orphans: true, Sessions: true}, func(st core.SweepStats) {
		s.metrics.UploadsExpired(st.ExpiredUploads)
	})

	httpsAddr := ""
	if s.httpsLn != nil {
		httpsAddr = s.httpsLn.Addr().String()
	}
	log.Info("listening", "addr", s.ln.Addr().String(), "https_addr", httpsAddr, "domains", c.Domain, "public_url", s.publicURL,
		"db", redactedURL(c.dbURL()), "blob", c.blobURL(), "serve_mode", c.ServeMode, "brands", c.Brand,
		"rate_limits", map[string]string{"create": c.LimitCreate.String(), "put": c.LimitPut.String(), "claim": c.LimitClaim.String()})
	errc := make(chan error, 2)
	servers := s.serve(errc)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", c.Shutdown.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), c.Shutdown)
	defer cancel()
	if err := s.shutdown(shutdownCtx); err != nil {
		return err
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("stopped")
	return nil
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// redirector returns how image GETs are redirected, or nil to stream
// them (validate checked the flags).
func redirector(c *serveCmd, store *s3store.Store) httpapi.ImageRedirector {
	switch {
	case c.ServeMode != "redirect":
		return nil
	case c.CDNURL != "":
		return cdnRedirect{base: strings.TrimSuffix(c.CDNURL, "/"), store: store}
	}
	return presignRedirect{store: store, ttl: c.RedirectTTL}
}

// presignRedirect redirects to a presigned GET of the object, cached by
// clients for half its life so that a cached redirect still works.
type presignRedirect struct {
	store *s3store.Store
	ttl   time.Duration
}

func (p presignRedirect) RedirectURL(ctx context.Context, key string) (string, time.Duration, error) {
	u, err := p.store.PresignGet(ctx, key, p.ttl)
	return u, p.ttl / 2, err
}

// cdnRedirectMaxAge is how long clients cache a redirect to the CDN, which
// bounds how long a taken-down image stays reachable through it (besides
// the CDN's own cache, which the operator purges).
const cdnRedirectMaxAge = 5 * time.Minute

// cdnRedirect redirects to the object's URL under a CDN that serves the
// bucket (and the store's key prefix) at base.
type cdnRedirect struct {
	base  string
	store *s3store.Store
}

func (c cdnRedirect) RedirectURL(_ context.Context, key string) (string, time.Duration, error) {
	obj, err := c.store.ObjectName(key)
	return c.base + "/" + obj, cdnRedirectMaxAge, err
}

// newLimiter returns the rate limiter: on Redis when redisURL is set, so
// that every instance shares the budgets, else in this process. A Redis
// that does not answer at start is only warned about: limits fail open
// until it does (see the README).
func newLimiter(ctx context.Context, redisURL, prefix string, log *slog.Logger) (httpapi.Limiter, func(), error) {
	if redisURL == "" {
		l, err := memrate.New(memrate.Config{})
		return l, func() {}, err
	}
	client, err := redisrate.NewClient(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis: %w", err)
	}
	l, err := redisrate.New(client, redisrate.Config{Prefix: prefix})
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	where := redactedURL(redisURL)
	if err := client.Ping(pingCtx).Err(); err != nil {
		log.Warn("redis does not answer; rate limits are off until it does (fail open)", "redis", where, "err", err)
	} else {
		log.Info("rate limits shared through redis", "redis", where)
	}
	return l, func() { client.Close() }, nil
}

// redactedURL is rawURL without its password, for logs.
func redactedURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// composerConfig gives the composer page the service's brands and limits.
// Upload URLs point at publicURL when it is set, which may not be where the
// page is loaded from, or at the object store: the page may connect there.
func composerConfig(svc core.Services, publicURL string, st *stores) composer.Config {
	c := svc.Config
	cfg := composer.Config{Brands: svc.Accounts.Brands, MaxFileSize: c.MaxFileSize, ContentTypes: c.ContentTypes, VariantWidths: c.VariantWidths}
	if publicURL != "" {
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, origin(publicURL))
	}
	if st.s3 != nil {
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, st.s3.UploadOrigin())
	}
	return cfg
}

// imageOrigins are where the console's pages may load images from besides
// this server: the bucket or CDN that image GETs redirect to.
func imageOrigins(c *serveCmd, st *stores) []string {
	switch {
	case c.ServeMode != "redirect":
		return nil
	case c.CDNURL != "":
		return []string{origin(c.CDNURL)}
	}
	return []string{st.s3.UploadOrigin()}
}

// origin is the scheme://host[:port] of a URL.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
