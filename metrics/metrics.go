// Package metrics keeps the Prometheus metrics of one userimages process in
// its own registry (no global state), served at /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the counters and histograms of one process.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	bytesReceived  prometheus.Counter
	bytesServed    prometheus.Counter
	uploadsCreated prometheus.Counter
	uploadsClaimed prometheus.Counter
	uploadsExpired prometheus.Counter
	uploadsRefused *prometheus.CounterVec
	claimHook      *prometheus.HistogramVec
}

// New returns Metrics registered in a fresh registry, with the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userimages_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "userimages_http_request_duration_seconds", Help: "HTTP request durations by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		bytesReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "userimages_bytes_received_total", Help: "Image bytes received in upload PUTs that were stored.",
		}),
		bytesServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "userimages_bytes_served_total", Help: "Image bytes sent to readers.",
		}),
		uploadsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "userimages_uploads_created_total", Help: "Upload URLs issued (step 1).",
		}),
		uploadsClaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "userimages_uploads_claimed_total", Help: "Uploads published as images (step 3 answered 201 for the first time or again).",
		}),
		uploadsExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "userimages_uploads_expired_total", Help: "Unclaimed uploads deleted after the claim window.",
		}),
		uploadsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userimages_uploads_refused_total", Help: "Refused upload steps (create, PUT, claim) by error code.",
		}, []string{"code"}),
		claimHook: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "userimages_claim_hook_duration_seconds", Help: "Calls of the claim hook (serve --claim-hook) by outcome: allow, refuse, or error (no verdict: a timeout, a failed request, a non-2xx answer).",
			Buckets: callBuckets(),
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytesReceived, m.bytesServed, m.uploadsCreated,
		m.uploadsClaimed, m.uploadsExpired, m.uploadsRefused, m.claimHook,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ClaimHook records one call of the claim hook: its outcome (one of a
// small set: claimhook.OutcomeAllow, OutcomeRefuse, OutcomeError) and how
// long it took.
func (m *Metrics) ClaimHook(outcome string, d time.Duration) {
	m.claimHook.WithLabelValues(outcome).Observe(d.Seconds())
}

// Request records one finished HTTP request. Every label value comes from
// a small set, whatever the client sends, since each new value stays in
// memory for the life of the process: route is the ServeMux pattern (never
// the raw path), status is the one the server answered, and a method
// outside the standard ones (Go accepts any token as a method) is counted
// as "other".
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel is method if it is one of HTTP's standard methods, as sent
// (methods are case-sensitive), else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// BytesReceived counts stored upload bytes.
func (m *Metrics) BytesReceived(n int64) { m.bytesReceived.Add(float64(n)) }

// BytesServed counts image bytes sent.
func (m *Metrics) BytesServed(n int64) { m.bytesServed.Add(float64(n)) }

// UploadCreated counts an issued upload URL.
func (m *Metrics) UploadCreated() { m.uploadsCreated.Inc() }

// UploadClaimed counts a published image.
func (m *Metrics) UploadClaimed() { m.uploadsClaimed.Inc() }

// UploadsExpired counts swept uploads.
func (m *Metrics) UploadsExpired(n int) { m.uploadsExpired.Add(float64(n)) }

// UploadRefused counts a refused upload step by its error code: one of the
// API's codes, which the server chooses, never the client.
func (m *Metrics) UploadRefused(code string) { m.uploadsRefused.WithLabelValues(code).Inc() }
