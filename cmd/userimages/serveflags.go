package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"userimages/backup"
	"userimages/claimhook"
	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/internal/config"
	"userimages/jwtauth"
	"userimages/postgres"
	"userimages/purge"
	"userimages/ratelimit/redisrate"
	"userimages/s3store"
	"userimages/stdwebhook"
)

// serveCmd is the configuration of `userimages serve`: every field is a
// flag, with its default and environment variable in its tags. The flags
// are grouped as the packages' configurations are (httpsFlags make an
// httpsserve.Config, apiFlags an httpapi.Config, policyFlags a
// core.Config), and each group is checked by its package's Validate, so
// that a rule is written once. Parse (kong), validate, then run: validate
// refuses a configuration before anything is opened, naming the flag.
type serveCmd struct {
	listenFlags
	httpsFlags
	location
	imageServingFlags
	purgeFlags
	claimHookFlags
	apiFlags
	limiterFlags
	policyFlags
	jwtFlags
	Brand      []string      `help:"Register a brand id (repeatable; the variable is comma-separated)." env:"USERIMAGES_BRAND" placeholder:"ID"`
	SweepEvery time.Duration `name:"sweep-interval" help:"How often expired uploads are swept." default:"10m" env:"USERIMAGES_SWEEP_INTERVAL"`
	CPUProfile string        `name:"cpuprofile" help:"Write a CPU profile (pprof) of the whole run to this file when the server stops." env:"USERIMAGES_CPUPROFILE" placeholder:"FILE"`
}

// defaultAddr is --addr when neither the flag nor its variable gives it
// and HTTPS is not served for a --domain.
const defaultAddr = "127.0.0.1:8080"

// listenFlags are where serve listens and how long it waits on clients:
// the net/http server's own settings.
type listenFlags struct {
	Addr       string        `help:"Address to listen on (port 0 picks a free one); default 127.0.0.1:8080, or :80 with --domain. With HTTPS on, it only answers ACME challenges and redirects to HTTPS." env:"USERIMAGES_ADDR" placeholder:"HOST:PORT"`
	ReadHeader time.Duration `name:"read-header-timeout" help:"How long a client may take to send a request's headers." default:"10s" env:"USERIMAGES_READ_HEADER_TIMEOUT"`
	ReadTime   time.Duration `name:"read-timeout" help:"How long a client may take to send a whole request (except upload PUTs: --upload-timeout)." default:"1m" env:"USERIMAGES_READ_TIMEOUT"`
	WriteTime  time.Duration `name:"write-timeout" help:"How long a response may take, from the end of the request headers." default:"5m" env:"USERIMAGES_WRITE_TIMEOUT"`
	IdleTime   time.Duration `name:"idle-timeout" help:"How long an idle keep-alive connection stays open." default:"2m" env:"USERIMAGES_IDLE_TIMEOUT"`
	Shutdown   time.Duration `name:"shutdown-timeout" help:"How long in-flight requests may finish after SIGINT/SIGTERM." default:"30s" env:"USERIMAGES_SHUTDOWN_TIMEOUT"`
	Metrics    string        `name:"metrics-addr" help:"Where GET /metrics is served: HOST:PORT (a listener of its own; the public one then answers 404), public (on --addr, or HTTPS), or off. Default: public without HTTPS, off with --domain or --tls-cert." env:"USERIMAGES_METRICS_ADDR" placeholder:"HOST:PORT|public|off"`
}

// Values of --metrics-addr that are not an address.
const (
	metricsPublic = "public" // on the public listener
	metricsOff    = "off"    // nowhere (still counted, for nothing)
)

// metricsPlace is where /metrics is served: listen, the address of a
// listener of its own ("" for none), and public, whether the public
// listener serves it. https: HTTPS is on (--domain or --tls-cert), where the
// public listener is the internet's, so metrics stay off it unless asked.
func (f listenFlags) metricsPlace(https bool) (listen string, public bool) {
	switch f.Metrics {
	case "":
		return "", !https
	case metricsPublic:
		return "", true
	case metricsOff:
		return "", false
	}
	return f.Metrics, false
}

