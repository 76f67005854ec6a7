package models_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"till/models"
)

func strp(s string) *string { return &s }

// TestKiraPayPresenter: the KiraPay transaction of a session in each state
// — status, error, hash, payload and source as GET /api/wallet/transactions
// and the transaction.* events show them.
func TestKiraPayPresenter(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	known := at.Add(90 * time.Second)
	const (
		txHash  = "0x" + "ab" + "00000000000000000000000000000000000000000000000000000000000000"
		subHash = "0x" + "cd" + "00000000000000000000000000000000000000000000000000000000000000"
		orphan  = "0x" + "ef" + "00000000000000000000000000000000000000000000000000000000000000"
	)
	base := func(mod func(p *models.Payment)) *models.Payment {
		link := "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
		p := &models.Payment{ID: "0190aaaa-1111-7222-8333-444455556666", MerchantID: "0190bbbb-1111-7222-8333-444455556666",
			LinkID: &link, Chain: "base", Asset: "USDC", PayAddress: "0x1111111111111111111111111111111111111111",
			AmountExpected: 25_000_123, Status: models.StatusPending, RequiredConfirmations: 3, TxKnownAt: &known,
			CreatedAt: at, UpdatedAt: at.Add(time.Minute)}
		mod(p)
		return p
	}
	credited := func(status models.PaymentStatus, amount, conf int64) func(p *models.Payment) {
		return func(p *models.Payment) {
			p.Status, p.AmountReceived, p.Confirmations, p.TxID = status, amount, conf, txHash
			p.SenderAddress = "0x2222222222222222222222222222222222222222"
		}
	}
	cases := []struct {
		name, status, err string
		p                 *models.Payment
		orphaned          string
		hash              string
		payload           string // payload.status, "" for none
		source            *string
	}{
		{"submitted pending", models.KiraPayPending, "",
			base(func(p *models.Payment) { p.SubmittedTxHash = subHash }), "", subHash, "", strp("6")},
		{"submitted reverted", models.KiraPayFailed, models.KiraPayErrReverted,
			base(func(p *models.Payment) { p.SubmittedTxHash, p.Failure = subHash, "reverted" }), "", subHash, "", strp("6")},
		{"credited pending", models.KiraPayPending, "",
			base(credited(models.StatusConfirming, 25_000_123, 1)), "", txHash, "pending", strp("6")},
		{"credited after a reverted report", models.KiraPayPending, "",
			base(func(p *models.Payment) {
				credited(models.StatusConfirming, 25_000_123, 1)(p)
				p.SubmittedTxHash, p.Failure = subHash, "reverted"
			}), "", txHash, "pending", strp("6")},
		{"confirmed", models.KiraPaySuccess, "",
			base(credited(models.StatusConfirmed, 25_000_123, 3)), "", txHash, "complete", strp("6")},
		{"expired short", models.KiraPayFailed, models.KiraPayErrShort,
			base(credited(models.StatusExpired, 1_000_000, 3)), "", txHash, "pending", strp("6")},
		{"expired orphaned", models.KiraPayFailed, models.KiraPayErrOrphaned,
			base(func(p *models.Payment) { p.Status = models.StatusExpired }), orphan, orphan, "", strp("6")},
		{"expired submitted never mined", models.KiraPayFailed, models.KiraPayErrNotMined,
			base(func(p *models.Payment) { p.Status, p.SubmittedTxHash = models.StatusExpired, subHash }), "", subHash, "", strp("6")},
		{"expired submitted reverted", models.KiraPayFailed, models.KiraPayErrReverted,
			base(func(p *models.Payment) {
				p.Status, p.SubmittedTxHash, p.Failure = models.StatusExpired, subHash, "reverted"
			}), "", subHash, "", strp("6")},
		{"non-CCTP chain", models.KiraPaySuccess, "",
			base(func(p *models.Payment) {
				credited(models.StatusConfirmed, 25_000_123, 3)(p)
				p.Chain = "localdev"
			}), "", txHash, "complete", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := models.KiraPayTx(models.KiraPayTxSource{Payment: tc.p, Username: "john_doe", OrphanedTxID: tc.orphaned}, true)
			if got.Status != tc.status || got.Error != tc.err {
				t.Errorf("status %q error %q, want %q %q", got.Status, got.Error, tc.status, tc.err)
			}
			if got.Hash == nil || *got.Hash != tc.hash {
				t.Errorf("hash %v, want %s", got.Hash, tc.hash)
			}
			if (got.Source == nil) != (tc.source == nil) || (got.Source != nil && *got.Source != *tc.source) {
				t.Errorf("source %v, want %v", got.Source, tc.source)
			}
			switch {
			case tc.payload == "" && got.Payload != nil:
				t.Errorf("payload %+v, want none (no credited transfer)", got.Payload)
			case tc.payload != "" && got.Payload == nil:
				t.Errorf("no payload, want status %q", tc.payload)
			case tc.payload != "":
				pl := got.Payload
				if pl.Status != tc.payload || pl.Amount != itoa64(tc.p.AmountReceived) || pl.Sender != pl.MessageSender ||
					pl.Recipient != pl.MintRecipient || pl.Confirmations != tc.p.Confirmations || pl.RequiredConfirmations != 3 {
					t.Errorf("payload %+v", pl)
				}
				dom := func(d *uint32) string {
					if d == nil {
						return "null"
					}
					return itoa64(int64(*d))
				}
				want := "null"
				if tc.source != nil {
					want = *tc.source
				}
				if dom(pl.SourceDomain) != want || dom(pl.DestinationDomain) != want {
					t.Errorf("domains %s %s, want %s", dom(pl.SourceDomain), dom(pl.DestinationDomain), want)
				}
			}
			// Common fields: ShortIDs, the amount received as a number,
			// createdAt = when the transaction became known.
			if got.ID != "0190aaaa1111722283334444" || got.User.ID != "0190bbbb1111722283334444" || got.User.Username != "john_doe" ||
				got.Link == nil || *got.Link != "0190aaaabbbb7ccc8dddeeee" || got.Type != "Transfer" || got.V != 0 {
				t.Errorf("ids/type: %+v", got)
			}
			if got.CreatedAt != "2026-03-01T12:01:30.000Z" || got.UpdatedAt != "2026-03-01T12:01:00.000Z" {
				t.Errorf("createdAt %s updatedAt %s", got.CreatedAt, got.UpdatedAt)
			}
			if got.Price.String() != models.FormatAsset(tc.p.AmountReceived, models.USDC) {
				t.Errorf("price %s for %d received", got.Price, tc.p.AmountReceived)
			}
			// Without payload (transaction.created), never a payload.
			if models.KiraPayTx(models.KiraPayTxSource{Payment: tc.p, OrphanedTxID: tc.orphaned}, false).Payload != nil {
				t.Error("payload without withPayload")
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if tc.err == "" && strings.Contains(string(b), `"error"`) {
				t.Errorf("error key on a transaction that did not fail: %s", b)
			}
		})
	}
}

