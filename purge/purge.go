// Package purge delivers the outbox's purges (core.TopicPurge) to the
// caches in front of the server: a PURGE request to a URL with the keys
// in a Surrogate-Key header (Varnish with xkey, see DEPLOYMENT.md, or any
// proxy that purges so), Fastly's purge by surrogate keys, and
// Cloudflare's purge by cache tags. Each batches keys to its API's limit.
package purge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"userimages/core"
)

// Default API base URLs, overridable (Config) so that tests can point the
// adapters at a stand-in.
const (
	DefaultFastlyURL     = "https://api.fastly.com"
	DefaultCloudflareURL = "https://api.cloudflare.com/client/v4"
)

// Keys per request: Fastly purges at most 256 surrogate keys in one
// batch request, Cloudflare 100 cache tags (every plan, 2025); a PURGE
// carries 100, 2.7 kB of header, well under Varnish's 8 kB default
// (http_req_hdr_len).
const (
	fastlyBatch     = 256
	cloudflareBatch = 100
	urlBatch        = 100
)

// Target is one cache in front.
//
// Contract: Purge returns nil once the cache has dropped every response
// tagged with one of keys (each request answered 2xx); an error otherwise,
// after which the whole purge is tried again (purging twice is harmless).
type Target interface {
	Purge(ctx context.Context, keys []string) error
	String() string // for logs: the target without secrets
}

// Config is what the adapters need besides their target. Zero fields
// take the defaults.
type Config struct {
	Client *http.Client // default: one with a 30 s timeout
	// FastlyURL and CloudflareURL are the APIs' base URLs. Defaults
	// DefaultFastlyURL and DefaultCloudflareURL.
	FastlyURL, CloudflareURL string
	// FastlyToken and CloudflareToken authenticate to the APIs; required
	// for their targets.
	FastlyToken, CloudflareToken string
}

// Parse returns the target spec names: an http:// or https:// URL gets
// PURGE requests; fastly://SERVICE_ID and cloudflare://ZONE_ID their
// APIs' purges.
func Parse(spec string, c Config) (Target, error) {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 30 * time.Second}
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("purge target %q: want http(s)://HOST/PATH, fastly://SERVICE_ID or cloudflare://ZONE_ID", spec)
	}
	switch u.Scheme {
	case "http", "https":
		return &urlTarget{client: c.Client, url: spec}, nil
	case "fastly":
		if c.FastlyToken == "" {
			return nil, fmt.Errorf("purge target %s: no Fastly API token (FASTLY_API_TOKEN)", spec)
		}
		return &fastly{client: c.Client, base: apiBase(c.FastlyURL, DefaultFastlyURL), service: u.Host, token: c.FastlyToken}, nil
	case "cloudflare":
		if c.CloudflareToken == "" {
			return nil, fmt.Errorf("purge target %s: no Cloudflare API token (CLOUDFLARE_API_TOKEN)", spec)
		}
		return &cloudflare{client: c.Client, base: apiBase(c.CloudflareURL, DefaultCloudflareURL), zone: u.Host, token: c.CloudflareToken}, nil
	}
	return nil, fmt.Errorf("purge target %q: unknown scheme %q; want http, https, fastly or cloudflare", spec, u.Scheme)
}

func apiBase(base, def string) string {
	if base == "" {
		base = def
	}
	return strings.TrimSuffix(base, "/")
}

// Purger delivers TopicPurge entries to every target (a core.OutboxDeliverer).
type Purger struct{ targets []Target }

// NewPurger returns the deliverer of purges to targets.
func NewPurger(targets ...Target) *Purger { return &Purger{targets: targets} }

// Deliver purges e's keys (space-separated) from every target; it fails if
// any target did not take them, naming it.
func (p *Purger) Deliver(ctx context.Context, e core.OutboxEntry) error {
	keys := strings.Fields(e.Payload)
	if len(keys) == 0 {
		return nil
	}
	var errs []error
	for _, t := range p.targets {
		if err := t.Purge(ctx, keys); err != nil {
			errs = append(errs, fmt.Errorf("purge %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// batches calls fn with keys in slices of at most n, stopping at the
// first error.
func batches(keys []string, n int, fn func([]string) error) error {
	for len(keys) > 0 {
		b := keys[:min(n, len(keys))]
		keys = keys[len(b):]
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// send sends req and fails unless the answer is 2xx; the answer's body
// (its start) is returned for the adapter to check.
func send(client *http.Client, req *http.Request) ([]byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return body, fmt.Errorf("answered %s: %.200q", res.Status, body)
	}
	return body, nil
}

// urlTarget sends PURGE url with the keys in Surrogate-Key.
type urlTarget struct {
	client *http.Client
	url    string
}

func (t *urlTarget) String() string { return t.url }

func (t *urlTarget) Purge(ctx context.Context, keys []string) error {
	return batches(keys, urlBatch, func(b []string) error {
		req, err := http.NewRequestWithContext(ctx, "PURGE", t.url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Surrogate-Key", strings.Join(b, " "))
		_, err = send(t.client, req)
		return err
	})
}

// fastly purges by surrogate keys: POST /service/ID/purge with the keys in
// Surrogate-Key and the token in Fastly-Key.
type fastly struct {
	client               *http.Client
	base, service, token string
}

func (t *fastly) String() string { return "fastly://" + t.service }

func (t *fastly) Purge(ctx context.Context, keys []string) error {
	return batches(keys, fastlyBatch, func(b []string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/service/"+url.PathEscape(t.service)+"/purge", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Fastly-Key", t.token)
		req.Header.Set("Surrogate-Key", strings.Join(b, " "))
		req.Header.Set("Accept", "application/json")
		_, err = send(t.client, req)
		return err
	})
}

// cloudflare purges by cache tags: POST /zones/ID/purge_cache
// {"tags": [...]} with a bearer token; the answer must say success.
type cloudflare struct {
	client            *http.Client
	base, zone, token string
}

func (t *cloudflare) String() string { return "cloudflare://" + t.zone }

func (t *cloudflare) Purge(ctx context.Context, keys []string) error {
	return batches(keys, cloudflareBatch, func(b []string) error {
		body, err := json.Marshal(struct {
			Tags []string `json:"tags"`
		}{b})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/zones/"+url.PathEscape(t.zone)+"/purge_cache", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+t.token)
		req.Header.Set("Content-Type", "application/json")
		answer, err := send(t.client, req)
		if err != nil {
			return err
		}
		var res struct {
			Success bool `json:"success"`
		}
		if err := json.Unmarshal(answer, &res); err != nil || !res.Success {
			return fmt.Errorf("answered without success: %.200q", answer)
		}
		return nil
	})
}
