package core

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/imagesafe"
	"userimages/internal/config"
	"userimages/variant"
)

// Defaults of Config, as documented in the README.
const (
	DefaultMaxFileSize  = 2_000_000
	DefaultUploadURLTTL = time.Hour
	DefaultClaimWindow  = 24 * time.Hour
	// DefaultServerSideEncryption is the X-Amz-Server-Side-Encryption
	// header upload URLs ask for, as Zendesk's do.
	DefaultServerSideEncryption = "AES256"
	// DefaultOrphanGrace is how old a stored image object without metadata
	// (left by a crash between storing and publishing) must be before the
	// sweeper deletes it.
	DefaultOrphanGrace = time.Hour
	// DefaultSessionIdle and DefaultSessionMaxAge bound a console session:
	// it ends after this long unused, and this long after sign-in at the
	// latest.
	DefaultSessionIdle   = 30 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
	// DefaultTokenDeleteWindow is how long after its claim an image can
	// be deleted with its upload token: long enough for the person who
	// pasted it to notice and take it back while writing the post, short
	// enough that a token found later (a saved page, a log) deletes
	// nothing.
	DefaultTokenDeleteWindow = 24 * time.Hour
	// DefaultReadyTimeout bounds a readiness check: under the 2 s that
	// load balancers' health checks commonly wait, so that they read a 503
	// instead of timing out.
	DefaultReadyTimeout = 1500 * time.Millisecond
)

// DefaultContentTypes are the image types accepted unless configured: the
// MIME types of api.Formats.
var DefaultContentTypes = func() []string {
	var cts []string
	for _, f := range api.Formats() {
		cts = append(cts, f.MIME)
	}
	return cts
}()