func itoa64(n int64) string { return models.FormatUnits(n, 0, 0) }

// walletFixture is a USDC merchant with one session in each state a wallet
// transaction can be in, each produced by the domain path that makes it,
// and sessions that must never be listed (nothing known, Kaspa).
type walletFixture struct {
	*fixture
	ids    map[string]string // state name → payment id
	hashes map[string]string // state name → the hash shown
}

// Wallet states, in the order their transactions became known.
var walletStates = []string{"short", "orphaned", "notmined", "submitted", "reverted", "confirming", "confirmed"}

func newWalletFixture(t *testing.T) *walletFixture {
	f, l := usdcFixture(t, evmReceiver)
	w := &walletFixture{fixture: f, ids: map[string]string{}, hashes: map[string]string{}}
	tick := func() { f.clock.Add(time.Second) }
	db := f.s.DB().W(f.ctx)

	// Phase 1, sessions that end expired. short: the merchant assigns a
	// transfer of too little, the session expires after the late window.
	short := f.usdcSession(l.Slug)
	tick()
	low := evmLog(evmReceiver, 1_000_000, 501, f.clock.Now())
	low.TxHash = walletHash("short")
	if _, err := f.s.RecordEVMTransfer(f.ctx, low, 501); err != nil {
		t.Fatal(err)
	}
	var lowT models.Transfer
	if err := db.Where("tx_id = ?", low.TxHash).Take(&lowT).Error; err != nil {
		t.Fatal(err)
	}
	if p, err := f.s.AssignCredit(f.ctx, f.m.ID, lowT.ID, short.ID); err != nil || p.Status != models.StatusUnderpaid {
		t.Fatalf("assign short: %+v %v", p, err)
	}
	w.ids["short"], w.hashes["short"] = short.ID, low.TxHash
	// orphaned: credited, then its block leaves the chain.
	orph := f.usdcSession(l.Slug)
	tick()
	x := evmLog(evmReceiver, orph.AmountExpected, 502, f.clock.Now())
	x.TxHash = walletHash("orphaned")
	if r, err := f.s.RecordEVMTransfer(f.ctx, x, 502); err != nil || !r.Matched {
		t.Fatalf("credit orphaned: %+v %v", r, err)
	}
	var xt models.Transfer
	if err := db.Where("tx_id = ?", x.TxHash).Take(&xt).Error; err != nil {
		t.Fatal(err)
	}
	tick()
	if r, err := f.s.ApplyEVMObservation(f.ctx, models.EVMObservation{Chain: "base", ChainID: baseChainID, Head: 503,
		Orphaned: []models.EVMSettling{{ID: xt.ID, BlockHash: xt.BlockHash}}, Cursor: 503, CursorHash: "0xc3",
		CursorTime: f.clock.Now()}); err != nil || r.Orphaned != 1 {
		t.Fatalf("orphan: %+v %v", r, err)
	}
	w.ids["orphaned"], w.hashes["orphaned"] = orph.ID, x.TxHash
	// notmined: a wallet report never mined.
	nm := f.usdcSession(l.Slug)
	tick()
	w.ids["notmined"], w.hashes["notmined"] = nm.ID, w.submit(nm.ID, "notmined")
	// Never listed: a session with nothing known, and a Kaspa payment.
	w.ids["nothing"] = f.usdcSession(l.Slug).ID
	kas := f.session()
	f.observe(f.credit(merchantAddr, kas.AmountExpected))
	if p := f.reload(kas.ID); p.TxKnownAt == nil {
		t.Fatal("the Kaspa credit set no tx_known_at: the test would not show Kaspa is left out")
	}
	w.ids["kaspa"] = kas.ID
	f.clock.Add(25 * time.Hour) // past expiry, the orphan grace and the late window
	f.setEVMState("base", 600, f.clock.Now())
	if _, err := f.s.ExpireDue(f.ctx, 100); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"short", "orphaned", "notmined", "nothing"} {
		if p := f.reload(w.ids[k]); p.Status != models.StatusExpired {
			t.Fatalf("%s: %s, want expired", k, p.Status)
		}
	}

	// Phase 2, open and paid sessions.
	sub := f.usdcSession(l.Slug)
	tick()
	w.ids["submitted"], w.hashes["submitted"] = sub.ID, w.submit(sub.ID, "submitted")
	rev := f.usdcSession(l.Slug)
	tick()
	w.ids["reverted"], w.hashes["reverted"] = rev.ID, w.submit(rev.ID, "reverted")
	if ok, err := f.s.MarkSubmittedTxFailed(f.ctx, rev.ID, "execution reverted"); err != nil || !ok {
		t.Fatalf("revert: %v %v", ok, err)
	}
	for i, k := range []string{"confirming", "confirmed"} {
		p := f.usdcSession(l.Slug)
		tick()
		x := evmLog(evmReceiver, p.AmountExpected, 601, f.clock.Now())
		x.TxHash = walletHash(k)
		if r, err := f.s.RecordEVMTransfer(f.ctx, x, int64(601+2*i)); err != nil || !r.Matched {
			t.Fatalf("credit %s: %+v %v", k, r, err)
		}
		w.ids[k], w.hashes[k] = p.ID, x.TxHash
	}
	return w
}

