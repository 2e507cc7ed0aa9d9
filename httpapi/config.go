package httpapi

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
	"time"

	"userimages/internal/config"
)

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config): its string is the field's Go name.
type ConfigField string

// The fields of Config that Validate checks.
const (
	ConfigPublicURL                      ConfigField = "PublicURL"
	ConfigReviewPath                     ConfigField = "ReviewPath"
	ConfigCORSOrigins                    ConfigField = "CORSOrigins"
	ConfigCORSCredentials                ConfigField = "CORSCredentials"
	ConfigTrustedProxies                 ConfigField = "TrustedProxies"
	ConfigRateLimits                     ConfigField = "RateLimits"
	ConfigMaxConcurrentUploads           ConfigField = "MaxConcurrentUploads"
	ConfigMaxConcurrentUploadsPerClient  ConfigField = "MaxConcurrentUploadsPerClient"
	ConfigMaxConcurrentVariantsPerClient ConfigField = "MaxConcurrentVariantsPerClient"
	ConfigMaxQueuedVariantsPerClient     ConfigField = "MaxQueuedVariantsPerClient"
	ConfigVariantQueueWait               ConfigField = "VariantQueueWait"
	ConfigUploadTimeout                  ConfigField = "UploadTimeout"
	ConfigBrowserMaxAge                  ConfigField = "BrowserMaxAge"
)

// Validate checks c as New would use it, its zero fields replaced by their
// defaults. It is pure, so a command calls it before it opens anything; the
// error is a *config.FieldError naming the first field refused.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields set to their defaults, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if len(c.CORSOrigins) == 0 {
		c.CORSOrigins = []string{"*"}
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	c.MaxConcurrentUploads = cmp.Or(c.MaxConcurrentUploads, DefaultMaxConcurrentUploads)
	c.MaxConcurrentUploadsPerClient = cmp.Or(c.MaxConcurrentUploadsPerClient, DefaultMaxConcurrentUploadsPerClient)
	c.MaxConcurrentVariantsPerClient = cmp.Or(c.MaxConcurrentVariantsPerClient, DefaultMaxConcurrentVariantsPerClient)
	c.MaxQueuedVariantsPerClient = cmp.Or(c.MaxQueuedVariantsPerClient, DefaultMaxQueuedVariantsPerClient)
	c.VariantQueueWait = cmp.Or(c.VariantQueueWait, DefaultVariantQueueWait)
	c.UploadTimeout = cmp.Or(c.UploadTimeout, DefaultUploadTimeout)
	c.BrowserMaxAge = cmp.Or(c.BrowserMaxAge, DefaultBrowserMaxAge)
	for _, check := range []func() error{c.checkOrigins, c.checkUploads, c.checkClients} {
		if err := check(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkOrigins checks the public URL and who may call from a browser.
func (c Config) checkOrigins() error {
	if c.CORSCredentials && slices.Contains(c.CORSOrigins, "*") {
		return &config.FieldError{Field: ConfigCORSCredentials, Other: ConfigCORSOrigins,
			Rule: "needs {other} to list the origins, not *: any page could otherwise act with its visitors' credentials"}
	}
	if c.ReviewBytes != nil && (!strings.HasPrefix(c.ReviewPath, "/") || !strings.HasSuffix(c.ReviewPath, "/") || strings.ContainsAny(c.ReviewPath, "{}")) {
		return config.Invalid(ConfigReviewPath, c.ReviewPath, "want a path that starts and ends with /")
	}
	if c.PublicURL == "" {
		return nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return config.Invalid(ConfigPublicURL, c.PublicURL, "want scheme://host[:port] with no path")
	}
	return nil
}

// checkUploads checks the caps on upload bodies.
func (c Config) checkUploads() error {
	switch {
	case c.MaxConcurrentUploads < 1:
		return config.Invalid(ConfigMaxConcurrentUploads, c.MaxConcurrentUploads, "must be at least 1")
	case c.MaxConcurrentUploadsPerClient < 1:
		return config.Invalid(ConfigMaxConcurrentUploadsPerClient, c.MaxConcurrentUploadsPerClient, "must be at least 1")
	case c.MaxConcurrentVariantsPerClient < 1:
		return config.Invalid(ConfigMaxConcurrentVariantsPerClient, c.MaxConcurrentVariantsPerClient, "must be at least 1")
	case c.MaxQueuedVariantsPerClient < 0:
		return config.Invalid(ConfigMaxQueuedVariantsPerClient, c.MaxQueuedVariantsPerClient, "must not be negative")
	case c.VariantQueueWait < 0 || c.VariantQueueWait > time.Minute:
		return config.Invalid(ConfigVariantQueueWait, c.VariantQueueWait, "must be between 0 and 1m")
	case c.UploadTimeout < 0:
		return config.Invalid(ConfigUploadTimeout, c.UploadTimeout, "must be positive")
	case c.BrowserMaxAge < time.Second || c.BrowserMaxAge > sharedMaxAge:
		return config.Invalid(ConfigBrowserMaxAge, c.BrowserMaxAge, "must be between 1s and a year")
	}
	return nil
}

// checkClients checks how clients are told apart and limited.
func (c Config) checkClients() error {
	if err := c.RateLimits.validate(); err != nil {
		return config.Invalid(ConfigRateLimits, nil, err.Error())
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return config.Invalid(ConfigTrustedProxies, p, "not a valid prefix")
		}
	}
	return nil
}
