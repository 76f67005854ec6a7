package models_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/models"
)

// kiraEvent is a KiraPay event as a test reads it back.
type kiraEvent struct {
	models.Event
	Tx models.KiraPayTransaction
}

// kiraRank orders events written at the same instant as the projection
// writes them: created, then succeeded or failed.
var kiraRank = map[string]int{models.EventTransactionCreated: 0, models.EventTransactionSucceeded: 1, models.EventTransactionFailed: 1}

// kiraEvents lists a payment's KiraPay events, oldest first.
func kiraEvents(f *fixture, paymentID string) []kiraEvent {
	f.t.Helper()
	evs, err := f.s.EventsForPayment(f.ctx, paymentID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []kiraEvent
	for _, e := range evs {
		if e.Dialect != models.DialectKiraPay {
			continue
		}
		k := kiraEvent{Event: e}
		if err := json.Unmarshal([]byte(e.Data), &k.Tx); err != nil {
			f.t.Fatalf("event data %s: %v", e.Data, err)
		}
		out = append(out, k)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return kiraRank[out[i].Type] < kiraRank[out[j].Type]
	})
	return out
}

func kiraTypes(evs []kiraEvent) string {
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = strings.TrimPrefix(e.Type, "transaction.")
	}
	return strings.Join(s, " ")
}

// kiraHarness drives one USDC session through the domain calls the EVM
// watcher, the checkout and the receipt checker make.
type kiraHarness struct {
	f    *fixture
	l    *models.PaymentLink
	p    *models.Payment
	head int64
}

func newKiraHarness(t *testing.T) *kiraHarness {
	f, l := usdcFixture(t, evmReceiver)
	return &kiraHarness{f: f, l: l, p: f.usdcSession(l.Slug), head: 500}
}

// transfer records a transfer of amount in tx hash (new when ""), depth
// deep (1: just mined).
func (h *kiraHarness) transfer(hash string, amount, depth int64) models.EVMTransfer {
	h.f.t.Helper()
	h.f.clock.Add(time.Second) // each step its own instant
	h.head++
	x := evmLog(evmReceiver, amount, h.head, h.f.clock.Now())
	if hash != "" {
		x.TxHash = hash
	}
	if _, err := h.f.s.RecordEVMTransfer(h.f.ctx, x, h.head+depth-1); err != nil {
		h.f.t.Fatal(err)
	}
	return x
}

// confirm observes the chain deep enough to confirm what is credited.
func (h *kiraHarness) confirm() {
	h.f.t.Helper()
	h.f.clock.Add(time.Second) // each step its own instant
	h.head += 10
	if _, err := h.f.s.ApplyEVMObservation(h.f.ctx, models.EVMObservation{Chain: "base", ChainID: baseChainID, Head: h.head,
		Cursor: h.head, CursorHash: "0xc", CursorTime: h.f.clock.Now()}); err != nil {
		h.f.t.Fatal(err)
	}
}

// orphan takes transfer x off the chain.
func (h *kiraHarness) orphan(x models.EVMTransfer) {
	h.f.t.Helper()
	h.f.clock.Add(time.Second) // each step its own instant
	var tr models.Transfer
	if err := h.f.s.DB().R(h.f.ctx).Where("tx_id = ? AND orphaned_at IS NULL", x.TxHash).Take(&tr).Error; err != nil {
		h.f.t.Fatal(err)
	}
	if _, err := h.f.s.ApplyEVMObservation(h.f.ctx, models.EVMObservation{Chain: "base", ChainID: baseChainID, Head: h.head,
		Orphaned: []models.EVMSettling{{ID: tr.ID, TxHash: tr.TxID, LogIndex: tr.OutputIndex, BlockNumber: *tr.BlockNumber, BlockHash: tr.BlockHash}},
		Cursor:   h.head, CursorHash: "0xc", CursorTime: h.f.clock.Now()}); err != nil {
		h.f.t.Fatal(err)
	}
}

func (h *kiraHarness) submit(hash string) {
	h.f.t.Helper()
	h.f.clock.Add(time.Second) // each step its own instant
	if _, err := h.f.s.SubmitWalletTx(h.f.ctx, h.p.ID, hash); err != nil {
		h.f.t.Fatal(err)
	}
}

func (h *kiraHarness) revert() {
	h.f.t.Helper()
	h.f.clock.Add(time.Second) // each step its own instant
	if ok, err := h.f.s.MarkSubmittedTxFailed(h.f.ctx, h.p.ID, "execution reverted"); err != nil || !ok {
		h.f.t.Fatalf("mark failed: %v %v", ok, err)
	}
}

