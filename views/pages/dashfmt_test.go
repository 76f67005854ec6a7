package pages

import (
	"strings"
	"testing"
	"time"

	"till/models"
)

func TestAmountFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{KAS(0), "0 KAS"},
		{KAS(1), "0.00000001 KAS"},
		{KAS(123_456_789_000_000), "1,234,567.89 KAS"},
		{KAS(100_000_000_000), "1,000 KAS"},
		{USD(0), "$0.00"},
		{USD(1999), "$19.99"},
		{USD(123456789), "$1,234,567.89"},
		{USD(-150), "-$1.50"},
		{Price(1999, models.USD), "$19.99"},
		{Price(1_250_000_000, models.KAS), "12.5 KAS"},
		{Count(1234567), "1,234,567"},
		{Plural(1, "payment", "payments"), "1 payment"},
		{Plural(2500, "payment", "payments"), "2,500 payments"},
		{minutes(30), "30 minutes"},
		{minutes(120), "2 hours"},
		{minutes(1440), "1 day"},
		{Short(strings.Repeat("a", 60) + "bcde"), "aaaaaaaa…bcde"},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("case %d: %q, want %q", i, tc.got, tc.want)
		}
	}
}

func TestRevenueChart(t *testing.T) {
	day := func(i int) time.Time { return time.Date(2026, 3, 1+i, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name  string
		sompi []int64
		scale int64
		best  int
	}{
		{"empty", []int64{0, 0, 0}, models.SompiPerKAS, -1},
		{"one day", []int64{0, 12 * models.SompiPerKAS, 0}, 20 * models.SompiPerKAS, 1},
		{"tiny", []int64{1, 0}, 1, 0},
		{"round number", []int64{50 * models.SompiPerKAS, 5 * models.SompiPerKAS}, 50 * models.SompiPerKAS, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var days []models.DayRevenue
			for i, s := range tc.sompi {
				days = append(days, models.DayRevenue{Day: day(i), Sompi: s, Count: 1})
			}
			c := newRevenueChart(days)
			if c.Scale != tc.scale || len(c.Bars) != len(days) {
				t.Fatalf("scale %d (want %d), %d bars", c.Scale, tc.scale, len(c.Bars))
			}
			if (tc.best < 0) != (c.Best == nil) || (c.Best != nil && !c.Best.Day.Equal(day(tc.best))) {
				t.Fatalf("best day %v", c.Best)
			}
			for i, b := range c.Bars {
				if b.Zero != (tc.sompi[i] == 0) || b.H == "" || b.Y == "" {
					t.Errorf("bar %d %+v", i, b)
				}
			}
			if c.summary() == "" {
				t.Error("no summary")
			}
		})
	}
}

func TestAssetAmounts(t *testing.T) {
	cases := []struct{ got, want string }{
		{Amount(12_345_678, models.USDC), "12.345678 USDC"},
		{Amount(1_234_567_000_000, models.USDC), "1,234,567 USDC"},
		{Amount(1, models.USDC), "0.000001 USDC"},
		{Amount(150_000_000, models.KAS), "1.5 KAS"},
		{Price(25_000_000, models.USDC), "25 USDC"},
		{Totals(models.AssetTotals{KAS: models.AssetTotal{Units: 150_000_000, Count: 1}}), "1.5 KAS"},
		{Totals(models.AssetTotals{}), "0 KAS"},
		{Totals(models.AssetTotals{KAS: models.AssetTotal{Units: 100_000_000, Count: 1}, USDC: models.AssetTotal{Units: 2_500_000, Count: 2}}), "1 KAS · 2.5 USDC"},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("case %d: %q, want %q", i, tc.got, tc.want)
		}
	}
}
