package models_test

import (
	"strings"
	"sync"
	"testing"

	"till/models"
)

// The account kpub of research/kaspa.md §3.4 and its first receive addresses.
const (
	testKpub = "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"
	receive0 = "kaspa:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xjellj43pf"
	receive1 = "kaspa:qzn3qjzf2nzyd3zj303nk4sgv0aae42v3ufutk5xsxckfels57dxjjed4qvlx"
)

func withKpub(t *testing.T, f *fixture) {
	t.Helper()
	k := testKpub
	if _, err := f.s.UpdateSettings(f.ctx, f.m.ID, models.SettingsInput{KaspaKpub: &k}); err != nil {
		t.Fatal(err)
	}
}

func TestPerPaymentAddresses(t *testing.T) {
	f := newFixture(t)
	withKpub(t, f)
	a, b := f.session(), f.session()
	if a.PayAddress != receive0 || *a.DerivationIndex != 0 || b.PayAddress != receive1 || *b.DerivationIndex != 1 {
		t.Fatalf("addresses %s(%v) %s(%v)", a.PayAddress, *a.DerivationIndex, b.PayAddress, *b.DerivationIndex)
	}
	if a.AmountExpected != f.link.Amount {
		t.Fatalf("per-address sessions need no unique offset: %d vs %d", a.AmountExpected, f.link.Amount)
	}

	cases := []struct {
		name     string
		payments []int64 // credits, in sompi, one block apart
		want     models.PaymentStatus
	}{
		{"exact", []int64{f.link.Amount}, models.StatusConfirming},
		{"under", []int64{f.link.Amount - 1}, models.StatusUnderpaid},
		{"under then topped up", []int64{f.link.Amount / 2, f.link.Amount - f.link.Amount/2}, models.StatusConfirming},
		{"over", []int64{f.link.Amount + 5_000_000}, models.StatusConfirming},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.session()
			var total int64
			for _, amt := range tc.payments {
				f.advance(1)
				f.observe(f.credit(p.PayAddress, amt))
				total += amt
			}
			got := f.reload(p.ID)
			if got.Status != tc.want || got.AmountReceived != total {
				t.Fatalf("status %s received %d, want %s %d", got.Status, got.AmountReceived, tc.want, total)
			}
		})
	}
}

func TestKpubSettingValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ in, want string }{
		{"kprv5y2qurMHCsXYrNfU3GCihuwG3vMqFji7PZXajMEqyBkNh9UZUJgoHYBLTKu1eM4MvUtomcXPQ3Sw9HZ5ebbM4byoUciHo1zrPJBQfqpLorQ", "private"},
		{"ktub23mE4p2ztefp518uPxpDVU3yMST8b3sK3Kj7SEL1SzaQMNgvcym37xEzCcUcDrE4TcDAoxysqvU1Ct51xVCVv41UMKS82Me2Ha5FUBwiEbc", "Invalid extended public key"},
		{"kpub-nonsense", "Invalid extended public key"},
	}
	for _, tc := range cases {
		in := tc.in
		_, err := f.s.UpdateSettings(f.ctx, f.m.ID, models.SettingsInput{KaspaKpub: &in})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.12s…: err %v, want %q", tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), tc.in) {
			t.Errorf("the error echoes the key")
		}
	}
	if got, _ := f.s.Merchant(f.ctx, f.m.ID); got.KaspaKpub != "" {
		t.Fatal("an invalid key was stored")
	}
}

func TestParallelSessionCreation(t *testing.T) {
	f := newFixture(t)
	const n = 40
	var wg sync.WaitGroup
	amounts := make([]int64, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
			errs[i] = err
			if err == nil {
				amounts[i] = p.AmountExpected
			}
		}(i)
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range amounts {
		if errs[i] != nil {
			t.Fatalf("session %d: %v", i, errs[i])
		}
		if seen[amounts[i]] {
			t.Fatalf("two parallel sessions got amount %d", amounts[i])
		}
		seen[amounts[i]] = true
	}
}

func TestParallelDerivedSessions(t *testing.T) {
	f := newFixture(t)
	withKpub(t, f)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	idx := map[int64]bool{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if idx[*p.DerivationIndex] {
				t.Errorf("index %d handed out twice", *p.DerivationIndex)
			}
			idx[*p.DerivationIndex] = true
		}()
	}
	wg.Wait()
	for i := int64(0); i < n; i++ {
		if !idx[i] {
			t.Fatalf("indexes not contiguous from 0: missing %d in %v", i, idx)
		}
	}
}
