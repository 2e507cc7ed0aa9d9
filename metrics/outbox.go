package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// OutboxCount is how many outbox entries of a topic wait: Pending in all,
// Failed of them failed at least once.
type OutboxCount struct {
	Topic           string
	Pending, Failed int
}

// outboxCollector reports the outbox's waiting entries, read from the
// database at each scrape (the outbox is shared by every instance).
type outboxCollector struct {
	counts          func() ([]OutboxCount, error)
	pending, failed *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.failed
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.counts()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n.Pending), n.Topic)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(n.Failed), n.Topic)
	}
}

// Outbox registers the gauges userimages_outbox_pending and
// userimages_outbox_failed by topic (purge: the caches in front), read
// through counts at each scrape. Call it once.
func (m *Metrics) Outbox(counts func() ([]OutboxCount, error)) {
	m.reg.MustRegister(&outboxCollector{counts: counts,
		pending: prometheus.NewDesc("userimages_outbox_pending", "Outbox entries not delivered yet (purge: purges of the caches in front), by topic.", []string{"topic"}, nil),
		failed:  prometheus.NewDesc("userimages_outbox_failed", "Outbox entries whose delivery failed at least once and is being retried, by topic.", []string{"topic"}, nil),
	})
}
