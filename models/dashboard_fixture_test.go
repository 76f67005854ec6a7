package models_test

import (
	"context"
	"testing"
	"time"

	"till/models"
)

// Helpers shared by the dashboard read-model tests (stats, lists, export).

const dashAddrB = "kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswsn35ennsep3hxfe7ln35cdv0dy335"

// fixedRate prices USD links at a constant rate.
type fixedRate struct{ rate string }

func (r fixedRate) Quote(context.Context) (models.Quote, error) {
	return models.Quote{Rate: r.rate, Source: "test", At: time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC)}, nil
}

// Cached reports no cached rate, so KAS-priced sessions in these tests carry
// no USD value (TestUSDValueAtPaymentTime covers the valued case).
func (r fixedRate) Cached() (models.Quote, bool) { return models.Quote{}, false }

// newDashFixture is the standard fixture with a USD price of 0.125 $/KAS.
func newDashFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, func(o *models.StoreOptions) { o.Rates = fixedRate{"0.125"} })
}

// linkFor creates a link for merchant m.
func (f *fixture) linkFor(m *models.Merchant, title, amount, currency string) *models.PaymentLink {
	f.t.Helper()
	l, err := f.s.CreateLink(f.ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount, Currency: &currency})
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// sessionOn opens a session on l with the customer details of in.
func (f *fixture) sessionOn(l *models.PaymentLink, in models.CreatePaymentInput) *models.Payment {
	f.t.Helper()
	in.LinkSlug = l.Slug
	p, err := f.s.CreatePayment(f.ctx, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// confirm pays p exactly and buries the credit under 100 blocks; the
// payment is confirmed at the clock's time plus 10.1 s.
func (f *fixture) confirm(p *models.Payment) *models.Payment {
	f.t.Helper()
	f.advance(1)
	c := f.credit(p.PayAddress, p.AmountExpected)
	f.observe(c)
	f.advance(100)
	f.observe(c)
	got := f.reload(p.ID)
	if got.Status != models.StatusConfirmed {
		f.t.Fatalf("payment %s is %s after 100 blocks", p.ID, got.Status)
	}
	return got
}

// otherMerchant registers a second merchant with an active KAS link.
func (f *fixture) otherMerchant() (*models.Merchant, *models.PaymentLink) {
	f.t.Helper()
	m, err := f.s.Register(f.ctx, models.RegisterInput{Email: "other@example.com", Password: "securepassword", Name: "Other", KaspaAddress: dashAddrB})
	if err != nil {
		f.t.Fatal(err)
	}
	return m, f.linkFor(m, "Other item", "7", "KAS")
}

// setClock moves the fixture clock forward to t.
func (f *fixture) setClock(t time.Time) {
	f.t.Helper()
	d := t.Sub(f.clock.Now())
	if d < 0 {
		f.t.Fatalf("clock cannot go back from %s to %s", f.clock.Now(), t)
	}
	f.clock.Add(d)
}
