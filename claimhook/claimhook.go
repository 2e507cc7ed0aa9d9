// Package claimhook calls the claim hook (serve --claim-hook URL): the
// host app's review of each image before it is published. Hook is the
// core.ClaimReviewer that POSTs an api.ClaimHookRequest to the hook,
// signed as Standard Webhooks are (package stdwebhook), and reads its
// api.ClaimHookVerdict; and it serves the hook the image's bytes at a
// short-lived signed URL (OpenBytes, under PathPrefix on this server).
//
// The bytes URL is served by this server on every deployment, object
// store or not: any instance verifies it (its key is derived from the
// hook's secret, which every instance has) and streams the bytes from the
// shared BlobStore. Its base is configured (Config.BytesBaseURL), never
// taken from a claim request's Host header, which the claimant chooses:
// the hook would otherwise fetch its bytes from wherever the claimant
// says.
package claimhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/config"
	"userimages/stdwebhook"
)

// PathPrefix is where this server serves bytes URLs:
// PathPrefix + "<image id>.<ext>?expires=<unix seconds>&signature=<…>".
const PathPrefix = "/claim-hook/"

// DefaultBytesTTL is how long a bytes URL is good by default: the claim's
// wait for the verdict (core.DefaultClaimReviewTimeout) plus a minute.
const DefaultBytesTTL = core.DefaultClaimReviewTimeout + time.Minute

// maxVerdict bounds the hook's answer that is read.
const maxVerdict = 64 << 10

// Outcomes of a call, as Config.Observe is told them.
const (
	OutcomeAllow  = "allow"
	OutcomeRefuse = "refuse"
	OutcomeError  = "error" // no verdict: a timeout, a failed request, a non-2xx answer, no verdict in it
)

// Config configures a Hook. URL, Secret and BytesBaseURL are required.
type Config struct {
	// URL is the hook's http(s) URL.
	URL string
	// Secret signs the requests (and, derived, the bytes URLs); the
	// command reads it from USERIMAGES_CLAIM_HOOK_SECRET ("whsec_…").
	Secret stdwebhook.Key
	// BytesBaseURL is scheme://host[:port] at which the hook reaches this
	// server (every instance, on scale-out) for the bytes URLs.
	BytesBaseURL string
	// BytesTTL is how long a bytes URL is good. Default DefaultBytesTTL.
	BytesTTL time.Duration
	// Client makes the requests; the claim's deadline bounds each.
	// Default: one that follows no redirect (a redirect is no verdict).
	Client *http.Client
	// Observe, when set, is told the outcome and duration of each call
	// (the metric of the hook's latency).
	Observe func(outcome string, d time.Duration)
	// Now is the clock of signatures and expiries. Default time.Now.
	Now func() time.Time
}

// ConfigField names a field of Config in Validate's errors.
type ConfigField string

// The fields of Config that Validate checks.
const (
	ConfigURL          ConfigField = "URL"
	ConfigSecret       ConfigField = "Secret"
	ConfigBytesBaseURL ConfigField = "BytesBaseURL"
	ConfigBytesTTL     ConfigField = "BytesTTL"
)

// Validate checks c as New would use it; the error is a
// *config.FieldError.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c Config) withDefaults() (Config, error) {
	c.BytesTTL = cmp.Or(c.BytesTTL, DefaultBytesTTL)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	switch {
	case !httpURL(c.URL, true):
		return c, config.Invalid(ConfigURL, c.URL, "want an http(s) URL")
	case len(c.Secret) < stdwebhook.MinKeyLen:
		return c, config.Invalid(ConfigSecret, nil, "is required: whsec_ and the base64 of 24 to 64 random bytes")
	case !httpURL(c.BytesBaseURL, false):
		return c, config.Invalid(ConfigBytesBaseURL, c.BytesBaseURL, "want scheme://host[:port], http or https, with no path")
	case c.BytesTTL < time.Second || c.BytesTTL > time.Hour:
		return c, config.Invalid(ConfigBytesTTL, c.BytesTTL, "must be between 1s and 1h")
	}
	return c, nil
}

// httpURL reports whether s is an absolute http(s) URL with a host; with
// path false, with no path, query or fragment either.
func httpURL(s string, path bool) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return false
	}
	return path || (strings.TrimSuffix(u.Path, "/") == "" && u.RawQuery == "" && u.Fragment == "")
}

// Hook calls the claim hook and serves it the bytes under review. Make it
// with New.
type Hook struct {
	cfg   Config
	blobs core.BlobStore
	// bytesKey signs the bytes URLs: derived from the secret, so that a
	// bytes URL's signature is never a valid signature of a request.
	bytesKey []byte
}

// New returns a Hook reading image bytes from blobs, or an error if cfg
// is invalid.
func New(cfg Config, blobs core.BlobStore) (*Hook, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if blobs == nil {
		return nil, errors.New("claimhook: a BlobStore is required")
	}
	m := hmac.New(sha256.New, cfg.Secret)
	m.Write([]byte("userimages claim hook bytes URL v1"))
	cfg.BytesBaseURL = strings.TrimSuffix(cfg.BytesBaseURL, "/")
	return &Hook{cfg: cfg, blobs: blobs, bytesKey: m.Sum(nil)}, nil
}

