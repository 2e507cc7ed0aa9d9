package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"userimages/core"
	"userimages/httpapi"
	"userimages/httpsserve"
	"userimages/imagesafe"
	"userimages/migrate"
	"userimages/ratelimit"
	"userimages/ratelimit/redisrate"
)

// flagDefaults are the defaults of flags that the packages declare, for
// the ${…} of the commands' default tags: help shows them, and there is
// one source for each.
func flagDefaults() map[string]string {
	rl := httpapi.DefaultRateLimits()
	return map[string]string{
		"max_file_size":                     strconv.Itoa(core.DefaultMaxFileSize),
		"upload_url_ttl":                    core.DefaultUploadURLTTL.String(),
		"claim_window":                      core.DefaultClaimWindow.String(),
		"session_idle":                      core.DefaultSessionIdle.String(),
		"session_max_age":                   core.DefaultSessionMaxAge.String(),
		"upload_sse":                        core.DefaultServerSideEncryption,
		"max_pixels":                        strconv.Itoa(imagesafe.DefaultMaxPixels),
		"max_side":                          strconv.Itoa(imagesafe.DefaultMaxSide),
		"redis_prefix":                      redisrate.DefaultPrefix,
		"rate_limit_create":                 rl.Create.String(),
		"rate_limit_put":                    rl.Put.String(),
		"rate_limit_claim":                  rl.Claim.String(),
		"rate_limit_auth":                   rl.Auth.String(),
		"rate_limit_report":                 rl.Report.String(),
		"max_concurrent_uploads":            strconv.Itoa(httpapi.DefaultMaxConcurrentUploads),
		"max_concurrent_uploads_per_client": strconv.Itoa(httpapi.DefaultMaxConcurrentUploadsPerClient),
		"upload_timeout":                    httpapi.DefaultUploadTimeout.String(),
		"page_size":                         strconv.Itoa(migrate.DefaultPageSize),
		"hsts_max_age":                      httpsserve.DefaultHSTSMaxAge.String(),
		"backup_dest_help":                  destHelp,
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
