package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"till/models"
)

var (
	openSessionsDesc = prometheus.NewDesc("till_open_sessions",
		"Open payment sessions (pending, confirming, underpaid) by chain and status.", []string{"chain", "status"}, nil)
	queueDepthDesc = prometheus.NewDesc("till_webhook_queue_depth",
		"Webhook deliveries waiting for an attempt (due or scheduled) to active endpoints.", nil, nil)
	queueOldestDesc = prometheus.NewDesc("till_webhook_queue_oldest_due_age_seconds",
		"How long the oldest due webhook delivery has been due (0 when none is due).", nil, nil)
	priceAgeDesc = prometheus.NewDesc("till_price_feed_age_seconds",
		"Age of the last KAS/USD rate fetched, by its source (absent until the first fetch).", []string{"source"}, nil)
)

// scrapeCollector reads the database and the price feed when Prometheus
// scrapes, reusing the database reads for cacheFor. A failed read is logged
// and its series left out; the rest of the scrape is served.
type scrapeCollector struct {
	store    *models.Store
	prices   PriceSource
	cacheFor time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	readAt  time.Time
	open    []models.OpenSessionCount
	queue   models.WebhookQueue
	openOK  bool
	queueOK bool
}

// Describe implements prometheus.Collector.
func (s *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openSessionsDesc
	ch <- queueDepthDesc
	ch <- queueOldestDesc
	ch <- priceAgeDesc
}

// Collect implements prometheus.Collector.
func (s *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	if s.prices != nil {
		if q, ok := s.prices.Latest(); ok {
			ch <- prometheus.MustNewConstMetric(priceAgeDesc, prometheus.GaugeValue, now.Sub(q.At).Seconds(), q.Source)
		}
	}
	if s.store == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readAt.IsZero() || now.Sub(s.readAt) >= s.cacheFor {
		s.read(now)
	}
	if s.openOK {
		for _, c := range s.open {
			ch <- prometheus.MustNewConstMetric(openSessionsDesc, prometheus.GaugeValue, float64(c.Count), c.Chain, string(c.Status))
		}
	}
	if s.queueOK {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.queue.Pending))
		age := 0.0
		if !s.queue.OldestDue.IsZero() {
			age = max(s.store.Now().Sub(s.queue.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age)
	}
}

// read refreshes the cached database reads.
func (s *scrapeCollector) read(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	s.readAt = now
	if s.open, err = s.store.OpenSessionCounts(ctx); err != nil {
		s.log.Warn("metrics: open sessions", slog.Any("error", err))
	}
	s.openOK = err == nil
	if s.queue, err = s.store.WebhookQueueState(ctx); err != nil {
		s.log.Warn("metrics: webhook queue", slog.Any("error", err))
	}
	s.queueOK = err == nil
}
