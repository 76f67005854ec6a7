package models_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"till/models"
)

// TestExpireDuePerChain: a session expires only once its own chain has been
// observed past its deadline — Kaspa by its last observation, an EVM chain
// by the timestamp of its last fully scanned block — so an outage of one
// chain holds only that chain's sessions.
func TestExpireDuePerChain(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	start := f.clock.Now()
	usdc := f.usdcSession(l.Slug)
	kas := f.session()
	deadline := usdc.ExpiresAt
	if !kas.ExpiresAt.Equal(deadline) {
		t.Fatalf("deadlines differ: %s %s", kas.ExpiresAt, deadline)
	}
	f.clock.Add(deadline.Sub(start) + time.Minute)

	// Kaspa observed past the deadline; base's last scanned block is older.
	f.observe()
	f.setEVMState("base", 600, deadline.Add(-time.Second))
	if n, err := f.s.ExpireDue(f.ctx, 100); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want 1 (the Kaspa session)", n, err)
	}
	if got := f.reload(kas.ID).Status; got != models.StatusExpired {
		t.Fatalf("kaspa session %s, want expired", got)
	}
	if got := f.reload(usdc.ID).Status; got != models.StatusPending {
		t.Fatalf("usdc session %s while base was scanned only before its deadline", got)
	}
	// The wall clock alone never expires it.
	f.clock.Add(time.Hour)
	if n, _ := f.s.ExpireDue(f.ctx, 100); n != 0 || f.reload(usdc.ID).Status != models.StatusPending {
		t.Fatalf("usdc session expired by the wall clock (n=%d)", n)
	}
	// Once a block after the deadline is scanned, it expires.
	f.setEVMState("base", 700, deadline)
	if n, err := f.s.ExpireDue(f.ctx, 100); err != nil || n != 1 {
		t.Fatalf("ExpireDue after the scan = %d, %v; want 1", n, err)
	}
	if got := f.reload(usdc.ID); got.Status != models.StatusExpired {
		t.Fatalf("usdc session %s", got.Status)
	}
	if evs := f.events(usdc.ID); len(evs) != 1 || evs[0] != models.EventPaymentExpired {
		t.Fatalf("usdc events %v", evs)
	}
}

// TestExpireDuePerChainReverse: base scanned past the deadline while the
// Kaspa watcher is down — the USDC session expires, the Kaspa one waits.
func TestExpireDuePerChainReverse(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	usdc := f.usdcSession(l.Slug)
	kas := f.session()
	f.clock.Add(usdc.ExpiresAt.Sub(f.clock.Now()) + time.Minute)
	f.setEVMState("base", 600, f.clock.Now())
	if n, err := f.s.ExpireDue(f.ctx, 100); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want 1 (the USDC session)", n, err)
	}
	if f.reload(usdc.ID).Status != models.StatusExpired || f.reload(kas.ID).Status != models.StatusPending {
		t.Fatalf("usdc %s, kaspa %s", f.reload(usdc.ID).Status, f.reload(kas.ID).Status)
	}
}

// evmLog is a USDC transfer log to addr in block n.
func evmLog(to string, amount, block int64, at time.Time) models.EVMTransfer {
	return models.EVMTransfer{Chain: "base", TxHash: "0x" + txid(), LogIndex: 7, BlockNumber: block,
		BlockHash: "0xb" + txid()[:8], BlockTime: at, Token: usdcBase, From: evmMerchant, To: to, Amount: amount}
}