// walletHash is a transaction hash of its own for state name: the
// states' hashes differ from their first digits, so each prefix finds one.
func walletHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "0x" + hex.EncodeToString(sum[:])
}

// submit reports state name's hash from the customer's wallet for session
// id, partly upper-case as wallets may send it.
func (w *walletFixture) submit(id, name string) string {
	w.t.Helper()
	h := walletHash(name)
	if _, err := w.s.SubmitWalletTx(w.ctx, id, "0x"+strings.ToUpper(h[2:10])+h[10:]); err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *walletFixture) list(f models.KiraPayTxFilter) ([]models.KiraPayTransaction, int64) {
	w.t.Helper()
	if f.Page == 0 {
		f.Page = 1
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	txs, total, err := w.s.KiraPayTransactions(w.ctx, w.m.ID, f)
	if err != nil {
		w.t.Fatal(err)
	}
	return txs, total
}

// names maps listed transactions back to state names, in list order.
func (w *walletFixture) names(txs []models.KiraPayTransaction) []string {
	byID := map[string]string{}
	for k, id := range w.ids {
		byID[models.ShortID(id)] = k
	}
	out := []string{}
	for _, tx := range txs {
		out = append(out, byID[tx.ID])
	}
	return out
}

// TestKiraPayTransactions: the wallet list of sessions made by the domain
// shows each state as the presenter says, newest first, never a session
// with nothing known nor a Kaspa payment; its status filter (SQL) agrees
// with the presenter on every state; the hash filter finds each shown hash,
// the orphaned transfer's included, in full or by prefix; dates are
// inclusive; pages slice the same order with one total.
func TestKiraPayTransactions(t *testing.T) {
	w := newWalletFixture(t)
	want := map[string]struct{ status, err string }{
		"short":      {models.KiraPayFailed, models.KiraPayErrShort},
		"orphaned":   {models.KiraPayFailed, models.KiraPayErrOrphaned},
		"notmined":   {models.KiraPayFailed, models.KiraPayErrNotMined},
		"submitted":  {models.KiraPayPending, ""},
		"reverted":   {models.KiraPayFailed, models.KiraPayErrReverted},
		"confirming": {models.KiraPayPending, ""},
		"confirmed":  {models.KiraPaySuccess, ""},
	}
	all, total := w.list(models.KiraPayTxFilter{})
	newest := make([]string, len(walletStates))
	for i, k := range walletStates {
		newest[len(walletStates)-1-i] = k
	}
	if got := w.names(all); strings.Join(got, ",") != strings.Join(newest, ",") || total != int64(len(newest)) {
		t.Fatalf("listed %v (total %d), want %v", got, total, newest)
	}
	byName := map[string]models.KiraPayTransaction{}
	for i, k := range w.names(all) {
		byName[k] = all[i]
	}
	for k, wt := range want {
		tx := byName[k]
		if tx.Status != wt.status || tx.Error != wt.err || tx.Hash == nil || *tx.Hash != w.hashes[k] {
			t.Errorf("%s: status %q error %q hash %v, want %q %q %s", k, tx.Status, tx.Error, tx.Hash, wt.status, wt.err, w.hashes[k])
		}
		if tx.User.Username != "Shop" || tx.Source == nil || *tx.Source != "6" {
			t.Errorf("%s: user %+v source %v", k, tx.User, tx.Source)
		}
		p := w.reload(w.ids[k])
		if tx.CreatedAt != models.ISOTime(*p.TxKnownAt) {
			t.Errorf("%s: createdAt %s, want tx_known_at %s", k, tx.CreatedAt, models.ISOTime(*p.TxKnownAt))
		}
	}

	// The status filter, in SQL, against the presenter on every state.
	for filter, status := range map[string]string{
		models.KiraPayFilterPending: models.KiraPayPending, models.KiraPayFilterCompleted: models.KiraPaySuccess,
		models.KiraPayFilterFailed: models.KiraPayFailed, models.KiraPayFilterCancelled: models.KiraPayCancel,
	} {
		var exp []string
		for _, k := range newest {
			if want[k].status == status {
				exp = append(exp, k)
			}
		}
		txs, total := w.list(models.KiraPayTxFilter{Status: filter})
		if got := w.names(txs); strings.Join(got, ",") != strings.Join(exp, ",") || total != int64(len(exp)) {
			t.Errorf("status %s: %v (total %d), want %v", filter, got, total, exp)
		}
	}

	// Hash: each shown hash in full, by a prefix, upper-case; with a
	// status that excludes it; a prefix of none.
	for _, k := range walletStates {
		h := w.hashes[k]
		for _, q := range []string{h, h[:12], strings.ToUpper(h[:20])} {
			q, ok := models.KiraPayHashFilter(q)
			if !ok {
				t.Fatalf("%s: filter %q refused", k, q)
			}
			txs, total := w.list(models.KiraPayTxFilter{Hash: q})
			if got := w.names(txs); len(got) != 1 || got[0] != k || total != 1 {
				t.Errorf("hash %s (%s): %v total %d", q, k, got, total)
			}
		}
	}
	if txs, _ := w.list(models.KiraPayTxFilter{Hash: w.hashes["confirmed"], Status: models.KiraPayFilterFailed}); len(txs) != 0 {
		t.Errorf("hash + other status: %v", w.names(txs))
	}
	if txs, total := w.list(models.KiraPayTxFilter{Hash: "0x1234567890"}); len(txs) != 0 || total != 0 {
		t.Errorf("unknown prefix: %v", w.names(txs))
	}
	for _, bad := range []string{"", "0x", "1234", "0x12g4", "0x" + strings.Repeat("a", 65), " 0x12"} {
		if _, ok := models.KiraPayHashFilter(bad); ok {
			t.Errorf("hash filter %q accepted", bad)
		}
	}

	// Dates, inclusive on createdAt.
	at := func(k string) time.Time { return *w.reload(w.ids[k]).TxKnownAt }
	from, to := at("reverted"), at("confirming")
	txs, total := w.list(models.KiraPayTxFilter{From: &from, To: &to})
	if got := w.names(txs); strings.Join(got, ",") != "confirming,reverted" || total != 2 {
		t.Errorf("from..to inclusive: %v total %d", got, total)
	}
	if txs, total := w.list(models.KiraPayTxFilter{From: &to, To: &from}); len(txs) != 0 || total != 0 {
		t.Errorf("from after to: %v", w.names(txs))
	}

	// Pages: the same order, sliced; past the end empty with the total.
	var paged []string
	for page := 1; page <= 3; page++ {
		txs, total := w.list(models.KiraPayTxFilter{Page: page, Limit: 3})
		if total != 7 {
			t.Fatalf("page %d total %d", page, total)
		}
		paged = append(paged, w.names(txs)...)
	}
	if strings.Join(paged, ",") != strings.Join(newest, ",") {
		t.Errorf("pages %v, want %v", paged, newest)
	}
	if txs, total := w.list(models.KiraPayTxFilter{Page: 4, Limit: 3}); len(txs) != 0 || total != 7 {
		t.Errorf("past the end: %d rows total %d", len(txs), total)
	}

	// Another merchant sees none of them.
	other, err := w.s.Register(w.ctx, models.RegisterInput{Email: "o@example.com", Password: "securepassword", Name: "Other", KaspaAddress: merchantAddr})
	if err != nil {
		t.Fatal(err)
	}
	if txs, total, err := w.s.KiraPayTransactions(w.ctx, other.ID, models.KiraPayTxFilter{Page: 1, Limit: 10}); err != nil || len(txs) != 0 || total != 0 {
		t.Errorf("other merchant: %d rows total %d %v", len(txs), total, err)
	}
}
