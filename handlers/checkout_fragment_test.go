package handlers

import (
	"bytes"
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"till/models"
	"till/models/evm"
	"till/models/modeltest"
	"till/views/partials"
)

// fragmentFixture builds session views of every checkout phase the way a
// poll does (sessionView over a CheckoutView), at a fixed clock.
type fragmentFixture struct {
	h   *Handlers
	now time.Time
	// deadline is the sessions' expiry (fixed while now moves).
	deadline time.Time
}

func newFragmentFixture(t *testing.T) *fragmentFixture {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	f := &fragmentFixture{now: now, deadline: now.Add(14*time.Minute + 30*time.Second)}
	f.h = &Handlers{Store: modeltest.Store(t, func(o *models.StoreOptions) { o.Now = func() time.Time { return f.now } })}
	return f
}

// view is a Kaspa (or, with usdc, a Base USDC) session on an active link,
// changed by edit.
func (f *fragmentFixture) view(usdc bool, edit func(*models.CheckoutView)) partials.CheckoutSession {
	linkID := "lnk_frag"
	p := &models.Payment{
		ID: "pay_frag", LinkID: &linkID, Chain: models.ChainKaspa, Asset: "KAS",
		PayAddress:     "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73",
		AmountExpected: 100_000_12345, Status: models.StatusPending, RequiredConfirmations: 10,
		ExpiresAt: f.deadline, CreatedAt: f.now.Add(-30 * time.Second),
	}
	v := &models.CheckoutView{Payment: p, MerchantName: "Kaspa <Coffee> Roasters", Link: &models.PaymentLink{
		ID: linkID, Slug: "beans", Title: "Single-origin beans", Description: "250 g", Status: models.LinkActive,
		SuccessMessage: "Thanks!\nYour beans ship tomorrow.", RedirectURL: "https://shop.example.com/thanks",
	}}
	if usdc {
		token, _ := evm.ParseAddress("0x833589fcd6edb6e08f4c7c32d4f71b54bda02913", evm.Format)
		receiver, _ := evm.ParseAddress("0x1111111111111111111111111111111111111111", evm.Format)
		p.Chain, p.Asset, p.PayAddress, p.TokenAddress = "base", "USDC", receiver.Hex(), token.Hex()
		p.AmountExpected = 12_500_017
		v.EVM = &models.EVMCheckout{Network: "Base", ChainID: 8453, Token: token, Receiver: receiver,
			URI:      "ethereum:" + token.Hex() + "@8453/transfer?address=" + receiver.Hex() + "&uint256=12500017",
			TokenURL: "https://basescan.org/token/" + token.Hex()}
	}
	if edit != nil {
		edit(v)
	}
	return f.h.sessionView(v, true)
}