// expire lets the session's time (and the orphan grace) pass on the
// chain's clock and runs the expiry.
func (h *kiraHarness) expire() {
	h.f.t.Helper()
	h.f.clock.Add(2 * time.Hour)
	h.f.setEVMState("base", h.head, h.f.clock.Now())
	if _, err := h.f.s.ExpireDue(h.f.ctx, 100); err != nil {
		h.f.t.Fatal(err)
	}
	if got := h.f.reload(h.p.ID); got.Status != models.StatusExpired {
		h.f.t.Fatalf("status %s after expiry, want expired", got.Status)
	}
}

var kiraEventID = regexp.MustCompile(`^evt_[0-9]{13}_[a-z0-9]{6}$`)

// TestKiraPayProjection: each transition × payment state yields the
// KiraPay event of issue 10 §3 (or none), with the transaction object of
// that moment; KasPay's events are unchanged beside it.
func TestKiraPayProjection(t *testing.T) {
	h1, h2 := "0x"+txid(), "0x"+txid()
	cases := []struct {
		name string
		run  func(h *kiraHarness)
		// want is the KiraPay types in order; errs the data.error of
		// each (""), hashes the data.hash of each ("-" for null).
		want, kaspay string
		errs         []string
		hashes       []string
	}{
		{"transfer then confirmed", func(h *kiraHarness) { h.transfer(h1, h.p.AmountExpected, 1); h.confirm() },
			"created succeeded", "[payment.confirmed]", []string{"", ""}, []string{h1, h1}},
		{"transfer deep enough", func(h *kiraHarness) { h.transfer(h1, h.p.AmountExpected, 5) },
			"created succeeded", "[payment.confirmed]", []string{"", ""}, []string{h1, h1}},
		{"transfer unconfirmed", func(h *kiraHarness) { h.transfer(h1, h.p.AmountExpected, 1) },
			"created", "[]", []string{""}, []string{h1}},
		{"submitted then mined", func(h *kiraHarness) { h.submit(h1); h.transfer(h1, h.p.AmountExpected, 1); h.confirm() },
			"created succeeded", "[payment.confirmed]", []string{"", ""}, []string{h1, h1}},
		{"submitted, reverted, then paid by another transfer", func(h *kiraHarness) {
			h.submit(h1)
			h.revert()
			h.transfer(h2, h.p.AmountExpected, 5)
		}, "created failed created succeeded", "[payment.confirmed]",
			[]string{"", models.KiraPayErrReverted, "", ""}, []string{h1, h1, h2, h2}},
		{"expired with nothing seen", func(h *kiraHarness) { h.expire() },
			"", "[payment.expired]", nil, nil},
		{"submitted, never mined, expired", func(h *kiraHarness) { h.submit(h1); h.expire() },
			"created failed", "[payment.expired]", []string{"", models.KiraPayErrNotMined}, []string{h1, h1}},
		{"submitted, reverted, expired", func(h *kiraHarness) { h.submit(h1); h.revert(); h.expire() },
			"created failed", "[payment.expired]", []string{"", models.KiraPayErrReverted}, []string{h1, h1}},
		{"transfer orphaned, expired", func(h *kiraHarness) { x := h.transfer(h1, h.p.AmountExpected, 1); h.orphan(x); h.expire() },
			"created failed", "[payment.expired]", []string{"", models.KiraPayErrOrphaned}, []string{h1, h1}},
		{"transfer orphaned then mined again", func(h *kiraHarness) {
			x := h.transfer(h1, h.p.AmountExpected, 1)
			h.orphan(x)
			h.transfer(h1, h.p.AmountExpected, 1)
			h.confirm()
		}, "created succeeded", "[payment.confirmed]", []string{"", ""}, []string{h1, h1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newKiraHarness(t)
			tc.run(h)
			evs := kiraEvents(h.f, h.p.ID)
			if got := kiraTypes(evs); got != tc.want {
				t.Fatalf("KiraPay events %q, want %q", got, tc.want)
			}
			var kp []string
			all, _ := h.f.s.EventsForPayment(h.f.ctx, h.p.ID)
			for _, e := range all {
				if e.Dialect == models.DialectKasPay {
					kp = append(kp, e.Type)
				}
			}
			if fmt.Sprint(kp) != tc.kaspay {
				t.Fatalf("KasPay events %v, want %s", kp, tc.kaspay)
			}
			for i, e := range evs {
				if !kiraEventID.MatchString(e.ID) || !strings.HasPrefix(e.ID, fmt.Sprintf("evt_%d_", e.CreatedAt.UnixMilli())) {
					t.Errorf("event id %q", e.ID)
				}
				if e.Tx.ID != models.ShortID(h.p.ID) || e.Tx.User.Username != h.f.m.Name || e.Tx.Type != "Transfer" {
					t.Errorf("%s: transaction %+v", e.Type, e.Tx)
				}
				if e.Tx.Error != tc.errs[i] {
					t.Errorf("%s #%d: error %q, want %q", e.Type, i, e.Tx.Error, tc.errs[i])
				}
				if e.Tx.Hash == nil || *e.Tx.Hash != tc.hashes[i] {
					t.Errorf("%s #%d: hash %v, want %s", e.Type, i, e.Tx.Hash, tc.hashes[i])
				}
				wantStatus := map[string]string{models.EventTransactionCreated: models.KiraPayPending,
					models.EventTransactionSucceeded: models.KiraPaySuccess, models.EventTransactionFailed: models.KiraPayFailed}[e.Type]
				if e.Tx.Status != wantStatus {
					t.Errorf("%s: status %s, want %s", e.Type, e.Tx.Status, wantStatus)
				}
				switch e.Type {
				case models.EventTransactionCreated:
					if e.Tx.Payload != nil || e.Subject == nil || *e.Subject != tc.hashes[i] {
						t.Errorf("created: payload %v subject %v", e.Tx.Payload, e.Subject)
					}
				case models.EventTransactionSucceeded:
					if e.Tx.Payload == nil || e.Tx.Payload.Status != "complete" || e.Tx.Payload.Amount != fmt.Sprint(h.p.AmountExpected) {
						t.Errorf("succeeded: payload %+v", e.Tx.Payload)
					}
				}
				if e.Type != models.EventTransactionCreated && e.Subject != nil {
					t.Errorf("%s has subject %q", e.Type, *e.Subject)
				}
			}
		})
	}
}

