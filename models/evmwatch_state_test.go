package models_test

import (
	"slices"
	"testing"
	"time"

	"till/models"
)

// TestEVMWatchStateReadsOpenSessionsAndUnsettledTransfers: the watcher's
// view of a chain is its open and late-window sessions (receivers, oldest
// start block) and its unsettled transfers — credited to an unconfirmed
// payment at any depth, or unmatched within the reorg window — and nothing
// of its history. EVMWatchState reads them with one query per index path
// (an OR made SQLite read every past row of the chain: see
// BenchmarkEVMWatcherHistory in workers/evm); this pins what it returns.
func TestEVMWatchStateReadsOpenSessionsAndUnsettledTransfers(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	now := f.clock.Now()
	db := f.s.DB().W(f.ctx)
	set := func(p *models.Payment, fields map[string]any) {
		t.Helper()
		if err := db.Model(&models.Payment{}).Where("id = ?", p.ID).Updates(fields).Error; err != nil {
			t.Fatal(err)
		}
	}
	const (
		lateRecv  = "0x3333333333333333333333333333333333333333"
		pastRecv  = "0x4444444444444444444444444444444444444444"
		doneRecv  = "0x5555555555555555555555555555555555555555"
		underRecv = "0x6666666666666666666666666666666666666666"
	)
	paid := f.usdcSession(l.Slug) // start 500, paid below: confirming
	f.usdcSession(l.Slug)         // pending
	// A watcher's index, read in full now and incrementally after: each
	// check below must find in it what the full read finds.
	idx := f.s.NewOpenIndex("base")
	idx.FullEvery = 100 * 365 * 24 * time.Hour
	fromIndex := func(want *models.EVMWatchState) {
		t.Helper()
		got, err := f.s.EVMWatchStateFrom(f.ctx, "base", idx)
		if err != nil || !slices.Equal(got.Receivers, want.Receivers) || got.OldestStart != want.OldestStart {
			t.Fatalf("from the index: %v %d (%v), want %v %d", got.Receivers, got.OldestStart, err, want.Receivers, want.OldestStart)
		}
	}
	st, err := f.s.EVMWatchState(f.ctx, "base")
	if err != nil {
		t.Fatal(err)
	}
	fromIndex(st)
	late := f.usdcSession(l.Slug)
	set(late, map[string]any{"status": models.StatusExpired, "expires_at": now.Add(-time.Hour), "pay_address": lateRecv, "start_block": 400})
	past := f.usdcSession(l.Slug)
	set(past, map[string]any{"status": models.StatusExpired, "expires_at": now.Add(-48 * time.Hour), "pay_address": pastRecv, "start_block": 100})
	done := f.usdcSession(l.Slug)
	set(done, map[string]any{"status": models.StatusConfirmed, "pay_address": doneRecv, "start_block": 50})
	under := f.usdcSession(l.Slug)
	set(under, map[string]any{"status": models.StatusUnderpaid, "pay_address": underRecv, "start_block": 450})

	// Transfers: paid's (block 501, confirming at 3 required), one to the
	// confirmed session (settled), an unmatched young one and an unmatched
	// one older than the reorg window.
	pay := evmLog(evmReceiver, paid.AmountExpected, 501, now)
	if r, err := f.s.RecordEVMTransfer(f.ctx, pay, 501); err != nil || !r.Matched {
		t.Fatalf("pay: %+v %v", r, err)
	}
	settled := evmLog(doneRecv, 1_000_000, 300, now)
	young := evmLog(evmReceiver, 123, 700, now)
	old := evmLog(evmReceiver, 456, 200, now)
	for _, x := range []models.EVMTransfer{settled, young, old} {
		if _, err := f.s.RecordEVMTransfer(f.ctx, x, 701); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Model(&models.Transfer{}).Where("tx_id = ?", settled.TxHash).Update("payment_id", done.ID).Error; err != nil {
		t.Fatal(err)
	}
	f.setEVMState("base", 701, now) // reorg window: blocks 574…701

	st, err = f.s.EVMWatchState(f.ctx, "base")
	if err != nil {
		t.Fatal(err)
	}
	fromIndex(st)
	if want := []string{evmReceiver, lateRecv, underRecv}; !slices.Equal(st.Receivers, want) {
		t.Errorf("receivers %v, want %v (sorted; no expired-long-ago or confirmed session's)", st.Receivers, want)
	}
	if st.OldestStart != 400 {
		t.Errorf("oldest start %d, want 400 (the late-window session's; closed ones do not count)", st.OldestStart)
	}
	if !st.HasCursor || st.Head != 701 || st.Cursor != 701 {
		t.Errorf("cursor %+v", st)
	}
	var got []string
	for _, u := range st.Unsettled {
		got = append(got, u.TxHash)
	}
	if want := []string{pay.TxHash, young.TxHash}; !slices.Equal(got, want) {
		t.Errorf("unsettled %v, want %v (block order: the credited one at any depth, the young unmatched one)", got, want)
	}
	if st.Unsettled[0].PaymentID == nil || *st.Unsettled[0].PaymentID != paid.ID || st.Unsettled[1].PaymentID != nil {
		t.Errorf("unsettled payments %+v", st.Unsettled)
	}

	// No open session: no receivers, and the oldest start is not read.
	for _, p := range []*models.Payment{paid, late, under} {
		set(p, map[string]any{"status": models.StatusConfirmed})
	}
	if err := db.Model(&models.Payment{}).Where("status = ?", models.StatusPending).Update("status", models.StatusConfirmed).Error; err != nil {
		t.Fatal(err)
	}
	st, err = f.s.EVMWatchState(f.ctx, "base")
	if err != nil || len(st.Receivers) != 0 || st.OldestStart != 0 {
		t.Fatalf("no open session: %+v %v", st, err)
	}
	fromIndex(st)
}
