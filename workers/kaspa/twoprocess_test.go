package kaspa_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"till/models"
	kaspaaddr "till/models/kaspa"
	"till/models/modeltest"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// TestReversalTwoProcesses runs two watchers, each with its own store and
// connection pool on one database (two `till serve` processes), cycle for
// cycle at the same time through a reversal, a re-acceptance and the
// confirmation: each happens exactly once.
func TestReversalTwoProcesses(t *testing.T) {
	if modeltest.Engine() == models.SQLite {
		t.Skip("several processes share a database only on Postgres; SQLite serves one process")
	}
	ctx := context.Background()
	clk := &skewClock{}
	chain := double.New(double.Options{Clock: time.Now})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dbURL := modeltest.URL(t)
	sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
	if err != nil {
		t.Fatal(err)
	}
	var watchers []*kaspa.Watcher
	var store *models.Store
	for i := 0; i < 2; i++ {
		db, err := models.Open(ctx, dbURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s := models.NewStore(db, models.StoreOptions{Sealer: sealer, Network: kaspaaddr.Mainnet, BcryptCost: 4, Now: clk.Now})
		if i == 0 {
			store = s
		}
		watchers = append(watchers, &kaspa.Watcher{Client: kaspa.NewClient(url, &http.Client{Timeout: 5 * time.Second}), Store: s})
	}
	both := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(watchers))
		for i, w := range watchers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = w.Cycle(ctx)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("cycle: %v", err)
			}
		}
	}
	both()
	m, err := store.Register(ctx, models.RegisterInput{Email: "two@example.com", Password: "securepassword", Name: "Two", KaspaAddress: webtest.AddrA})
	if err != nil {
		t.Fatal(err)
	}
	title, amount := "Item", "10"
	link, err := store.CreateLink(ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount})
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: link.Slug})
	if err != nil {
		t.Fatal(err)
	}
	status := func() *models.Payment {
		t.Helper()
		got, err := store.Payment(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	count := func(kind string) int {
		t.Helper()
		as, err := store.PaymentActivities(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range as {
			if a.Kind == kind {
				n++
			}
		}
		return n
	}

	chain.Advance(1)
	tx := chain.Pay(p.PayAddress, p.AmountExpected, "")
	both()
	if got := status(); got.Status != models.StatusConfirming {
		t.Fatalf("after detection: %s", got.Status)
	}
	chain.Reject(tx)
	chain.Advance(200)
	both()
	clk.Add(models.DefaultReversalGrace + time.Second)
	for i := 0; i < 3; i++ {
		both()
	}
	if got := status(); got.Status != models.StatusPending || got.AmountReceived != 0 || count(models.ActivityReversed) != 1 {
		t.Fatalf("after the reversal: %s received %d, %d reversals", got.Status, got.AmountReceived, count(models.ActivityReversed))
	}
	chain.Accept(tx)
	for i := 0; i < 3; i++ {
		both()
	}
	if got := status(); got.Status != models.StatusConfirming || got.AmountReceived != p.AmountExpected || count(models.ActivityRecredited) != 1 {
		t.Fatalf("accepted again: %s received %d, %d re-credits", got.Status, got.AmountReceived, count(models.ActivityRecredited))
	}
	chain.Advance(100)
	for i := 0; i < 3; i++ {
		both()
	}
	evs, err := store.EventsForPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := 0
	for _, e := range evs {
		if e.Type == models.EventPaymentConfirmed {
			confirmed++
		}
	}
	if got := status(); got.Status != models.StatusConfirmed || got.AmountReceived != p.AmountExpected || confirmed != 1 {
		t.Fatalf("confirmed: %s received %d, %d payment.confirmed events", got.Status, got.AmountReceived, confirmed)
	}
}
