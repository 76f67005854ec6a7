package models_test

import (
	"strings"
	"testing"

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
