package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"userimages/core"
	"userimages/ratelimit"

	"github.com/userimages/userimages/client/api"
)

// Limiter keeps the request budgets of rate limiting. Instances that share
// a Limiter's backing store share its budgets.
//
// Contract (checked by ratelimittest.Run):
//   - Allow takes one request from key's budget under limit. If it fits, the
//     Result is Allowed and Remaining says how many more fit right now (0 to
//     limit.Burst-1). If not, nothing is taken, Remaining is 0 and RetryAfter
//     (> 0, at most limit.Interval()) is how long until one request fits.
//   - A budget holds limit.Burst requests and refills at limit.Rate per
//     limit.Period. Keys are independent; a caller uses one limit per key.
//   - limit is valid and not zero; key is at most 256 bytes of any text.
//   - An error means no decision was taken (the backing store failed, or
//     ctx ended); the Result is then the zero Result.
//   - Safe for concurrent use.
type Limiter interface {
	Allow(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error)
}

// RateLimits are the budgets of the rate-limited routes, per caller: per
// user id for authenticated callers, per client address for anonymous ones
// (per /64 for IPv6, which hands out /64s). A zero Limit leaves its route
// unlimited.
type RateLimits struct {
	Create ratelimit.Limit // step 1: POST /api/v2/guide/user_images/uploads
	Put    ratelimit.Limit // step 2: PUT of an upload URL
	Claim  ratelimit.Limit // step 3: POST /api/v2/guide/user_images
	// Report: POST /api/v2/guide/user_images/{id}/reports.
	Report ratelimit.Limit
	// Auth is charged, per client address, for every request that sends
	// credentials, before they are checked: password hashing is what a
	// flood of bad credentials would otherwise spend the CPU on.
	Auth ratelimit.Limit
}

// DefaultRateLimits are 120 requests per minute on each upload route: far
// above what a person uploading pictures into posts does, and a small
// fraction of what a script can; and 20 reports a minute, far more than a
// reader flags.
func DefaultRateLimits() RateLimits {
	l := ratelimit.PerPeriod(120, time.Minute)
	return RateLimits{Create: l, Put: l, Claim: l, Auth: ratelimit.PerPeriod(600, time.Minute), Report: ratelimit.PerPeriod(20, time.Minute)}
}

func (l RateLimits) validate() error {
	for _, lim := range []ratelimit.Limit{l.Create, l.Put, l.Claim, l.Auth, l.Report} {
		if err := lim.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// limiterWarnEvery spaces the warnings about a failing limiter, which would
// otherwise come once per request.
const limiterWarnEvery = 10 * time.Second

// admit authenticates the caller of a rate-limited route and charges the
// request to the caller's budget of route, setting X-Rate-Limit and
// X-Rate-Limit-Remaining. A caller whose credentials fail is charged as an
// anonymous one, by address; being over the budget wins over failing to
// authenticate. When the limiter fails, the request is let through (fail
// open) and a warning logged.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, route string, limit ratelimit.Limit) (core.Uploader, error) {
	up, authErr := s.caller(w, r)
	if core.ErrorCode(authErr) == api.CodeRateLimited {
		return up, authErr // over the credentials' budget; nothing more is charged
	}
	if s.cfg.Limiter == nil || limit.IsZero() {
		return up, authErr
	}
	res, err := s.cfg.Limiter.Allow(r.Context(), route+":"+subject(up), limit)
	if err != nil {
		s.warnLimiter(r.Context(), err)
		return up, authErr
	}
	h := w.Header()
	h.Set("X-Rate-Limit", strconv.Itoa(limit.Rate))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(res.Remaining, 0)))
	if !res.Allowed {
		h.Set("Retry-After", retryAfterSeconds(res.RetryAfter))
		return up, core.Errorf(api.CodeRateLimited, "too many requests: the limit is %s; retry in %s s",
			limit, h.Get("Retry-After"))
	}
	return up, authErr
}

