package price_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T) (*double.Chain, *price.Feed, *fakeClock) {
	t.Helper()
	chain := double.New(double.Options{Price: "0.1234"})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	feed := &price.Feed{CoinGeckoURL: url + "/coingecko", Fallback: kaspa.NewClient(url, nil), Now: clk.Now}
	return chain, feed, clk
}

func TestFeed(t *testing.T) {
	ctx := context.Background()
	chain, feed, clk := setup(t)

	q, err := feed.Quote(ctx)
	if err != nil || q.Rate != "0.1234" || q.Source != "coingecko" {
		t.Fatalf("first quote %+v %v", q, err)
	}
	// Cached for 60 s: a price change is not seen, and CoinGecko is not asked.
	if err := chain.SetPrice("0.2"); err != nil {
		t.Fatal(err)
	}
	chain.ResetCalls()
	clk.Add(59 * time.Second)
	if q, _ := feed.Quote(ctx); q.Rate != "0.1234" || chain.Calls()["GET /coingecko/simple/price"] != 0 {
		t.Fatalf("within the TTL: %+v, calls %v", q, chain.Calls())
	}
	clk.Add(2 * time.Second)
	if q, _ := feed.Quote(ctx); q.Rate != "0.2" {
		t.Fatalf("after the TTL: %+v", q)
	}

	// CoinGecko down: the Kaspa API's /info/price is used.
	chain.SetCoinGeckoFail(true)
	if err := chain.SetPrice("0.3"); err != nil {
		t.Fatal(err)
	}
	clk.Add(61 * time.Second)
	if q, err := feed.Quote(ctx); err != nil || q.Rate != "0.3" || q.Source != "kaspa-rest" {
		t.Fatalf("fallback: %+v %v", q, err)
	}

	// Both down: the last rate serves while it is under 10 minutes old...
	chain.Fail(double.Fail503, 0)
	clk.Add(9 * time.Minute)
	if q, err := feed.Quote(ctx); err != nil || q.Rate != "0.3" {
		t.Fatalf("recent rate during an outage: %+v %v", q, err)
	}
	// ...and never after.
	clk.Add(2 * time.Minute)
	if _, err := feed.Quote(ctx); !errors.Is(err, price.ErrUnavailable) {
		t.Fatalf("stale rate served: %v", err)
	}
}

func TestFeedRefusesZeroAndJunk(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"zero", `{"kaspa":{"usd":0}}`},
		{"negative", `{"kaspa":{"usd":-1}}`},
		{"missing", `{}`},
		{"string", `{"kaspa":{"usd":"abc"}}`},
		{"html", `<html>rate limited</html>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			feed := &price.Feed{CoinGeckoURL: srv.URL}
			if q, err := feed.Quote(context.Background()); !errors.Is(err, price.ErrUnavailable) {
				t.Fatalf("got %+v %v", q, err)
			}
			if hits.Load() != 1 {
				t.Fatalf("CoinGecko asked %d times", hits.Load())
			}
		})
	}
}

func TestFeedExponentPrice(t *testing.T) {
	chain, feed, _ := setup(t)
	chain.SetCoinGeckoFail(true)
	if err := chain.SetPrice("0.0000123"); err != nil {
		t.Fatal(err)
	}
	q, err := feed.Quote(context.Background())
	if err != nil || q.Rate != "0.0000123" {
		t.Fatalf("%+v %v", q, err)
	}
}

func TestFeedCachedAndRun(t *testing.T) {
	chain, feed, clk := setup(t)
	if _, ok := feed.Cached(); ok {
		t.Fatal("cached before any fetch")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if q, ok := feed.Cached(); ok {
			if q.Rate != "0.1234" {
				t.Fatalf("cached %+v", q)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never warmed the cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if chain.Calls()["GET /coingecko/simple/price"] == 0 {
		t.Fatal("no CoinGecko call")
	}
	clk.Add(11 * time.Minute)
	if _, ok := feed.Cached(); ok {
		t.Fatal("a rate older than 10 minutes is still offered")
	}
}
