package models_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"till/models"
)

func TestMatchingSingleAddress(t *testing.T) {
	type check func(t *testing.T, f *fixture, p *models.Payment)
	cases := []struct {
		name string
		// pay returns the credits to observe for session p (after one block).
		pay        func(f *fixture, p *models.Payment) []models.KaspaCredit
		wantStatus models.PaymentStatus
		wantRecv   func(p *models.Payment) int64
		extra      check
	}{
		{
			name: "exact amount",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				return []models.KaspaCredit{f.credit(p.PayAddress, p.AmountExpected)}
			},
			wantStatus: models.StatusConfirming,
			wantRecv:   func(p *models.Payment) int64 { return p.AmountExpected },
			extra: func(t *testing.T, f *fixture, p *models.Payment) {
				if p.TxID == "" || p.DetectedAt == nil || p.Late {
					t.Errorf("tx %q detected %v late %v", p.TxID, p.DetectedAt, p.Late)
				}
			},
		},
		{
			name: "one sompi under",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				return []models.KaspaCredit{f.credit(p.PayAddress, p.AmountExpected-1)}
			},
			wantStatus: models.StatusPending,
			wantRecv:   func(*models.Payment) int64 { return 0 },
			extra:      expectUnmatched(1),
		},
		{
			name: "one sompi over",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				return []models.KaspaCredit{f.credit(p.PayAddress, p.AmountExpected+1)}
			},
			wantStatus: models.StatusPending,
			wantRecv:   func(*models.Payment) int64 { return 0 },
			extra:      expectUnmatched(1),
		},
		{
			name: "duplicate outpoint in one observation",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				c := f.credit(p.PayAddress, p.AmountExpected)
				return []models.KaspaCredit{c, c}
			},
			wantStatus: models.StatusConfirming,
			wantRecv:   func(p *models.Payment) int64 { return p.AmountExpected },
		},
		{
			name: "credit from a block older than the session",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				c := f.credit(p.PayAddress, p.AmountExpected)
				c.BlockDaaScore = uint64(p.StartDaaScore) - 1 // before the session's start
				return []models.KaspaCredit{c}
			},
			wantStatus: models.StatusPending,
			wantRecv:   func(*models.Payment) int64 { return 0 },
			extra:      expectUnmatched(0),
		},
		{
			// The start score is the virtual score observed before the
			// session opened: a block with that very score came after.
			name: "credit from the block at the session's start score",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				c := f.credit(p.PayAddress, p.AmountExpected)
				c.BlockDaaScore = uint64(p.StartDaaScore)
				return []models.KaspaCredit{c}
			},
			wantStatus: models.StatusConfirming,
			wantRecv:   func(p *models.Payment) int64 { return p.AmountExpected },
		},
		{
			name: "same amount paid twice: one credit pays one session",
			pay: func(f *fixture, p *models.Payment) []models.KaspaCredit {
				return []models.KaspaCredit{f.credit(p.PayAddress, p.AmountExpected), f.credit(p.PayAddress, p.AmountExpected)}
			},
			wantStatus: models.StatusConfirming,
			wantRecv:   func(p *models.Payment) int64 { return p.AmountExpected },
			extra:      expectUnmatched(1),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.session()
			f.advance(1)
			credits := tc.pay(f, p)
			f.observe(credits...)
			f.observe(credits...) // seeing the same chain again changes nothing
			got := f.reload(p.ID)
			if got.Status != tc.wantStatus || got.AmountReceived != tc.wantRecv(p) {
				t.Fatalf("status %s received %d, want %s %d", got.Status, got.AmountReceived, tc.wantStatus, tc.wantRecv(p))
			}
			if tc.extra != nil {
				tc.extra(t, f, got)
			}
		})
	}
}

