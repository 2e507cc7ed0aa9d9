package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"userimages/claimhook"
	"userimages/composer"
	"userimages/console"
	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/jwtauth"
	"userimages/metrics"
	"userimages/ratelimit/memrate"
	"userimages/ratelimit/redisrate"
	"userimages/s3store"
	"userimages/selfsign"
	"userimages/variant"
	"userimages/webhook"
)

// variantMemorySlack is what Go's soft memory limit allows over
// --variant-memory: the server's own heap (connections, caches, the
// WebP encoder's compiled module).
const variantMemorySlack = 48 << 20

// server is a built server, ready to run.
type server struct {
	http       *http.Server // the API: on ln, or on httpsLn with HTTPS on
	ln         net.Listener // plain HTTP
	redirect   *http.Server // with HTTPS on: ACME challenges and redirects to HTTPS on ln
	httpsLn    net.Listener // with HTTPS on
	metricsSrv *http.Server // with --metrics-addr HOST:PORT: /metrics only, on metricsLn
	metricsLn  net.Listener
	publicURL  string // --public-url, or the HTTPS origin of the first --domain
	svc        core.Services
	metrics    *metrics.Metrics
	closers    []func()
}

func (s *server) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// services wires core's use cases on st, with the purge targets and the
// host app's JWTs and the webhooks' sender (counted in m), and registers
// the --brand brands.
func (c *serveCmd) services(ctx context.Context, st *stores, log *slog.Logger, m *metrics.Metrics) (core.Services, error) {
	deliverers, err := c.purgeFlags.deliverers()
	if err != nil {
		return core.Services{}, err
	}
	jwt, err := c.jwtFlags.config(log)
	if err != nil {
		return core.Services{}, err
	}
	if jwt.Enabled() {
		// The key set is fetched again in the background while ctx lasts.
		if st.vouch, err = jwtauth.New(ctx, jwt); err != nil {
			return core.Services{}, flagError(err)
		}
	}
	observer := m.Webhooks()
	svc, err := st.services(c.policyFlags.config(), log, deliverers, func(d *core.Stores) {
		d.WebhookSender, d.WebhookObserver = webhook.Sender{}, observer
	})
	if err != nil {
		return core.Services{}, err
	}
	for _, b := range c.Brand {
		if err := svc.Brands.AddBrand(ctx, b); err != nil {
			return core.Services{}, fmt.Errorf("--brand %s: %w", b, err)
		}
	}
	return svc, nil
}