// httpsFlags mirror httpsserve.Config.
type httpsFlags struct {
	Domain     []string      `help:"Serve HTTPS for this host name with a certificate obtained and renewed over ACME, kept in --data (repeatable; the variable is comma-separated); --addr then defaults to :80 and redirects to HTTPS." env:"USERIMAGES_DOMAIN" placeholder:"NAME"`
	HTTPSAddr  string        `name:"https-addr" help:"With --domain or --tls-cert: address HTTPS is served on (default :443)." default:":443" env:"USERIMAGES_HTTPS_ADDR" placeholder:"HOST:PORT"`
	ACMEDir    string        `name:"acme-directory" help:"With --domain: directory URL of the ACME CA (default: Let's Encrypt)." env:"USERIMAGES_ACME_DIRECTORY" placeholder:"URL"`
	ACMEEmail  string        `name:"acme-email" help:"With --domain: contact address of the ACME account (optional)." env:"USERIMAGES_ACME_EMAIL" placeholder:"EMAIL"`
	TLSCert    string        `name:"tls-cert" help:"Serve HTTPS with this PEM certificate chain (with --tls-key), reloaded when the file changes." env:"USERIMAGES_TLS_CERT" placeholder:"FILE"`
	TLSKey     string        `name:"tls-key" help:"PEM private key of --tls-cert." env:"USERIMAGES_TLS_KEY" placeholder:"FILE"`
	HSTSMaxAge time.Duration `name:"hsts-max-age" help:"With HTTPS: max-age of the Strict-Transport-Security header (0 sends none)." default:"${hsts_max_age}" env:"USERIMAGES_HSTS_MAX_AGE"`
}

// imageServingFlags say how images in an object store reach clients.
type imageServingFlags struct {
	ServeMode   string        `help:"How images in an S3 store are served: stream (through this server) or redirect (302 to a presigned GET, or to --cdn-url)." default:"stream" enum:"stream,redirect" env:"USERIMAGES_SERVE_MODE"`
	CDNURL      string        `name:"cdn-url" help:"With --serve-mode redirect: base URL of a CDN in front of the bucket; an image redirects to BASE/KEY (default: a presigned GET)." env:"USERIMAGES_CDN_URL" placeholder:"URL"`
	RedirectTTL time.Duration `name:"redirect-ttl" help:"With --serve-mode redirect: how long a presigned GET is good; browsers cache the redirect half as long." default:"15m" env:"USERIMAGES_REDIRECT_TTL"`
}

// purgeFlags are the caches in front that takedowns purge (package purge).
// The APIs' tokens are read from FASTLY_API_TOKEN and
// CLOUDFLARE_API_TOKEN only, never from flags, which other users of the
// machine can read.
type purgeFlags struct {
	Purge         []string `name:"purge" help:"Cache in front to purge after a takedown, deletion or erasure (repeatable; the variable is comma-separated): http(s)://HOST/PATH gets PURGE with Surrogate-Key (Varnish with xkey), fastly://SERVICE_ID or cloudflare://ZONE_ID their APIs' purge by key (token from FASTLY_API_TOKEN, CLOUDFLARE_API_TOKEN)." env:"USERIMAGES_PURGE" placeholder:"TARGET"`
	FastlyURL     string   `name:"fastly-api-url" help:"Base URL of Fastly's API, for fastly:// purge targets." default:"${fastly_api_url}" env:"USERIMAGES_FASTLY_API_URL" placeholder:"URL"`
	CloudflareURL string   `name:"cloudflare-api-url" help:"Base URL of Cloudflare's API, for cloudflare:// purge targets." default:"${cloudflare_api_url}" env:"USERIMAGES_CLOUDFLARE_API_URL" placeholder:"URL"`
}

