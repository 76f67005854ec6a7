package kaspa

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Generic bech32 vectors: kaspad util/bech32/bech32_test.go (the same list
// is in rusty-kaspa and Kaspium test/bech32_test.dart).
var genericVectors = []struct {
	prefix  string
	version byte
	payload string
	encoded string
}{
	{"a", 0, "", "a:qqeq69uvrh"},
	{"a", 8, "", "a:pq99546ray"},
	{"a", 120, "", "a:0qf6jrhtdq"},
	{"b", 8, " ", "b:pqsqzsjd64fv"},
	{"b", 8, "-", "b:pqksmhczf8ud"},
	{"b", 8, "0", "b:pqcq53eqrk0e"},
	{"b", 8, "1", "b:pqcshg75y0vf"},
	{"b", 8, "-1", "b:pqknzl4e9y0zy"},
	{"b", 8, "11", "b:pqcnzt888ytdg"},
	{"b", 8, "abc", "b:ppskycc8txxxn2w"},
	{"b", 8, "1234598760", "b:pqcnyve5x5unsdekxqeusxeyu2"},
	{"b", 8, "abcdefghijklmnopqrstuvwxyz", "b:ppskycmyv4nxw6rfdf4kcmtwdac8zunnw36hvamc09aqtpppz8lk"},
	{"b", 8, "000000000000000000000000000000000000000000", "b:pqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrq7ag684l3"},
}

func TestGenericBech32Vectors(t *testing.T) {
	for _, tc := range genericVectors {
		t.Run(tc.encoded, func(t *testing.T) {
			got, err := EncodeBech32(tc.prefix, tc.version, []byte(tc.payload))
			if err != nil || got != tc.encoded {
				t.Fatalf("EncodeBech32 = %q, %v; want %q", got, err, tc.encoded)
			}
			p, v, pl, err := DecodeBech32(tc.encoded)
			if err != nil {
				t.Fatalf("DecodeBech32: %v", err)
			}
			if p != tc.prefix || v != tc.version || string(pl) != tc.payload {
				t.Fatalf("DecodeBech32 = (%q, %d, %q), want (%q, %d, %q)", p, v, pl, tc.prefix, tc.version, tc.payload)
			}
			// None of these is a Kaspa address (unknown prefix).
			if _, err := DecodeAddress(tc.encoded); !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("DecodeAddress accepted generic vector: %v", err)
			}
		})
	}
}

func TestGenericBech32Errors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "missing prefix"},
		{"no separator", "aqqeq69uvrh", "missing prefix"},
		{"empty prefix", ":qqeq69uvrh", "missing prefix"},
		{"uppercase", "A:QQEQ69UVRH", "uppercase"},
		{"bad prefix char", "a-b:qqeq69uvrh", "invalid prefix"},
		{"bad checksum", "a:qqeq69uvrq", "invalid checksum"},
		{"too short", "a:qqeq69uv", "too short"},
		{"non-ascii", "a:qqeq69uv™", "invalid character '™'"},
		// bitcoincash passes the same polymod: valid at the generic layer
		// (covered in TestDecodeAddressInvalid), so not listed here.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := DecodeBech32(tc.in)
			if !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeBech32(%q) err = %v, want ErrInvalidAddress containing %q", tc.in, err, tc.want)
			}
		})
	}
	for _, p := range []string{"", "A", "a:b", "a b", "ä"} {
		if _, err := EncodeBech32(p, 0, nil); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("EncodeBech32(prefix %q) err = %v, want ErrInvalidAddress", p, err)
		}
	}
}