// buildServer opens the stores of a validated configuration, and wires the
// service, the HTTP API and the listener.
func buildServer(ctx context.Context, c *serveCmd, log, requestLog *slog.Logger) (_ *server, err error) {
	s := &server{}
	_, statErr := os.Stat(c.Data)
	createsData := c.Data != "" && errors.Is(statErr, fs.ErrNotExist)
	defer func() {
		if err != nil {
			s.Close()
			if createsData {
				// A start that failed leaves no data directory behind.
				os.RemoveAll(c.Data)
			}
		}
	}()
	// The ports first: one in use is refused before anything is written.
	if s.ln, err = listen("--addr", c.Addr); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.ln.Close() })
	if c.httpsConfig().Enabled() {
		if s.httpsLn, err = listen("--https-addr", c.HTTPSAddr); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { s.httpsLn.Close() })
	}
	if err := c.makePrivate(log); err != nil {
		return nil, err
	}
	st, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	https, err := c.https(s, log)
	if err != nil {
		return nil, err
	}
	s.metrics = metrics.New()
	if st.hook, err = c.claimHook(s, st); err != nil {
		return nil, err
	}
	svc, err := c.services(ctx, st, log, s.metrics)
	if err != nil {
		return nil, err
	}
	s.svc = svc
	limiter, closeLimiter, err := newLimiter(ctx, c.Redis, c.RedisPrefix, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeLimiter)
	s.metrics.Outbox(func() ([]metrics.OutboxCount, error) { return outboxCounts(svc.Outbox) })
	cons, err := console.New(console.Config{Sessions: svc.Sessions, Accounts: svc.Accounts, Brands: svc.Brands, Moderation: svc.Moderation, Reports: svc.Reports, Erasure: svc.Erasure, Outbox: svc.Outbox, Webhooks: svc.Webhooks, HashLists: svc.Resemblance, Lookalikes: svc.Resemblance, Log: log, SecureCookies: strings.HasPrefix(s.publicURL, "https://"),
		ImageOrigins: imageOrigins(c, st), ThumbWidth: thumbWidth(c.VarWidths)})
	if err != nil {
		return nil, err
	}
	apiConfig := c.apiFlags.config()
	apiConfig.Console = func(g httpapi.SignInGate) http.Handler { return cons.Handler(g) }
	apiConfig.Redirect = redirector(c, st.s3)
	apiConfig.Metrics = s.metrics
	apiConfig.RequestLog = requestLog
	metricsAddr, metricsPublic := c.metricsPlace(https != nil)
	apiConfig.HideMetrics = !metricsPublic
	apiConfig.PublicURL = s.publicURL
	apiConfig.UploadPath = selfsign.PathPrefix
	apiConfig.Limiter = limiter
	apiConfig.Composer = composer.Handler(composerConfig(svc, s.publicURL, st))
	if st.hook != nil {
		apiConfig.ReviewBytes, apiConfig.ReviewPath = st.hook, claimhook.PathPrefix
	}
	api, err := httpapi.New(httpapi.ServicesOf(svc), apiConfig, log, nil)
	if err != nil {
		return nil, err
	}
	newServer := func(h http.Handler) *http.Server { return c.newHTTPServer(h, log) }
	// Plain HTTP serves the API, or with HTTPS only ACME challenges and
	// redirects; HTTPS serves the API (HTTP/2, HSTS).
	s.http = newServer(api.Handler())
	if https != nil {
		s.http.Handler, s.http.TLSConfig = https.Handler(s.http.Handler), https.TLSConfig()
		s.redirect = newServer(https.RedirectHandler(httpsPort(s.httpsLn)))
	}
	if metricsAddr != "" {
		if err := s.listenMetrics(metricsAddr, newServer); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// https is the HTTPS server when HTTPS is on, else nil; it sets s's public
// URL: --public-url, else the HTTPS origin of the first --domain.
func (c *serveCmd) https(s *server, log *slog.Logger) (*httpsserve.Server, error) {
	s.publicURL = c.PublicURL
	httpsCfg := c.httpsConfig()
	if !httpsCfg.Enabled() {
		return nil, nil
	}
	https, err := httpsserve.New(httpsCfg, log)
	if err != nil {
		return nil, err
	}
	if s.publicURL == "" {
		s.publicURL = https.PublicURL(httpsPort(s.httpsLn))
	}
	return https, nil
}

// claimHook is the claim hook of --claim-hook, which reviews claims and
// serves its bytes URLs, its latency in s's metrics; nil without one. Its
// bytes URLs are on s's base URL unless --claim-hook-bytes-url says
// otherwise.
func (c *serveCmd) claimHook(s *server, st *stores) (*claimhook.Hook, error) {
	cfg, err := c.claimHookFlags.config(s.baseURL(), c.HookTime)
	if err != nil || cfg.URL == "" {
		return nil, flagError(err)
	}
	cfg.Observe = s.metrics.ClaimHook
	hook, err := claimhook.New(cfg, st.blobs)
	return hook, flagError(err)
}

// listenMetrics serves /metrics, and nothing else, on a listener of its
// own at addr (--metrics-addr).
func (s *server) listenMetrics(addr string, newServer func(http.Handler) *http.Server) (err error) {
	if s.metricsLn, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	s.closers = append(s.closers, func() { s.metricsLn.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.metricsSrv = newServer(mux)
	return nil
}

// newHTTPServer is a net/http server of h with the flags' timeouts.
func (c *serveCmd) newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
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

// outboxCounts reads the outbox's counts for the metrics, within a few
// seconds.
func outboxCounts(o *core.Outbox) ([]metrics.OutboxCount, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs, err := o.Counts(ctx)
	out := make([]metrics.OutboxCount, len(cs))
	for i, c := range cs {
		out[i] = metrics.OutboxCount{Topic: c.Topic, Pending: c.Pending, Failed: c.Failed}
	}
	return out, err
}

// startLine is the line a person starting the server on a terminal reads:
// where it serves, the composer and the console.
func startLine(base string) string {
	return fmt.Sprintf("userimages is serving %s: the composer at %s/composer/, the moderation console at %s%s", base, base, base, httpapi.ConsolePath)
}

// baseURL is where people reach the server: --public-url, else HTTPS or
// HTTP on this host's listener (localhost for an address of every
// interface).
func (s *server) baseURL() string {
	if s.publicURL != "" {
		return strings.TrimSuffix(s.publicURL, "/")
	}
	scheme, ln := "http", s.ln
	if s.httpsLn != nil {
		scheme, ln = "https", s.httpsLn
	}
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return scheme + "://" + ln.Addr().String()
	}
	host := ap.Addr().String()
	if ap.Addr().IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(ap.Port())))
}