// AdmitSignIn charges a sign-in attempt (of the console's form) to the
// client address's Auth budget, the one requests sending credentials are
// charged to, before the password is checked. Over the budget it sets
// Retry-After and returns a *core.Error with api.CodeRateLimited; when the
// limiter fails it lets the attempt through (fail open).
func (s *Server) AdmitSignIn(w http.ResponseWriter, r *http.Request) error {
	limit := s.cfg.RateLimits.Auth
	if s.cfg.Limiter == nil || limit.IsZero() {
		return nil
	}
	res, err := s.cfg.Limiter.Allow(r.Context(), "auth:"+subject(core.Uploader{ClientAddr: s.ClientAddr(r)}), limit)
	if err != nil {
		s.warnLimiter(r.Context(), err)
		return nil
	}
	if !res.Allowed {
		w.Header().Set("Retry-After", retryAfterSeconds(res.RetryAfter))
		return core.Errorf(api.CodeRateLimited, "too many requests with credentials from this address: the limit is %s; retry in %s s",
			limit, w.Header().Get("Retry-After"))
	}
	return nil
}

// subject is whose budget a request is charged to.
func subject(up core.Uploader) string {
	if up.UserID != 0 {
		return "u:" + strconv.FormatInt(up.UserID, 10)
	}
	addr, err := netip.ParseAddr(up.ClientAddr)
	if err != nil {
		return "a:" + up.ClientAddr
	}
	if addr = addr.Unmap(); addr.Is6() {
		p, _ := addr.Prefix(64)
		return "a:" + p.String()
	}
	return "a:" + addr.String()
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func (s *Server) warnLimiter(ctx context.Context, err error) {
	now := s.now().UnixNano()
	last := s.limiterWarned.Load()
	if now-last < int64(limiterWarnEvery) || !s.limiterWarned.CompareAndSwap(last, now) {
		return
	}
	s.log.WarnContext(ctx, "rate limiter failed; letting requests through unlimited (fail open)",
		"request_id", requestID(ctx), "err", err)
}

// admitVariant admits r's cold variant generation (see
// core.Serving.OpenVariantAdmitted): at most
// MaxConcurrentVariantsPerClient at once per client (a user, or an
// address per /64), so that one client asking for many cold variants
// waits on its own share of the generation budget, not everyone's. Past
// it, up to MaxQueuedVariantsPerClient more wait their turn, each up to
// VariantQueueWait: a browser loading a page of new pictures gets them
// all, made a few at a time. Past the queue, or the wait, 429 with
// Retry-After. The global budget (core.Config.VariantMemory) stays;
// variants stored already are never refused.
func (s *Server) admitVariant(r *http.Request) core.Admission {
	return func() (func(), error) {
		// Images are anonymous GETs: the client is its address.
		client := subject(core.Uploader{ClientAddr: s.ClientAddr(r)})
		queued, err := s.clientVariants.acquire(r.Context(), client)
		switch {
		case errors.Is(err, errQueueFull), errors.Is(err, errQueueWait):
			// About when its queue has room again: a variant takes about
			// variantBusyRetryAfter, made MaxConcurrentVariantsPerClient
			// at a time.
			after := variantBusyRetryAfter * time.Duration(1+queued/s.cfg.MaxConcurrentVariantsPerClient)
			why := "has as many waiting as allowed"
			if errors.Is(err, errQueueWait) {
				why = "waited " + s.cfg.VariantQueueWait.String() + " for its turn"
			}
			return nil, &core.Error{Code: api.CodeRateLimited, RetryAfter: after,
				Message: fmt.Sprintf("this client is having %d variants made at once already, the most allowed, and this request %s; retry in %s s",
					s.cfg.MaxConcurrentVariantsPerClient, why, retryAfterSeconds(after))}
		case err != nil:
			return nil, err // the client went away
		}
		return func() { s.clientVariants.release(client) }, nil
	}
}

// variantBusyRetryAfter is about the time one variant takes to make: the
// Retry-After of a variant refused for its client's share, per round of
// its client's queue.
const variantBusyRetryAfter = time.Second

// clientSlots counts the uploads each client is sending, up to max each.
type clientSlots struct {
	mu   sync.Mutex
	max  int
	held map[string]int // only clients holding a slot: bounded by the global cap
}

// acquire takes one of client's slots, or reports that all are taken.
func (c *clientSlots) acquire(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[client] >= c.max {
		return false
	}
	c.held[client]++
	return true
}

// release gives back a slot acquire took.
func (c *clientSlots) release(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[client]--; c.held[client] <= 0 {
		delete(c.held, client)
	}
}