// Config is the upload policy. The zero value of each field means its default.
type Config struct {
	// MaxFileSize is the largest file_size accepted, in bytes. Default 2,000,000.
	MaxFileSize int64
	// ContentTypes are the accepted types, a subset of DefaultContentTypes.
	// Default: all of them.
	ContentTypes []string
	// UploadURLTTL is how long an upload URL accepts its PUT. Default 1 h.
	UploadURLTTL time.Duration
	// ClaimWindow is how long after creation an upload can be claimed; after
	// it the upload is swept. Default 24 h; must be at least UploadURLTTL.
	ClaimWindow time.Duration
	// OrphanGrace: see DefaultOrphanGrace.
	OrphanGrace time.Duration
	// KeepMetadata serves images with their EXIF, XMP, IPTC and comments.
	// Default false: metadata is stripped (the ICC profile and orientation
	// stay), so no photo leaks where it was taken.
	KeepMetadata bool
	// MaxPixels caps width × height. Default imagesafe.DefaultMaxPixels (50 MP).
	MaxPixels int64
	// MaxSide caps each of width and height. Default imagesafe.DefaultMaxSide.
	MaxSide int
	// ServerSideEncryption is the X-Amz-Server-Side-Encryption header that
	// upload URLs sign and return (AES256 or aws:kms). Default
	// DefaultServerSideEncryption; "none" leaves the header out, for object
	// stores that refuse it.
	ServerSideEncryption string
	// MinFreeSpace is the free space, in bytes, under which the local disk
	// (Stores.Disk) makes Ready fail, so that a load balancer sends uploads
	// elsewhere before the disk is full. Default room for 64 uploads of
	// MaxFileSize.
	MinFreeSpace int64
	// ReadyTimeout bounds Ready: a store that has not answered by then
	// makes it fail. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Outbox tunes the outbox's worker (outbox.go).
	Outbox OutboxConfig
	// PasswordCost is the bcrypt cost of new password and API token hashes.
	// Default bcrypt.DefaultCost (10); tests may lower it to bcrypt.MinCost.
	PasswordCost int
	// SessionIdle and SessionMaxAge bound console sessions. Defaults
	// DefaultSessionIdle and DefaultSessionMaxAge.
	SessionIdle   time.Duration
	SessionMaxAge time.Duration
	// TokenDeleteWindow is how long after its claim an image can be
	// deleted with the upload token it was claimed from (the uploading
	// page's capability, see Erasure). Default DefaultTokenDeleteWindow;
	// negative: never.
	TokenDeleteWindow time.Duration
	// SignInFreeFailures, SignInDelay and SignInMaxDelay throttle failed
	// sign-ins, per account and per client address (signin.go): after
	// SignInFreeFailures in a row, each further one waits SignInDelay,
	// doubled per failure up to SignInMaxDelay. Defaults
	// DefaultSignInFreeFailures, DefaultSignInDelay, DefaultSignInMaxDelay.
	SignInFreeFailures int
	SignInDelay        time.Duration
	SignInMaxDelay     time.Duration

	// VariantWidths are the widths GET <path>?w=W serves (see
	// variant.go). Default DefaultVariantWidths.
	VariantWidths []int
	// VariantMemory is the budget, in bytes, of what variants being made
	// hold in memory at once. Default DefaultVariantMemory (256 MiB).
	VariantMemory int64
	// VariantWait is how long a variant waits for room in VariantMemory
	// before it is refused (503). Default DefaultVariantWait.
	VariantWait time.Duration
	// VariantPregenerate are made in the background when an image is
	// claimed. Default none: each is made on its first request.
	VariantPregenerate []Variant
	// NearDuplicateDistance is the most bits an upload's perceptual hash
	// (PDQ) may differ from a blocked one's for the upload to be refused.
	// Default DefaultNearDuplicateDistance, PDQ's authors' threshold; at
	// most 64.
	NearDuplicateDistance int
	// HashesPoll is how often an instance reads the blocked hashes others
	// added or removed. Default DefaultHashesPoll.
	HashesPoll time.Duration

	// ClaimReviewTimeout is how long a claim waits for the claim hook's
	// verdict (UploadsDeps.Reviewer), 100ms to 1m. Default
	// DefaultClaimReviewTimeout (5 s).
	ClaimReviewTimeout time.Duration
	// ClaimReviewOnError is what a claim does when the hook gives no
	// verdict in time, or answers a non-2xx status or no verdict:
	// ReviewFailClosed (the default) refuses it, 503 with Retry-After;
	// ReviewAllow publishes it.
	ClaimReviewOnError string
	// Webhooks (webhooks.go). WebhookTimeout bounds each request
	// (default DefaultWebhookTimeout); WebhookConcurrency is how many
	// requests one instance sends one endpoint at once (default
	// DefaultWebhookConcurrency); a failed delivery is retried after
	// WebhookRetryDelay, doubled per failure up to WebhookMaxRetryDelay
	// (defaults DefaultWebhookRetryDelay, DefaultWebhookMaxRetryDelay),
	// until the event is WebhookGiveUpAfter old (default
	// DefaultWebhookGiveUpAfter); an endpoint failing for
	// WebhookDisableAfter is disabled (default DefaultWebhookDisableAfter).
	WebhookTimeout       time.Duration
	WebhookConcurrency   int
	WebhookRetryDelay    time.Duration
	WebhookMaxRetryDelay time.Duration
	WebhookGiveUpAfter   time.Duration
	WebhookDisableAfter  time.Duration
}

// Defaults of the webhooks' fields of Config: the schedule retries for
// three days (25 tries: 5 s, 10 s, 20 s, … then every 6 h, the last about 77 h after the event), and an
// endpoint failing for five days is disabled.
const (
	DefaultWebhookTimeout       = 10 * time.Second
	DefaultWebhookConcurrency   = 4
	DefaultWebhookRetryDelay    = 5 * time.Second
	DefaultWebhookMaxRetryDelay = 6 * time.Hour
	DefaultWebhookGiveUpAfter   = 72 * time.Hour
	DefaultWebhookDisableAfter  = 5 * 24 * time.Hour
)

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config): its string is the field's Go name.
type ConfigField string

