package evm_test

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-rod/rod"

	"till/models"
	chains "till/models/evm"
	"till/web/webtest"
	"till/workers/evm"
	"till/workers/evm/evmsim"
)

// The USDC journeys end to end: a browser on Till's checkout, a real
// simulated chain, and the EVM watchers started the way cmd/till starts
// them (evm.Chains: start-up checks, then one watcher per chain polling the
// chain's JSON-RPC URL). The test pays on the chain; nothing else moves the
// payment.

// e2eReceiver is the merchant's USDC receiver (EIP-55 example address).
var e2eReceiver = common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")

type e2e struct {
	t    *testing.T
	sim  *evmsim.Sim
	env  *webtest.Env
	link *models.PaymentLink
	shop *httptest.Server
	// arrived counts the shop's /thanks page loads.
	arrived *atomic.Int32
}

// newE2E starts a chain "local" needing conf confirmations, Till over a
// fresh database with the chain enabled, its watchers, and a shop page the
// link redirects to after payment.
func newE2E(t *testing.T, conf uint64) *e2e {
	t.Helper()
	sim := evmsim.StartT(t)
	c := chainConfig("local", sim, sim.URL(), conf)
	c.PollInterval = 200 * time.Millisecond
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) {
		o.EVMChains = evm.StoreChains([]chains.ChainConfig{c})
	}})
	env.Listen()

	// The watchers, as cmd/till runs them.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	watchers := &evm.Chains{Configs: []chains.ChainConfig{c}, Store: env.Store, Log: quiet, MaxBackoff: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = watchers.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	h := &e2e{t: t, sim: sim, env: env, arrived: &atomic.Int32{}}
	h.shop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/thanks" {
			h.arrived.Add(1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Thanks</title><h1 id="thanks">Thanks from the shop</h1>`))
	}))
	t.Cleanup(h.shop.Close)

	m := env.Register("usdc-e2e@example.com", "Stablecoin Shop", webtest.AddrA)
	title, amount, currency, chain := "Conference ticket", "12.5", string(models.USDC), "local"
	receiver, redirect := strings.ToLower(e2eReceiver.Hex()), h.shop.URL+"/thanks"
	l, err := env.Store.CreateLink(context.Background(), m.ID, models.LinkInput{Title: &title, Amount: &amount,
		Currency: &currency, Chain: &chain, Receiver: &receiver, RedirectURL: &redirect})
	if err != nil {
		t.Fatal(err)
	}
	h.link = l
	return h
}

// open starts a session from a phone-sized browser page and checks what
// the checkout shows; it returns the page and the session.
func (h *e2e) open() (*rod.Page, *models.Payment, func() []string) {
	h.t.Helper()
	b := webtest.Browser(h.t)
	page := b.MustIncognito().MustPage("")
	consoleErrors := webtest.ConsoleErrors(h.t, page)
	page.MustSetViewport(390, 844, 2, true)
	page.MustNavigate(h.env.URL + "/pay/" + h.link.Slug).MustWaitLoad()
	if got := text(page, `[data-testid="checkout-amount"]`); got != "12.50 USDC" && got != "12.5 USDC" {
		h.t.Fatalf("link amount %q", got)
	}
	wait := page.MustWaitNavigation()
	page.MustElement(`[data-testid="pay-start"]`).MustClick()
	wait()
	id := *page.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	p, err := h.env.Store.Payment(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if p.AmountExpected <= 12_500_000 || p.AmountExpected >= 12_510_000 {
		h.t.Fatalf("session amount %d: want the price plus an offset below one cent", p.AmountExpected)
	}
	for sel, want := range map[string]string{
		`[data-testid="pay-network"]`:  "local",
		`[data-testid="pay-chain-id"]`: "1337",
		`[data-testid="pay-amount"]`:   models.FormatAsset(p.AmountExpected, models.USDC),
		`[data-testid="pay-address"]`:  e2eReceiver.Hex(),
		`[data-testid="pay-token"]`:    h.sim.USDC().Hex(),
	} {
		if got := text(page, sel); got != want {
			h.t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	qr := page.MustElement(`[data-testid="pay-qr"]`).MustWaitLoad()
	if w := qr.MustEval(`() => this.naturalWidth`).Int(); w < 300 {
		h.t.Fatalf("QR image not loaded (naturalWidth %d)", w)
	}
	if uri := *qr.MustAttribute("data-uri"); !strings.EqualFold(uri, "ethereum:"+h.sim.USDC().Hex()+"@1337/transfer?address="+
		e2eReceiver.Hex()+"&uint256="+big.NewInt(p.AmountExpected).String()) {
		h.t.Errorf("QR URI %s", uri)
	}
	return page, p, consoleErrors
}

// phase waits until the page's polled status shows phase.
func (h *e2e) phase(page *rod.Page, phase string) {
	h.t.Helper()
	if _, err := page.Timeout(30 * time.Second).Element(`#pay-panel[data-phase="` + phase + `"]`); err != nil {
		h.t.Fatalf("the page never showed %q (status line %q)", phase, text(page, `[data-testid="pay-status-line"]`))
	}
}

