package kaspa

import (
	"math"
	"testing"
)

func TestPaymentURI(t *testing.T) {
	const main = "kaspa:qpuvlauc6a5syze9g70dnxzzvykhkuatsjrx87mxqccqh7kf9kcssdkp9ec7w"
	const test = "kaspatest:qrc2959g0pqda53glnfd238cdnmk24zxzkj8n5x83rkktx4h73dkc4ave6wyg"
	tests := []struct {
		name  string
		addr  string
		sompi int64
		want  string
	}{
		{"0.2 KAS", main, 20_000_000, main + "?amount=0.2"},
		{"100.00001234 KAS", main, 10_000_001_234, main + "?amount=100.00001234"},
		{"1 sompi", main, 1, main + "?amount=0.00000001"},
		{"1.23456789 KAS", main, 123_456_789, main + "?amount=1.23456789"},
		{"whole KAS", main, 5 * SompiPerKaspa, main + "?amount=5"},
		{"trailing zeros trimmed", main, 150_000_000, main + "?amount=1.5"},
		{"inner zeros kept", main, 100_000_001, main + "?amount=1.00000001"},
		{"0.1 KAS", main, 10_000_000, main + "?amount=0.1"},
		{"testnet", test, SompiPerKaspa, test + "?amount=1"},
		{"max supply", main, 29_000_000_000 * SompiPerKaspa, main + "?amount=29000000000"},
		{"max int64", main, math.MaxInt64, main + "?amount=92233720368.54775807"},
		{"zero is open amount", main, 0, main},
		{"negative is open amount", main, -5, main},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PaymentURI(tc.addr, tc.sompi); got != tc.want {
				t.Fatalf("PaymentURI = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatKAS(t *testing.T) {
	tests := []struct {
		sompi int64
		want  string
	}{
		{0, "0"},
		{1, "0.00000001"},
		{10, "0.0000001"},
		{99_999_999, "0.99999999"},
		{100_000_000, "1"},
		{-150_000_000, "-1.5"},
		{-1, "-0.00000001"},
		{math.MinInt64, "-92233720368.54775808"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := FormatKAS(tc.sompi); got != tc.want {
				t.Fatalf("FormatKAS(%d) = %q, want %q", tc.sompi, got, tc.want)
			}
		})
	}
}