// uncached is the fragment rendered directly, as before the cache.
func uncached(t *testing.T, s partials.CheckoutSession, panel bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := partials.CheckoutPollResponse(s, panel).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFragmentCacheEveryPhase renders every phase, with and without the
// panel, through the cache (a miss, then a hit) and directly, and wants
// the same bytes; the phases share one payment id, so a stale entry of the
// previous phase would show.
func TestFragmentCacheEveryPhase(t *testing.T) {
	f := newFragmentFixture(t)
	at := func(d time.Duration) *time.Time { x := f.now.Add(d); return &x }
	kaspa := func(edit func(*models.Payment)) func() partials.CheckoutSession {
		return func() partials.CheckoutSession {
			return f.view(false, func(v *models.CheckoutView) { edit(v.Payment) })
		}
	}
	cases := []struct {
		name  string
		phase string
		view  func() partials.CheckoutSession
	}{
		{"pending", partials.PhasePending, kaspa(func(*models.Payment) {})},
		{"pending a second later", partials.PhasePending, func() partials.CheckoutSession {
			f.now = f.now.Add(time.Second)
			defer func() { f.now = f.now.Add(-time.Second) }()
			return f.view(false, nil)
		}},
		{"pending per-payment address", partials.PhasePending, kaspa(func(p *models.Payment) { idx := int64(7); p.DerivationIndex = &idx })},
		{"pending USD price", partials.PhasePending, kaspa(func(p *models.Payment) {
			p.PriceCurrency, p.PriceAmount, p.Rate, p.RateSource = models.USD, 1250, "0.125", "coingecko"
		})},
		{"pending stray credit", partials.PhasePending, func() partials.CheckoutSession {
			return f.view(false, func(v *models.CheckoutView) { v.StrayCredit = true })
		}},
		{"confirming", partials.PhaseConfirming, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.Confirmations, p.TxID = models.StatusConfirming, p.AmountExpected, 1, "ab12"
		})},
		{"confirming deeper", partials.PhaseConfirming, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.Confirmations, p.TxID = models.StatusConfirming, p.AmountExpected, 6, "ab12"
		})},
		{"underpaid", partials.PhaseUnderpaid, kaspa(func(p *models.Payment) {
			idx := int64(7)
			p.DerivationIndex, p.Status, p.AmountReceived, p.TxID = &idx, models.StatusUnderpaid, 40_000_00000, "ab12"
		})},
		{"underpaid shared address", partials.PhaseUnderpaid, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.TxID = models.StatusUnderpaid, 40_000_00000, "ab12"
		})},
		{"confirmed", partials.PhaseConfirmed, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.Confirmations, p.TxID, p.ConfirmedAt = models.StatusConfirmed, p.AmountExpected, 10, "ab12", at(0)
		})},
		{"confirmed late and overpaid", partials.PhaseConfirmed, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.TxID, p.Late = models.StatusConfirmed, p.AmountExpected+5_00000000, "ab12", true
		})},
		{"confirmed, no return URL", partials.PhaseConfirmed, func() partials.CheckoutSession {
			return f.view(false, func(v *models.CheckoutView) {
				v.Payment.Status, v.Payment.AmountReceived = models.StatusConfirmed, v.Payment.AmountExpected
				v.Link.RedirectURL = ""
			})
		}},
		{"expired by the clock", partials.PhaseExpired, kaspa(func(p *models.Payment) { p.ExpiresAt = f.now.Add(-time.Second) })},
		{"expired", partials.PhaseExpired, kaspa(func(p *models.Payment) { p.Status, p.ExpiredAt = models.StatusExpired, at(0) })},
		{"expired partly paid", partials.PhaseExpired, kaspa(func(p *models.Payment) {
			p.Status, p.AmountReceived, p.TxID = models.StatusExpired, 40_000_00000, "ab12"
		})},
		{"expired, link closed", partials.PhaseExpired, func() partials.CheckoutSession {
			return f.view(false, func(v *models.CheckoutView) {
				v.Payment.Status, v.Link.Status = models.StatusExpired, models.LinkInactive
			})
		}},
		{"USDC pending", partials.PhasePending, func() partials.CheckoutSession { return f.view(true, nil) }},
		{"USDC wallet tx sent", partials.PhasePending, func() partials.CheckoutSession {
			return f.view(true, func(v *models.CheckoutView) {
				v.Payment.SubmittedTxHash, v.EVM.SubmittedTxURL = "0xfeed", "https://basescan.org/tx/0xfeed"
			})
		}},
		{"USDC wallet tx failed", partials.PhasePending, func() partials.CheckoutSession {
			return f.view(true, func(v *models.CheckoutView) { v.Payment.SubmittedTxHash, v.Payment.Failure = "0xfeed", "reverted" })
		}},
		{"USDC confirmed", partials.PhaseConfirmed, func() partials.CheckoutSession {
			return f.view(true, func(v *models.CheckoutView) {
				v.Payment.Status, v.Payment.AmountReceived, v.Payment.TxID = models.StatusConfirmed, v.Payment.AmountExpected, "0xbeef"
				v.EVM.TxURL = "https://basescan.org/tx/0xbeef"
			})
		}},
	}
	var cache fragmentCache
	seen := map[string]string{}
	for _, tc := range cases {
		s := tc.view()
		if s.Phase != tc.phase {
			t.Fatalf("%s: the fixture is in phase %q, want %q", tc.name, s.Phase, tc.phase)
		}
		for _, panel := range []bool{true, false} {
			want := uncached(t, s, panel)
			if prev, ok := seen[string(want)]; ok && panel {
				t.Fatalf("%s renders as %s does: the case adds nothing", tc.name, prev)
			}
			seen[string(want)] = tc.name
			for _, round := range []string{"miss", "hit"} {
				got, err := cache.render(context.Background(), tc.view(), panel)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s, panel %v, %s: the cached fragment differs from a render\ngot:  %s\nwant: %s", tc.name, panel, round, got, want)
				}
			}
		}
	}
	if len(cache.entries) != 2 {
		t.Errorf("%d entries for one payment, want 2 (with and without the panel)", len(cache.entries))
	}
}