// paid waits for Paid and the redirect to the shop.
func (h *e2e) paid(page *rod.Page, consoleErrors func() []string) {
	h.t.Helper()
	h.phase(page, "confirmed")
	if got := text(page, `[data-testid="pay-status-line"]`); got != "Paid Confirmed on local" {
		h.t.Errorf("status %q", got)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		h.t.Fatalf("console errors: %v", errs)
	}
	page.Timeout(30 * time.Second).MustElement("#thanks")
	if u := page.MustInfo().URL; u != h.shop.URL+"/thanks" || h.arrived.Load() != 1 {
		h.t.Fatalf("redirected to %s (%d arrivals)", u, h.arrived.Load())
	}
}

func (h *e2e) pay(p *models.Payment) evmsim.Tx {
	h.t.Helper()
	tx, err := h.sim.Pay(e2eReceiver, big.NewInt(p.AmountExpected))
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func (h *e2e) mine(n int) {
	h.t.Helper()
	if _, err := h.sim.Mine(n); err != nil {
		h.t.Fatal(err)
	}
}

func text(p *rod.Page, sel string) string {
	return strings.Join(strings.Fields(p.MustElement(sel).MustText()), " ")
}

// TestBrowserUSDCPaidOnChain: the customer opens the checkout, the test
// pays the exact amount to the receiver on the chain, the watcher finds the
// transfer, the page shows it confirming, then Paid at the required depth,
// and follows the link's redirect.
func TestBrowserUSDCPaidOnChain(t *testing.T) {
	h := newE2E(t, 2)
	page, p, consoleErrors := h.open()
	h.phase(page, "pending")

	tx := h.pay(p)
	h.phase(page, "confirming")
	if got := text(page, `[data-testid="pay-txid"]`); !strings.EqualFold(got, tx.Hash.Hex()) {
		t.Errorf("transaction shown %q, want %s", got, tx.Hash.Hex())
	}
	h.mine(1)
	h.paid(page, consoleErrors)

	got, err := h.env.Store.Payment(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != models.StatusConfirmed || got.AmountReceived != p.AmountExpected ||
		got.SenderAddress != strings.ToLower(h.sim.Payer().Hex()) || got.Late {
		t.Fatalf("payment %s received %d sender %q late %v", got.Status, got.AmountReceived, got.SenderAddress, got.Late)
	}
}

// TestBrowserUSDCReorgBeforeConfirmation: the block with the payment is
// reorganised away before it is deep enough; the page goes back to waiting,
// and when the transfer is mined again the page reaches Paid.
func TestBrowserUSDCReorgBeforeConfirmation(t *testing.T) {
	h := newE2E(t, 3)
	page, p, consoleErrors := h.open()

	h.pay(p)
	h.phase(page, "confirming")
	if err := h.sim.Reorg(1); err != nil { // the block and its transfer are gone
		t.Fatal(err)
	}
	h.phase(page, "pending")
	if got, err := h.env.Store.Payment(context.Background(), p.ID); err != nil || got.AmountReceived != 0 || got.TxID != "" {
		t.Fatalf("after the reorg: %+v, %v", got, err)
	}

	tx := h.pay(p) // the customer's transfer is mined again
	h.phase(page, "confirming")
	h.mine(2)
	h.paid(page, consoleErrors)
	got, err := h.env.Store.Payment(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TxID != strings.ToLower(tx.Hash.Hex()) || got.AmountReceived != p.AmountExpected {
		t.Fatalf("paid by %q, received %d", got.TxID, got.AmountReceived)
	}
	var events []string
	if err := h.env.Store.DB().W(context.Background()).Model(&models.Event{}).Where("payment_id = ? AND dialect = ?", p.ID, models.DialectKasPay).Pluck("type", &events).Error; err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0] != string(models.EventPaymentConfirmed) {
		t.Fatalf("events %v: want one payment.confirmed", events)
	}
}
