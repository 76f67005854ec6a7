package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models/netguard"
	"till/web"
	"till/web/metrics"
	"till/workers/price"
	"till/workers/webhooks"
)

// series is one sample of a scrape: its name, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

var labelRe = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// scrape GETs url and parses the Prometheus text format into samples.
func scrape(t *testing.T, url string) (string, []series) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []series
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		s := series{name: line[:cut], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(line, '{'); i >= 0 && i < cut {
			s.name = line[:i]
			for _, m := range labelRe.FindAllStringSubmatch(line[i:cut], -1) {
				s.labels[m[1]] = m[2]
			}
		}
		out = append(out, s)
	}
	return string(raw), out
}

// find returns the samples named name whose labels include want.
func find(ss []series, name string, want map[string]string) []series {
	var out []series
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// one is the value of the single sample matching name and labels.
func one(t *testing.T, ss []series, name string, want map[string]string) float64 {
	t.Helper()
	got := find(ss, name, want)
	if len(got) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, want, len(got))
	}
	return got[0].value
}

type labels = map[string]string

// TestMetricsScrapedOverHTTP runs real requests, a Kaspa watcher cycle and a
// webhook delivery against a Till with metrics on, then scrapes its separate
// metrics listener over HTTP and checks the series and their labels.
func TestMetricsScrapedOverHTTP(t *testing.T) {
	var m *metrics.Metrics
	var feed *price.Feed
	h := newCheckoutHarness(t, func(o *web.Options) {
		feed = o.Rates.(*price.Feed)
		m = metrics.New(metrics.Options{Store: o.Store, Prices: feed, Version: "test", CacheFor: time.Nanosecond})
		o.Metrics = m
		o.WebhookAllowPrivate = true
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := m.Server()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	metricsURL := "http://" + ln.Addr().String() + "/metrics"

	// Requests: a session, two status polls over real HTTP, one 404 by id,
	// and a scanner's random path.
	p := h.apiSession(h.link(nil))
	for range 2 {
		resp, err := http.Get(h.env.URL + "/api/payments/" + p.ID + "/status")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status poll: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if r := h.env.Do("GET", "/api/payments/00000000-0000-0000-0000-000000000000/status", nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown id: %d", r.Status)
	}
	if r := h.env.Do("GET", "/wp-login.php?x=1", nil); r.Status != http.StatusNotFound {
		t.Fatalf("random path: %d", r.Status)
	}

	// A watcher cycle with metrics observing it and its client.
	h.watcher.Observer, h.watcher.Client.Observer = m, m
	h.cycle()
	if _, err := feed.Quote(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A webhook test event, due but not sent yet.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rcv.Close()
	hook := h.env.Do("POST", "/api/webhooks", map[string]any{"url": rcv.URL + "/hook", "events": []string{"*"}}, h.m.Bearer()...).JSON(t)
	if r := h.env.Do("POST", "/api/webhooks/"+hook["id"].(string)+"/test", nil, h.m.Bearer()...); r.Status != http.StatusAccepted {
		t.Fatalf("test event: %d %s", r.Status, r.Body)
	}
	_, ss := scrape(t, metricsURL)
	if got := one(t, ss, "till_webhook_queue_depth", nil); got != 1 {
		t.Fatalf("queue depth %v, want 1", got)
	}
	if age := one(t, ss, "till_webhook_queue_oldest_due_age_seconds", nil); age < 0 || age > 60 {
		t.Fatalf("oldest due age %v", age)
	}

	d := &webhooks.Dispatcher{Store: h.env.Store, Policy: &netguard.Policy{AllowPrivate: true}, Observer: m}
	if n, err := d.DeliverDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("dispatch: %d %v", n, err)
	}

	text, ss := scrape(t, metricsURL)
	status := labels{"route": "/api/payments/:id/status", "method": "GET"}
	if got := one(t, ss, "till_http_requests_total", labels{"route": status["route"], "method": "GET", "status": "200"}); got != 2 {
		t.Fatalf("status polls counted %v, want 2", got)
	}
	if got := one(t, ss, "till_http_requests_total", labels{"route": status["route"], "method": "GET", "status": "404"}); got != 1 {
		t.Fatalf("404 by the route's error handler counted %v, want 1", got)
	}
	if got := one(t, ss, "till_http_request_duration_seconds_count", status); got != 3 {
		t.Fatalf("latency histogram count %v, want 3", got)
	}
	if len(find(ss, "till_http_request_duration_seconds_bucket", status)) < 5 {
		t.Fatal("no latency buckets")
	}
	if one(t, ss, "till_http_requests_total", labels{"route": "/api/payments", "method": "POST", "status": "200"}) != 1 {
		t.Fatal("session creation not counted")
	}
	if one(t, ss, "till_http_requests_total", labels{"route": "unmatched", "method": "GET", "status": "404"}) != 1 {
		t.Fatal("unmatched path not counted as unmatched")
	}
	if strings.Contains(text, p.ID) || strings.Contains(text, "wp-login") {
		t.Fatal("a raw path reached a label")
	}

	kaspa := labels{"chain": "kaspa"}
	if one(t, ss, "till_watcher_cycle_duration_seconds_count", kaspa) != 1 || one(t, ss, "till_watcher_cycle_errors_total", kaspa) != 0 {
		t.Fatal("watcher cycle not recorded")
	}
	if last := one(t, ss, "till_watcher_last_success_timestamp_seconds", kaspa); time.Since(time.UnixMilli(int64(last*1000))) > time.Minute {
		t.Fatalf("last success %v", last)
	}
	if head := one(t, ss, "till_chain_head_timestamp_seconds", kaspa); head <= 0 {
		t.Fatalf("head time %v", head)
	}
	for _, ep := range []string{"/info/blockdag", "/addresses/utxos"} {
		l := labels{"chain": "kaspa", "endpoint": ep}
		if one(t, ss, "till_chain_calls_total", l) < 1 || one(t, ss, "till_chain_call_errors_total", l) != 0 {
			t.Fatalf("chain calls to %s not recorded", ep)
		}
	}
	if one(t, ss, "till_open_sessions", labels{"chain": "kaspa", "status": "pending"}) != 1 {
		t.Fatal("open sessions")
	}
	if one(t, ss, "till_webhook_deliveries_total", labels{"dialect": "kaspay", "outcome": "delivered"}) != 1 ||
		one(t, ss, "till_webhook_delivery_duration_seconds_count", labels{"dialect": "kaspay"}) != 1 {
		t.Fatal("webhook delivery not counted")
	}
	if one(t, ss, "till_webhook_queue_depth", nil) != 0 || one(t, ss, "till_webhook_queue_oldest_due_age_seconds", nil) != 0 {
		t.Fatal("queue not drained in the metrics")
	}
	if age := find(ss, "till_price_feed_age_seconds", nil); len(age) != 1 || age[0].labels["source"] == "" || age[0].value > 60 {
		t.Fatalf("price feed age: %+v", age)
	}
	if len(find(ss, "go_sql_open_connections", labels{"db_name": "write"})) != 1 || one(t, ss, "till_build_info", labels{"version": "test"}) != 1 {
		t.Fatal("pool stats or build info missing")
	}

	// Never on the app's own listener.
	resp, err := http.Get(h.env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "till_http_requests_total") {
		t.Fatalf("app serves /metrics: %d", resp.StatusCode)
	}
}