// validAddresses are the §2.2 valid vectors. payload is full hex, or
// "<head>…<tail>" when only the ends are published, or "" when unknown.
var validAddresses = []struct {
	addr    string
	prefix  string
	version Version
	payload string
}{
	{"kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "kaspa", 0, strings.Repeat("00", 32)},
	{"kaspa:qp0l70zd5x85ttwd6jv7g3s3a8llzj96d8dncn4zmhv4tlzx5k2jyqh70xmfj", "kaspa", 0, "5fff3c4da18f45adcdd499e44611e9fff148ba69db3c4ea2ddd955fc46a59522"},
	{"kaspatest:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhqrxplya", "kaspatest", 0, strings.Repeat("00", 32)},
	{"kaspatest:qyqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhe837j2d", "kaspatest", 1, strings.Repeat("00", 33)},
	{"kaspatest:qxaqrlzlf6wes72en3568khahq66wf27tuhfxn5nytkd8tcep2c0vrse6gdmpks", "kaspatest", 1, "ba01fc5f4e9d9879599c69a3dafdb835a7255e5f2e934e9322ecd3af190ab0f60e"},
	{"kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswsn35ennsep3hxfe7ln35cdv0dy335", "kaspa", 0, "e34cce70c86373273efcc54ce7d2a491bb4a0e84e34cce70c86373273efce34c"},
	{"kaspa:qq80qvqs0lfxuzmt7sz3909ze6camq9d4t35ennsep3hxfe7ln35cvfqgz3z8", "kaspa", 0, "0ef030107fd26e0b6bf40512bca2ceb1dd80adaae34cce70c86373273efce34c"},
	{"kaspatest:qputx94qseratdmjs0j395mq8u03er0x3l35ennsep3hxfe7ln35ckquw528z", "kaspatest", 0, "78b316a08647d5b77283e512d3603f1f1c8de68fe34cce70c86373273efce34c"},
	{"kaspa:qyp0r5mcq4rd5grj3652ra09u5dcgwqq9ntuswp247nama5quyj40eq03sc2dkx", "kaspa", 1, "02f1d378…e12557e4"},
	{"kaspa:prq20q4qd9ulr044cauyy9wtpeupqpjv67pn2vyc6acly7xqkrjdzmh8rj9f4", "kaspa", 8, "c0a782a06979f1beb5c7784215cb0e7810064cd783353098d771f278c0b0e4d1"},
	{"kaspa:pr5vxqxg0xrwl2zvxlq9rxffqx00sm44kn5vxqxg0xrwl2zvxl5vxyhvsake2", "kaspa", 8, "e8c300c87986efa84c37c0519929019ef86eb5b4e8c300c87986efa84c37e8c3"},
	{"kaspatest:przhjdpv93xfygpqtckdc2zkzuzqeyj2pt5vxqxg0xrwl2zvxl5vx35yyy2h9", "kaspatest", 8, "c579342c2c4c9220205e2cdc285617040c924a0ae8c300c87986efa84c37e8c3"},
	{"kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73", "kaspa", 0, ""},
	{"kaspatest:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67", "kaspatest", 0, ""},
	{"kaspa:precqv0krj3r6uyyfa36ga7s0u9jct0v4wg8ctsfde2gkrsgwgw8jgxfzfc98", "kaspa", 8, ""},
	{"kaspa:qyp4nvaq3pdq7609z09fvdgwtc9c7rg07fuw5zgeee7xpr085de59eseqfcmynn", "kaspa", 1, ""},
	{"kaspasim:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6hydn0l4f", "kaspasim", 0, ""},
	{"kaspadev:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy65245pu7k", "kaspadev", 0, ""},
	// Derived in §2.1 / §3.4 (also valid addresses).
	{"kaspa:qpsk3cj9pr4dmexwcuj37ma3nm2075ht2yara3xxk4twufmv7kd27vpczqyjd", "kaspa", 0, "6168e245…cf59aaf"},
}

func checkPayload(t *testing.T, got []byte, want string) {
	t.Helper()
	h := hex.EncodeToString(got)
	switch head, tail, partial := strings.Cut(want, "…"); {
	case want == "":
	case partial:
		if !strings.HasPrefix(h, head) || !strings.HasSuffix(h, tail) {
			t.Fatalf("payload %s, want %s", h, want)
		}
	case h != want:
		t.Fatalf("payload %s, want %s", h, want)
	}
}

func TestDecodeAddressValid(t *testing.T) {
	networkOf := map[string]Network{"kaspa": Mainnet, "kaspatest": Testnet10}
	for _, tc := range validAddresses {
		t.Run(tc.addr, func(t *testing.T) {
			a, err := DecodeAddress(tc.addr)
			if err != nil {
				t.Fatalf("DecodeAddress: %v", err)
			}
			if a.Prefix != tc.prefix || a.Version != tc.version {
				t.Fatalf("got prefix %q version %d, want %q %d", a.Prefix, a.Version, tc.prefix, tc.version)
			}
			checkPayload(t, a.Payload, tc.payload)
			if got := a.String(); got != tc.addr {
				t.Fatalf("String() = %q", got)
			}
			if got, err := EncodeAddress(a.Prefix, a.Version, a.Payload); err != nil || got != tc.addr {
				t.Fatalf("EncodeAddress = %q, %v", got, err)
			}
			wantLen := map[Version]int{0: 67, 1: 69, 8: 67}[tc.version] + len(tc.prefix) - len("kaspa")
			if len(tc.addr) != wantLen {
				t.Fatalf("len %d, want %d", len(tc.addr), wantLen)
			}
			spk := a.ScriptPublicKey()
			back, err := AddressFromScriptPublicKey(a.Prefix, spk)
			if err != nil || back.String() != tc.addr {
				t.Fatalf("script round trip: %x -> %v, %v", spk, back, err)
			}
			// Both networks: accepted on its own, ErrWrongNetwork on the other.
			for _, n := range []Network{Mainnet, Testnet10} {
				got, err := ParseAddress(tc.addr, n)
				if networkOf[tc.prefix] == n {
					if err != nil || got.String() != tc.addr {
						t.Fatalf("ParseAddress(%s) = %v, %v", n, got, err)
					}
					continue
				}
				if !errors.Is(err, ErrWrongNetwork) || !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("ParseAddress(%s) err = %v, want ErrWrongNetwork+ErrInvalidAddress", n, err)
				}
				want := "address is for " + tc.prefix + ", expected " + n.Prefix() + " (" + string(n) + ")"
				if err.Error() != want {
					t.Fatalf("ParseAddress(%s) err text %q, want %q", n, err, want)
				}
			}
		})
	}
}

