package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"till/models"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in      string
		c       models.Currency
		want    int64
		wantErr string
	}{
		{"100", models.KAS, 10_000_000_000, ""},
		{"0.2", models.KAS, 20_000_000, ""},
		{"100.00001234", models.KAS, 10_000_001_234, ""},
		{"1.000000000", models.KAS, 100_000_000, ""}, // a trailing zero past 8 places is still exact
		{"0.000000001", models.KAS, 0, "at most 8 decimal places"},
		{"19.99", models.USD, 1999, ""},
		{"19.999", models.USD, 0, "at most 2 decimal places"},
		{"0", models.KAS, 0, "greater than 0"},
		{"-5", models.KAS, 0, "greater than 0"},
		{"1e2", models.KAS, 10_000_000_000, ""},
		{"abc", models.KAS, 0, "must be a number"},
		{"1e30", models.KAS, 0, "too large"},
		{"92233720368.54775807", models.KAS, 0, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.in+"/"+string(tc.c), func(t *testing.T) {
			got, err := models.ParseAmount(tc.in, tc.c, 1_000_000_000*models.SompiPerKAS)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d %v, want %d", got, err, tc.want)
			}
		})
	}
}

func TestFormatAndConvert(t *testing.T) {
	if s := models.FormatAmount8(10_000_000_000, models.KAS); s != "100.00000000" {
		t.Errorf("KAS: %s", s)
	}
	if s := models.FormatAmount8(1999, models.USD); s != "19.99000000" {
		t.Errorf("USD: %s", s)
	}
	cases := []struct {
		cents int64
		rate  string
		want  int64
	}{
		{1000, "0.1", 10_000_000_000}, // $10 at $0.10 = 100 KAS
		{1, "0.03", 33_333_334},       // 0.3333…: rounds up, never short-changes the merchant
		{2500, "0.125", 20_000_000_000},
	}
	for _, tc := range cases {
		got, err := models.ConvertUSDToSompi(tc.cents, tc.rate)
		if err != nil || got != tc.want {
			t.Errorf("%d cents at %s: %d %v, want %d", tc.cents, tc.rate, got, err, tc.want)
		}
	}
	if _, err := models.ConvertUSDToSompi(100, "0"); err == nil {
		t.Error("zero rate accepted")
	}
}

// fakeRates is a RateSource with a fixed cached quote.
type fakeRates struct {
	q  models.Quote
	ok bool
}

func (f fakeRates) Quote(context.Context) (models.Quote, error) {
	if !f.ok {
		return models.Quote{}, errors.New("no price")
	}
	return f.q, nil
}
func (f fakeRates) Cached() (models.Quote, bool) { return f.q, f.ok }

func TestUSDValueAtPaymentTime(t *testing.T) {
	cases := []struct {
		name      string
		rates     fakeRates
		currency  string
		amount    string
		wantCents *int64
		wantRate  string
	}{
		{"KAS link with a fresh rate", fakeRates{models.Quote{Rate: "0.125", Source: "coingecko", At: time.Now()}, true}, "KAS", "100", ptr(1250), "0.125"},
		{"KAS link without a rate", fakeRates{}, "KAS", "100", nil, ""},
		{"USD link", fakeRates{models.Quote{Rate: "0.1", Source: "coingecko", At: time.Now()}, true}, "USD", "19.99", ptr(1999), "0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *models.StoreOptions) { o.Rates = tc.rates })
			title, cur := "Valued", tc.currency
			l, err := f.s.CreateLink(f.ctx, f.m.ID, models.LinkInput{Title: &title, Amount: &tc.amount, Currency: &cur})
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: l.Slug})
			if err != nil {
				t.Fatal(err)
			}
			got := f.reload(p.ID)
			if (got.USDCents == nil) != (tc.wantCents == nil) || (got.USDCents != nil && *got.USDCents != *tc.wantCents) || got.Rate != tc.wantRate {
				t.Fatalf("usd_cents %v rate %q, want %v %q", deref(got.USDCents), got.Rate, deref(tc.wantCents), tc.wantRate)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