// The fields of Config.
const (
	ConfigMaxFileSize           ConfigField = "MaxFileSize"
	ConfigContentTypes          ConfigField = "ContentTypes"
	ConfigUploadURLTTL          ConfigField = "UploadURLTTL"
	ConfigClaimWindow           ConfigField = "ClaimWindow"
	ConfigOrphanGrace           ConfigField = "OrphanGrace"
	ConfigMaxPixels             ConfigField = "MaxPixels"
	ConfigMaxSide               ConfigField = "MaxSide"
	ConfigServerSideEncryption  ConfigField = "ServerSideEncryption"
	ConfigMinFreeSpace          ConfigField = "MinFreeSpace"
	ConfigPasswordCost          ConfigField = "PasswordCost"
	ConfigSessionIdle           ConfigField = "SessionIdle"
	ConfigSessionMaxAge         ConfigField = "SessionMaxAge"
	ConfigVariantWidths         ConfigField = "VariantWidths"
	ConfigVariantMemory         ConfigField = "VariantMemory"
	ConfigVariantWait           ConfigField = "VariantWait"
	ConfigVariantPregenerate    ConfigField = "VariantPregenerate"
	ConfigNearDuplicateDistance ConfigField = "NearDuplicateDistance"
	ConfigHashesPoll            ConfigField = "HashesPoll"
	ConfigReadyTimeout          ConfigField = "ReadyTimeout"
	ConfigSignInFreeFailures    ConfigField = "SignInFreeFailures"
	ConfigSignInDelay           ConfigField = "SignInDelay"
	ConfigSignInMaxDelay        ConfigField = "SignInMaxDelay"
	ConfigClaimReviewTimeout    ConfigField = "ClaimReviewTimeout"
	ConfigClaimReviewOnError    ConfigField = "ClaimReviewOnError"
	ConfigWebhookTimeout        ConfigField = "WebhookTimeout"
	ConfigWebhookConcurrency    ConfigField = "WebhookConcurrency"
	ConfigWebhookRetryDelay     ConfigField = "WebhookRetryDelay"
	ConfigWebhookMaxRetryDelay  ConfigField = "WebhookMaxRetryDelay"
	ConfigWebhookGiveUpAfter    ConfigField = "WebhookGiveUpAfter"
	ConfigWebhookDisableAfter   ConfigField = "WebhookDisableAfter"
)

// maxSigV4Expiry is the longest a SigV4 presigned URL may be good for.
const maxSigV4Expiry = 7 * 24 * time.Hour

