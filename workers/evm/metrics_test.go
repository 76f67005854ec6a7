package evm_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"till/web/metrics"
	"till/workers/evm"
)

// sample is the value of the metric name whose labels include want (0 and
// false when there is none).
func sample(t *testing.T, m *metrics.Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return value(s), true
		}
	}
	return 0, false
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

// TestWatcherMetrics runs watcher cycles against the simulated chain with
// the server's metrics observing the client and the watcher: calls by
// JSON-RPC method match what the provider saw, the head lag is the blocks
// mined since the last cycle, and a provider error counts as a call error
// and a failed cycle.
func TestWatcherMetrics(t *testing.T) {
	h := newWatch(t, nil)
	m := metrics.New(metrics.Options{})
	cl, err := evm.Dial(h.w.Config.RPCURL, evm.ClientOptions{Observer: m, Chain: h.name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	h.w = &evm.Watcher{Config: h.w.Config, Client: cl, Store: h.store, Observer: m}
	h.session(h.link)
	h.mine(5)
	h.proxy.ResetCounts()
	h.cycle()

	chain := map[string]string{"chain": h.name}
	for _, method := range []string{"eth_blockNumber", "eth_getLogs"} {
		l := map[string]string{"chain": h.name, "endpoint": method}
		if got, _ := sample(t, m, "till_chain_calls_total", l); got != float64(h.proxy.Calls(method)) || got == 0 {
			t.Fatalf("%s: %v calls counted, the provider saw %d", method, got, h.proxy.Calls(method))
		}
		if got, ok := sample(t, m, "till_chain_call_errors_total", l); !ok || got != 0 {
			t.Fatalf("%s errors: %v %v", method, got, ok)
		}
	}
	if got, _ := sample(t, m, "till_chain_calls_total", map[string]string{"chain": h.name, "endpoint": "eth_getBlockByNumber"}); got != 1 {
		t.Fatalf("the block batch counted %v times, want once", got)
	}
	if lag, _ := sample(t, m, "till_chain_head_lag_blocks", chain); lag != 5 {
		t.Fatalf("head lag %v, want the 5 blocks mined", lag)
	}
	head, err := h.sim.Head()
	if err != nil {
		t.Fatal(err)
	}
	if ts, _ := sample(t, m, "till_chain_head_timestamp_seconds", chain); ts != float64(head.Time) {
		t.Fatalf("head time %v, want %d", ts, head.Time)
	}
	if n, _ := sample(t, m, "till_watcher_cycle_duration_seconds", chain); n != 1 {
		t.Fatalf("cycles %v", n)
	}

	h.proxy.ErrorNext("eth_blockNumber", 1, -32000, "node is syncing")
	if _, err := h.w.Cycle(h.ctx); err == nil {
		t.Fatal("cycle succeeded through a provider error")
	}
	if n, _ := sample(t, m, "till_chain_call_errors_total", map[string]string{"chain": h.name, "endpoint": "eth_blockNumber"}); n != 1 {
		t.Fatalf("call errors %v, want 1", n)
	}
	if n, _ := sample(t, m, "till_watcher_cycle_errors_total", chain); n != 1 {
		t.Fatalf("cycle errors %v, want 1", n)
	}
	if n, _ := sample(t, m, "till_watcher_cycle_duration_seconds", chain); n != 2 {
		t.Fatalf("cycles %v, want 2", n)
	}
}
