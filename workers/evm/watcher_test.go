package evm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"till/models"
	chains "till/models/evm"
	"till/models/modeltest"
	"till/web"
	"till/workers/evm"
	"till/workers/evm/evmsim"
)

const kaspaAddr = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"

// wharness is one simulated chain behind a provider proxy, a store with the
// chain enabled, a merchant with a USDC link and a watcher of the proxy.
type wharness struct {
	t     *testing.T
	ctx   context.Context
	sim   *evmsim.Sim
	proxy *evmsim.Proxy
	store *models.Store
	m     *models.Merchant
	link  *models.PaymentLink
	w     *evm.Watcher
	name  string
	clock *clock
}

// clock is the store's clock; tests move it forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func chainConfig(name string, sim *evmsim.Sim, url string, conf uint64) chains.ChainConfig {
	return chains.ChainConfig{
		Chain:  chains.Chain{Name: name, DisplayName: name, ChainID: sim.ChainID(), USDC: chains.Address(sim.USDC()), Confirmations: conf},
		RPCURL: url, RPCHost: "127.0.0.1", Finality: chains.FinalityDepth, MaxRange: chains.DefaultMaxRange,
	}
}

// newWatch starts a chain "local" needing 3 confirmations (cfg edits the
// chain configuration) on a fresh store.
func newWatch(t *testing.T, cfg func(*chains.ChainConfig)) *wharness {
	t.Helper()
	sim := evmsim.StartT(t)
	proxy := evmsim.NewProxyT(t, sim.URL())
	c := chainConfig("local", sim, proxy.URL(), 3)
	if cfg != nil {
		cfg(&c)
	}
	clk := &clock{t: time.Now().UTC()}
	store := modeltest.Store(t, func(o *models.StoreOptions) {
		o.EVMChains = evm.StoreChains([]chains.ChainConfig{c})
		o.Now = clk.Now
	})
	h := &wharness{t: t, ctx: context.Background(), sim: sim, proxy: proxy, store: store, name: c.Name, clock: clk}
	m, err := store.Register(h.ctx, models.RegisterInput{Email: "m@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: kaspaAddr})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	h.w = h.watcher(c, store)
	h.link = h.usdcLink(c.Name, recvA, 25_000_000)
	h.cycle() // the chain is observed once before sessions open
	return h
}

func (h *wharness) watcher(c chains.ChainConfig, store *models.Store) *evm.Watcher {
	h.t.Helper()
	cl, err := evm.Dial(c.RPCURL, evm.ClientOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(cl.Close)
	return &evm.Watcher{Config: c, Client: cl, Store: store}
}

// usdcLink makes a USDC link on chain paying receiver (written directly:
// the link API for USDC is built elsewhere).
func (h *wharness) usdcLink(chain string, receiver common.Address, units int64) *models.PaymentLink {
	h.t.Helper()
	title, amount := "Item", "1"
	l, err := h.store.CreateLink(h.ctx, h.m.ID, models.LinkInput{Title: &title, Amount: &amount})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.DB().W(h.ctx).Model(&models.PaymentLink{}).Where("id = ?", l.ID).
		Updates(map[string]any{"chain": chain, "currency": "USDC", "amount": units, "receiver": strings.ToLower(receiver.Hex())}).Error; err != nil {
		h.t.Fatal(err)
	}
	return l
}

func (h *wharness) session(l *models.PaymentLink) *models.Payment {
	h.t.Helper()
	p, err := h.store.CreatePayment(h.ctx, models.CreatePaymentInput{LinkSlug: l.Slug})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *wharness) cycle() models.EVMApplyResult {
	h.t.Helper()
	r, err := h.w.Cycle(h.ctx)
	if err != nil {
		h.t.Fatalf("cycle: %v", err)
	}
	return r
}

func (h *wharness) pay(to common.Address, units int64) evmsim.Tx {
	h.t.Helper()
	tx, err := h.sim.Pay(to, big.NewInt(units))
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func (h *wharness) mine(n int) {
	h.t.Helper()
	if _, err := h.sim.Mine(n); err != nil {
		h.t.Fatal(err)
	}
}

func (h *wharness) reload(id string) *models.Payment {
	h.t.Helper()
	var p models.Payment
	if err := h.store.DB().W(h.ctx).Where("id = ?", id).Take(&p).Error; err != nil {
		h.t.Fatal(err)
	}
	return &p
}

// events lists a payment's KasPay events, oldest first (KiraPay's are
// checked in kirapay_events_test.go).
func (h *wharness) events(id string) []string {
	h.t.Helper()
	var types []string
	if err := h.store.DB().W(h.ctx).Model(&models.Event{}).Where("payment_id = ? AND dialect = ?", id, models.DialectKasPay).Order("created_at").Pluck("type", &types).Error; err != nil {
		h.t.Fatal(err)
	}
	return types
}

func (h *wharness) transfers(where string, args ...any) []models.Transfer {
	h.t.Helper()
	var ts []models.Transfer
	q := h.store.DB().W(h.ctx).Order("created_at, id")
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Find(&ts).Error; err != nil {
		h.t.Fatal(err)
	}
	return ts
}

func (h *wharness) want(id string, status models.PaymentStatus, conf int64) *models.Payment {
	h.t.Helper()
	p := h.reload(id)
	if p.Status != status || p.Confirmations != conf {
		h.t.Fatalf("payment %s conf %d, want %s conf %d", p.Status, p.Confirmations, status, conf)
	}
	return p
}

func TestWatcherDetectsAndConfirms(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	other := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	h.cycle()
	got := h.want(p.ID, models.StatusConfirming, 1)
	if got.TxID != strings.ToLower(tx.Hash.Hex()) || got.AmountReceived != p.AmountExpected || len(h.events(p.ID)) != 0 {
		t.Fatalf("detected: tx %q received %d events %v", got.TxID, got.AmountReceived, h.events(p.ID))
	}
	h.want(other.ID, models.StatusPending, 0)
	h.mine(1)
	h.cycle()
	h.want(p.ID, models.StatusConfirming, 2)
	h.mine(1)
	h.cycle()
	h.want(p.ID, models.StatusConfirmed, 3)
	h.mine(2)
	h.cycle()
	if ev := h.events(p.ID); len(ev) != 1 || ev[0] != models.EventPaymentConfirmed {
		t.Fatalf("events %v, want one payment.confirmed", ev)
	}
	ts := h.transfers("")
	if len(ts) != 1 || ts[0].BlockNumber == nil || *ts[0].BlockNumber != int64(tx.BlockNumber) ||
		ts[0].BlockHash != strings.ToLower(tx.BlockHash.Hex()) || ts[0].SenderAddress != strings.ToLower(h.sim.Payer().Hex()) ||
		ts[0].TokenAddress != strings.ToLower(h.sim.USDC().Hex()) || ts[0].BlockTime == nil {
		t.Fatalf("transfers %+v", ts)
	}
}

func TestWatcherFinalityFinalized(t *testing.T) {
	h := newWatch(t, func(c *chains.ChainConfig) { c.Finality = chains.FinalityFinalized })
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	h.mine(5)
	h.cycle()
	// 6 deep, above the 3 confirmations, but not finalized: still confirming.
	h.want(p.ID, models.StatusConfirming, 2)
	fin, err := h.sim.Finalized()
	if err != nil {
		t.Fatal(err)
	}
	for fin.Number < tx.BlockNumber {
		h.mine(8)
		if fin, err = h.sim.Finalized(); err != nil {
			t.Fatal(err)
		}
	}
	h.cycle()
	if got := h.reload(p.ID); got.Status != models.StatusConfirmed {
		t.Fatalf("finalized block %d ≥ %d: payment %s", fin.Number, tx.BlockNumber, got.Status)
	}
}

func TestWatcherMatchesOnlyExactAmountTokenAndShape(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	// Wrong amount (an exchange deducted a fee), another receiver, a fake
	// token's identical event, an ERC-721 Transfer to the receiver.
	wrong := h.pay(recvA, p.AmountExpected-1_000)
	h.pay(recvB, p.AmountExpected)
	if _, err := h.sim.PayFake(recvA, big.NewInt(p.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.EmitERC721Transfer(h.sim.Payer(), recvA, big.NewInt(p.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	h.want(p.ID, models.StatusPending, 0)
	ts := h.transfers("")
	if len(ts) != 1 || ts[0].TxID != strings.ToLower(wrong.Hash.Hex()) || ts[0].PaymentID != nil || ts[0].MerchantID == nil {
		t.Fatalf("recorded %+v, want only the wrong-amount transfer, unmatched and the merchant's", ts)
	}
	got, err := h.store.AssignCredit(h.ctx, h.m.ID, ts[0].ID, p.ID)
	if err != nil {
		t.Fatalf("assign: %v", err)
	}
	if got.AmountReceived != p.AmountExpected-1_000 || got.Status != models.StatusUnderpaid {
		t.Fatalf("assigned: %s received %d", got.Status, got.AmountReceived)
	}
}

func TestWatcherTransferBeforeSessionStartNeverMatches(t *testing.T) {
	h := newWatch(t, nil)
	anchor := h.session(h.link) // keeps the scan range open below the transfer
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	// The session started at the transfer's block: only later blocks pay it.
	if err := h.store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("start_block", tx.BlockNumber).Error; err != nil {
		t.Fatal(err)
	}
	h.cycle()
	h.want(p.ID, models.StatusPending, 0)
	h.want(anchor.ID, models.StatusPending, 0)
	if ts := h.transfers("payment_id IS NULL"); len(ts) != 1 || ts[0].TxID != strings.ToLower(tx.Hash.Hex()) {
		t.Fatalf("unmatched %+v, want the transfer from the session's start block", ts)
	}
}

func TestWatcherReorgBeforeConfirmation(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	h.cycle()
	h.want(p.ID, models.StatusConfirming, 1)
	if err := h.sim.Reorg(1); err != nil { // the block is replaced by an empty one
		t.Fatal(err)
	}
	r := h.cycle()
	if r.Orphaned != 1 {
		t.Fatalf("orphaned %d", r.Orphaned)
	}
	got := h.want(p.ID, models.StatusPending, 0)
	if got.TxID != "" || got.AmountReceived != 0 || len(h.events(p.ID)) != 0 {
		t.Fatalf("after reorg: tx %q received %d events %v", got.TxID, got.AmountReceived, h.events(p.ID))
	}
	kept := h.transfers("tx_id = ?", strings.ToLower(tx.Hash.Hex()))
	if len(kept) != 1 || kept[0].OrphanedAt == nil {
		t.Fatalf("orphaned transfer not kept: %+v", kept)
	}
	var acts []models.PaymentActivity
	h.store.DB().W(h.ctx).Where("payment_id = ? AND kind = ?", p.ID, models.ActivityReversed).Find(&acts)
	if len(acts) != 1 || !strings.Contains(acts[0].Detail, "block reorganised") {
		t.Fatalf("activity %+v", acts)
	}
}

func TestWatcherReorgReinclusionCreditsOnce(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	h.cycle()
	if err := h.sim.ReorgKeep(1); err != nil { // same transfer, new block hash
		t.Fatal(err)
	}
	h.cycle()
	got := h.want(p.ID, models.StatusConfirming, 1)
	if got.AmountReceived != p.AmountExpected || got.TxID != strings.ToLower(tx.Hash.Hex()) {
		t.Fatalf("re-included: received %d tx %q", got.AmountReceived, got.TxID)
	}
	orphaned := h.transfers("tx_id = ? AND orphaned_at IS NOT NULL", strings.ToLower(tx.Hash.Hex()))
	live := h.transfers("tx_id = ? AND orphaned_at IS NULL", strings.ToLower(tx.Hash.Hex()))
	if len(orphaned) != 1 || len(live) != 1 || live[0].BlockHash == orphaned[0].BlockHash ||
		live[0].PaymentID == nil || *live[0].PaymentID != p.ID || orphaned[0].ReversedAt == nil {
		t.Fatalf("orphaned %+v live %+v", orphaned, live)
	}
	h.mine(2)
	h.cycle()
	h.cycle()
	h.want(p.ID, models.StatusConfirmed, 3)
	if ev := h.events(p.ID); len(ev) != 1 {
		t.Fatalf("events %v", ev)
	}
}

func TestWatcherReorgOfCursorBlockRescans(t *testing.T) {
	h := newWatch(t, nil)
	a := h.session(h.link)
	b := h.session(h.link)
	h.pay(recvA, a.AmountExpected)
	h.mine(1)
	h.cycle() // cursor at the empty block after a's
	// The cursor block is replaced and b's transfer lands in the new branch.
	if err := h.sim.Reorg(1); err != nil {
		t.Fatal(err)
	}
	h.pay(recvA, b.AmountExpected)
	h.cycle()
	h.cycle()
	h.want(a.ID, models.StatusConfirmed, 3)
	h.want(b.ID, models.StatusConfirming, 1)
	if n := len(h.transfers("orphaned_at IS NULL")); n != 2 {
		t.Fatalf("%d live transfers after the rescan, want 2 (each once)", n)
	}
}

func TestWatcherRangeLimitChunksAndAdapts(t *testing.T) {
	h := newWatch(t, nil)
	h.proxy.SetRangeLimit(5)
	var ps []*models.Payment
	for i := 0; i < 6; i++ {
		p := h.session(h.link)
		ps = append(ps, p)
		h.pay(recvA, p.AmountExpected)
		h.mine(3)
	}
	h.cycle()
	for _, p := range ps {
		if got := h.reload(p.ID); got.AmountReceived != p.AmountExpected {
			t.Fatalf("payment %s not found through range limit 5 (%s)", p.ID, got.Status)
		}
	}
	if r := h.w.Range(); r > 5 || r < 1 {
		t.Fatalf("range %d after a limit of 5", r)
	}
	if n := len(h.transfers("")); n != len(ps) {
		t.Fatalf("%d transfers, want %d", n, len(ps))
	}
}

func TestWatcherRangeGrowsBack(t *testing.T) {
	h := newWatch(t, func(c *chains.ChainConfig) { c.MaxRange = 8 })
	h.session(h.link)
	h.proxy.SetRangeLimit(2)
	h.mine(15)
	h.cycle()
	if r := h.w.Range(); r != 2 {
		t.Fatalf("range %d, want 2", r)
	}
	h.proxy.SetRangeLimit(0)
	h.mine(60)
	h.cycle()
	if r := h.w.Range(); r != 8 {
		t.Fatalf("range %d after successes, want back at 8", r)
	}
}

func TestWatcher1001ReceiversTwoCallsPerChunk(t *testing.T) {
	h := newWatch(t, nil)
	var last *models.Payment
	for i := 0; i < 1001; i++ {
		recv := common.BigToAddress(big.NewInt(int64(0x10000 + i)))
		if err := h.store.DB().W(h.ctx).Model(&models.PaymentLink{}).Where("id = ?", h.link.ID).Update("receiver", strings.ToLower(recv.Hex())).Error; err != nil {
			t.Fatal(err)
		}
		last = h.session(h.link)
	}
	h.pay(common.HexToAddress(last.PayAddress), last.AmountExpected)
	h.proxy.ResetCounts()
	h.cycle()
	if n := h.proxy.Calls("eth_getLogs"); n != 2 {
		t.Fatalf("eth_getLogs calls %d, want 2 for 1,001 receivers", n)
	}
	h.want(last.ID, models.StatusConfirming, 1)
}

func TestWatcherTwoChainsSameReceiver(t *testing.T) {
	h := newWatch(t, nil)
	sim2 := evmsim.StartT(t)
	proxy2 := evmsim.NewProxyT(t, sim2.URL())
	c2 := chainConfig("local2", sim2, proxy2.URL(), 3)
	// One store serving both chains.
	c1 := h.w.Config
	store := modeltest.Store(t, func(o *models.StoreOptions) { o.EVMChains = evm.StoreChains([]chains.ChainConfig{c1, c2}) })
	h.store = store
	m, err := store.Register(h.ctx, models.RegisterInput{Email: "two@example.com", Password: "securepassword", Name: "Two", KaspaAddress: kaspaAddr})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	w1, w2 := h.watcher(c1, store), h.watcher(c2, store)
	for _, w := range []*evm.Watcher{w1, w2} {
		if _, err := w.Cycle(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	l1, l2 := h.usdcLink("local", recvA, 5_000_000), h.usdcLink("local2", recvA, 5_000_000)
	p1, p2 := h.session(l1), h.session(l2)
	// Each chain's transfer pays its own chain's session, even with the
	// other session's amount.
	if _, err := sim2.Pay(recvA, big.NewInt(p1.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.Pay(recvA, big.NewInt(p2.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*evm.Watcher{w1, w2} {
		if _, err := w.Cycle(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p1.AmountExpected != p2.AmountExpected {
		h.want(p1.ID, models.StatusPending, 0)
		h.want(p2.ID, models.StatusPending, 0)
	}
	if _, err := sim2.Pay(recvA, big.NewInt(p2.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.Pay(recvA, big.NewInt(p1.AmountExpected)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*evm.Watcher{w1, w2} {
		if _, err := w.Cycle(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*models.Payment{p1, p2} {
		got := h.want(p.ID, models.StatusConfirming, 1)
		var tr models.Transfer
		if err := store.DB().W(h.ctx).Where("payment_id = ?", p.ID).Take(&tr).Error; err != nil || tr.Chain != p.Chain {
			t.Fatalf("payment on %s paid by a transfer on %s (%v)", p.Chain, tr.Chain, err)
		}
		_ = got
	}
}

func TestWatcherCallsIndependentOfSessions(t *testing.T) {
	counts := map[int]map[string]int{}
	for _, n := range []int{100, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newWatch(t, nil)
			links := []*models.PaymentLink{h.link, h.usdcLink("local", recvB, 25_000_000), h.usdcLink("local", other, 25_000_000)}
			for i := 0; i < n; i++ {
				h.session(links[i%3])
			}
			h.mine(5)
			h.proxy.ResetCounts()
			h.cycle()
			counts[n] = h.proxy.AllCalls()
		})
	}
	a, b := counts[100], counts[5000]
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) || a["eth_blockNumber"] != 1 || a["eth_getLogs"] != 1 {
		t.Fatalf("calls per cycle: 100 sessions %s, 5,000 sessions %s", ja, jb)
	}
}

func TestChainsStartupChecks(t *testing.T) {
	h := newWatch(t, nil)
	good := h.w.Config
	good.PollInterval = 50 * time.Millisecond
	badID := good
	badID.Name, badID.ChainID = "wrongid", 8453
	badToken := good
	badToken.Name, badToken.USDC = "badtoken", chains.Address(h.sim.ERC721())
	var logs syncBuilder
	m := &evm.Chains{Configs: []chains.ChainConfig{good, badID, badToken}, Store: h.store, Log: newTextLogger(&logs)}
	if err := evm.Check(h.ctx, h.w.Client, badID); err == nil || !strings.Contains(err.Error(), "TILL_EVM_WRONGID_CHAIN_ID") {
		t.Fatalf("wrong chain id: %v", err)
	}
	if err := evm.Check(h.ctx, h.w.Client, badToken); err == nil || !strings.Contains(err.Error(), "TILL_EVM_BADTOKEN_USDC") {
		t.Fatalf("bad token: %v", err)
	}
	// decimals() answering 18.
	h.proxy.RewriteNext("eth_call", 1, func(json.RawMessage) json.RawMessage {
		return json.RawMessage(`"0x0000000000000000000000000000000000000000000000000000000000000012"`)
	})
	if err := evm.Check(h.ctx, h.w.Client, good); err == nil || !strings.Contains(err.Error(), "18 decimals") {
		t.Fatalf("18 decimals: %v", err)
	}
	if err := evm.Check(h.ctx, h.w.Client, good); err != nil {
		t.Fatalf("good chain: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	want := map[string]string{"local": evm.StateWatching, "wrongid": evm.StateDisabled, "badtoken": evm.StateDisabled}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := m.Status()
		ok := true
		for name, s := range want {
			ok = ok && st[name].Status == s
		}
		if ok {
			if !strings.Contains(st["wrongid"].Error, "TILL_EVM_WRONGID_CHAIN_ID") || !strings.Contains(st["badtoken"].Error, "TILL_EVM_BADTOKEN_USDC") {
				t.Fatalf("status %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The good chain runs: a payment on it is found without calling Cycle.
	p := h.session(h.link)
	h.pay(recvA, p.AmountExpected)
	for h.reload(p.ID).Status == models.StatusPending {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the good chain is not watched")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if strings.Count(out, "TILL_EVM_WRONGID_CHAIN_ID") != 1 || strings.Count(out, "TILL_EVM_BADTOKEN_USDC") != 1 {
		t.Fatalf("want one error line per disabled chain naming its variable:\n%s", out)
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// cursorTime is the timestamp of the chain's last scanned block.
func (h *wharness) cursorTime() time.Time {
	h.t.Helper()
	st, err := h.store.ChainState(h.ctx, h.name)
	if err != nil || st.CursorTime == nil {
		h.t.Fatalf("chain state %+v %v", st, err)
	}
	return *st.CursorTime
}

// mineUntil mines blocks until the head's timestamp is after t.
func (h *wharness) mineUntil(t time.Time) {
	h.t.Helper()
	for {
		head, err := h.sim.Head()
		if err != nil {
			h.t.Fatal(err)
		}
		if time.Unix(int64(head.Time), 0).After(t) {
			return
		}
		h.mine(5)
	}
}

func (h *wharness) expire() int {
	h.t.Helper()
	n, err := h.store.ExpireDue(h.ctx, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestWatcherOutageNoFalseExpiry(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	deadline := h.cursorTime().Add(20 * time.Second)
	if err := h.store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("expires_at", deadline).Error; err != nil {
		t.Fatal(err)
	}
	// The provider fails the next 4 requests; the wall clock passes the
	// deadline meanwhile, and the chain moves past it too.
	const outage = 4
	h.proxy.FailNext(evmsim.Fault{Kind: evmsim.Unavailable}, outage)
	h.clock.Set(deadline.Add(time.Hour))
	h.mineUntil(deadline)
	for i := 0; i < outage; i++ {
		if _, err := h.w.Cycle(h.ctx); err == nil {
			t.Fatalf("cycle %d succeeded during the outage", i)
		}
		if n := h.expire(); n != 0 {
			t.Fatalf("expired %d sessions while the chain was not observed", n)
		}
	}
	h.want(p.ID, models.StatusPending, 0)
	// Observed again: the chain was scanned past the deadline.
	h.cycle()
	if !h.cursorTime().After(deadline) {
		t.Fatalf("cursor time %s not after %s", h.cursorTime(), deadline)
	}
	if n := h.expire(); n != 1 {
		t.Fatalf("expired %d after the scan past the deadline, want 1", n)
	}
	h.want(p.ID, models.StatusExpired, 0)
}

func TestWatcherLatePayment(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	deadline := h.cursorTime().Add(10 * time.Second)
	if err := h.store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("expires_at", deadline).Error; err != nil {
		t.Fatal(err)
	}
	h.clock.Set(deadline.Add(time.Minute))
	h.mineUntil(deadline)
	h.cycle()
	if n := h.expire(); n != 1 {
		t.Fatalf("expired %d", n)
	}
	h.pay(recvA, p.AmountExpected)
	h.mine(2)
	h.cycle()
	got := h.want(p.ID, models.StatusConfirmed, 3)
	if !got.Late {
		t.Fatal("a payment in a block after the deadline is not flagged late")
	}
	if ev := h.events(p.ID); len(ev) != 2 || ev[0] != models.EventPaymentExpired || ev[1] != models.EventPaymentConfirmed {
		t.Fatalf("events %v", ev)
	}
}

func TestWatcherOrphanedSessionWaitsBeforeExpiry(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	deadline := h.cursorTime().Add(10 * time.Second)
	if err := h.store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("expires_at", deadline).Error; err != nil {
		t.Fatal(err)
	}
	h.pay(recvA, p.AmountExpected)
	h.cycle()
	h.clock.Set(deadline.Add(time.Minute))
	if err := h.sim.Reorg(1); err != nil {
		t.Fatal(err)
	}
	h.mineUntil(deadline)
	h.cycle()
	h.want(p.ID, models.StatusPending, 0)
	if n := h.expire(); n != 0 {
		t.Fatalf("expired %d within the orphan grace", n)
	}
	h.clock.Set(deadline.Add(time.Minute + models.OrphanExpiryGrace + time.Second))
	if n := h.expire(); n != 1 {
		t.Fatalf("expired %d after the orphan grace, want 1", n)
	}
}

func TestWatcherUnconvertibleValueKeptUnmatched(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	// The provider reports a value above 2^62 for that log.
	h.proxy.RewriteNext("eth_getLogs", 1, func(raw json.RawMessage) json.RawMessage {
		var logs []map[string]any
		if err := json.Unmarshal(raw, &logs); err != nil {
			t.Error(err)
			return raw
		}
		for _, l := range logs {
			l["data"] = "0x" + strings.Repeat("f", 64)
		}
		out, _ := json.Marshal(logs)
		return out
	})
	h.cycle()
	h.want(p.ID, models.StatusPending, 0)
	ts := h.transfers("")
	if len(ts) != 1 || ts[0].TxID != strings.ToLower(tx.Hash.Hex()) || ts[0].PaymentID != nil || ts[0].Amount != 0 {
		t.Fatalf("transfers %+v, want the log kept unmatched and unconverted", ts)
	}
}

// TestStatusPollsCauseNoChainCalls: customers polling the status endpoint
// through the real HTTP stack read the database only.
func TestStatusPollsCauseNoChainCalls(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	srv := web.New(web.Options{Store: h.store, BaseURL: "http://127.0.0.1", Secret: modeltest.TestSecret,
		ChainStatus: func() any { return map[string]evm.ChainStatus{"local": {Status: evm.StateWatching}} }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App.Listener(ln) }()
	t.Cleanup(func() { _ = srv.App.Shutdown() })
	base := "http://" + ln.Addr().String()
	h.proxy.ResetCounts()
	for i := 0; i < 20; i++ {
		resp, err := http.Get(base + "/api/payments/" + p.ID + "/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status poll: %d", resp.StatusCode)
		}
	}
	if n := h.proxy.Requests(); n != 0 {
		t.Fatalf("%d chain requests caused by status polls", n)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Status    string                     `json:"status"`
		EVMChains map[string]evm.ChainStatus `json:"evmChains"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil || ready.Status != "ready" || ready.EVMChains["local"].Status != evm.StateWatching {
		t.Fatalf("readyz %+v %v", ready, err)
	}
}

// TestTwoWatchersOnePostgres: two processes' watchers of one chain on one
// Postgres database; the chain's lock lets one scan.
func TestTwoWatchersOnePostgres(t *testing.T) {
	if modeltest.Engine() != models.Postgres {
		t.Skip("Postgres only (TILL_TEST_DB=postgres)")
	}
	h := newWatch(t, nil)
	url := modeltest.URL(t)
	var stores []*models.Store
	for i := 0; i < 2; i++ {
		db, err := models.Open(h.ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(h.ctx); err != nil {
			t.Fatal(err)
		}
		sealer, _ := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
		stores = append(stores, models.NewStore(db, models.StoreOptions{Sealer: sealer, BcryptCost: 4,
			EVMChains: evm.StoreChains([]chains.ChainConfig{h.w.Config})}))
	}
	h.store = stores[0]
	m, err := h.store.Register(h.ctx, models.RegisterInput{Email: "pg@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: kaspaAddr})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	for _, s := range stores {
		w := h.watcher(h.w.Config, s)
		w.Config.PollInterval = 50 * time.Millisecond
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := h.store.ChainState(h.ctx, h.name); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watcher scanned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := h.usdcLink(h.name, recvA, 3_000_000)
	var ps []*models.Payment
	for i := 0; i < 5; i++ {
		ps = append(ps, h.session(l))
	}
	h.proxy.ResetCounts()
	for _, p := range ps {
		h.pay(recvA, p.AmountExpected)
	}
	h.mine(3)
	for _, p := range ps {
		for h.reload(p.ID).Status != models.StatusConfirmed {
			if time.Now().After(deadline) {
				t.Fatalf("payment %s: %s", p.ID, h.reload(p.ID).Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ev := h.events(p.ID); len(ev) != 1 {
			t.Fatalf("events %v", ev)
		}
	}
	if n := len(h.transfers("")); n != len(ps) {
		t.Fatalf("%d transfers, want %d", n, len(ps))
	}
	// One leader: eth_blockNumber and eth_getLogs in lockstep, one of each per cycle.
	calls := h.proxy.AllCalls()
	if calls["eth_blockNumber"] == 0 || calls["eth_getLogs"] > calls["eth_blockNumber"] {
		t.Fatalf("calls %v", calls)
	}
}

// TestWatcherRespectsRetryAfter: a 429 with Retry-After is waited out before
// the next attempt.
func TestWatcherRespectsRetryAfter(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	h.pay(recvA, p.AmountExpected)
	h.proxy.FailNext(evmsim.Fault{Kind: evmsim.RateLimited, RetryAfter: 7 * time.Second}, 1)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	var waits []time.Duration
	h.w.Config.PollInterval = time.Second
	h.w.Wait = func(ctx context.Context, d time.Duration) bool {
		waits = append(waits, d)
		if h.reload(p.ID).Status == models.StatusConfirming || len(waits) > 20 {
			cancel()
			return false
		}
		return ctx.Err() == nil
	}
	_ = h.w.Run(ctx)
	if len(waits) < 2 || waits[0] != 7*time.Second {
		t.Fatalf("waits %v, want the provider's 7s Retry-After first", waits)
	}
	h.want(p.ID, models.StatusConfirming, 1)
}

// TestWatcherDeepReorgRescansOnce: a reorg below the cursor re-mines both
// unsettled transfers (one at the same height, one a block lower) under new
// block hashes; each is orphaned and found again once by the rescan, and
// the confirmed payment below the reorg is untouched.
func TestWatcherDeepReorgRescansOnce(t *testing.T) {
	h := newWatch(t, nil)
	done := h.session(h.link)
	h.pay(recvA, done.AmountExpected)
	h.mine(2)
	h.cycle()
	h.want(done.ID, models.StatusConfirmed, 3)
	a, b := h.session(h.link), h.session(h.link)
	h.pay(recvA, a.AmountExpected)
	h.pay(recvA, b.AmountExpected)
	h.cycle()
	if err := h.sim.ReorgKeep(2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		h.cycle()
	}
	h.want(a.ID, models.StatusConfirming, 2)
	h.want(b.ID, models.StatusConfirming, 2)
	h.want(done.ID, models.StatusConfirmed, 3)
	if live, orphaned := len(h.transfers("orphaned_at IS NULL")), len(h.transfers("orphaned_at IS NOT NULL")); live != 3 || orphaned != 2 {
		t.Fatalf("%d live and %d orphaned transfers, want 3 and 2", live, orphaned)
	}
	for _, id := range []string{done.ID, a.ID, b.ID} {
		if n := len(h.transfers("payment_id = ? AND orphaned_at IS NULL", id)); n != 1 {
			t.Fatalf("payment %s has %d live credits", id, n)
		}
	}
	h.mine(2)
	h.cycle()
	h.want(a.ID, models.StatusConfirmed, 4)
	if ev := h.events(done.ID); len(ev) != 1 {
		t.Fatalf("confirmed payment's events %v", ev)
	}
}

// TestWatcherFullReadAfterWrite: the watched sessions' periodic full read
// (the only read that notices a deleted row) runs after a cycle's write,
// not before its chain query (workers.Rereads): the first cycle after the
// period still scans the deleted session's receiver, the next one no
// longer does.
func TestWatcherFullReadAfterWrite(t *testing.T) {
	h := newWatch(t, nil)
	p := h.session(h.link)
	h.mine(1)
	h.cycle() // watched
	if err := h.store.DB().W(h.ctx).Exec("DELETE FROM payments WHERE id = ?", p.ID).Error; err != nil {
		t.Fatal(err)
	}
	getLogs := func() int {
		h.mine(1)
		h.proxy.ResetCounts()
		h.cycle()
		return h.proxy.Calls("eth_getLogs")
	}
	if n := getLogs(); n != 1 {
		t.Fatalf("%d eth_getLogs before the period, want 1 (changed rows only: the deletion is not seen)", n)
	}
	h.clock.Set(h.clock.Now().Add(6 * time.Minute)) // past the index's 5 minutes
	if n := getLogs(); n != 1 {
		t.Fatalf("%d eth_getLogs in the cycle after the period, want 1: the full read came before the query", n)
	}
	if n := getLogs(); n != 0 {
		t.Fatalf("%d eth_getLogs after the full read, want 0: the deleted session is still watched", n)
	}
}