func expectUnmatched(n int) func(t *testing.T, f *fixture, p *models.Payment) {
	return func(t *testing.T, f *fixture, p *models.Payment) {
		t.Helper()
		ts, err := f.s.UnmatchedTransfers(f.ctx, f.m.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != n {
			t.Fatalf("%d unmatched credits visible to the merchant, want %d", len(ts), n)
		}
	}
}

func TestUniqueAmountsOnSharedAddress(t *testing.T) {
	f := newFixture(t)
	seen := map[int64]bool{}
	for i := 0; i < 50; i++ {
		p := f.session()
		if p.PayAddress != merchantAddr || p.DerivationIndex != nil {
			t.Fatalf("single-address session got %s", p.PayAddress)
		}
		extra := p.AmountExpected - f.link.Amount
		if extra < 1 || extra > 99_999 {
			t.Fatalf("offset %d out of range", extra)
		}
		if seen[p.AmountExpected] {
			t.Fatalf("amount %d given to two open sessions", p.AmountExpected)
		}
		seen[p.AmountExpected] = true
	}
}

func TestConcurrentSessionsOnOneAddress(t *testing.T) {
	f := newFixture(t)
	a, b, c := f.session(), f.session(), f.session()
	f.advance(5)
	// Pay b and a (in that order, one block apart), leave c unpaid.
	cb := f.credit(merchantAddr, b.AmountExpected)
	f.advance(1)
	ca := f.credit(merchantAddr, a.AmountExpected)
	f.observe(ca, cb)
	for _, tc := range []struct {
		p    *models.Payment
		want models.PaymentStatus
		tx   string
	}{{a, models.StatusConfirming, ca.TxID}, {b, models.StatusConfirming, cb.TxID}, {c, models.StatusPending, ""}} {
		got := f.reload(tc.p.ID)
		if got.Status != tc.want || got.TxID != tc.tx {
			t.Errorf("session %s: %s tx %q, want %s %q", tc.p.ID[:8], got.Status, got.TxID, tc.want, tc.tx)
		}
	}
}

func TestConfirmationDepthAndEvent(t *testing.T) {
	f := newFixture(t)
	p := f.session()
	f.advance(1)
	c := f.credit(merchantAddr, p.AmountExpected)
	f.observe(c)
	f.advance(99)
	f.observe(c)
	got := f.reload(p.ID)
	if got.Status != models.StatusConfirming || got.Confirmations != 99 {
		t.Fatalf("at depth 99: %s %d", got.Status, got.Confirmations)
	}
	f.advance(1)
	res := f.observe(c)
	got = f.reload(p.ID)
	if got.Status != models.StatusConfirmed || got.Confirmations != 100 || got.ConfirmedAt == nil || res.Confirmed != 1 {
		t.Fatalf("at depth 100: %s %d %v (res %+v)", got.Status, got.Confirmations, got.ConfirmedAt, res)
	}
	f.advance(50)
	f.observe(c)
	if evs := f.events(p.ID); !reflect.DeepEqual(evs, []string{models.EventPaymentConfirmed}) {
		t.Fatalf("events %v, want exactly one payment.confirmed", evs)
	}
}

func TestCreditSeenDeepConfirmsAtOnce(t *testing.T) {
	f := newFixture(t)
	p := f.session()
	f.advance(1)
	c := f.credit(merchantAddr, p.AmountExpected)
	f.advance(500) // the watcher was down while the credit got deep
	f.observe(c)
	got := f.reload(p.ID)
	if got.Status != models.StatusConfirmed || got.Confirmations != 500 {
		t.Fatalf("%s %d", got.Status, got.Confirmations)
	}
	if evs := f.events(p.ID); len(evs) != 1 {
		t.Fatalf("events %v", evs)
	}
}

func TestDaaScoreChange(t *testing.T) {
	f := newFixture(t)
	p := f.session()
	f.advance(1)
	c := f.credit(merchantAddr, p.AmountExpected)
	f.observe(c)
	f.advance(90)
	// A reorg moves the UTXO's accepting block 40 scores later.
	c.BlockDaaScore += 40
	f.observe(c)
	got := f.reload(p.ID)
	if got.Status != models.StatusConfirming || got.Confirmations != 50 {
		t.Fatalf("after the score changed: %s %d, want confirming 50", got.Status, got.Confirmations)
	}
	f.advance(50)
	f.observe(c)
	if got := f.reload(p.ID); got.Status != models.StatusConfirmed || got.Confirmations != 100 {
		t.Fatalf("%s %d", got.Status, got.Confirmations)
	}
}

func TestExpiryAndLateCredits(t *testing.T) {
	cases := []struct {
		name     string
		blockAge time.Duration // how long before "seen" the credit's block is
		wantLate bool
	}{
		{"paid after expiry, within the late window", 0, true},
		{"paid before expiry, seen late", 20 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.session() // 30-minute window
			f.advance(10)
			f.clock.Add(40 * time.Minute)
			f.daa += 40 * 60 * 10
			f.observe() // the watcher looked after the deadline: nothing
			if n, err := f.s.ExpireDue(f.ctx, 100); err != nil || n != 1 {
				t.Fatalf("expired %d %v", n, err)
			}
			if got := f.reload(p.ID); got.Status != models.StatusExpired {
				t.Fatalf("status %s", got.Status)
			}
			f.clock.Add(time.Second)
			c := f.credit(merchantAddr, p.AmountExpected)
			c.BlockDaaScore -= uint64(tc.blockAge.Seconds() * 10)
			f.observe(c)
			got := f.reload(p.ID)
			if got.Status == models.StatusPending || got.Status == models.StatusExpired || got.Late != tc.wantLate {
				t.Fatalf("status %s late %v, want credited with late=%v", got.Status, got.Late, tc.wantLate)
			}
			if evs := f.events(p.ID); evs[0] != models.EventPaymentExpired {
				t.Fatalf("events %v", evs)
			}
		})
	}
}

