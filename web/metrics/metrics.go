// Package metrics is Till's Prometheus instrumentation: HTTP requests by
// route pattern, the chain watchers (through workers.ChainObserver), webhook
// attempts (workers.DeliveryObserver), and gauges read at scrape time (open
// sessions, the webhook queue, the price feed, connection pools). It has its
// own registry and is served only on its own listener (TILL_METRICS_ADDR),
// never on the public app. docs/OPERATIONS.md lists every series.
package metrics

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"till/models"
)

// DefaultCacheFor is how long the scrape-time database reads are reused:
// several Prometheus servers scraping often cost one query set per period.
const DefaultCacheFor = 5 * time.Second

// PriceSource is the rate feed as the metrics see it (price.Feed).
type PriceSource interface {
	// Latest is the last fetched quote whatever its age; false before any.
	Latest() (models.Quote, bool)
}

// Options configures New.
type Options struct {
	// Store is read at scrape time (open sessions, webhook queue) and its
	// pools are reported; nil leaves those series out.
	Store *models.Store
	// Prices, when set, reports the price feed's age and source.
	Prices PriceSource
	// Version is reported in till_build_info.
	Version string
	// CacheFor reuses the scrape-time reads (default DefaultCacheFor).
	CacheFor time.Duration
	// Pprof also serves net/http/pprof under /debug/pprof/ on the metrics
	// listener (TILL_PPROF), for profiling a running server; off by default.
	Pprof bool
	Log   *slog.Logger
}

// Metrics holds every series on one registry. It implements
// workers.ChainObserver and workers.DeliveryObserver; safe for concurrent
// use.
type Metrics struct {
	reg   *prometheus.Registry
	pprof bool

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	chainCalls       *prometheus.CounterVec
	chainCallErrors  *prometheus.CounterVec
	chainCallSeconds *prometheus.HistogramVec
	cycleSeconds     *prometheus.HistogramVec
	cycleErrors      *prometheus.CounterVec
	lastSuccess      *prometheus.GaugeVec
	headLag          *prometheus.GaugeVec
	headTime         *prometheus.GaugeVec

	webhookAttempts *prometheus.CounterVec
	webhookSeconds  *prometheus.HistogramVec
}

// New builds the metrics and registers every collector.
func New(o Options) *Metrics {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.CacheFor <= 0 {
		o.CacheFor = DefaultCacheFor
	}
	m := &Metrics{reg: prometheus.NewRegistry(), pprof: o.Pprof}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.httpRequests = counter("till_http_requests_total",
		"HTTP requests answered, by matched route pattern, method and status code.", "route", "method", "status")
	m.httpDuration = histogram("till_http_request_duration_seconds",
		"Time to answer an HTTP request (a streamed body's tail excluded), by route pattern and method.",
		prometheus.DefBuckets, "route", "method")

	m.chainCalls = counter("till_chain_calls_total",
		"Calls to a chain's API (Kaspa REST path pattern or EVM JSON-RPC method; a batch counts once).", "chain", "endpoint")
	m.chainCallErrors = counter("till_chain_call_errors_total",
		"Chain API calls that failed (transport, HTTP or JSON-RPC error, bad answer; a Kaspa 404 is an answer).", "chain", "endpoint")
	m.chainCallSeconds = histogram("till_chain_call_duration_seconds", "Duration of one chain API call.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "chain", "endpoint")
	m.cycleSeconds = histogram("till_watcher_cycle_duration_seconds",
		"Duration of one watcher cycle (chain reads and their application), successful or not.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}, "chain")
	m.cycleErrors = counter("till_watcher_cycle_errors_total", "Watcher cycles that failed.", "chain")
	m.lastSuccess = gauge("till_watcher_last_success_timestamp_seconds",
		"Unix time of the watcher's last successful cycle in this process.", "chain")
	m.headLag = gauge("till_chain_head_lag_blocks",
		"Blocks between the chain head and the watcher's scan cursor when its last cycle began (EVM chains).", "chain")
	m.headTime = gauge("till_chain_head_timestamp_seconds",
		"Unix time of the chain head the watcher last read (EVM: block timestamp; Kaspa: past median time).", "chain")

	m.webhookAttempts = counter("till_webhook_deliveries_total",
		"Webhook delivery attempts by endpoint dialect and outcome (delivered, retrying, failed, interrupted, unrecorded).",
		"dialect", "outcome")
	m.webhookSeconds = histogram("till_webhook_delivery_duration_seconds",
		"Duration of one webhook attempt, up to the response or the timeout.",
		[]float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "dialect")

	info := gauge("till_build_info", "Always 1; the running version in its label.", "version")
	info.WithLabelValues(o.Version).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.Store != nil {
		for role, db := range o.Store.DB().Pools() {
			m.reg.MustRegister(collectors.NewDBStatsCollector(db, role))
		}
	}
	m.reg.MustRegister(&scrapeCollector{store: o.Store, prices: o.Prices, cacheFor: o.CacheFor, log: o.Log})
	return m
}

// Registry is the registry every series is on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics in the Prometheus text format, and nothing else
// unless Options.Pprof added the profiles under /debug/pprof/.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failed scrape-time query leaves its series out; the rest is served.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             20 * time.Second,
	}))
	if m.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Server is the HTTP server of the metrics listener.
