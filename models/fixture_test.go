package models_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a store with one merchant and one active KAS link.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     *models.Store
	clock *clock
	m     *models.Merchant
	link  *models.PaymentLink
	daa   uint64 // the simulated chain's virtual DAA score
	// utxos is the simulated UTXO set: every output observed so far (once
	// per outpoint), sent again each cycle as the watcher does.
	utxos []models.KaspaCredit
	// idx is a watcher's index of the watched sessions, refreshed only
	// incrementally; observe checks it against the full reads.
	idx *models.OpenIndex
}

const merchantAddr = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"

func newFixture(t *testing.T, opts ...func(*models.StoreOptions)) *fixture {
	t.Helper()
	c := newClock()
	all := append([]func(*models.StoreOptions){func(o *models.StoreOptions) { o.Now = c.Now }}, opts...)
	s := modeltest.Store(t, all...)
	f := &fixture{t: t, ctx: context.Background(), s: s, clock: c, daa: 1_000_000, idx: s.NewOpenIndex(models.ChainKaspa)}
	f.idx.FullEvery = 100 * 365 * 24 * time.Hour // never again: the incremental path is under test
	m, err := s.Register(f.ctx, models.RegisterInput{Email: "m@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: merchantAddr})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	f.link = f.newLink("10", nil)
	f.observe() // the watcher has seen the chain once
	return f
}

func (f *fixture) newLink(amount string, expiry *int) *models.PaymentLink {
	f.t.Helper()
	title := "Item"
	in := models.LinkInput{Title: &title, Amount: &amount}
	if expiry != nil {
		e := expiry
		in.ExpiryMinutes = &e
	}
	l, err := f.s.CreateLink(f.ctx, f.m.ID, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// session opens a payment session on the fixture's link.
func (f *fixture) session() *models.Payment {
	f.t.Helper()
	p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// expireOpen lets the 30-minute sessions run out (31 minutes on the clock
// and the chain, one cycle observed) and expires them, failing unless want
// sessions expired.
func (f *fixture) expireOpen(want int) {
	f.t.Helper()
	f.clock.Add(31 * time.Minute)
	f.daa += 31 * 60 * 10
	f.observe()
	if n, err := f.s.ExpireDue(f.ctx, 10); err != nil || n != want {
		f.t.Fatalf("expired %d, want %d (%v)", n, want, err)
	}
}

// observe runs one domain cycle with the given UTXOs at the current score.
func (f *fixture) observe(credits ...models.KaspaCredit) models.KaspaApplyResult {
	f.t.Helper()
	fromIdx, err := f.s.KaspaWatchFrom(f.ctx, f.idx, f.daa)
	if err != nil {
		f.t.Fatal(err)
	}
	w, err := f.s.KaspaWatchList(f.ctx, f.daa)
	if err != nil {
		f.t.Fatal(err)
	}
	starts := map[string]int64{}
	for _, a := range fromIdx.All() {
		starts[a], _ = fromIdx.MinStart(a)
	}
	if !slices.Equal(fromIdx.All(), w.Addresses) || !maps.Equal(starts, w.MinStartDaa) || fromIdx.Len() != len(w.Addresses) {
		f.t.Fatalf("the index watches %v %v, the payments table %+v", fromIdx.All(), starts, w)
	}
	for _, within := range []time.Duration{time.Hour, 0, time.Minute} {
		if got, want := f.s.KaspaHotFrom(f.idx, within), f.s.KaspaHotScan(f.idx, within); !maps.Equal(got, want) {
			f.t.Fatalf("hot within %v: the index's %v, a pass over its sessions %v", within, got, want)
		}
	}
	for _, n := range []int{1, 3, 7} {
		var shares []string
		for k := range n {
			shares = append(shares, fromIdx.Share(k, n)...)
			if got, want := slices.Sorted(slices.Values(fromIdx.Share(k, n))), slices.Sorted(slices.Values(w.Share(k, n))); !slices.Equal(got, want) {
				f.t.Fatalf("share %d of %d: the index's %v, the table's %v", k, n, got, want)
			}
		}
		if slices.Sort(shares); !slices.Equal(shares, w.Addresses) {
			f.t.Fatalf("the %d shares hold %v, the watch %v", n, shares, w.Addresses)
		}
	}
	targets, err := f.s.KaspaReconcileTargets(f.ctx, 10_000)
	if err != nil {
		f.t.Fatal(err)
	}
	if got := f.s.KaspaReconcileTargetsFrom(f.idx, 10_000); len(got)+len(targets) > 0 && !reflect.DeepEqual(got, targets) {
		f.t.Fatalf("reconcile targets from the index %+v, from the payments table %+v", got, targets)
	}
	for _, c := range credits {
		dup := false
		for i, u := range f.utxos {
			if u.TxID == c.TxID && u.Index == c.Index {
				f.utxos[i], dup = c, true // a reorg may move it
			}
		}
		if !dup {
			f.utxos = append(f.utxos, c)
		}
	}
	res, err := f.s.ApplyKaspaObservation(f.ctx, models.KaspaObservation{Network: "kaspa-mainnet", VirtualDaaScore: f.daa, Credits: f.utxos, Watch: w})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// advance moves the chain n DAA scores (and the clock n/10 seconds).
func (f *fixture) advance(n uint64) {
	f.daa += n
	f.clock.Add(time.Duration(n) * 100 * time.Millisecond)
}

func (f *fixture) reload(id string) *models.Payment {
	f.t.Helper()
	p, err := f.s.Payment(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) events(id string) []string {
	f.t.Helper()
	evs, err := f.s.EventsForPayment(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

var txCounter int

// txid returns a fresh 64-hex transaction id.
func txid() string {
	txCounter++
	const hexd = "0123456789abcdef"
	b := make([]byte, 64)
	n := txCounter
	for i := 63; i >= 0; i-- {
		b[i] = hexd[n%16]
		n /= 16
	}
	return string(b)
}

// credit is a UTXO paying addr at the current DAA score.
func (f *fixture) credit(addr string, sompi int64) models.KaspaCredit {
	return models.KaspaCredit{TxID: txid(), Index: 0, Address: addr, Amount: sompi, BlockDaaScore: f.daa}
}