// targets are the purge targets the flags name.
func (f purgeFlags) targets() ([]purge.Target, error) {
	cfg := purge.Config{FastlyURL: f.FastlyURL, CloudflareURL: f.CloudflareURL,
		FastlyToken: os.Getenv("FASTLY_API_TOKEN"), CloudflareToken: os.Getenv("CLOUDFLARE_API_TOKEN")}
	var ts []purge.Target
	for _, spec := range f.Purge {
		t, err := purge.Parse(spec, cfg)
		if err != nil {
			return nil, fmt.Errorf("--purge: %w", err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// deliverers are the outbox's deliverers: the purges. With no target
// they are delivered to none (dropped), so that they do not pile up;
// every instance is to have the same --purge.
func (f purgeFlags) deliverers() (map[string]core.OutboxDeliverer, error) {
	ts, err := f.targets()
	if err != nil {
		return nil, err
	}
	return map[string]core.OutboxDeliverer{core.TopicPurge: purge.NewPurger(ts...)}, nil
}

// apiFlags mirror httpapi.Config.
type apiFlags struct {
	PublicURL     string        `name:"public-url" help:"scheme://host[:port] clients reach this server at (default: https://<first --domain>, else each request's Host)." env:"USERIMAGES_PUBLIC_URL" placeholder:"URL"`
	CORSOrigin    []string      `name:"cors-origin" help:"Origin allowed to call from a browser (repeatable; default \"*\")." env:"USERIMAGES_CORS_ORIGIN" placeholder:"ORIGIN"`
	CORSCreds     bool          `name:"cors-credentials" help:"Let pages of the --cors-origin origins send credentialed requests (cookies, HTTP auth); needs origins listed, not *." env:"USERIMAGES_CORS_CREDENTIALS"`
	Proxies       []prefixFlag  `name:"trusted-proxy" help:"CIDR or address of a reverse proxy whose X-Forwarded-For is believed (repeatable)." env:"USERIMAGES_TRUSTED_PROXY" placeholder:"CIDR"`
	LimitCreate   limitFlag     `name:"rate-limit-create" help:"Requests to create an upload per client, RATE/PERIOD (e.g. 60/m) or off." default:"${rate_limit_create}" env:"USERIMAGES_RATE_LIMIT_CREATE" placeholder:"RATE/PERIOD"`
	LimitPut      limitFlag     `name:"rate-limit-put" help:"Upload PUTs per client, RATE/PERIOD or off." default:"${rate_limit_put}" env:"USERIMAGES_RATE_LIMIT_PUT" placeholder:"RATE/PERIOD"`
	LimitClaim    limitFlag     `name:"rate-limit-claim" help:"Claims per client, RATE/PERIOD or off." default:"${rate_limit_claim}" env:"USERIMAGES_RATE_LIMIT_CLAIM" placeholder:"RATE/PERIOD"`
	LimitReport   limitFlag     `name:"rate-limit-report" help:"Reports of images per client, RATE/PERIOD or off." default:"${rate_limit_report}" env:"USERIMAGES_RATE_LIMIT_REPORT" placeholder:"RATE/PERIOD"`
	LimitAuth     limitFlag     `name:"rate-limit-auth" help:"Requests sending credentials per client address, charged before the password hash is checked, RATE/PERIOD or off." default:"${rate_limit_auth}" env:"USERIMAGES_RATE_LIMIT_AUTH" placeholder:"RATE/PERIOD"`
	MaxUploads    int           `name:"max-concurrent-uploads" help:"Upload bodies received at once; more get 503." default:"${max_concurrent_uploads}" env:"USERIMAGES_MAX_CONCURRENT_UPLOADS"`
	MaxClientUp   int           `name:"max-concurrent-uploads-per-client" help:"Upload bodies received at once from one client (user, or address per /64 for IPv6); more get 429." default:"${max_concurrent_uploads_per_client}" env:"USERIMAGES_MAX_CONCURRENT_UPLOADS_PER_CLIENT"`
	MaxClientVar  int           `name:"max-concurrent-variants-per-client" help:"Cold variants (made on their first request) made at once for one client (address per /64 for IPv6); more wait their turn (--max-queued-variants-per-client). Variants made already are never limited." default:"${max_concurrent_variants_per_client}" env:"USERIMAGES_MAX_CONCURRENT_VARIANTS_PER_CLIENT"`
	MaxQueuedVar  int           `name:"max-queued-variants-per-client" help:"Cold variants of one client that may wait for one of its --max-concurrent-variants-per-client, each up to --variant-queue-wait (a page of new pictures asks for them all at once); more, or longer, get 429." default:"${max_queued_variants_per_client}" env:"USERIMAGES_MAX_QUEUED_VARIANTS_PER_CLIENT"`
	VarQueueWait  time.Duration `name:"variant-queue-wait" help:"How long a cold variant may wait in its client's queue (at most 1m); past it, 429." default:"${variant_queue_wait}" env:"USERIMAGES_VARIANT_QUEUE_WAIT"`
	UploadTime    time.Duration `name:"upload-timeout" help:"How long an upload PUT may take to send its body." default:"${upload_timeout}" env:"USERIMAGES_UPLOAD_TIMEOUT"`
	BrowserMaxAge time.Duration `name:"browser-max-age" help:"How long browsers keep an image (Cache-Control max-age); caches in front keep it a year (s-maxage) and are purged on takedowns (--purge)." default:"${browser_max_age}" env:"USERIMAGES_BROWSER_MAX_AGE"`
}

// limiterFlags say where rate-limit budgets are kept.
type limiterFlags struct {
	Redis       string `help:"redis://[user:password@]host:port/db keeping rate limits shared by all instances (default: kept in this process)." env:"USERIMAGES_REDIS" placeholder:"URL"`
	RedisPrefix string `name:"redis-prefix" help:"Prefix of the rate-limit keys in Redis, for deployments sharing one Redis." default:"${redis_prefix}" env:"USERIMAGES_REDIS_PREFIX"`
}

// policyFlags mirror core.Config.
type policyFlags struct {
	ContentType []string      `name:"content-type" help:"Accepted content type (repeatable; default all of image/jpeg, image/png, image/gif, image/webp)." env:"USERIMAGES_CONTENT_TYPE" placeholder:"TYPE"`
	MaxFileSize int64         `name:"max-file-size" help:"Largest accepted file_size, in bytes." default:"${max_file_size}" env:"USERIMAGES_MAX_FILE_SIZE" placeholder:"BYTES"`
	KeepMeta    bool          `name:"keep-metadata" help:"Serve images with their EXIF, XMP, IPTC and comments (default: stripped, keeping the ICC profile and orientation)." env:"USERIMAGES_KEEP_METADATA"`
	MaxPixels   int64         `name:"max-pixels" help:"Largest accepted width × height, checked from the header before decoding." default:"${max_pixels}" env:"USERIMAGES_MAX_PIXELS"`
	MaxSide     int           `name:"max-side" help:"Largest accepted width or height." default:"${max_side}" env:"USERIMAGES_MAX_SIDE"`
	UploadTTL   time.Duration `name:"upload-url-ttl" help:"How long an upload URL accepts its PUT." default:"${upload_url_ttl}" env:"USERIMAGES_UPLOAD_URL_TTL"`
	ClaimWindow time.Duration `name:"claim-window" help:"How long an upload can be claimed before it is swept." default:"${claim_window}" env:"USERIMAGES_CLAIM_WINDOW"`
	TokenDelete time.Duration `name:"token-delete-window" help:"How long after its claim an image can be deleted with its upload token (the uploading page's X-Upload-Token); 0 turns it off." default:"${token_delete_window}" env:"USERIMAGES_TOKEN_DELETE_WINDOW"`
	SessionIdle time.Duration `name:"session-idle" help:"How long a moderation console session lasts unused." default:"${session_idle}" env:"USERIMAGES_SESSION_IDLE"`
	SessionMax  time.Duration `name:"session-max-age" help:"How long a moderation console session lasts at most after sign-in." default:"${session_max_age}" env:"USERIMAGES_SESSION_MAX_AGE"`
	SignInFree  int           `name:"signin-free-failures" help:"Failed sign-ins in a row (per account and per address) that cost no wait." default:"${signin_free_failures}" env:"USERIMAGES_SIGNIN_FREE_FAILURES"`
	SignInDelay time.Duration `name:"signin-delay" help:"The wait after the first failed sign-in past the free ones, doubled by each further one." default:"${signin_delay}" env:"USERIMAGES_SIGNIN_DELAY"`
	SignInMax   time.Duration `name:"signin-max-delay" help:"The longest wait after failed sign-ins (user unlock ends it at once)." default:"${signin_max_delay}" env:"USERIMAGES_SIGNIN_MAX_DELAY"`
	UploadSSE   string        `name:"upload-sse" help:"X-Amz-Server-Side-Encryption header upload URLs sign and return: AES256, aws:kms or none (for object stores that refuse it)." default:"${upload_sse}" env:"USERIMAGES_UPLOAD_SSE"`
	ReadyTime   time.Duration `name:"ready-timeout" help:"How long /readyz waits for the stores to answer before it answers 503." default:"${ready_timeout}" env:"USERIMAGES_READY_TIMEOUT"`
	MinFree     int64         `name:"min-free-space" help:"Bytes of free space on the data disk under which /readyz answers 503 (default: 64 × --max-file-size)." env:"USERIMAGES_MIN_FREE_SPACE" placeholder:"BYTES"`
	VarWidths   []int         `name:"variant-widths" help:"Widths GET <image path>?w=W serves (any other W answers 400 InvalidVariant)." default:"${variant_widths}" env:"USERIMAGES_VARIANT_WIDTHS" placeholder:"W,…"`
	VarMemory   sizeFlag      `name:"variant-memory" help:"Budget of the memory variants being made hold at once (decoded pixels, mostly), e.g. 256MiB; over it requests wait, then get 503. Go's soft memory limit is set to it plus 48 MiB unless GOMEMLIMIT is set." default:"${variant_memory}" env:"USERIMAGES_VARIANT_MEMORY" placeholder:"BYTES"`
	VarPregen   []variantFlag `name:"variant-pregenerate" help:"Variant made in the background when an image is claimed, WIDTH.FORMAT, e.g. 640.webp (repeatable; the variable is comma-separated; default none: made on first request)." env:"USERIMAGES_VARIANT_PREGENERATE" placeholder:"W.FMT"`
	NearDup     int           `name:"near-duplicate-distance" help:"Most bits an upload's perceptual hash (PDQ) may differ from a blocked picture's for it to be refused as BlockedContent (1-64; 31 is PDQ's authors' threshold)." default:"${near_duplicate_distance}" env:"USERIMAGES_NEAR_DUPLICATE_DISTANCE" placeholder:"BITS"`
	HashesPoll  time.Duration `name:"blocklist-poll" help:"How often the blocked hashes other instances or the command line added or removed are read." default:"${blocklist_poll}" env:"USERIMAGES_BLOCKLIST_POLL"`
	HookTime    time.Duration `name:"claim-hook-timeout" help:"With --claim-hook: how long a claim waits for the hook's verdict (100ms to 1m)." default:"${claim_hook_timeout}" env:"USERIMAGES_CLAIM_HOOK_TIMEOUT"`
	HookOnError string        `name:"claim-hook-on-error" help:"With --claim-hook: what a claim does when the hook gives no verdict in time or answers a non-2xx status: fail (503 with Retry-After; nothing published) or allow (publish)." default:"fail" enum:"fail,allow" env:"USERIMAGES_CLAIM_HOOK_ON_ERROR"`
	webhookFlags
}

// claimHookFlags mirror claimhook.Config. The secret is read from
// USERIMAGES_CLAIM_HOOK_SECRET only, never from a flag, which other users
// of the machine can read.
type claimHookFlags struct {
	ClaimHook      string `name:"claim-hook" help:"URL of the host app's claim hook, asked (a signed POST) about every image before it is published; secret in USERIMAGES_CLAIM_HOOK_SECRET (whsec_…). See docs/claim-hook.md." env:"USERIMAGES_CLAIM_HOOK" placeholder:"URL"`
	ClaimHookBytes string `name:"claim-hook-bytes-url" help:"With --claim-hook: scheme://host[:port] the hook reaches this server at to read the image (default: --public-url, else this server's listener)." env:"USERIMAGES_CLAIM_HOOK_BYTES_URL" placeholder:"URL"`
}

// claimHookSecretEnv holds the claim hook's secret.
const claimHookSecretEnv = "USERIMAGES_CLAIM_HOOK_SECRET"

// config is the claim hook's configuration, with base as the bytes URLs'
// base unless --claim-hook-bytes-url gives one; the zero Config when
// there is no hook.
func (f claimHookFlags) config(base string, timeout time.Duration) (claimhook.Config, error) {
	if f.ClaimHook == "" {
		if f.ClaimHookBytes != "" {
			return claimhook.Config{}, errors.New("--claim-hook-bytes-url needs --claim-hook")
		}
		return claimhook.Config{}, nil
	}
	if os.Getenv(claimHookSecretEnv) == "" {
		return claimhook.Config{}, fmt.Errorf("--claim-hook needs its secret in %s: whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)), the same in the hook", claimHookSecretEnv)
	}
	secret, err := stdwebhook.ParseSecret(os.Getenv(claimHookSecretEnv))
	if err != nil {
		return claimhook.Config{}, fmt.Errorf("%s: %w", claimHookSecretEnv, err)
	}
	cfg := claimhook.Config{URL: f.ClaimHook, Secret: secret, BytesBaseURL: cmp.Or(f.ClaimHookBytes, base),
		BytesTTL: cmp.Or(timeout, core.DefaultClaimReviewTimeout) + time.Minute}
	return cfg, cfg.Validate()
}

// validate checks the claim hook's flags before the listener's address,
// the bytes URLs' default base, is known.
func (c *serveCmd) validateClaimHook() error {
	_, err := c.claimHookFlags.config(cmp.Or(c.PublicURL, "http://127.0.0.1"), c.HookTime)
	return err
}

// webhookFlags tune the delivery of webhooks (core.Config's Webhook…).
type webhookFlags struct {
	WebhookTimeout     time.Duration `name:"webhook-timeout" help:"How long a webhook receiver may take to answer one request." default:"${webhook_timeout}" env:"USERIMAGES_WEBHOOK_TIMEOUT"`
	WebhookConcurrency int           `name:"webhook-concurrency" help:"Requests one instance sends one webhook endpoint at once." default:"${webhook_concurrency}" env:"USERIMAGES_WEBHOOK_CONCURRENCY"`
	WebhookRetryDelay  time.Duration `name:"webhook-retry-delay" help:"The wait after a webhook delivery's first failure, doubled by each further one." default:"${webhook_retry_delay}" env:"USERIMAGES_WEBHOOK_RETRY_DELAY"`
	WebhookMaxRetry    time.Duration `name:"webhook-max-retry-delay" help:"The longest wait between two tries of a webhook delivery." default:"${webhook_max_retry_delay}" env:"USERIMAGES_WEBHOOK_MAX_RETRY_DELAY"`
	WebhookGiveUp      time.Duration `name:"webhook-give-up-after" help:"How long after its event a failing webhook delivery is given up." default:"${webhook_give_up_after}" env:"USERIMAGES_WEBHOOK_GIVE_UP_AFTER"`
	WebhookDisable     time.Duration `name:"webhook-disable-after" help:"How long an endpoint's deliveries may fail in a row before it is disabled (webhook enable turns it on again)." default:"${webhook_disable_after}" env:"USERIMAGES_WEBHOOK_DISABLE_AFTER"`
}

// jwtFlags mirror jwtauth.Config: the users a host app vouches for with
// a signed JWT.
type jwtFlags struct {
	JWTSecretFile string `name:"jwt-secret-file" help:"File holding the HS256 secret (at least 32 bytes; a final newline is not part of it) the host app signs its users' JWTs with: requests with Authorization: Bearer <JWT> are then theirs." env:"USERIMAGES_JWT_SECRET_FILE" placeholder:"FILE"`
	JWTJWKSURL    string `name:"jwt-jwks-url" help:"URL of the host app's public keys (a JWK Set): JWTs it signs RS256, ES256 or EdDSA are accepted; the keys are cached, fetched again hourly and for an unknown kid (at most once a minute)." env:"USERIMAGES_JWT_JWKS_URL" placeholder:"URL"`
	JWTIssuer     string `name:"jwt-issuer" help:"The iss the host app's JWTs must have (required with --jwt-secret-file or --jwt-jwks-url)." env:"USERIMAGES_JWT_ISSUER" placeholder:"ISS"`
	JWTAudience   string `name:"jwt-audience" help:"A value the aud of the host app's JWTs must hold, naming this server (required with --jwt-secret-file or --jwt-jwks-url)." env:"USERIMAGES_JWT_AUDIENCE" placeholder:"AUD"`
}

// config reads the secret file, if any, into a jwtauth.Config.
func (f jwtFlags) config(log *slog.Logger) (jwtauth.Config, error) {
	cfg := jwtauth.Config{JWKSURL: f.JWTJWKSURL, Issuer: f.JWTIssuer, Audience: f.JWTAudience, Log: log}
	if f.JWTSecretFile != "" {
		b, err := os.ReadFile(f.JWTSecretFile)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		cfg.Secret = bytes.TrimSuffix(b, []byte("\r"))
	}
	return cfg, nil
}

func (f jwtFlags) validate() error {
	cfg, err := f.config(nil)
	if err != nil {
		return err
	}
	return cfg.Validate()
}

// validate checks what the parser cannot: each group of flags by its
// package's Validate, then what spans groups. Field errors name the flag.
// It is the one place a configuration is refused before anything is
// opened.
func (c *serveCmd) validate() error {
	for _, check := range []func() error{
		c.listenFlags.validate,
		func() error { return positive("sweep-interval", c.SweepEvery) },
		c.httpsConfig().Validate,
		c.apiFlags.config().Validate,
		c.policyFlags.config().Validate,
		func() error { return c.imageServingFlags.validate(c.Blob) },
		c.checkStores,
		func() error { _, err := c.purgeFlags.targets(); return err },
		c.jwtFlags.validate,
		c.validateClaimHook,
	} {
		if err := check(); err != nil {
			return flagError(err)
		}
	}
	if c.Addr == "" { // given by neither the flag nor USERIMAGES_ADDR
		c.Addr = defaultAddr
		if len(c.Domain) > 0 {
			c.Addr = ":80" // where ACME CAs send HTTP-01 challenges and browsers type the name
		}
	}
	return nil
}

// checkStores checks the addresses of the stores and of Redis without
// opening them, and what the stores allow of the policy.
func (c *serveCmd) checkStores() error {
	if err := c.check("--db", "--blob"); err != nil {
		return err
	}
	if err := c.postgresConfig().Validate(); err != nil {
		return err
	}
	if blob := c.blobURL(); strings.HasPrefix(blob, "s3://") {
		if cfg, err := c.s3Config(); err != nil {
			return fmt.Errorf("--blob: %w", err)
		} else if err := cfg.Validate(); err != nil {
			return err
		}
		if c.MaxFileSize > s3store.MaxPutSize {
			// A claim writes the checked copy to the bucket through a
			// buffer of at most this size: larger uploads could never be
			// published.
			return fmt.Errorf("--max-file-size %d: at most %d with an s3:// --blob", c.MaxFileSize, s3store.MaxPutSize)
		}
	}
	if c.Redis != "" {
		if _, err := redisrate.NewClient(c.Redis); err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
	}
	return nil
}

// flagError restates a field error of a package's Validate, wrapped or
// not, with the names of the flags that set the fields; other errors stay
// as they are.
func flagError(err error) error {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return errors.New(strings.Replace(err.Error(), fe.Error(), fe.Describe(flagOf), 1))
}

// flagOf is the flag that sets a field of a package's Config, or the
// field's name when no flag does.
func flagOf(field any) string {
	if flag, ok := fieldFlags()[field]; ok {
		return flag
	}
	return fmt.Sprint(field)
}

// fieldFlags maps the fields of the packages' configurations to the
// commands' flags (and those of s3store.Config to the parameters of an
// s3:// URL's).
func fieldFlags() map[any]string {
	return map[any]string{
		core.ConfigMaxFileSize:           "--max-file-size",
		core.ConfigContentTypes:          "--content-type",
		core.ConfigUploadURLTTL:          "--upload-url-ttl",
		core.ConfigClaimWindow:           "--claim-window",
		core.ConfigMaxPixels:             "--max-pixels",
		core.ConfigMaxSide:               "--max-side",
		core.ConfigServerSideEncryption:  "--upload-sse",
		core.ConfigMinFreeSpace:          "--min-free-space",
		core.ConfigSessionIdle:           "--session-idle",
		core.ConfigSessionMaxAge:         "--session-max-age",
		core.ConfigVariantWidths:         "--variant-widths",
		core.ConfigVariantMemory:         "--variant-memory",
		core.ConfigVariantPregenerate:    "--variant-pregenerate",
		core.ConfigNearDuplicateDistance: "--near-duplicate-distance",
		core.ConfigHashesPoll:            "--blocklist-poll",
		core.ConfigReadyTimeout:          "--ready-timeout",
		core.ConfigSignInFreeFailures:    "--signin-free-failures",
		core.ConfigSignInDelay:           "--signin-delay",
		core.ConfigSignInMaxDelay:        "--signin-max-delay",
		core.ConfigClaimReviewTimeout:    "--claim-hook-timeout",
		core.ConfigClaimReviewOnError:    "--claim-hook-on-error",

		claimhook.ConfigURL:          "--claim-hook",
		claimhook.ConfigSecret:       claimHookSecretEnv,
		claimhook.ConfigBytesBaseURL: "--claim-hook-bytes-url",
		claimhook.ConfigBytesTTL:     "--claim-hook-timeout",

		core.ConfigWebhookTimeout:       "--webhook-timeout",
		core.ConfigWebhookConcurrency:   "--webhook-concurrency",
		core.ConfigWebhookRetryDelay:    "--webhook-retry-delay",
		core.ConfigWebhookMaxRetryDelay: "--webhook-max-retry-delay",
		core.ConfigWebhookGiveUpAfter:   "--webhook-give-up-after",
		core.ConfigWebhookDisableAfter:  "--webhook-disable-after",

		httpapi.ConfigPublicURL:                      "--public-url",
		httpapi.ConfigCORSOrigins:                    "--cors-origin",
		httpapi.ConfigCORSCredentials:                "--cors-credentials",
		httpapi.ConfigTrustedProxies:                 "--trusted-proxy",
		httpapi.ConfigMaxConcurrentUploads:           "--max-concurrent-uploads",
		httpapi.ConfigMaxConcurrentUploadsPerClient:  "--max-concurrent-uploads-per-client",
		httpapi.ConfigMaxConcurrentVariantsPerClient: "--max-concurrent-variants-per-client",
		httpapi.ConfigMaxQueuedVariantsPerClient:     "--max-queued-variants-per-client",
		httpapi.ConfigVariantQueueWait:               "--variant-queue-wait",
		httpapi.ConfigUploadTimeout:                  "--upload-timeout",
		httpapi.ConfigBrowserMaxAge:                  "--browser-max-age",

		httpsserve.ConfigDomains:       "--domain",
		httpsserve.ConfigACMEDirectory: "--acme-directory",
		httpsserve.ConfigACMEEmail:     "--acme-email",
		httpsserve.ConfigDataDir:       "--data",
		httpsserve.ConfigCertFile:      "--tls-cert",
		httpsserve.ConfigKeyFile:       "--tls-key",
		httpsserve.ConfigHSTSMaxAge:    "--hsts-max-age",

		backup.ConfigKeep: "--keep",

		jwtauth.ConfigSecret:   "--jwt-secret-file",
		jwtauth.ConfigJWKSURL:  "--jwt-jwks-url",
		jwtauth.ConfigIssuer:   "--jwt-issuer",
		jwtauth.ConfigAudience: "--jwt-audience",

		s3store.ConfigBucket:   "bucket",
		s3store.ConfigEndpoint: "endpoint",
		s3store.ConfigPrefix:   "prefix",
		s3store.ConfigTimeout:  "--store-timeout",

		postgres.ConfigTimeout: "--store-timeout",
	}
}

// httpsConfig is how HTTPS is served, if at all.
func (c *serveCmd) httpsConfig() httpsserve.Config {
	f := c.httpsFlags
	return httpsserve.Config{Domains: f.Domain, ACMEDirectory: f.ACMEDir, ACMEEmail: f.ACMEEmail, DataDir: c.Data,
		CertFile: f.TLSCert, KeyFile: f.TLSKey, HSTSMaxAge: f.HSTSMaxAge}
}

// config is the upload policy the flags give.
func (f policyFlags) config() core.Config {
	return core.Config{MaxFileSize: f.MaxFileSize, ContentTypes: f.ContentType, UploadURLTTL: f.UploadTTL, ClaimWindow: f.ClaimWindow,
		TokenDeleteWindow: tokenDeleteWindow(f.TokenDelete), KeepMetadata: f.KeepMeta, SessionIdle: f.SessionIdle, SessionMaxAge: f.SessionMax,
		SignInFreeFailures: f.SignInFree, SignInDelay: f.SignInDelay, SignInMaxDelay: f.SignInMax, MaxPixels: f.MaxPixels, MaxSide: f.MaxSide,
		ServerSideEncryption: f.UploadSSE, MinFreeSpace: f.MinFree, ReadyTimeout: f.ReadyTime,
		VariantWidths: f.VarWidths, VariantMemory: int64(f.VarMemory), VariantPregenerate: variants(f.VarPregen),
		NearDuplicateDistance: f.NearDup, HashesPoll: f.HashesPoll, ClaimReviewTimeout: f.HookTime, ClaimReviewOnError: f.HookOnError,
		WebhookTimeout: f.WebhookTimeout, WebhookConcurrency: f.WebhookConcurrency, WebhookRetryDelay: f.WebhookRetryDelay,
		WebhookMaxRetryDelay: f.WebhookMaxRetry, WebhookGiveUpAfter: f.WebhookGiveUp, WebhookDisableAfter: f.WebhookDisable}
}

// tokenDeleteWindow is core's TokenDeleteWindow for the flag's value: 0
// (off) is negative there, where 0 is the default.
func tokenDeleteWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// config is the part of the HTTP layer's configuration the flags give;
// buildServer adds the handlers and the limiter.
func (f apiFlags) config() httpapi.Config {
	var proxies []netip.Prefix
	for _, p := range f.Proxies {
		proxies = append(proxies, netip.Prefix(p))
	}
	return httpapi.Config{
		PublicURL:                      f.PublicURL,
		CORSOrigins:                    f.CORSOrigin,
		CORSCredentials:                f.CORSCreds,
		TrustedProxies:                 proxies,
		RateLimits:                     httpapi.RateLimits{Create: f.LimitCreate.l, Put: f.LimitPut.l, Claim: f.LimitClaim.l, Auth: f.LimitAuth.l, Report: f.LimitReport.l},
		MaxConcurrentUploads:           f.MaxUploads,
		MaxConcurrentUploadsPerClient:  f.MaxClientUp,
		MaxConcurrentVariantsPerClient: f.MaxClientVar,
		MaxQueuedVariantsPerClient:     f.MaxQueuedVar,
		VariantQueueWait:               f.VarQueueWait,
		UploadTimeout:                  f.UploadTime,
		BrowserMaxAge:                  f.BrowserMaxAge,
	}
}

// validate checks the net/http server's timeouts, which have no default:
// zero would mean none.
func (f listenFlags) validate() error {
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"read-header-timeout", f.ReadHeader}, {"read-timeout", f.ReadTime}, {"write-timeout", f.WriteTime}, {"idle-timeout", f.IdleTime}} {
		if err := positive(d.flag, d.d); err != nil {
			return err
		}
	}
	switch f.Metrics {
	case "", metricsPublic, metricsOff:
		return nil
	}
	if _, _, err := net.SplitHostPort(f.Metrics); err != nil {
		return fmt.Errorf("--metrics-addr %q: want HOST:PORT, public or off", f.Metrics)
	}
	return nil
}

// validate checks the serve mode against where image bytes are (blob, the
// --blob URL).
func (f imageServingFlags) validate(blob string) error {
	redirect := f.ServeMode == "redirect"
	switch {
	case f.CDNURL != "" && !redirect:
		return fmt.Errorf("--cdn-url needs --serve-mode redirect")
	case redirect && !strings.HasPrefix(blob, "s3://"):
		return fmt.Errorf("--serve-mode redirect needs image bytes in an object store (--blob s3://…)")
	case redirect && f.CDNURL == "" && (f.RedirectTTL < 2*time.Second || f.RedirectTTL > 7*24*time.Hour):
		return fmt.Errorf("--redirect-ttl %s: must be between 2s and 7 days (the SigV4 limit)", f.RedirectTTL)
	}
	if f.CDNURL != "" {
		u, err := url.Parse(f.CDNURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("--cdn-url %q: want http(s)://host[/path]", f.CDNURL)
		}
	}
	return nil
}
