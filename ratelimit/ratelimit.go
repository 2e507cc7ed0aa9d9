// Package ratelimit holds the values that rate limiters and their callers
// share: a Limit (a budget of requests per period) and the Result of taking
// one request from it. The limiters are adapters, one package per technology
// (memrate in process, redisrate shared through Redis); the interface they
// implement is httpapi.Limiter, and ratelimittest checks its contract.
package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a budget: Rate requests per Period, of which up to Burst may come
// at once. The zero Limit means no limit.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerPeriod is the Limit of rate requests per period with a burst of rate:
// a client that has been quiet may spend the whole budget at once.
func PerPeriod(rate int, period time.Duration) Limit {
	return Limit{Rate: rate, Period: period, Burst: rate}
}

// IsZero reports whether l is the zero Limit, which means no limit.
func (l Limit) IsZero() bool { return l == Limit{} }

// Validate reports whether l is the zero Limit or a usable one.
func (l Limit) Validate() error {
	switch {
	case l.IsZero():
		return nil
	case l.Rate < 1:
		return fmt.Errorf("rate limit %s: the rate must be at least 1", l)
	case l.Period < time.Millisecond:
		return fmt.Errorf("rate limit %s: the period must be at least 1ms", l)
	case l.Burst < 1:
		return fmt.Errorf("rate limit %s: the burst must be at least 1", l)
	}
	return nil
}

// Interval is the time one request's share of the budget takes to refill:
// Period / Rate.
func (l Limit) Interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// String formats l as Parse reads it when its burst equals its rate, and
// adds the burst otherwise.
func (l Limit) String() string {
	if l.IsZero() {
		return "off"
	}
	p := l.Period.String()
	switch l.Period {
	case time.Second:
		p = "s"
	case time.Minute:
		p = "m"
	case time.Hour:
		p = "h"
	}
	s := strconv.Itoa(l.Rate) + "/" + p
	if l.Burst != l.Rate {
		s += fmt.Sprintf(" (burst %d)", l.Burst)
	}
	return s
}

// Parse reads a limit written as RATE/PERIOD, where PERIOD is s, m, h or a
// Go duration ("60/m", "1000/h", "5/30s"); the burst is the rate. "off"
// is the zero Limit.
func Parse(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Limit{}, nil
	}
	rate, period, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(rate)
	if !ok || err != nil || n < 1 {
		return Limit{}, fmt.Errorf("rate limit %q: want RATE/PERIOD such as 60/m, or off", s)
	}
	var d time.Duration
	switch period {
	case "s":
		d = time.Second
	case "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		if d, err = time.ParseDuration(period); err != nil {
			return Limit{}, fmt.Errorf("rate limit %q: the period must be s, m, h or a duration such as 10m", s)
		}
	}
	l := PerPeriod(n, d)
	return l, l.Validate()
}

// Result is the answer to taking one request from a budget.
type Result struct {
	// Allowed: the request fitted in the budget and was counted.
	Allowed bool
	// Remaining is how many more requests would fit right now.
	Remaining int
	// RetryAfter, when not Allowed, is how long until one request fits.
	RetryAfter time.Duration
}