func TestCreditAfterLateWindowNotMatched(t *testing.T) {
	f := newFixture(t, func(o *models.StoreOptions) { o.LateWindow = time.Hour })
	p := f.session()
	f.expireOpen(1)
	f.clock.Add(2 * time.Hour)
	f.daa += 2 * 3600 * 10
	f.observe(f.credit(merchantAddr, p.AmountExpected))
	if got := f.reload(p.ID); got.Status != models.StatusExpired {
		t.Fatalf("credited outside the late window: %s", got.Status)
	}
}

func TestNoExpiryWithoutObservation(t *testing.T) {
	f := newFixture(t)
	p := f.session()
	f.clock.Add(2 * time.Hour) // chain unreachable: no observation since creation
	if n, err := f.s.ExpireDue(f.ctx, 10); err != nil || n != 0 {
		t.Fatalf("expired %d during an outage (%v)", n, err)
	}
	if got := f.reload(p.ID); got.Status != models.StatusPending {
		t.Fatalf("status %s", got.Status)
	}
	f.observe()
	if n, _ := f.s.ExpireDue(f.ctx, 10); n != 1 {
		t.Fatalf("after the chain was seen again: expired %d", n)
	}
}

// TestUniqueAmountAvoidsLateWindow shrinks the offset range to three
// amounts: an expired session that can still be paid late keeps its amount,
// open sessions take the others, and then no amount is left.
func TestUniqueAmountAvoidsLateWindow(t *testing.T) {
	f := newFixture(t, func(o *models.StoreOptions) { o.UniqueOffsetRange = 3 })
	first := f.session()
	f.expireOpen(1)
	used := map[int64]bool{first.AmountExpected: true}
	for i := 0; i < 2; i++ {
		p := f.session()
		if used[p.AmountExpected] {
			t.Fatalf("amount %d reused while still payable", p.AmountExpected)
		}
		used[p.AmountExpected] = true
	}
	_, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
	var un *models.UnavailableError
	if !errors.As(err, &un) {
		t.Fatalf("with every amount taken: %v", err)
	}
	// Once the late window has passed, the expired session's amount is free.
	f.clock.Add(25 * time.Hour)
	if _, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug}); err != nil {
		t.Fatalf("after the late window: %v", err)
	}
}
