package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"userimages/composer"
	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/imagesafe"
	"userimages/metrics"
	"userimages/ratelimit/memrate"
	"userimages/ratelimit/redisrate"
	"userimages/s3store"
	"userimages/selfsign"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one); :80 by default with --domain. With HTTPS on, it only answers ACME challenges and redirects to HTTPS")
	where := locationFlags(fs)
	serveMode := fs.String("serve-mode", "stream", "how images in an S3 store are served: stream (through this server) or redirect (302 to a presigned GET, or to --cdn-url)")
	cdnURL := fs.String("cdn-url", "", "with --serve-mode redirect: base URL of a CDN in front of the bucket; an image redirects to BASE/KEY (default: a presigned GET)")
	redirectTTL := fs.Duration("redirect-ttl", 15*time.Minute, "with --serve-mode redirect: how long a presigned GET is good; browsers cache the redirect half as long")
	sse := fs.String("upload-sse", core.DefaultServerSideEncryption, "X-Amz-Server-Side-Encryption header upload URLs sign and return: AES256, aws:kms or none (for object stores that refuse it)")
	publicURL := fs.String("public-url", "", "scheme://host[:port] clients reach this server at (default: each request's Host)")
	var brands, origins, types listFlag
	fs.Var(&brands, "brand", "register a brand id (repeatable)")
	fs.Var(&origins, "cors-origin", `origin allowed to call from a browser (repeatable; default "*")`)
	corsCredentials := fs.Bool("cors-credentials", false, "let pages of the --cors-origin origins send credentialed requests (cookies, HTTP auth); needs origins listed, not *")
	fs.Var(&types, "content-type", "accepted content type (repeatable; default image/jpeg, image/png, image/gif, image/webp)")
	maxSize := fs.Int64("max-file-size", core.DefaultMaxFileSize, "largest accepted file_size in bytes")
	keepMetadata := fs.Bool("keep-metadata", false, "serve images with their EXIF, XMP, IPTC and comments (default: stripped, keeping the ICC profile and orientation)")
	maxPixels := fs.Int64("max-pixels", imagesafe.DefaultMaxPixels, "largest accepted width × height, checked from the header before decoding")
	maxSide := fs.Int("max-side", imagesafe.DefaultMaxSide, "largest accepted width or height")
	ttl := fs.Duration("upload-url-ttl", core.DefaultUploadURLTTL, "how long an upload URL accepts its PUT")
	window := fs.Duration("claim-window", core.DefaultClaimWindow, "how long an upload can be claimed before it is swept")
	sweepEvery := fs.Duration("sweep-interval", 10*time.Minute, "how often expired uploads are swept")
	shutdownGrace := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGINT/SIGTERM")
	redisPrefix := fs.String("redis-prefix", redisrate.DefaultPrefix, "prefix of the rate-limit keys in Redis, for deployments sharing one Redis")
	redisURL := fs.String("redis", "", "redis://[user:password@]host:port/db keeping rate limits shared by all instances (default: kept in this process)")
	defaults := httpapi.DefaultRateLimits()
	limitCreate, limitPut, limitClaim, limitAuth := limitFlag{defaults.Create}, limitFlag{defaults.Put}, limitFlag{defaults.Claim}, limitFlag{defaults.Auth}
	fs.Var(&limitCreate, "rate-limit-create", "requests to create an upload per client, RATE/PERIOD (e.g. 60/m) or off")
	fs.Var(&limitPut, "rate-limit-put", "upload PUTs per client, RATE/PERIOD or off")
	fs.Var(&limitClaim, "rate-limit-claim", "claims per client, RATE/PERIOD or off")
	fs.Var(&limitAuth, "rate-limit-auth", "requests sending credentials per client address, charged before the password hash is checked, RATE/PERIOD or off")
	var proxies prefixFlag
	fs.Var(&proxies, "trusted-proxy", "CIDR or address of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	maxUploads := fs.Int("max-concurrent-uploads", httpapi.DefaultMaxConcurrentUploads, "upload bodies received at once; more get 503")
	maxClientUploads := fs.Int("max-concurrent-uploads-per-client", httpapi.DefaultMaxConcurrentUploadsPerClient, "upload bodies received at once from one client (user, or address per /64 for IPv6); more get 429")
	minFree := fs.Int64("min-free-space", 0, "bytes of free space on the data disk under which /readyz answers 503 (default: 64 × --max-file-size)")
	uploadTimeout := fs.Duration("upload-timeout", httpapi.DefaultUploadTimeout, "how long an upload PUT may take to send its body")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	readTimeout := fs.Duration("read-timeout", time.Minute, "how long a client may take to send a whole request (except upload PUTs: --upload-timeout)")
	writeTimeout := fs.Duration("write-timeout", 5*time.Minute, "how long a response may take, from the end of the request headers")
	idleTimeout := fs.Duration("idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file when the server stops")
	var domains listFlag
	fs.Var(&domains, "domain", "serve HTTPS for this host name with a certificate obtained and renewed over ACME, kept in --data (repeatable); --addr then defaults to :80 and redirects to HTTPS")
	httpsAddr := fs.String("https-addr", ":443", "with --domain or --tls-cert: address HTTPS is served on")
	acmeDirectory := fs.String("acme-directory", "", "with --domain: directory URL of the ACME CA (default: Let's Encrypt)")
	acmeEmail := fs.String("acme-email", "", "with --domain: contact address of the ACME account (optional)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key), reloaded when the file changes")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	hstsMaxAge := fs.Duration("hsts-max-age", httpsserve.DefaultHSTSMaxAge, "with HTTPS: max-age of the Strict-Transport-Security header (0 sends none)")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", rest)
	}
	for name, d := range map[string]time.Duration{"upload-timeout": *uploadTimeout, "read-header-timeout": *readHeaderTimeout,
		"read-timeout": *readTimeout, "write-timeout": *writeTimeout, "idle-timeout": *idleTimeout} {
		if d <= 0 {
			return fmt.Errorf("--%s %s: must be positive", name, d)
		}
	}
	if *corsCredentials && (len(origins) == 0 || slices.Contains(origins, "*")) {
		return fmt.Errorf("--cors-credentials needs --cors-origin to list the origins, not *: any page could otherwise act with its visitors' credentials")
	}
	if *maxUploads < 1 {
		return fmt.Errorf("--max-concurrent-uploads %d: must be at least 1", *maxUploads)
	}
	if *maxClientUploads < 1 {
		return fmt.Errorf("--max-concurrent-uploads-per-client %d: must be at least 1", *maxClientUploads)
	}
	if *minFree < 0 {
		return fmt.Errorf("--min-free-space %d: must not be negative", *minFree)
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: want scheme://host[:port] with no path", *publicURL)
		}
	}
	httpsCfg := httpsserve.Config{Domains: domains, ACMEDirectory: *acmeDirectory, ACMEEmail: *acmeEmail, DataDir: where.data,
		CertFile: *tlsCert, KeyFile: *tlsKey, HSTSMaxAge: *hstsMaxAge}
	if err := httpsCfg.Validate(); err != nil {
		return err
	}
	if len(domains) > 0 && !flagSet(fs, "addr") {
		*addr = ":80" // where ACME CAs send HTTP-01 challenges and browsers type the name
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	st, err := where.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	redirect, err := redirector(*serveMode, *cdnURL, *redirectTTL, st.s3)
	if err != nil {
		return err
	}
	if st.s3 != nil && *maxSize > s3store.MaxPutSize {
		// A claim writes the checked copy to the bucket through a buffer of
		// at most this size: larger uploads could never be published.
		return fmt.Errorf("--max-file-size %d: at most %d with an s3:// --blob", *maxSize, s3store.MaxPutSize)
	}
	svc, err := st.service(core.Config{MaxFileSize: *maxSize, ContentTypes: types, UploadURLTTL: *ttl, ClaimWindow: *window,
		KeepMetadata: *keepMetadata, MaxPixels: *maxPixels, MaxSide: *maxSide, ServerSideEncryption: *sse, MinFreeSpace: *minFree}, log)
	if err != nil {
		return err
	}
	for _, b := range brands {
		if err := svc.AddBrand(ctx, b); err != nil {
			return fmt.Errorf("--brand %s: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var https *httpsserve.Server
	var httpsLn net.Listener
	if httpsCfg.Enabled() {
		if https, err = httpsserve.New(httpsCfg, log); err != nil {
			return err
		}
		if httpsLn, err = net.Listen("tcp", *httpsAddr); err != nil {
			return fmt.Errorf("--https-addr: %w", err)
		}
		defer httpsLn.Close()
		if *publicURL == "" {
			*publicURL = https.PublicURL(httpsLn.Addr().(*net.TCPAddr).Port)
		}
	}
	composerCfg, err := composerConfig(ctx, svc, *publicURL, st.signer)
	if err != nil {
		return err
	}
	limiter, closeLimiter, err := newLimiter(ctx, *redisURL, *redisPrefix, log)
	if err != nil {
		return err
	}
	defer closeLimiter()
	m := metrics.New()
	api, err := httpapi.New(svc, st.verifier, httpapi.Config{
		Redirect:                      redirect,
		Metrics:                       m,
		PublicURL:                     *publicURL,
		CORSOrigins:                   origins,
		CORSCredentials:               *corsCredentials,
		UploadPath:                    selfsign.PathPrefix,
		TrustedProxies:                proxies,
		Limiter:                       limiter,
		RateLimits:                    httpapi.RateLimits{Create: limitCreate.l, Put: limitPut.l, Claim: limitClaim.l, Auth: limitAuth.l},
		MaxConcurrentUploads:          *maxUploads,
		MaxConcurrentUploadsPerClient: *maxClientUploads,
		UploadTimeout:                 *uploadTimeout,
		Composer:                      composer.Handler(composerCfg),
	}, log, nil)
	if err != nil {
		return err
	}

	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: *readHeaderTimeout,
			ReadTimeout:       *readTimeout,
			WriteTimeout:      *writeTimeout,
			IdleTimeout:       *idleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	// Plain HTTP serves the API, or with HTTPS only ACME challenges and
	// redirects; HTTPS serves the API.
	var servers []func() error
	srv := newServer(api.Handler())
	all := []*http.Server{srv}
	httpsAddrLog := ""
	if https != nil {
		srv.Handler, srv.TLSConfig = https.Handler(srv.Handler), https.TLSConfig()
		redirect := newServer(https.RedirectHandler(httpsLn.Addr().(*net.TCPAddr).Port))
		all = append(all, redirect)
		servers = append(servers, func() error { return srv.ServeTLS(httpsLn, "", "") }, func() error { return redirect.Serve(ln) })
		httpsAddrLog = httpsLn.Addr().String()
	} else {
		servers = append(servers, func() error { return srv.Serve(ln) })
	}
	sweepCtx, stopSweeper := context.WithCancel(context.Background())
	defer stopSweeper()
	go svc.RunSweeper(sweepCtx, *sweepEvery, core.SweepOptions{Orphans: true}, func(st core.SweepStats) {
		m.UploadsExpired(st.ExpiredUploads)
	})

	log.Info("listening", "addr", ln.Addr().String(), "https_addr", httpsAddrLog, "domains", domains, "public_url", *publicURL,
		"db", redactedURL(where.dbURL()), "blob", where.blobURL(), "serve_mode", *serveMode, "brands", brands,
		"rate_limits", map[string]string{"create": limitCreate.String(), "put": limitPut.String(), "claim": limitClaim.String()})
	errc := make(chan error, len(servers))
	for _, serve := range servers {
		go func() { errc <- serve() }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), *shutdownGrace)
	defer cancel()
	for _, s := range all {
		if err := s.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("stopped")
	return nil
}

// flagSet reports whether the flag name was given, on the command line or
// through its environment variable.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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

// redirector returns how image GETs are redirected in mode, or nil to
// stream them. Redirects need an object store to point at.
func redirector(mode, cdnURL string, ttl time.Duration, store *s3store.Store) (httpapi.ImageRedirector, error) {
	switch mode {
	case "stream":
		if cdnURL != "" {
			return nil, fmt.Errorf("--cdn-url needs --serve-mode redirect")
		}
		return nil, nil
	case "redirect":
	default:
		return nil, fmt.Errorf("--serve-mode %q: want stream or redirect", mode)
	}
	if store == nil {
		return nil, fmt.Errorf("--serve-mode redirect needs image bytes in an object store (--blob s3://…)")
	}
	if cdnURL != "" {
		u, err := url.Parse(cdnURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("--cdn-url %q: want http(s)://host[/path]", cdnURL)
		}
		return cdnRedirect{base: strings.TrimSuffix(cdnURL, "/"), store: store}, nil
	}
	if ttl < 2*time.Second || ttl > 7*24*time.Hour {
		return nil, fmt.Errorf("--redirect-ttl %s: must be between 2s and 7 days (the SigV4 limit)", ttl)
	}
	return presignRedirect{store: store, ttl: ttl}, nil
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
func composerConfig(ctx context.Context, svc *core.Service, publicURL string, signer core.UploadSigner) (composer.Config, error) {
	c := svc.Config()
	cfg := composer.Config{Brands: svc.Brands, MaxFileSize: c.MaxFileSize, ContentTypes: c.ContentTypes}
	if publicURL != "" {
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, origin(publicURL))
	}
	if _, ok := signer.(*s3store.Store); ok {
		// The store's origin is where any upload URL points.
		probe, err := signer.PresignPut(ctx, core.PresignParams{Key: "staging/origin-probe", Token: "origin-probe",
			Headers: map[string]string{"Content-Type": "image/jpeg"}, FileSize: 1, Now: time.Now(), TTL: time.Minute})
		if err != nil {
			return cfg, fmt.Errorf("upload origin: %w", err)
		}
		cfg.ConnectOrigins = append(cfg.ConnectOrigins, origin(probe.URL))
	}
	return cfg, nil
}

// origin is the scheme://host[:port] of a URL.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