// Validate checks c as New would use it, its zero fields replaced by their
// defaults. It is pure, so a command calls it before it opens anything; the
// error is a *config.FieldError naming the first field refused.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields set to their defaults, or an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	c = c.defaults()
	for _, check := range []func() error{c.checkSizes, c.checkTimes, c.checkUploads, c.checkVariants, c.checkResemblance, c.checkClaimReview, c.checkWebhooks} {
		if err := check(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// defaults returns c with zero fields set to their defaults.
func (c Config) defaults() Config {
	if len(c.ContentTypes) == 0 {
		c.ContentTypes = DefaultContentTypes
	}
	if len(c.VariantWidths) == 0 {
		c.VariantWidths = DefaultVariantWidths
	}
	c.MaxFileSize = cmp.Or(c.MaxFileSize, DefaultMaxFileSize)
	c.UploadURLTTL = cmp.Or(c.UploadURLTTL, DefaultUploadURLTTL)
	c.ClaimWindow = cmp.Or(c.ClaimWindow, DefaultClaimWindow)
	c.OrphanGrace = cmp.Or(c.OrphanGrace, DefaultOrphanGrace)
	c.MaxPixels = cmp.Or(c.MaxPixels, imagesafe.DefaultMaxPixels)
	c.MaxSide = cmp.Or(c.MaxSide, imagesafe.DefaultMaxSide)
	c.ServerSideEncryption = cmp.Or(c.ServerSideEncryption, DefaultServerSideEncryption)
	c.MinFreeSpace = cmp.Or(c.MinFreeSpace, 64*c.MaxFileSize)
	c.VariantMemory = cmp.Or(c.VariantMemory, DefaultVariantMemory)
	c.VariantWait = cmp.Or(c.VariantWait, DefaultVariantWait)
	c.PasswordCost = cmp.Or(c.PasswordCost, bcrypt.DefaultCost)
	c.SessionIdle = cmp.Or(c.SessionIdle, DefaultSessionIdle)
	c.SessionMaxAge = cmp.Or(c.SessionMaxAge, DefaultSessionMaxAge)
	c.TokenDeleteWindow = cmp.Or(c.TokenDeleteWindow, DefaultTokenDeleteWindow)
	c.NearDuplicateDistance = cmp.Or(c.NearDuplicateDistance, DefaultNearDuplicateDistance)
	c.HashesPoll = cmp.Or(c.HashesPoll, DefaultHashesPoll)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.SignInFreeFailures = cmp.Or(c.SignInFreeFailures, DefaultSignInFreeFailures)
	c.SignInDelay = cmp.Or(c.SignInDelay, DefaultSignInDelay)
	c.SignInMaxDelay = cmp.Or(c.SignInMaxDelay, DefaultSignInMaxDelay)
	c.ClaimReviewTimeout = cmp.Or(c.ClaimReviewTimeout, DefaultClaimReviewTimeout)
	c.ClaimReviewOnError = cmp.Or(c.ClaimReviewOnError, ReviewFailClosed)
	c.WebhookTimeout = cmp.Or(c.WebhookTimeout, DefaultWebhookTimeout)
	c.WebhookConcurrency = cmp.Or(c.WebhookConcurrency, DefaultWebhookConcurrency)
	c.WebhookRetryDelay = cmp.Or(c.WebhookRetryDelay, DefaultWebhookRetryDelay)
	c.WebhookMaxRetryDelay = cmp.Or(c.WebhookMaxRetryDelay, DefaultWebhookMaxRetryDelay)
	c.WebhookGiveUpAfter = cmp.Or(c.WebhookGiveUpAfter, DefaultWebhookGiveUpAfter)
	c.WebhookDisableAfter = cmp.Or(c.WebhookDisableAfter, DefaultWebhookDisableAfter)
	return c
}

// checkResemblance checks the matching of perceptual hashes.
func (c Config) checkResemblance() error {
	switch {
	case c.NearDuplicateDistance < 1 || c.NearDuplicateDistance > 64:
		return config.Invalid(ConfigNearDuplicateDistance, c.NearDuplicateDistance, "must be between 1 and 64 bits")
	case c.HashesPoll < 100*time.Millisecond:
		return config.Invalid(ConfigHashesPoll, c.HashesPoll, "must be at least 100ms")
	}
	return nil
}

// checkSizes checks the byte and pixel limits.
func (c Config) checkSizes() error {
	switch {
	case c.MaxFileSize < 1:
		return config.Invalid(ConfigMaxFileSize, c.MaxFileSize, "must be positive")
	case c.MinFreeSpace < 0:
		return config.Invalid(ConfigMinFreeSpace, c.MinFreeSpace, "must not be negative")
	case c.MaxPixels < 1:
		return config.Invalid(ConfigMaxPixels, c.MaxPixels, "must be positive")
	case c.MaxSide < 1:
		return config.Invalid(ConfigMaxSide, c.MaxSide, "must be positive")
	}
	return nil
}

// checkTimes checks the lifetimes of upload URLs, uploads and sessions.
func (c Config) checkTimes() error {
	switch {
	case c.UploadURLTTL < time.Second || c.UploadURLTTL > maxSigV4Expiry:
		return config.Invalid(ConfigUploadURLTTL, c.UploadURLTTL, "must be between 1s and 7 days (the SigV4 limit)")
	case c.ClaimWindow < c.UploadURLTTL:
		return config.Related(ConfigClaimWindow, c.ClaimWindow, "must be at least", ConfigUploadURLTTL, c.UploadURLTTL)
	case c.OrphanGrace < 0:
		return config.Invalid(ConfigOrphanGrace, c.OrphanGrace, "must not be negative")
	case c.SessionIdle < time.Minute:
		return config.Invalid(ConfigSessionIdle, c.SessionIdle, "must be at least 1m")
	case c.SessionMaxAge < c.SessionIdle:
		return config.Related(ConfigSessionMaxAge, c.SessionMaxAge, "must be at least", ConfigSessionIdle, c.SessionIdle)
	case c.ReadyTimeout < 10*time.Millisecond:
		return config.Invalid(ConfigReadyTimeout, c.ReadyTimeout, "must be at least 10ms")
	case c.SignInFreeFailures < 1:
		return config.Invalid(ConfigSignInFreeFailures, c.SignInFreeFailures, "must be at least 1")
	case c.SignInDelay < time.Second:
		return config.Invalid(ConfigSignInDelay, c.SignInDelay, "must be at least 1s")
	case c.SignInMaxDelay < c.SignInDelay:
		return config.Related(ConfigSignInMaxDelay, c.SignInMaxDelay, "must be at least", ConfigSignInDelay, c.SignInDelay)
	}
	return nil
}

// checkUploads checks what upload URLs ask for and what uploads may be.
func (c Config) checkUploads() error {
	switch c.ServerSideEncryption {
	case "none", "AES256", "aws:kms":
	default:
		return config.Invalid(ConfigServerSideEncryption, c.ServerSideEncryption, "want AES256, aws:kms or none")
	}
	if c.PasswordCost < bcrypt.MinCost || c.PasswordCost > bcrypt.MaxCost {
		return config.Invalid(ConfigPasswordCost, c.PasswordCost, fmt.Sprintf("must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost))
	}
	for _, ct := range c.ContentTypes {
		if _, ok := api.FormatOf(ct); !ok {
			return config.Invalid(ConfigContentTypes, ct, "want one of "+strings.Join(DefaultContentTypes, ", "))
		}
	}
	return nil
}

// checkVariants checks the widths served, the memory budget and what is
// made in the background.
func (c Config) checkVariants() error {
	switch {
	case c.VariantMemory < 1<<20:
		return config.Invalid(ConfigVariantMemory, c.VariantMemory, "must be at least 1 MiB")
	case c.VariantWait < 0:
		return config.Invalid(ConfigVariantWait, c.VariantWait, "must not be negative")
	}
	for _, w := range c.VariantWidths {
		if w < 1 || w > c.MaxSide {
			return config.Related(ConfigVariantWidths, w, "must be at least 1 and at most", ConfigMaxSide, c.MaxSide)
		}
	}
	for _, v := range c.VariantPregenerate {
		name := fmt.Sprintf("%d.%s", v.Width, v.Format.Ext)
		if !variant.Encodable(v.Format) {
			return config.Invalid(ConfigVariantPregenerate, name, "the format must be JPEG, PNG or WebP")
		}
		if !slices.Contains(c.VariantWidths, v.Width) {
			return config.Related(ConfigVariantPregenerate, name, "the width must be one of", ConfigVariantWidths, c.VariantWidths)
		}
	}
	return nil
}

// checkWebhooks checks the webhooks' timeout, concurrency and schedule.
func (c Config) checkWebhooks() error {
	switch {
	case c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > 5*time.Minute:
		return config.Invalid(ConfigWebhookTimeout, c.WebhookTimeout, "must be between 100ms and 5m")
	case c.WebhookConcurrency < 1 || c.WebhookConcurrency > 64:
		return config.Invalid(ConfigWebhookConcurrency, c.WebhookConcurrency, "must be between 1 and 64")
	case c.WebhookRetryDelay < 10*time.Millisecond:
		return config.Invalid(ConfigWebhookRetryDelay, c.WebhookRetryDelay, "must be at least 10ms")
	case c.WebhookMaxRetryDelay < c.WebhookRetryDelay:
		return config.Related(ConfigWebhookMaxRetryDelay, c.WebhookMaxRetryDelay, "must be at least", ConfigWebhookRetryDelay, c.WebhookRetryDelay)
	case c.WebhookGiveUpAfter < c.WebhookRetryDelay:
		return config.Related(ConfigWebhookGiveUpAfter, c.WebhookGiveUpAfter, "must be at least", ConfigWebhookRetryDelay, c.WebhookRetryDelay)
	case c.WebhookDisableAfter < c.WebhookRetryDelay:
		return config.Related(ConfigWebhookDisableAfter, c.WebhookDisableAfter, "must be at least", ConfigWebhookRetryDelay, c.WebhookRetryDelay)
	}
	return nil
}