func (m *Metrics) Server() *http.Server {
	return &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute}
}

// Middleware counts and times every request by its matched route pattern
// (fiber's route path, e.g. /api/payments/:id/status, never the raw URL).
// It renders a handler's error itself, through the app's error handler as
// fiber's own logger does, so the status counted is the one sent.
func (m *Metrics) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		route := ""
		if err := c.Next(); err != nil {
			if unmatched(err) {
				route = "unmatched"
			}
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		if route == "" {
			route = c.Route().Path
		}
		m.httpRequests.WithLabelValues(route, c.Method(), strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(route, c.Method()).Observe(time.Since(start).Seconds())
		return nil
	}
}

// unmatched reports whether err is fiber's answer to a request no route
// matched ("Cannot GET /x", or 405 for a path known under other methods):
// such requests are counted under route "unmatched", so scanners probing
// random paths add no series.
func unmatched(err error) bool {
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		return false
	}
	return fe == fiber.ErrMethodNotAllowed || fe.Code == fiber.StatusNotFound && strings.HasPrefix(fe.Message, "Cannot ")
}

// ChainCall implements workers.ChainObserver.
func (m *Metrics) ChainCall(chain, endpoint string, elapsed time.Duration, err error) {
	m.chainCalls.WithLabelValues(chain, endpoint).Inc()
	errs := m.chainCallErrors.WithLabelValues(chain, endpoint) // present at 0, so rates work
	if err != nil {
		errs.Inc()
	}
	m.chainCallSeconds.WithLabelValues(chain, endpoint).Observe(elapsed.Seconds())
}

// WatcherCycle implements workers.ChainObserver.
func (m *Metrics) WatcherCycle(chain string, elapsed time.Duration, err error) {
	m.cycleSeconds.WithLabelValues(chain).Observe(elapsed.Seconds())
	errs := m.cycleErrors.WithLabelValues(chain)
	if err != nil {
		errs.Inc()
		return
	}
	m.lastSuccess.WithLabelValues(chain).Set(float64(time.Now().UnixMilli()) / 1000)
}

// ChainHead implements workers.ChainObserver.
func (m *Metrics) ChainHead(chain string, lagBlocks int64, headTime time.Time) {
	if lagBlocks >= 0 {
		m.headLag.WithLabelValues(chain).Set(float64(lagBlocks))
	}
	m.headTime.WithLabelValues(chain).Set(float64(headTime.UnixMilli()) / 1000)
}

// WebhookAttempt implements workers.DeliveryObserver.
func (m *Metrics) WebhookAttempt(dialect, outcome string, elapsed time.Duration) {
	m.webhookAttempts.WithLabelValues(dialect, outcome).Inc()
	m.webhookSeconds.WithLabelValues(dialect).Observe(elapsed.Seconds())
}