// TestFragmentCacheSeesEveryField changes each field of the view (and of its
// EVM part) in turn: the cache must render anew rather than serve the bytes
// of the view before, so a field added to CheckoutSession is covered
// without touching the cache.
func TestFragmentCacheSeesEveryField(t *testing.T) {
	f := newFragmentFixture(t)
	base := f.view(true, nil)
	check := func(name string, s partials.CheckoutSession) {
		t.Helper()
		if sameView(&base, &s) {
			t.Errorf("a change of %s is not seen", name)
		}
	}
	rt := reflect.TypeOf(base)
	for i := range rt.NumField() {
		s := base
		evmCopy := *base.EVM
		s.EVM = &evmCopy
		if rt.Field(i).Name == "EVM" {
			s.EVM = nil
		} else {
			change(t, reflect.ValueOf(&s).Elem().Field(i))
		}
		check(rt.Field(i).Name, s)
	}
	et := reflect.TypeOf(*base.EVM)
	for i := range et.NumField() {
		s := base
		evmCopy := *base.EVM
		s.EVM = &evmCopy
		change(t, reflect.ValueOf(s.EVM).Elem().Field(i))
		check("EVM."+et.Field(i).Name, s)
	}
	same := base
	evmCopy := *base.EVM
	same.EVM = &evmCopy
	if !sameView(&base, &same) {
		t.Error("a copy of the view is not the same view")
	}

	var cache fragmentCache
	first, _ := cache.render(context.Background(), base, false)
	next := base
	next.Confirmations++
	next.Phase, next.Status = partials.PhaseConfirming, string(models.StatusConfirming)
	got, _ := cache.render(context.Background(), next, false)
	if bytes.Equal(got, first) || !bytes.Equal(got, uncached(t, next, false)) {
		t.Error("the cache served the bytes of the view before")
	}
}

// change sets v to a value other than its own.
func change(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int64, reflect.Int:
		v.SetInt(v.Int() + 1)
	default:
		t.Fatalf("field of kind %s: teach change (and check sameView compares it)", v.Kind())
	}
}

// TestFragmentCacheNotPerClient: a view with a CSRF token (the new-payment
// form of a client with a session) is rendered every time and never kept.
func TestFragmentCacheNotPerClient(t *testing.T) {
	f := newFragmentFixture(t)
	s := f.view(false, func(v *models.CheckoutView) { v.Payment.Status = models.StatusExpired })
	var cache fragmentCache
	for _, tok := range []string{"token-a", "token-b"} {
		s.CSRF = tok
		got, err := cache.render(context.Background(), s, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got, []byte(`value="`+tok+`"`)) || !bytes.Equal(got, uncached(t, s, true)) {
			t.Errorf("token %s: %s", tok, got)
		}
	}
	if len(cache.entries) != 0 {
		t.Errorf("%d entries kept for per-client views", len(cache.entries))
	}
}

// TestFragmentCacheBounded: the bodies held stay within the budget however
// many sessions are polled, and the size accounting matches the entries.
func TestFragmentCacheBounded(t *testing.T) {
	f := newFragmentFixture(t)
	base := f.view(false, nil)
	var cache fragmentCache
	n := 2 * fragmentCacheBytes / len(uncached(t, base, true))
	for i := range n {
		s := base
		s.PaymentID = "pay_" + strconv.Itoa(i)
		if _, err := cache.render(context.Background(), s, true); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, e := range cache.entries {
		held += cap(e.body)
	}
	if held != cache.size || held > fragmentCacheBytes || len(cache.entries) < n/4 {
		t.Errorf("after %d sessions: %d entries, %d bytes held, %d counted, budget %d", n, len(cache.entries), held, cache.size, fragmentCacheBytes)
	}
}
