package kaspa

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeAddress feeds arbitrary text to the strict address decoder. A
// decoded address must re-encode to exactly the input (through String and
// EncodeAddress), map to an output script and back, and be accepted by
// ParseAddress for its own network only; a refusal must wrap
// ErrInvalidAddress. The generic DecodeBech32 must agree with EncodeBech32
// the same way.
func FuzzDecodeAddress(f *testing.F) {
	for _, tc := range validAddresses {
		f.Add(tc.addr)
	}
	for _, tc := range genericVectors {
		f.Add(tc.encoded)
	}
	f.Add(hdReceiveMainnet[0])
	for _, s := range []string{
		hdReceiveTestnet[0],
		"kaspatest:qyqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhe837j2d", // ECDSA, zero key
		"kaspatest:przhjdpv93xfygpqtckdc2zkzuzqeyj2pt5vxqxg0xrwl2zvxl5vx35yyy2h9",   // script hash
		"kaspa:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xjellj43pg",       // checksum typo
		"KASPA:QZ7ULU4C25DH7FZEC9ZJYRMLHNKZRG4WMF89Q7GZR3GFRSJ3UZ6XJELLJ43PF",       // upper case
		"kaspa:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xjellj43p",        // truncated
		"bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",                    // other network
		"kaspasim:raskzcg58mth0an", "KASPA:QQQQ",
		"kaspa:", ":", "", "kaspa:qqqqqqqqqq", "kaspa:b", "kaspa:\xff\xfe", "kaspa::q",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := DecodeAddress(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("DecodeAddress(%q): error %v does not wrap ErrInvalidAddress", s, err)
			}
		} else {
			checkDecoded(t, s, a)
		}

		prefix, version, payload, err := DecodeBech32(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("DecodeBech32(%q): error %v does not wrap ErrInvalidAddress", s, err)
			}
			return
		}
		again, err := EncodeBech32(prefix, version, payload)
		if err != nil || again != s {
			t.Fatalf("DecodeBech32(%q) does not re-encode: %q, %v", s, again, err)
		}
	})
}

// checkDecoded asserts what a successfully decoded address promises.
func checkDecoded(t *testing.T, s string, a Address) {
	t.Helper()
	if a.String() != s {
		t.Fatalf("DecodeAddress(%q).String() = %q", s, a.String())
	}
	enc, err := EncodeAddress(a.Prefix, a.Version, a.Payload)
	if err != nil || enc != s {
		t.Fatalf("EncodeAddress of decoded %q = %q, %v", s, enc, err)
	}
	script := a.ScriptPublicKey()
	if script == nil {
		t.Fatalf("decoded %q has no script", s)
	}
	back, err := AddressFromScriptPublicKey(a.Prefix, script)
	if err != nil || back.String() != s || back.Version != a.Version || !bytes.Equal(back.Payload, a.Payload) {
		t.Fatalf("script of %q maps back to %v, %v", s, back, err)
	}
	for _, n := range []Network{Mainnet, Testnet10} {
		_, err := ParseAddress(s, n)
		switch {
		case a.Prefix == n.Prefix() && err != nil:
			t.Fatalf("ParseAddress(%q, %s): %v", s, n, err)
		case a.Prefix != n.Prefix() && !errors.Is(err, ErrWrongNetwork):
			t.Fatalf("ParseAddress(%q, %s) = %v, want ErrWrongNetwork", s, n, err)
		}
	}
}

// FuzzEncodeAddress builds addresses from arbitrary parts. EncodeAddress
// must accept exactly the known prefixes, versions and payload lengths; what
// it encodes decodes back to the same parts; and replacing any one data
// character by another of the alphabet breaks the checksum.
func FuzzEncodeAddress(f *testing.F) {
	f.Add(uint8(0), uint8(0), bytes.Repeat([]byte{0x5a}, 32), uint16(7), uint8(3))
	f.Add(uint8(1), uint8(1), bytes.Repeat([]byte{0x02}, 33), uint16(60), uint8(31))
	f.Add(uint8(2), uint8(8), make([]byte, 32), uint16(0), uint8(1))
	f.Add(uint8(3), uint8(8), make([]byte, 31), uint16(0), uint8(1))
	f.Add(uint8(0), uint8(120), []byte{}, uint16(0), uint8(1))
	f.Add(uint8(4), uint8(0), make([]byte, 32), uint16(0), uint8(1))
	prefixes := []string{PrefixMainnet, PrefixTestnet, PrefixSimnet, PrefixDevnet, "bitcoincash"}
	f.Fuzz(func(t *testing.T, p, version uint8, payload []byte, pos uint16, delta uint8) {
		prefix := prefixes[int(p)%len(prefixes)]
		s, err := EncodeAddress(prefix, Version(version), payload)
		want, knownVersion := Version(version).payloadLen()
		valid := knownPrefix(prefix) && knownVersion && want == len(payload)
		if (err == nil) != valid {
			t.Fatalf("EncodeAddress(%q, %d, %d bytes) = %q, %v; valid = %v", prefix, version, len(payload), s, err, valid)
		}
		if !valid {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("EncodeAddress error %v does not wrap ErrInvalidAddress", err)
			}
			return
		}
		a, err := DecodeAddress(s)
		if err != nil || a.Prefix != prefix || a.Version != Version(version) || !bytes.Equal(a.Payload, payload) {
			t.Fatalf("DecodeAddress(EncodeAddress(…) = %q) = %+v, %v", s, a, err)
		}
		checkDecoded(t, s, a)

		// One substituted data character (checksum included) is always caught.
		data := len(prefix) + 1
		i := data + int(pos)%(len(s)-data)
		d := delta%31 + 1 // 1…31: never the same character
		c := charset[(int(charsetRev[s[i]])+int(d))%len(charset)]
		bad := s[:i] + string(c) + s[i+1:]
		if _, err := DecodeAddress(bad); !errors.Is(err, ErrInvalidAddress) {
			t.Fatalf("DecodeAddress(%q) (one character of %q changed) = %v, want an error", bad, s, err)
		}
	})
}