// TestKiraPayProjectionKaspaNoQuery: a Kaspa payment has no KiraPay event
// and costs the projection no query (a nil transaction would panic).
func TestKiraPayProjectionKaspaNoQuery(t *testing.T) {
	p := &models.Payment{ID: uuid.NewString(), Chain: models.ChainKaspa, PriceCurrency: models.KAS, Status: models.StatusConfirmed}
	for _, tr := range []models.Transition{models.TransitionTransferSeen, models.TransitionConfirmed, models.TransitionExpired,
		models.TransitionTxSubmitted, models.TransitionTxReverted} {
		got, err := models.KiraPayProjection(models.ProjectCtx{}, p, tr)
		if err != nil || got != nil {
			t.Fatalf("%s: %+v %v", tr, got, err)
		}
	}
}

// TestKiraPayCreatedOnce: the database refuses a second created for the
// same session and hash, and concurrent reports and credits of one
// transaction write one created.
func TestKiraPayCreatedOnce(t *testing.T) {
	t.Run("constraint", func(t *testing.T) {
		h := newKiraHarness(t)
		hash := "0x" + txid()
		h.submit(hash)
		ev := models.Event{ID: models.KiraPayEventID(h.f.clock.Now()), MerchantID: h.f.m.ID, Type: models.EventTransactionCreated,
			Dialect: models.DialectKiraPay, PaymentID: &h.p.ID, Subject: &hash, Data: "{}", CreatedAt: h.f.clock.Now()}
		if err := h.f.s.DB().W(h.f.ctx).Create(&ev).Error; err == nil {
			t.Fatal("a second created for the same hash was accepted")
		}
		other := "0x" + txid()
		ev.ID, ev.Subject = models.KiraPayEventID(h.f.clock.Now()), &other
		if err := h.f.s.DB().W(h.f.ctx).Create(&ev).Error; err != nil {
			t.Fatalf("control insert (another hash): %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		h := newKiraHarness(t)
		hash := "0x" + txid()
		const n = 8
		logs := make([]models.EVMTransfer, n)
		for i := range logs {
			logs[i] = evmLog(evmReceiver, h.p.AmountExpected, 501, h.f.clock.Now())
			logs[i].TxHash = hash
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := h.f.s.SubmitWalletTx(h.f.ctx, h.p.ID, hash)
				var ce *models.ConflictError
				var se *models.StateError
				if err != nil && !errors.As(err, &ce) && !errors.As(err, &se) {
					errs <- err
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := h.f.s.RecordEVMTransfer(h.f.ctx, logs[i], 501); err != nil && !strings.Contains(err.Error(), "concurrently") &&
					!strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "busy") {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := kiraTypes(kiraEvents(h.f, h.p.ID)); got != "created" {
			t.Fatalf("KiraPay events %q, want one created", got)
		}
	})
}
