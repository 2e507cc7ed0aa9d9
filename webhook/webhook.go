// Package webhook sends webhooks (core.WebhookSender): a POST of the
// event's JSON signed by the Standard Webhooks specification (package
// stdwebhook), with the endpoint's secret.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"userimages/stdwebhook"
)

// UserAgent is sent with every webhook.
const UserAgent = "userimages-webhooks/1"

// Sender POSTs webhooks. With no Client it uses one that follows no
// redirects (a receiver answers, it does not send us elsewhere: a 3xx is
// returned as the answer); the request's deadline is the caller's ctx.
type Sender struct {
	Client *http.Client
}

// maxAnswer is how much of a receiver's answer is read (and dropped).
const maxAnswer = 64 << 10

// Send POSTs body to url with webhook-id id, webhook-timestamp ts and the
// signature by secret, and returns the answer's status code; an error if
// there was none. At most 64 kB of the answer is read, so that the
// connection can be reused.
func (s Sender) Send(ctx context.Context, url, secret, id string, ts time.Time, body []byte) (int, error) {
	key, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		return 0, fmt.Errorf("endpoint secret: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	key.SetHeaders(req.Header, id, ts, body)
	c := s.Client
	if c == nil { // http.DefaultTransport's connections are still reused
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	return res.StatusCode, nil
}
