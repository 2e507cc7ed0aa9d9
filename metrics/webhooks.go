package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics count the tries of webhook deliveries (a
// core.WebhookObserver).
type WebhookMetrics struct {
	tries   *prometheus.CounterVec
	seconds prometheus.Histogram
}

// Webhooks registers userimages_webhook_tries_total by outcome (delivered;
// pending: failed, to be retried; failed: given up) and
// userimages_webhook_try_duration_seconds, and returns their observer.
func (m *Metrics) Webhooks() *WebhookMetrics {
	w := &WebhookMetrics{
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userimages_webhook_tries_total", Help: "Tries of webhook deliveries by outcome: delivered (2xx), pending (failed, retried later), failed (given up).",
		}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "userimages_webhook_try_duration_seconds", Help: "How long receivers took to answer a webhook (or the timeout).",
			Buckets: callBuckets(),
		}),
	}
	m.reg.MustRegister(w.tries, w.seconds)
	return w
}

// ObserveWebhook counts one try.
func (w *WebhookMetrics) ObserveWebhook(outcome string, d time.Duration) {
	w.tries.WithLabelValues(outcome).Inc()
	w.seconds.Observe(d.Seconds())
}

// callBuckets are the histogram buckets, in seconds, of calls to another
// service (the claim hook, a webhook receiver): 5 ms to 30 s.
func callBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}
