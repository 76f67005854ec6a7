// Package price keeps the KAS/USD rate: CoinGecko's simple price first, the
// Kaspa REST API's /info/price as fallback, cached for 60 seconds. A rate
// that is zero, unparseable or older than MaxAge is never returned: callers
// get an error and refuse to price in USD rather than guess.
package price

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/singleflight"

	"till/models"
)

// Defaults of the feed.
const (
	DefaultTTL    = 60 * time.Second
	DefaultMaxAge = 10 * time.Minute
)

// ErrUnavailable means no fresh, non-zero price could be had.
var ErrUnavailable = errors.New("price: no fresh KAS/USD price available")

// Fallback is a second source (the Kaspa REST API's /info/price).
type Fallback interface {
	Price(ctx context.Context) (string, error)
}

// Feed serves the cached rate and refreshes it on demand.
type Feed struct {
	// CoinGeckoURL is TILL_PRICE_API_URL, e.g. https://api.coingecko.com/api/v3.
	CoinGeckoURL string
	Fallback     Fallback
	HTTP         *http.Client
	TTL          time.Duration
	MaxAge       time.Duration
	Now          func() time.Time

	mu     sync.Mutex
	cached *models.Quote
	group  singleflight.Group
}

func (f *Feed) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Quote returns the current rate: from cache when younger than TTL, else
// freshly fetched; when both sources fail, a cached rate younger than
// MaxAge is still returned, and after that ErrUnavailable.
func (f *Feed) Quote(ctx context.Context) (models.Quote, error) {
	ttl, maxAge := f.TTL, f.MaxAge
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	f.mu.Lock()
	c := f.cached
	f.mu.Unlock()
	if c != nil && f.now().Sub(c.At) < ttl {
		return *c, nil
	}
	v, err, _ := f.group.Do("refresh", func() (any, error) { return f.refresh(ctx) })
	if err == nil {
		return v.(models.Quote), nil
	}
	f.mu.Lock()
	c = f.cached
	f.mu.Unlock()
	if c != nil && f.now().Sub(c.At) < maxAge {
		return *c, nil
	}
	return models.Quote{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Cached returns the last fetched rate if it is younger than MaxAge,
// without any network call (session creation for KAS links uses it to
// record the USD value; Run keeps it warm).
func (f *Feed) Cached() (models.Quote, bool) {
	maxAge := f.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached == nil || f.now().Sub(f.cached.At) >= maxAge {
		return models.Quote{}, false
	}
	return *f.cached, true
}

// Name identifies the feed as a worker.
func (f *Feed) Name() string { return "price-feed" }

// Run refreshes the rate every TTL until ctx ends, so the cache is warm for
// checkouts and for recording the USD value of KAS payments. Failures are
// logged at debug level: the cache simply ages out.
func (f *Feed) Run(ctx context.Context) error {
	ttl := f.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	for {
		_, _, _ = f.group.Do("refresh", func() (any, error) { return f.refresh(ctx) })
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(ttl):
		}
	}
}

func (f *Feed) refresh(ctx context.Context) (models.Quote, error) {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	rate, src, err := f.coinGecko(ctx)
	if err != nil && f.Fallback != nil {
		var ferr error
		if rate, ferr = f.Fallback.Price(ctx); ferr == nil {
			rate, ferr = checkRate(rate)
		}
		if ferr != nil {
			return models.Quote{}, fmt.Errorf("coingecko: %w; kaspa api: %w", err, ferr)
		}
		src, err = "kaspa-rest", nil
	}
	if err != nil {
		return models.Quote{}, err
	}
	q := models.Quote{Rate: rate, Source: src, At: f.now().UTC()}
	f.mu.Lock()
	f.cached = &q
	f.mu.Unlock()
	return q, nil
}

func (f *Feed) coinGecko(ctx context.Context) (string, string, error) {
	if f.CoinGeckoURL == "" {
		return "", "", errors.New("not configured")
	}
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 8 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(f.CoinGeckoURL, "/")+"/simple/price?ids=kaspa&vs_currencies=usd", nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var out struct {
		Kaspa struct {
			USD json.Number `json:"usd"`
		} `json:"kaspa"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return "", "", fmt.Errorf("bad body: %w", err)
	}
	rate, err := checkRate(out.Kaspa.USD.String())
	return rate, "coingecko", err
}

// checkRate accepts only a positive decimal and returns it normalised.
func checkRate(s string) (string, error) {
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("not a number: %.40q", s)
	}
	if !d.IsPositive() {
		return "", errors.New("price is zero")
	}
	return d.String(), nil
}