// Review asks the hook about r (core.ClaimReviewer): a POST of an
// api.ClaimHookRequest, answered, with a 2xx status, by an
// api.ClaimHookVerdict. Any other answer, or none before ctx ends, is an
// error.
func (h *Hook) Review(ctx context.Context, r core.ClaimReview) (v core.ClaimVerdict, err error) {
	start := time.Now()
	defer func() {
		if h.cfg.Observe != nil {
			outcome := map[bool]string{true: OutcomeAllow, false: OutcomeRefuse}[v.Allow]
			if err != nil {
				outcome = OutcomeError
			}
			h.cfg.Observe(outcome, time.Since(start))
		}
	}()
	now := h.cfg.Now()
	body, err := json.Marshal(h.request(r, now))
	if err != nil {
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: %w", err)
	}
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "userimages-claim-hook")
	h.cfg.Secret.SetHeaders(req.Header, "msg_"+id.String(), now, body)
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: %w", err)
	}
	defer resp.Body.Close()
	return verdict(resp)
}

// verdict reads the hook's answer.
func verdict(resp *http.Response) (core.ClaimVerdict, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxVerdict+1))
	switch {
	case err != nil:
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: reading its answer: %w", err)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return core.ClaimVerdict{}, fmt.Errorf("claim hook answered %s", resp.Status)
	case len(b) > maxVerdict:
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: its answer is over %d bytes", maxVerdict)
	}
	var v api.ClaimHookVerdict
	if err := json.Unmarshal(b, &v); err != nil {
		return core.ClaimVerdict{}, fmt.Errorf("claim hook: its answer is not a verdict: %w", err)
	}
	if v.Allow == nil {
		return core.ClaimVerdict{}, errors.New(`claim hook: its answer has no "allow"`)
	}
	return core.ClaimVerdict{Allow: *v.Allow, Reason: v.Reason}, nil
}

// request is the body of the call about r.
func (h *Hook) request(r core.ClaimReview, now time.Time) api.ClaimHookRequest {
	bytesURL, expires := h.BytesURL(r.ImageID, r.ContentType)
	d := api.ClaimHookData{ImageID: r.ImageID, BrandID: r.BrandID, ContentType: r.ContentType, Size: r.Size, SHA256: r.SHA256,
		PDQ: r.PDQ, BytesURL: bytesURL, BytesURLExpires: expires}
	if r.PDQ != "" {
		d.PDQQuality = r.PDQQuality
	}
	if r.Uploader.UserID != 0 {
		d.Uploader = &api.ClaimHookUploader{UserID: r.Uploader.UserID}
	}
	return api.ClaimHookRequest{Type: api.ClaimHookType, Timestamp: now.UTC().Truncate(time.Second), Data: d}
}

// Query parameters of a bytes URL.
const (
	paramExpires   = "expires"
	paramSignature = "signature"
)

// BytesURL returns the signed URL that serves the received bytes of
// image id (of contentType) for Config.BytesTTL from now, and when it
// expires.
func (h *Hook) BytesURL(id, contentType string) (string, time.Time) {
	ext, _ := core.Extension(contentType)
	file := id + "." + ext
	expires := h.cfg.Now().Add(h.cfg.BytesTTL).Truncate(time.Second).UTC()
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{paramExpires: {exp}, paramSignature: {h.bytesSignature(file, exp)}}
	return h.cfg.BytesBaseURL + PathPrefix + url.PathEscape(file) + "?" + q.Encode(), expires
}

func (h *Hook) bytesSignature(file, expires string) string {
	m := hmac.New(sha256.New, h.bytesKey)
	m.Write([]byte(file + "\n" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// OpenBytes opens the bytes a bytes URL names: file is its last path
// segment ("<image id>.<ext>"), query its query. It returns them with
// their content type; an *core.Error, api.CodeSignatureMismatch, for a URL
// this server did not sign or that expired, api.CodeNotFound when the
// bytes are gone (the upload was swept or its image deleted).
func (h *Hook) OpenBytes(ctx context.Context, file string, query url.Values) (string, core.Blob, error) {
	exp, sig := query.Get(paramExpires), query.Get(paramSignature)
	got, err := base64.RawURLEncoding.DecodeString(sig)
	want, _ := base64.RawURLEncoding.DecodeString(h.bytesSignature(file, exp))
	if err != nil || !hmac.Equal(got, want) {
		return "", nil, core.Errorf(api.CodeSignatureMismatch, "this is not a claim hook bytes URL signed by this server")
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || h.cfg.Now().After(time.Unix(sec, 0)) {
		return "", nil, core.Errorf(api.CodeSignatureMismatch, "this claim hook bytes URL has expired")
	}
	id, ext, _ := strings.Cut(file, ".")
	var contentType string
	for _, f := range api.Formats() {
		if f.Ext == ext {
			contentType = f.MIME
		}
	}
	if !core.ValidImageID(id) || contentType == "" {
		return "", nil, core.Errorf(api.CodeNotFound, "no such image") // signed, so never reached but by a bug
	}
	b, err := h.blobs.Open(ctx, core.ImageKey(id))
	if errors.Is(err, core.ErrNotFound) {
		return "", nil, core.Errorf(api.CodeNotFound, "these bytes are gone: the upload was swept or its image deleted")
	}
	if err != nil {
		return "", nil, fmt.Errorf("claim hook bytes %s: %w", id, err)
	}
	return contentType, b, nil
}