// paddedVariant re-encodes the all-zero v0 payload with the single padding
// bit set (and a valid checksum), so only the padding rule can reject it.
func paddedVariant() string {
	d := to5(make([]byte, 33))
	d[len(d)-1] |= 1
	return encode5("kaspa", d)
}

// extraGroupVariant appends a whole extra zero 5-bit group (valid
// checksum): 6 leftover bits is not something an encoder produces.
func extraGroupVariant() string {
	return encode5("kaspa", append(to5(make([]byte, 33)), 0))
}

func mustBech32(t testing.TB, prefix string, v byte, n int) string {
	s, err := EncodeBech32(prefix, v, bytes.Repeat([]byte{7}, n))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecodeAddressInvalid(t *testing.T) {
	zero := "kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e"
	tests := []struct {
		name, in, want string
	}{
		// §2.2 invalid vectors.
		{"checksum last char changed", "kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4l", "invalid checksum"},
		{"one q missing", "kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "invalid checksum"},
		{"char 1 not in charset", "kaspa:qqqqqqqqqqqqq1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "invalid character '1'"},
		{"unknown prefix kaspa1", "kaspa1:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", `unknown prefix "kaspa1"`},
		{"missing colon", "kaspaqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "missing prefix"},
		{"kaspad bad checksum/length", "kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswss74as46gx", "invalid checksum"},
		{"version 31 long", "kaspasim:raskzctpv9skzctpv9skzctpv9skzctpvy37ct7zafpv9skzctpvymmnd3gh8", "unknown address version 31"},
		{"version 31 short", "kaspasim:raskzcg58mth0an", "unknown address version 31"},
		{"20-byte v0 payload", "kaspatest:qqq65mvpxcmajeq44n2n8vfn6u9f8l4zsy0xez0tzw", "invalid payload length 20 for pubkey address (want 32)"},
		{"bitcoincash (passes polymod)", "bitcoincash:qpzry9x8gf2tvdw0s3jn54khce6mua7lcw20ayyn", `unknown prefix "bitcoincash"`},
		{"gotcha simnet example", "kaspasim:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67", "invalid checksum"},
		{"gotcha devnet example", "kaspadev:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67", "invalid checksum"},
		{"all uppercase", strings.ToUpper(zero), "uppercase"},
		{"mixed case", "kaspa:Qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "uppercase"},
		{"uppercase prefix only", "KASPA:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "uppercase"},
		// Additional strictness.
		{"empty", "", "missing prefix"},
		{"prefix only", "kaspa:", "too short"},
		{"colon first", ":qqqq", "missing prefix"},
		{"bare data", "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "missing prefix"},
		{"double prefix", "kaspa:" + zero, "invalid character ':'"},
		{"char b not in charset", "kaspa:bqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "invalid character 'b'"},
		{"space", "kaspa:qqqqqqqqqqqqq qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4e", "invalid character ' '"},
		{"trailing newline", zero + "\n", `invalid character '\n'`},
		{"non-ascii", "kaspa:qqqq™", "invalid character '™'"},
		{"non-zero padding", paddedVariant(), "non-zero padding bits"},
		{"extra 5-bit group", extraGroupVariant(), "invalid data length"},
		{"v0 with 33 bytes", mustBech32(t, "kaspa", 0, 33), "invalid payload length 33 for pubkey address (want 32)"},
		{"v1 with 32 bytes", mustBech32(t, "kaspa", 1, 32), "invalid payload length 32 for pubkeyecdsa address (want 33)"},
		{"v8 with 31 bytes", mustBech32(t, "kaspa", 8, 31), "invalid payload length 31 for scripthash address (want 32)"},
		{"v8 empty", mustBech32(t, "kaspatest", 8, 0), "invalid payload length 0"},
		{"version 2", mustBech32(t, "kaspa", 2, 32), "unknown address version 2"},
		{"version 120", mustBech32(t, "kaspa", 120, 32), "unknown address version 120"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeAddress(tc.in)
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("DecodeAddress(%q) err = %v, want ErrInvalidAddress", tc.in, err)
			}
			if errors.Is(err, ErrWrongNetwork) {
				t.Fatalf("malformed address reported as wrong network: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid kaspa address: ") {
				t.Fatalf("err %q lacks the standard prefix", err)
			}
			// Same outcome through ParseAddress on both networks: a
			// malformed address is never "just the wrong network".
			for _, n := range []Network{Mainnet, Testnet10} {
				_, perr := ParseAddress(tc.in, n)
				if !errors.Is(perr, ErrInvalidAddress) || errors.Is(perr, ErrWrongNetwork) || perr.Error() != err.Error() {
					t.Fatalf("ParseAddress(%s) err = %v, want %v", n, perr, err)
				}
			}
		})
	}
}

func TestParseAddressUnknownNetwork(t *testing.T) {
	_, err := ParseAddress(validAddresses[0].addr, "devnet")
	if !errors.Is(err, ErrUnknownNetwork) {
		t.Fatalf("err = %v, want ErrUnknownNetwork", err)
	}
}

func TestScriptPublicKeyVectors(t *testing.T) {
	tests := []struct {
		script, addr string
	}{
		// §2.1 (REST TxModel/UTXO examples).
		{"206168e24508eadde4cec7251f6fb19ed4ff52eb513a3ec4c6b556ee276cf59aafac", "kaspa:qpsk3cj9pr4dmexwcuj37ma3nm2075ht2yara3xxk4twufmv7kd27vpczqyjd"},
		{"200324c2880d2b19cb7051af252bde16d57fd478f8e2e66858ec7bd9dcb550b5ccac", "kaspa:qqpjfs5gp543njms2xhj2277zm2hl4rclr3wv6zca3aanh942z6ucemqyygt3"},
		{"20c5629ce85f6618cd3ed1ac1c99dc6d3064ed244013555c51385d9efab0d0072fac", "kaspa:qrzk988gtanp3nf76xkpexwud5cxfmfygqf42hz38pwea74s6qrj75jee85nj"},
		// ECDSA and P2SH, built from the published payloads.
		{"21ba01fc5f4e9d9879599c69a3dafdb835a7255e5f2e934e9322ecd3af190ab0f60eab", "kaspatest:qxaqrlzlf6wes72en3568khahq66wf27tuhfxn5nytkd8tcep2c0vrse6gdmpks"},
		{"aa20c0a782a06979f1beb5c7784215cb0e7810064cd783353098d771f278c0b0e4d187", "kaspa:prq20q4qd9ulr044cauyy9wtpeupqpjv67pn2vyc6acly7xqkrjdzmh8rj9f4"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			script := mustHex(t, tc.script)
			a, err := DecodeAddress(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.ScriptPublicKey(); !bytes.Equal(got, script) {
				t.Fatalf("ScriptPublicKey = %x, want %s", got, tc.script)
			}
			back, err := AddressFromScriptPublicKey(a.Prefix, script)
			if err != nil || back.String() != tc.addr {
				t.Fatalf("AddressFromScriptPublicKey = %v, %v", back, err)
			}
			// The returned payload must not alias the caller's script.
			script[len(script)/2] ^= 0xff
			if back.String() != tc.addr {
				t.Fatal("payload aliases the input script")
			}
		})
	}
}

func TestAddressFromScriptPublicKeyErrors(t *testing.T) {
	p2pk := mustHex(t, "206168e24508eadde4cec7251f6fb19ed4ff52eb513a3ec4c6b556ee276cf59aafac")
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(p2pk)) }
	tests := []struct {
		name   string
		script []byte
	}{
		{"empty", nil},
		{"wrong push opcode", mutate(func(b []byte) []byte { b[0] = 0x21; return b })},
		{"wrong checksig opcode", mutate(func(b []byte) []byte { b[33] = 0xab; return b })},
		{"truncated", p2pk[:33]},
		{"trailing byte", append(bytes.Clone(p2pk), 0x00)},
		{"p2sh missing OP_EQUAL", mustHex(t, "aa20"+strings.Repeat("11", 32)+"88")},
		{"ecdsa wrong opcode", mustHex(t, "21"+strings.Repeat("02", 33)+"ac")},
		{"legacy p2pkh-like", mustHex(t, "76a914"+strings.Repeat("00", 20)+"88ac")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AddressFromScriptPublicKey("kaspa", tc.script); !errors.Is(err, ErrNonStandardScript) {
				t.Fatalf("err = %v, want ErrNonStandardScript", err)
			}
		})
	}
	if _, err := AddressFromScriptPublicKey("bitcoincash", p2pk); !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("unknown prefix: err = %v, want ErrInvalidAddress", err)
	}
}

func TestScriptPublicKeyInvalidAddress(t *testing.T) {
	for _, a := range []Address{
		{},
		{Prefix: "kaspa", Version: VersionPubKey, Payload: make([]byte, 33)},
		{Prefix: "kaspa", Version: VersionPubKeyECDSA, Payload: make([]byte, 32)},
		{Prefix: "kaspa", Version: 2, Payload: make([]byte, 32)},
	} {
		if got := a.ScriptPublicKey(); got != nil {
			t.Errorf("%+v: ScriptPublicKey = %x, want nil", a, got)
		}
	}
	if s := (Address{}).String(); s != "" {
		t.Errorf("zero Address String = %q, want empty", s)
	}
}

func TestEncodeAddressErrors(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		version Version
		n       int
		want    string
	}{
		{"unknown prefix", "bitcoincash", 0, 32, "unknown prefix"},
		{"empty prefix", "", 0, 32, "unknown prefix"},
		{"uppercase prefix", "KASPA", 0, 32, "unknown prefix"},
		{"unknown version", "kaspa", 3, 32, "unknown address version 3"},
		{"v0 short", "kaspa", 0, 20, "invalid payload length 20"},
		{"v1 short", "kaspatest", 1, 32, "invalid payload length 32"},
		{"v8 long", "kaspa", 8, 33, "invalid payload length 33"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeAddress(tc.prefix, tc.version, make([]byte, tc.n))
			if !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidAddress containing %q", err, tc.want)
			}
		})
	}
}

func TestAddressRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, prefix := range []string{PrefixMainnet, PrefixTestnet, PrefixSimnet, PrefixDevnet} {
		for _, v := range []Version{VersionPubKey, VersionPubKeyECDSA, VersionScriptHash} {
			t.Run(prefix+"/"+v.String(), func(t *testing.T) {
				n, _ := v.payloadLen()
				for range 200 {
					payload := make([]byte, n)
					for i := range payload {
						payload[i] = byte(rng.UintN(256))
					}
					s, err := EncodeAddress(prefix, v, payload)
					if err != nil {
						t.Fatal(err)
					}
					a, err := DecodeAddress(s)
					if err != nil {
						t.Fatalf("DecodeAddress(%q): %v", s, err)
					}
					if a.Prefix != prefix || a.Version != v || !bytes.Equal(a.Payload, payload) || a.String() != s {
						t.Fatalf("round trip mismatch for %q: %+v", s, a)
					}
					back, err := AddressFromScriptPublicKey(prefix, a.ScriptPublicKey())
					if err != nil || back.String() != s {
						t.Fatalf("script round trip for %q: %v", s, err)
					}
					// Any single-character substitution must be caught.
					i := len(prefix) + 1 + rng.IntN(len(s)-len(prefix)-1)
					c := charset[rng.IntN(len(charset))]
					if c != s[i] {
						bad := s[:i] + string(c) + s[i+1:]
						if _, err := DecodeAddress(bad); err == nil {
							t.Fatalf("substitution accepted: %q", bad)
						}
					}
				}
			})
		}
	}
}

func TestParseNetwork(t *testing.T) {
	tests := []struct {
		in     string
		want   Network
		prefix string
		ok     bool
	}{
		{"mainnet", Mainnet, "kaspa", true},
		{"testnet-10", Testnet10, "kaspatest", true},
		{"Mainnet", "", "", false},
		{"testnet", "", "", false},
		{"testnet-11", "", "", false},
		{"simnet", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseNetwork(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseNetwork(%q) = %q, %v", tc.in, got, err)
			}
			if !tc.ok && !errors.Is(err, ErrUnknownNetwork) {
				t.Fatalf("err = %v, want ErrUnknownNetwork", err)
			}
			if p := Network(tc.in).Prefix(); p != tc.prefix {
				t.Fatalf("Prefix() = %q, want %q", p, tc.prefix)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[Version]string{0: "pubkey", 1: "pubkeyecdsa", 8: "scripthash", 31: "version(31)"} {
		if got := v.String(); got != want {
			t.Errorf("Version(%d).String() = %q, want %q", v, got, want)
		}
	}
}
