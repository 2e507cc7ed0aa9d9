package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client"

	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/imagesafe"
	"userimages/migrate"
	"userimages/postgres"
	"userimages/purge"
	"userimages/ratelimit"
	"userimages/ratelimit/redisrate"
)

// flagDefaults are the defaults of flags that the packages declare, for
// the ${…} of the commands' default tags: help shows them, and there is
// one source for each.
func flagDefaults() map[string]string {
	rl := httpapi.DefaultRateLimits()
	return map[string]string{
		"max_file_size":                      strconv.Itoa(core.DefaultMaxFileSize),
		"upload_url_ttl":                     core.DefaultUploadURLTTL.String(),
		"claim_window":                       core.DefaultClaimWindow.String(),
		"token_delete_window":                core.DefaultTokenDeleteWindow.String(),
		"session_idle":                       core.DefaultSessionIdle.String(),
		"signin_free_failures":               strconv.Itoa(core.DefaultSignInFreeFailures),
		"signin_delay":                       core.DefaultSignInDelay.String(),
		"signin_max_delay":                   core.DefaultSignInMaxDelay.String(),
		"webhook_timeout":                    core.DefaultWebhookTimeout.String(),
		"webhook_concurrency":                strconv.Itoa(core.DefaultWebhookConcurrency),
		"webhook_retry_delay":                core.DefaultWebhookRetryDelay.String(),
		"webhook_max_retry_delay":            core.DefaultWebhookMaxRetryDelay.String(),
		"webhook_give_up_after":              core.DefaultWebhookGiveUpAfter.String(),
		"webhook_disable_after":              core.DefaultWebhookDisableAfter.String(),
		"session_max_age":                    core.DefaultSessionMaxAge.String(),
		"upload_sse":                         core.DefaultServerSideEncryption,
		"max_pixels":                         strconv.Itoa(imagesafe.DefaultMaxPixels),
		"max_side":                           strconv.Itoa(imagesafe.DefaultMaxSide),
		"redis_prefix":                       redisrate.DefaultPrefix,
		"rate_limit_create":                  rl.Create.String(),
		"rate_limit_put":                     rl.Put.String(),
		"rate_limit_claim":                   rl.Claim.String(),
		"rate_limit_auth":                    rl.Auth.String(),
		"rate_limit_report":                  rl.Report.String(),
		"max_concurrent_uploads":             strconv.Itoa(httpapi.DefaultMaxConcurrentUploads),
		"max_concurrent_uploads_per_client":  strconv.Itoa(httpapi.DefaultMaxConcurrentUploadsPerClient),
		"max_concurrent_variants_per_client": strconv.Itoa(httpapi.DefaultMaxConcurrentVariantsPerClient),
		"max_queued_variants_per_client":     strconv.Itoa(httpapi.DefaultMaxQueuedVariantsPerClient),
		"variant_queue_wait":                 httpapi.DefaultVariantQueueWait.String(),
		"upload_timeout":                     httpapi.DefaultUploadTimeout.String(),
		"fastly_api_url":                     purge.DefaultFastlyURL,
		"cloudflare_api_url":                 purge.DefaultCloudflareURL,
		"browser_max_age":                    httpapi.DefaultBrowserMaxAge.String(),
		"page_size":                          strconv.Itoa(migrate.DefaultPageSize),
		"hsts_max_age":                       httpsserve.DefaultHSTSMaxAge.String(),
		"backup_dest_help":                   destHelp,
		"variant_widths":                     joinInts(core.DefaultVariantWidths),
		"retried_statuses":                   strings.ReplaceAll(joinInts(client.RetriedStatuses()), ",", ", "),
		"variant_memory":                     fmt.Sprintf("%dMiB", core.DefaultVariantMemory>>20),
		"near_duplicate_distance":            strconv.Itoa(core.DefaultNearDuplicateDistance),
		"blocklist_poll":                     core.DefaultHashesPoll.String(),
		// One flag for both stores: their defaults are one number.
		"store_timeout":      postgres.DefaultTimeout.String(),
		"ready_timeout":      core.DefaultReadyTimeout.String(),
		"claim_hook_timeout": core.DefaultClaimReviewTimeout.String(),
	}
}

// limitFlag is a rate limit, RATE/PERIOD or off.
type limitFlag struct{ l ratelimit.Limit }

func (f limitFlag) String() string { return f.l.String() }

func (f *limitFlag) UnmarshalText(b []byte) error {
	l, err := ratelimit.Parse(string(b))
	if err == nil {
		f.l = l
	}
	return err
}

// prefixFlag is a CIDR prefix; a bare address is a prefix of its full
// length.
type prefixFlag netip.Prefix

func (p *prefixFlag) UnmarshalText(b []byte) error {
	s := string(b)
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		addr, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return fmt.Errorf("%q is not a CIDR prefix or an address", s)
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	}
	*p = prefixFlag(prefix.Masked())
	return nil
}

// positive returns an error naming flag when d is not positive.
func positive(flag string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--%s %s: must be positive", flag, d)
	}
	return nil
}

func joinInts(ns []int) string {
	var ss []string
	for _, n := range ns {
		ss = append(ss, strconv.Itoa(n))
	}
	return strings.Join(ss, ",")
}

// sizeFlag is a number of bytes: a whole number with an optional unit,
// KiB, MiB or GiB.
type sizeFlag int64

func (f *sizeFlag) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	mult := int64(1)
	for unit, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			s, mult = strings.TrimSpace(n), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size: want a positive number of bytes, or of KiB, MiB or GiB (e.g. 256MiB)", string(b))
	}
	*f = sizeFlag(n * mult)
	return nil
}

// variantFlag is a variant, WIDTH.FORMAT (640.webp).
type variantFlag core.Variant

func (f *variantFlag) UnmarshalText(b []byte) error {
	w, ext, _ := strings.Cut(string(b), ".")
	n, err := strconv.Atoi(w)
	if err == nil {
		for _, format := range core.VariantFormats() {
			if format.Ext == ext {
				*f = variantFlag{Width: n, Format: format}
				return nil
			}
		}
	}
	return fmt.Errorf("%q is not a variant: want WIDTH.FORMAT, the format one of jpeg, png or webp (e.g. 640.webp)", string(b))
}

func variants(fs []variantFlag) []core.Variant {
	var vs []core.Variant
	for _, f := range fs {
		vs = append(vs, core.Variant(f))
	}
	return vs
}
