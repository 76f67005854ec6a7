package amount

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in       string
		decimals int32
		max      int64
		want     int64
		err      error
	}{
		{"19.99", 2, 1 << 62, 1999, nil},
		{"0", 8, 1 << 62, 0, nil},
		{"+5", 0, 10, 5, nil},
		{"5.", 2, 1000, 500, nil},
		{".5", 2, 1000, 50, nil},
		{"1e2", 6, 1 << 62, 100_000_000, nil},
		{"1.50", 1, 100, 15, nil},
		{"1.55", 1, 100, 0, ErrPrecision},
		{"10", 0, 10, 10, nil},
		{"11", 0, 10, 0, ErrRange},
		{"-0", 2, 10, 0, nil},
		{"-1", 2, 10, 0, ErrNegative},
		{"", 2, 10, 0, ErrEmpty},
		{"1 000", 2, 1 << 62, 0, ErrSyntax},
		{".", 2, 10, 0, ErrSyntax},
		{"e5", 2, 10, 0, ErrSyntax},
		{"1e10001", 2, 10, 0, ErrSyntax},
	}
	for _, tc := range cases {
		got, err := Parse(tc.in, tc.decimals, tc.max)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Parse(%q, %d, %d) = %d %v, want %d %v", tc.in, tc.decimals, tc.max, got, err, tc.want, tc.err)
		}
	}
}

func TestFormat(t *testing.T) {
	cases := []struct {
		v                int64
		decimals, places int32
		want             string
	}{
		{1999, 2, 8, "19.99000000"},
		{1999, 2, 0, "19.99"},
		{100_000_000, 8, 0, "1"},
		{1, 6, 0, "0.000001"},
		{-150, 2, 2, "-1.50"},
	}
	for _, tc := range cases {
		if got := Format(tc.v, tc.decimals, tc.places); got != tc.want {
			t.Errorf("Format(%d, %d, %d) = %s, want %s", tc.v, tc.decimals, tc.places, got, tc.want)
		}
	}
}
