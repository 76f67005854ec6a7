package webhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"till/workers/webhooks"
)

// tamper returns b with the byte at pos changed (by xor with x, never 0),
// or with a byte appended when b is empty.
func tamper(b []byte, pos uint, x byte) []byte {
	if x == 0 {
		x = 1
	}
	if len(b) == 0 {
		return []byte{x}
	}
	out := append([]byte(nil), b...)
	out[pos%uint(len(out))] ^= x
	return out
}

// FuzzKasPaySignatures signs arbitrary bodies with arbitrary secrets in the
// KasPay dialect: X-KasPay-Signature (hex HMAC of the body) and
// X-Till-Signature (over event id, timestamp and body). Each verifies, and
// any single-byte change of the body, the signature, the event id or the
// timestamp, or another secret, makes it fail.
func FuzzKasPaySignatures(f *testing.F) {
	f.Add("whsec_0123456789abcdef", []byte(`{"event":"payment.confirmed","payment":{"id":"p1"}}`), "evt_1", int64(1704067200), uint(3), byte(1))
	f.Add("", []byte{}, "", int64(0), uint(0), byte(0))
	f.Add("s", []byte("\x00\xff"), "e.1", int64(-1), uint(100), byte(0x80))
	f.Fuzz(func(t *testing.T, secret string, body []byte, eventID string, ts int64, pos uint, x byte) {
		sig := webhooks.Sign(secret, body)
		if len(sig) != 64 || !webhooks.Verify(secret, body, sig) {
			t.Fatalf("Sign/Verify disagree: %q", sig)
		}
		if webhooks.Verify(secret, tamper(body, pos, x), sig) {
			t.Fatal("a changed body verifies")
		}
		if webhooks.Verify(secret+"x", body, sig) {
			t.Fatal("another secret verifies")
		}
		// A changed signature digit (another value, not just another case).
		badSig := []byte(sig)
		i := pos % uint(len(badSig))
		badSig[i] = "0123456789abcdef"[(hexValue(badSig[i])+1+int(x%15))%16]
		if webhooks.Verify(secret, body, string(badSig)) {
			t.Fatalf("signature %s verifies for %s", badSig, sig)
		}

		stamp := strconv.FormatInt(ts, 10)
		now, tol := time.Unix(ts, 0), time.Minute
		timed := webhooks.SignTimed(secret, eventID, ts, body)
		if !webhooks.VerifyTimed(secret, eventID, stamp, body, timed, now, tol) {
			if eventID != "" {
				t.Fatalf("SignTimed/VerifyTimed disagree: %q", timed)
			}
			return // an event id is required
		}
		for name, ok := range map[string]bool{
			"body":      webhooks.VerifyTimed(secret, eventID, stamp, tamper(body, pos, x), timed, now, tol),
			"event id":  webhooks.VerifyTimed(secret, string(tamper([]byte(eventID), pos, x)), stamp, body, timed, now, tol),
			"timestamp": webhooks.VerifyTimed(secret, eventID, string(tamper([]byte(stamp), pos, x)), body, timed, now, tol),
			"secret":    webhooks.VerifyTimed(secret+"x", eventID, stamp, body, timed, now, tol),
			"too old":   webhooks.VerifyTimed(secret, eventID, stamp, body, timed, now.Add(tol+time.Second), tol),
		} {
			if ok {
				t.Fatalf("X-Till-Signature verifies with a changed %s", name)
			}
		}
	})
}

func hexValue(c byte) int {
	if c >= 'a' {
		return int(c-'a') + 10
	}
	return int(c - '0')
}

// docKiraPayVerify is the KiraPay document's verifier transcribed: the HMAC
// covers the X-KiraPay-Timestamp header exactly as received.
func docKiraPayVerify(secret, timestamp string, body []byte, signature string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "." + string(body)))
	return hmac.Equal([]byte(signature), []byte("sha256="+base64.StdEncoding.EncodeToString(m.Sum(nil))))
}

// FuzzKiraPaySignature signs arbitrary bodies in the KiraPay dialect. The
// signature verifies with VerifyKiraPay and with the document's verifier; a
// single-byte change of the body or the timestamp fails; and for any
// timestamp header and signature text VerifyKiraPay answers as the
// document's verifier does (so "0170…" or "+170…" is not the timestamp
// "170…" that was signed).
func FuzzKiraPaySignature(f *testing.F) {
	f.Add("whsec_kira", int64(1704067200), []byte(`{"id":"evt_1","type":"transaction.created"}`), "1704067200", "", uint(0), byte(1))
	f.Add("", int64(0), []byte{}, "", "sha256=", uint(5), byte(0x20))
	f.Add("k", int64(-5), []byte("x"), "abc", "sha256=AAAA", uint(9), byte(0xff))
	f.Fuzz(func(t *testing.T, secret string, ts int64, body []byte, otherStamp, otherSig string, pos uint, x byte) {
		stamp := strconv.FormatInt(ts, 10)
		sig := webhooks.SignKiraPay(secret, ts, body)
		if !webhooks.VerifyKiraPay(secret, stamp, body, sig) || !docKiraPayVerify(secret, stamp, body, sig) {
			t.Fatalf("signature %q does not verify", sig)
		}
		if webhooks.VerifyKiraPay(secret, stamp, tamper(body, pos, x), sig) {
			t.Fatal("a changed body verifies")
		}
		if webhooks.VerifyKiraPay(secret, string(tamper([]byte(stamp), pos, x)), body, sig) {
			t.Fatal("a changed timestamp verifies")
		}
		if webhooks.VerifyKiraPay(secret+"x", stamp, body, sig) {
			t.Fatal("another secret verifies")
		}
		// Another header: arbitrary, or text added before or after the
		// signed one.
		for _, h := range []string{otherStamp, otherStamp + stamp, stamp + otherStamp} {
			for _, s := range []string{sig, otherSig} {
				if got, want := webhooks.VerifyKiraPay(secret, h, body, s), docKiraPayVerify(secret, h, body, s); got != want {
					t.Fatalf("VerifyKiraPay(timestamp %q, signature %q) = %v, the document's verifier says %v (signed timestamp %q)",
						h, s, got, want, stamp)
				}
			}
		}
	})
}