// listen listens on addr, given by flag; a port in use is said in one
// line naming the flag.
func listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s %s: the port is in use by another program; stop it or give another %s", flag, addr, flag)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	return ln, nil
}

// httpsPort is the port ln listens on.
func httpsPort(ln net.Listener) int {
	return ln.Addr().(*net.TCPAddr).Port
}

// serve runs the servers until one fails or all are shut down; errc gets
// one value per server.
func (s *server) serve(errc chan<- error) (servers int) {
	if s.metricsSrv != nil {
		go func() { errc <- s.metricsSrv.Serve(s.metricsLn) }()
		servers++
	}
	if s.redirect == nil {
		go func() { errc <- s.http.Serve(s.ln) }()
		return servers + 1
	}
	go func() { errc <- s.http.ServeTLS(s.httpsLn, "", "") }()
	go func() { errc <- s.redirect.Serve(s.ln) }()
	return servers + 2
}

// shutdown finishes in-flight requests on every server.
func (s *server) shutdown(ctx context.Context) error {
	for _, srv := range []*http.Server{s.http, s.redirect, s.metricsSrv} {
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
func (c *serveCmd) Run(ctx context.Context, std stdio) error {
	if err := c.validate(); err != nil {
		return err
	}
	logs := newBufferedLogs(std.err)
	defer logs.buf.Flush() // the last lines, once every request is answered
	flushCtx, stopFlushing := context.WithCancel(context.Background())
	defer stopFlushing()
	go logs.buf.run(flushCtx, logFlushEvery)
	log := logs.log
	if c.CPUProfile != "" {
		stop, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	s, err := buildServer(ctx, c, log, logs.requests)
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
	if err := s.svc.Resemblance.Sync(ctx); err != nil {
		return fmt.Errorf("blocked hashes: %w", err)
	}
	go s.svc.Resemblance.Run(sweepCtx)
	// Images accepted while no hash is blocked are hashed here, off the
	// request path, and those left unhashed by a stop are backfilled.
	go s.svc.Resemblance.RunHasher(sweepCtx)
	// Purges queued by takedowns here, on other instances or from the
	// CLI are delivered until the server stops.
	go s.svc.Outbox.Run(sweepCtx)
	go s.svc.Webhooks.Run(sweepCtx) // and webhooks, likewise
	go s.svc.Upkeep.RunSweeper(sweepCtx, c.SweepEvery, core.SweepOptions{Orphans: true, Sessions: true}, func(st core.SweepStats) {
		s.metrics.UploadsExpired(st.ExpiredUploads)
	})

	httpsAddr, metricsAddr := "", metricsOff
	if s.httpsLn != nil {
		httpsAddr = s.httpsLn.Addr().String()
	}
	if _, public := c.metricsPlace(s.httpsLn != nil); public {
		metricsAddr = metricsPublic
	}
	if s.metricsLn != nil {
		metricsAddr = s.metricsLn.Addr().String()
	}
	log.Info("listening", "addr", s.ln.Addr().String(), "https_addr", httpsAddr, "metrics_addr", metricsAddr, "domains", c.Domain, "public_url", s.publicURL,
		"db", redactedURL(c.dbURL()), "blob", c.blobURL(), "serve_mode", c.ServeMode, "brands", c.Brand,
		"rate_limits", map[string]string{"create": c.LimitCreate.String(), "put": c.LimitPut.String(), "claim": c.LimitClaim.String()})
	if isTerminal(std.err) {
		fmt.Fprintln(std.err, startLine(s.baseURL()))
	}
	errc := make(chan error, 3)
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
	cfg := composer.Config{Brands: svc.Brands.Brands, MaxFileSize: c.MaxFileSize, ContentTypes: c.ContentTypes, VariantWidths: c.VariantWidths}
	if publicURL != "" {
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, origin(publicURL))
	}
	if st.s3 != nil {
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, st.s3.UploadOrigin())
	}
	return cfg
}

// thumbWidth is the variant width the console's thumbnails load: 320
// (sharp at 160 CSS pixels on a 2× screen), else the smallest served
// width over it, else the largest.
func thumbWidth(served []int) int {
	best := 0
	for _, w := range served {
		switch {
		case w == 320:
			return w
		case w > 320 && (best < 320 || w < best), best < 320 && w > best:
			best = w
		}
	}
	return best
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
