package kaspa

import (
	"strconv"
	"strings"
)

// SompiPerKaspa is the number of sompi (the smallest unit) in one KAS.
const SompiPerKaspa = 100_000_000

// PaymentURI builds the payment request a wallet scans from a QR code:
// "<addr>?amount=<KAS>", where addr already carries its prefix
// ("kaspa:qr…") and the amount is the exact decimal KAS value of sompi with
// trailing zeros trimmed and never in exponent form (e.g. 20000000 →
// "0.2", 10000001234 → "100.00001234", 1 → "0.00000001"). It uses integer
// arithmetic only, so the wallet is asked for exactly the invoiced sompi.
// A non-positive amount yields the bare address (an open-amount request).
// This is the format Kaspium parses (BIP21-like; amount in KAS).
func PaymentURI(addr string, sompi int64) string {
	if sompi <= 0 {
		return addr
	}
	return addr + "?amount=" + FormatKAS(sompi)
}

// FormatKAS renders a sompi amount as an exact decimal KAS string with
// trailing fractional zeros removed ("1", "0.2", "-1.5"), using integer
// arithmetic only so no value is ever rounded or printed with an exponent.
func FormatKAS(sompi int64) string {
	neg := sompi < 0
	u := uint64(sompi) //nolint:gosec // two's complement on purpose: negated below when negative
	if neg {
		u = -u // two's complement; also correct for math.MinInt64
	}
	whole, frac := u/SompiPerKaspa, u%SompiPerKaspa
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(whole, 10))
	if frac != 0 {
		f := strconv.FormatUint(frac, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", 8-len(f)))
		b.WriteString(strings.TrimRight(f, "0"))
	}
	return b.String()
}