// TestEVMCreditsThroughNeutralPath: a USDC transfer log goes through the
// same credit path as a Kaspa UTXO — exact unique amount on that chain and
// receiver, only from a block after the session's start, recorded once,
// confirmed at the chain's depth with its event; a wrong amount stays
// unmatched and is assigned by the same domain call as a Kaspa credit.
func TestEVMCreditsThroughNeutralPath(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	p := f.usdcSession(l.Slug) // start block 500
	now := f.clock.Now()

	// A transfer in the start block itself predates the session.
	old := evmLog(evmReceiver, p.AmountExpected, 500, now)
	if r, err := f.s.RecordEVMTransfer(f.ctx, old, 501); err != nil || !r.Created || r.Matched {
		t.Fatalf("start-block transfer: %+v %v", r, err)
	}
	// Another receiver's transfer of the exact amount.
	if r, err := f.s.RecordEVMTransfer(f.ctx, evmLog(evmMerchant, p.AmountExpected, 502, now), 502); err != nil || r.Matched {
		t.Fatalf("other receiver: %+v %v", r, err)
	}
	// The exact amount after the start, 1 deep of 3: confirming.
	pay := evmLog(evmReceiver, p.AmountExpected, 503, now)
	if r, err := f.s.RecordEVMTransfer(f.ctx, pay, 503); err != nil || !r.Matched || r.Confirmed {
		t.Fatalf("payment log: %+v %v", r, err)
	}
	got := f.reload(p.ID)
	if got.Status != models.StatusConfirming || got.AmountReceived != p.AmountExpected || got.TxID != pay.TxHash || got.Confirmations != 1 {
		t.Fatalf("after the log: %s received %d tx %s depth %d", got.Status, got.AmountReceived, got.TxID, got.Confirmations)
	}
	// Seen again by the next cycle: nothing changes.
	if r, err := f.s.RecordEVMTransfer(f.ctx, pay, 504); err != nil || r.Created || r.Matched {
		t.Fatalf("same log again: %+v %v", r, err)
	}
	if got := f.reload(p.ID); got.AmountReceived != p.AmountExpected {
		t.Fatalf("credited twice: %d", got.AmountReceived)
	}

	// A wrong amount to the receiver on another session: unmatched, owned
	// by the merchant, then assigned by hand.
	q := f.usdcSession(l.Slug)
	short := evmLog(evmReceiver, q.AmountExpected-100_000, 505, now)
	if r, err := f.s.RecordEVMTransfer(f.ctx, short, 505); err != nil || r.Matched {
		t.Fatalf("short log: %+v %v", r, err)
	}
	var tr models.Transfer
	if err := f.s.DB().R(f.ctx).Where("chain = ? AND tx_id = ?", "base", short.TxHash).Take(&tr).Error; err != nil {
		t.Fatal(err)
	}
	if tr.MerchantID == nil || *tr.MerchantID != f.m.ID || tr.PaymentID != nil || tr.BlockNumber == nil || *tr.BlockNumber != 505 {
		t.Fatalf("unmatched transfer %+v", tr)
	}
	f.setEVMState("base", 510, now)
	assigned, err := f.s.AssignCredit(f.ctx, f.m.ID, tr.ID, q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if assigned.Status != models.StatusUnderpaid || assigned.AmountReceived != short.Amount {
		t.Fatalf("assigned: %s %d", assigned.Status, assigned.AmountReceived)
	}
	// A log already deep enough confirms at once, with its event.
	r := f.usdcSession(l.Slug) // start block 510
	deep := evmLog(evmReceiver, r.AmountExpected, 511, now)
	if res, err := f.s.RecordEVMTransfer(f.ctx, deep, 513); err != nil || !res.Confirmed {
		t.Fatalf("deep log: %+v %v", res, err)
	}
	if got := f.reload(r.ID); got.Status != models.StatusConfirmed || got.Confirmations != 3 {
		t.Fatalf("deep log: %s depth %d", got.Status, got.Confirmations)
	}
	// KasPay's payment.confirmed and KiraPay's created+succeeded, one
	// instant (compared as a set).
	evs := f.events(r.ID)
	sort.Strings(evs)
	if fmt.Sprint(evs) != "[payment.confirmed transaction.created transaction.succeeded]" {
		t.Fatalf("events %v", evs)
	}
	// A Kaspa session is never offered a base credit.
	k := f.session()
	if _, err := f.s.AssignCredit(f.ctx, f.m.ID, tr.ID, k.ID); err == nil {
		t.Fatal("a base credit was assigned to a Kaspa session")
	}
}

// TestStatsPerAsset: revenue, the daily chart and unmatched credits are
// summed per asset; micro-USDC never lands in a sompi total, and the USD
// value counts both (a USDC payment is valued at its price).
func TestStatsPerAsset(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	now := f.clock.Now()
	// One confirmed USDC payment of 25 USDC + offset.
	u := f.usdcSession(l.Slug)
	if r, err := f.s.RecordEVMTransfer(f.ctx, evmLog(evmReceiver, u.AmountExpected, 501, now), 510); err != nil || !r.Confirmed {
		t.Fatalf("usdc payment: %+v %v", r, err)
	}
	// One unmatched USDC credit of 3 USDC.
	if r, err := f.s.RecordEVMTransfer(f.ctx, evmLog(evmReceiver, 3_000_000, 502, now), 510); err != nil || r.Matched {
		t.Fatalf("usdc stray: %+v %v", r, err)
	}
	// One confirmed KAS payment.
	k := f.session()
	f.observe(f.credit(merchantAddr, k.AmountExpected))
	f.advance(200)
	f.observe()
	if got := f.reload(k.ID); got.Status != models.StatusConfirmed {
		t.Fatalf("kas payment %s", got.Status)
	}
	o, err := f.s.Overview(f.ctx, f.m.ID, 7)
	if err != nil {
		t.Fatal(err)
	}
	if o.Revenue.Sompi != k.AmountExpected || o.Revenue.Count != 2 {
		t.Fatalf("KAS revenue %d sompi in %d payments, want %d in 2", o.Revenue.Sompi, o.Revenue.Count, k.AmountExpected)
	}
	want := models.AssetTotals{KAS: models.AssetTotal{Units: k.AmountExpected, Count: 1}, USDC: models.AssetTotal{Units: u.AmountExpected, Count: 1}}
	if o.RevenueByAsset != want {
		t.Fatalf("revenue by asset %+v, want %+v", o.RevenueByAsset, want)
	}
	if o.Revenue.USDCents < 2500 || o.Revenue.USDCount < 1 {
		t.Fatalf("USD value %d cents over %d payments misses the USDC payment", o.Revenue.USDCents, o.Revenue.USDCount)
	}
	if o.Revenue.USDSompi+o.Revenue.UnvaluedSompi != k.AmountExpected {
		t.Fatalf("KAS split %d + %d != %d", o.Revenue.USDSompi, o.Revenue.UnvaluedSompi, k.AmountExpected)
	}
	if o.Unmatched.Count != 1 || o.Unmatched.Sompi != 0 || o.UnmatchedByAsset.USDC != (models.AssetTotal{Units: 3_000_000, Count: 1}) {
		t.Fatalf("unmatched %+v by asset %+v", o.Unmatched, o.UnmatchedByAsset)
	}
	today := o.Daily[len(o.Daily)-1]
	if today.Sompi != k.AmountExpected || today.Count != 2 || today.ByAsset != want {
		t.Fatalf("today %+v", today)
	}
}
