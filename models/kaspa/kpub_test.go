package kaspa

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// Vectors from research §3.4 (rusty-kaspa wallet/keys/src/derivation/gen1/hd.rs
// and wallet/core/src/compat/gen1.rs).
const (
	// Go kaspawallet kpub imported by rusty-kaspa gen1.rs (mnemonic "dizzy uncover …").
	golangKpub = "kpub2KUE88roSn5peP1rEZnbRuKYw1fEPbhqBoXVWW7mLfkrLvQBAjUqwx7m1ezeSfqfecv9RUYePuHf99iW51i31WjwWjnzKDCUcTucBSiBbJA"
	// Account key m/44'/111111'/0' of the hd.rs master kprv5y2qurMH….
	accountKpub = "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"
	accountKtub = "ktub23mE4p2ztefp518uPxpDVU3yMST8b3sK3Kj7SEL1SzaQMNgvcym37xEzCcUcDrE4TcDAoxysqvU1Ct51xVCVv41UMKS82Me2Ha5FUBwiEbc"
	// hd.rs master private key (depth 0).
	masterKprv = "kprv5y2qurMHCsXYrNfU3GCihuwG3vMqFji7PZXajMEqyBkNh9UZUJgoHYBLTKu1eM4MvUtomcXPQ3Sw9HZ5ebbM4byoUciHo1zrPJBQfqpLorQ"
	// hd.rs "hunt bitter …" testnet master and account key.
	huntKtrv = "ktrv5himbbCxArFU2CHiEQyVHP1ABS1tA1SY88CwePzGeM8gHfWmkNBXehhKsESH7UwcxpjpDdMNbwtBfyPoZ7W59kYfVnUXKRgv8UguDns2FQb"
	huntKtub = "ktub23beJLczbxoS4emYHxm5H2rPnXJPGTwjNLAc8JyjHnSFLPMJBj5h3U8oWbn1x1jayZRov6uhvGd4zUGrWH6PkYZMWsykUsQWYqjbLnHrzUE"
	// hd.rs "fringe ceiling …" mainnet account key.
	fringeKpub = "kpub2HtoTgsG6e1c7ixJ6JY49otNSzhEKkwnH6bsPHLAXUdYnfEuYw9LnhT7uRzaS4LSeit2rzutV6z8Fs9usdEGKnNe6p1JxfP71mK8rbUfYWo"
)

// rusty-kaspa hd.rs gen1_receive_addresses()[0..20] (the list has a 21st
// entry the test never checks) and gen1_change_addresses().
var hdReceiveMainnet = []string{
	"kaspa:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xjellj43pf",
	"kaspa:qzn3qjzf2nzyd3zj303nk4sgv0aae42v3ufutk5xsxckfels57dxjjed4qvlx",
	"kaspa:qpakxqlesqywgkq7rg4wyhjd93kmw7trkl3gpa3vd5flyt59a43yyjp28qsku",
	"kaspa:qz0skffpert8cav6h2c9nfndmhzzfhvkrjexclmwgjjwt0sutysnw6lp55ak0",
	"kaspa:qrmzemw6sm67svltul0qsk3974ema4auhrja3k68f4sfhxe4mxjwx0cj353df",
	"kaspa:qpe4apax5dquy600py9rprmukhq8fqyqv9qu072twkvgse0glhqa74ynxmvfr",
	"kaspa:qrptdge6ykdq672xqjd4rv2cedwdcz030jngsr2xhaxrn5l8pfhc294x9c7x6",
	"kaspa:qqnys5nyennjkvyl77vwneq5j2vmjss57zerd88ptzaeqhm998smxw28uth8l",
	"kaspa:qztckuvk02885rdazvj9w079qujg5qpxcdnmsvxqx0q8z7l483prkszjqwwff",
	"kaspa:qrp53krck4m0x6n0dxs7vzf5mg0x6we8e06xjpmu8xr8p4du6f89khqdzw6uw",
	"kaspa:qr4l3mahqe0jeeu6c474q5tywz08mudhddgtdneeq46unv0qx0j77kdtr52uu",
	"kaspa:qzatdsueklx7pkfzanh9u0pwr47sd3a25gfm8wypsevdejhhpj8ck3v74v54j",
	"kaspa:qqk3g5l6ymdkjfmzezx4zrv9fhr5rh0d8tm07udkqxq79n6t60tzu3fa7lnqg",
	"kaspa:qqasa6d590u6875hsese68fa9f8mnedzesn2udehp0s73ggt5cklw2ge393eq",
	"kaspa:qpuzq5jc757uxue9fradme33jd6egxr9fdznd8qysqcc5xy8k7alqpjgpdgrn",
	"kaspa:qqygznwmkl56vprrnvyvnta9qql43yv52m3qz2462vxskn32axl0xccnpsqx9",
	"kaspa:qqk974yml6uuustenwu57hn8n7d202luvn4dum0txvzjgg60g2jzsknngheak",
	"kaspa:qpxqat995cxnjla8nm0dwnneesqnk5enc6hqrua7jztels0eqjg8vsm032lww",
	"kaspa:qpyzkjs2a6k8ljx2qt4pwscj6jccr6k7pmru9k7r2t25teajjuzaz7zkesu0e",
	"kaspa:qzf5mxtvk8wgp8gr3dcj3dkzdu6w4dgpvp2f0gm9pepv9vazxrhy577fy87rt",
}

// rusty-kaspa hd.rs generate_kaspatest_addresses().
var hdReceiveTestnet = []string{
	"kaspatest:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xjceef60sd",
	"kaspatest:qzn3qjzf2nzyd3zj303nk4sgv0aae42v3ufutk5xsxckfels57dxjnltw0jwz",
	"kaspatest:qpakxqlesqywgkq7rg4wyhjd93kmw7trkl3gpa3vd5flyt59a43yyn8vu0w8c",
	"kaspatest:qz0skffpert8cav6h2c9nfndmhzzfhvkrjexclmwgjjwt0sutysnwme80mr8t",
	"kaspatest:qrmzemw6sm67svltul0qsk3974ema4auhrja3k68f4sfhxe4mxjwxw752m0ud",
	"kaspatest:qpe4apax5dquy600py9rprmukhq8fqyqv9qu072twkvgse0glhqa75z4a5jc8",
	"kaspatest:qrptdge6ykdq672xqjd4rv2cedwdcz030jngsr2xhaxrn5l8pfhc2ynq7hqh7",
	"kaspatest:qqnys5nyennjkvyl77vwneq5j2vmjss57zerd88ptzaeqhm998smx0vp8yfkm",
	"kaspatest:qztckuvk02885rdazvj9w079qujg5qpxcdnmsvxqx0q8z7l483prk3y5mpscd",
	"kaspatest:qrp53krck4m0x6n0dxs7vzf5mg0x6we8e06xjpmu8xr8p4du6f89kkxtepyd2",
	"kaspatest:qr4l3mahqe0jeeu6c474q5tywz08mudhddgtdneeq46unv0qx0j77htdcm5dc",
	"kaspatest:qzatdsueklx7pkfzanh9u0pwr47sd3a25gfm8wypsevdejhhpj8cks2cwr2yk",
	"kaspatest:qqk3g5l6ymdkjfmzezx4zrv9fhr5rh0d8tm07udkqxq79n6t60tzus0m9sd3v",
	"kaspatest:qqasa6d590u6875hsese68fa9f8mnedzesn2udehp0s73ggt5cklwtwl220gy",
	"kaspatest:qpuzq5jc757uxue9fradme33jd6egxr9fdznd8qysqcc5xy8k7alqq5w6zkjh",
	"kaspatest:qqygznwmkl56vprrnvyvnta9qql43yv52m3qz2462vxskn32axl0xe746l7hp",
	"kaspatest:qqk974yml6uuustenwu57hn8n7d202luvn4dum0txvzjgg60g2jzsh44nc8vj",
	"kaspatest:qpxqat995cxnjla8nm0dwnneesqnk5enc6hqrua7jztels0eqjg8v3af29pl2",
	"kaspatest:qpyzkjs2a6k8ljx2qt4pwscj6jccr6k7pmru9k7r2t25teajjuzazlyszlz7a",
	"kaspatest:qzf5mxtvk8wgp8gr3dcj3dkzdu6w4dgpvp2f0gm9pepv9vazxrhy5lc0lgqj0",
}

var hdChangeMainnet = []string{
	"kaspa:qrqrnyzdwh9ec2q05guzy3vv33f86nvdyw52qwlmk0mewzx3dgdss3pmcd692",
	"kaspa:qqx8jlz0hh0wun5ru4glt9za3v8wj3jn7v3w55a0lyud74ppetqfqny4yhw87",
	"kaspa:qzpa69mrh2nj6xk6gq38vcnzu64necp0jwaxxyusr9xcy5udhu2m7uvql8rnd",
	"kaspa:qqxddf76hr39dc7k7lpdzg065ajtvrhlm5p3edm4gyen0waneryss2c0la85t",
	"kaspa:qps4qh9dtskwvf923yl9utl74r8sdm9h2wv3mftuxcfc2cshwswc6txj0k2kl",
	"kaspa:qrds58d6nw9uz7z93ds4l6x9cgw3rquqzr69dtch6n4d8fxum8c65f7nqmhzx",
	"kaspa:qrajjrpj0krqkww7rymwuwzcd36grjr6688ynvna649q26zukhcq6eqf4jmnx",
	"kaspa:qrumkgz7hlsa748tnzvpztmf6wu9zsgqh6rppw4gzw2mvyq4ccj0y3ms9ju5l",
	"kaspa:qz2g3cj3jcklk4w95djwnm9dffcwg75aqct2pefsxujrldgs08wac99rz70rc",
	"kaspa:qznmzsvk0srfkur8l9pf55st0hnh3x8tmdyskjl9570w99lxsgs7cwrhxap2r",
	"kaspa:qptamza95k7tchmukulldps4kl6wk853dnwa52t4azzm76h588qjufmnu3rn7",
	"kaspa:qqt9h5cjqu9an68cn9k9jc2ywqmqu6kswjzeu09tqulswxkuccaxg6wz45f5r",
	"kaspa:qphr6uy46ad3ca7rerzkx7kkzfzsvfe0xanh4u5mrh538cexs4yjkww0pa4dh",
	"kaspa:qzv3qlh5q4fpy6eu5s4wj080l64del4lvg986z5uh0c3g7wf6n8pvsgm3c9e0",
	"kaspa:qp2dd6y4szgyhcendh7ncxws0qvx8k3s92tg7lvy8eel5npg4pd2ks0ctx4hl",
	"kaspa:qpkqvnkler4rwlpt720unepf3q8cayv0shx0vzydrae7a6u7ryy8zdvnmncyc",
	"kaspa:qr4v33jupxv9h6juqads0znrnw6g7an2ajuzusthnjqujquz66rewtjekhz4l",
	"kaspa:qz5pq2yzpz8ce5avrsa4uzzwrlr5a86rvs74afd6qdm3h649v08nk0qxhrl9n",
	"kaspa:qrajmn035raezl6rcvd0wvnfmdnc0qzwr686ccsrn3z5x8aqnpt8qa0e954jk",
	"kaspa:qrqg7r05nk7syxjh8rdz8wanzmyh8sdts9uexxnnwkq8fplrjammvcnrdggw0",
}

func mustParseKey(t testing.TB, s string, n Network) *ExtendedPublicKey {
	t.Helper()
	k, err := ParseExtendedPublicKey(s, n)
	if err != nil {
		t.Fatalf("ParseExtendedPublicKey(%.12s…, %s): %v", s, n, err)
	}
	return k
}

func TestReceiveAddressVectors(t *testing.T) {
	type vec struct {
		name  string
		key   string
		net   Network
		index uint32
		want  string
	}
	tests := []vec{
		{"golang kpub /0/0 (rusty gen1.rs, taken from golang impl)", golangKpub, Mainnet, 0, "kaspa:qpuvlauc6a5syze9g70dnxzzvykhkuatsjrx87mxqccqh7kf9kcssdkp9ec7w"},
		{"golang kpub /0/1", golangKpub, Mainnet, 1, "kaspa:qpzfw5qygyxfdj5mvxjrs3esx4qpuvhktg46mjt32zeyzwgkkeygga6egan68"},
		{"golang kpub /0/2", golangKpub, Mainnet, 2, "kaspa:qzkjnrcaawh8scvefajcph99nk8ctu2kzatp8sfc87s7e76nqlftku4v4zjvc"},
		{"hunt ktub /0/1 (rusty address_test_by_ktrv)", huntKtub, Testnet10, 1, "kaspatest:qrc2959g0pqda53glnfd238cdnmk24zxzkj8n5x83rkktx4h73dkc4ave6wyg"},
	}
	for i, want := range hdReceiveMainnet {
		tests = append(tests, vec{fmt.Sprintf("account kpub receive[%d]", i), accountKpub, Mainnet, uint32(i), want})
	}
	for i, want := range hdReceiveTestnet {
		tests = append(tests, vec{fmt.Sprintf("account ktub receive[%d]", i), accountKtub, Testnet10, uint32(i), want})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustParseKey(t, tc.key, tc.net)
			a, err := k.ReceiveAddress(tc.index)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.String(); got != tc.want {
				t.Fatalf("ReceiveAddress(%d) = %s, want %s", tc.index, got, tc.want)
			}
			if a.Version != VersionPubKey || len(a.Payload) != 32 {
				t.Fatalf("got version %d payload %d bytes", a.Version, len(a.Payload))
			}
			if _, err := ParseAddress(a.String(), tc.net); err != nil {
				t.Fatalf("derived address does not parse on %s: %v", tc.net, err)
			}
		})
	}
}

// TestChangeAddressVectors checks the /1/i chain through the same
// derivation code (the gateway only hands out receive addresses, but this
// pins the CKD implementation against a second published list).
func TestChangeAddressVectors(t *testing.T) {
	k := mustParseKey(t, accountKpub, Mainnet)
	node, err := k.account.Derive(1)
	if err != nil {
		t.Fatal(err)
	}
	change, err := newPublicChain(node)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range hdChangeMainnet {
		t.Run(fmt.Sprintf("change[%d]", i), func(t *testing.T) {
			a, err := change.address(uint32(i), PrefixMainnet)
			if err != nil || a.String() != want {
				t.Fatalf("change[%d] = %v, %v; want %s", i, a, err, want)
			}
		})
	}
}

// xprvVersion is Bitcoin's registered xprv id, needed for hdkeychain's
// Neuter; the result is re-labelled with Kaspa version bytes.
var xprvVersion = []byte{0x04, 0x88, 0xad, 0xe4}

// accountFromMaster derives m/44'/111111'/0' from a master private key and
// returns its public serialisation with the given version bytes.
func accountFromMaster(t *testing.T, master *hdkeychain.ExtendedKey, pubVersion []byte) string {
	t.Helper()
	k, err := master.CloneWithVersion(xprvVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []uint32{44, 111111, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + c); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	pub, err = pub.CloneWithVersion(pubVersion)
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

// masterFromMnemonic implements BIP39 seed + BIP32 master (no passphrase).
func masterFromMnemonic(t *testing.T, mnemonic string, privVersion []byte) *hdkeychain.ExtendedKey {
	t.Helper()
	seed, err := pbkdf2.Key(sha512.New, mnemonic, []byte("mnemonic"), 2048, 64)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha512.New, []byte("Bitcoin seed"))
	mac.Write(seed)
	i := mac.Sum(nil)
	return hdkeychain.NewExtendedKey(privVersion, i[:32], i[32:], []byte{0, 0, 0, 0}, 0, 0, true)
}

var (
	kprvVersion = []byte{0x03, 0x8f, 0x2e, 0xf4}
	ktrvVersion = []byte{0x03, 0x90, 0x9e, 0x07}
	kpubVersion = []byte{0x03, 0x8f, 0x33, 0x2e}
	ktubVersion = []byte{0x03, 0x90, 0xa2, 0x41}
)

// TestAccountKeysFromSeeds re-derives every §3.4 account key from its
// published master key or mnemonic, which independently confirms the
// vectors the research computed itself (accountKpub/accountKtub).
func TestAccountKeysFromSeeds(t *testing.T) {
	master, err := hdkeychain.NewKeyFromString(masterKprv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		master    *hdkeychain.ExtendedKey
		wantMastr string // "" when not published
		pubVer    []byte
		want      string
	}{
		{"hd.rs master → kpub", master, "", kpubVersion, accountKpub},
		{"hd.rs master → ktub", master, "", ktubVersion, accountKtub},
		{"dizzy uncover → golang kpub", masterFromMnemonic(t, "dizzy uncover funny time weapon chat volume squirrel comic motion until diamond response remind hurt spider door strategy entire oyster hawk marriage soon fabric", kprvVersion), "", kpubVersion, golangKpub},
		{"fringe ceiling → kpub", masterFromMnemonic(t, "fringe ceiling crater inject pilot travel gas nurse bulb bullet horn segment snack harbor dice laugh vital cigar push couple plastic into slender worry", kprvVersion),
			"kprv5y2qurMHCsXYrpeDB395BY2DPKYHUGaCMpFAYRi1cmhwin1bWRyUXVbtTyy54FCGxPnnEvbK9WaiaQgkGS9ngGxmHy1bubZYY6MTokeYP2Q", kpubVersion, fringeKpub},
		{"hunt bitter → ktub", masterFromMnemonic(t, "hunt bitter praise lift buyer topic crane leopard uniform network inquiry over grain pass match crush marine strike doll relax fortune trumpet sunny silk", ktrvVersion),
			huntKtrv, ktubVersion, huntKtub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantMastr != "" && tc.master.String() != tc.wantMastr {
				t.Fatalf("master = %s, want %s", tc.master.String(), tc.wantMastr)
			}
			if got := accountFromMaster(t, tc.master, tc.pubVer); got != tc.want {
				t.Fatalf("account key = %s, want %s", got, tc.want)
			}
		})
	}
}

// reencode decodes an extended key, lets mutate change the 78-byte
// payload, and re-serialises it with a fresh valid checksum.
func reencode(t testing.TB, s string, mutate func(p []byte)) string {
	t.Helper()
	raw := base58.Decode(s)
	if len(raw) != 82 {
		t.Fatalf("bad key %q", s)
	}
	p := append([]byte(nil), raw[:78]...)
	mutate(p)
	a := sha256.Sum256(p)
	b := sha256.Sum256(a[:])
	return base58.Encode(append(p, b[:4]...))
}

func withVersion(v []byte) func(p []byte) { return func(p []byte) { copy(p, v) } }
func withDepth(d byte) func(p []byte)     { return func(p []byte) { p[4] = d } }

func TestVectorKeyDepths(t *testing.T) {
	for _, s := range []string{golangKpub, accountKpub, accountKtub, fringeKpub, huntKtub} {
		if d := base58.Decode(s)[4]; d != AccountDepth {
			t.Errorf("%.12s… has depth %d, want %d", s, d, AccountDepth)
		}
	}
}

func TestParseExtendedPublicKeyAccepts(t *testing.T) {
	xpub := reencode(t, accountKpub, withVersion([]byte{0x04, 0x88, 0xb2, 0x1e}))
	tpub := reencode(t, accountKtub, withVersion([]byte{0x04, 0x35, 0x87, 0xcf}))
	if !strings.HasPrefix(xpub, "xpub") || !strings.HasPrefix(tpub, "tpub") {
		t.Fatalf("test setup: %s %s", xpub[:4], tpub[:4])
	}
	tests := []struct {
		name, in  string
		net       Network
		canonical string
		first     string
	}{
		{"kpub", accountKpub, Mainnet, accountKpub, hdReceiveMainnet[0]},
		{"ktub", accountKtub, Testnet10, accountKtub, hdReceiveTestnet[0]},
		{"xpub as kpub", xpub, Mainnet, accountKpub, hdReceiveMainnet[0]},
		{"tpub as ktub", tpub, Testnet10, accountKtub, hdReceiveTestnet[0]},
		{"surrounding whitespace", " \t" + accountKpub + "\r\n", Mainnet, accountKpub, hdReceiveMainnet[0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustParseKey(t, tc.in, tc.net)
			if k.String() != tc.canonical || k.Network() != tc.net {
				t.Fatalf("String() = %s, Network() = %s", k.String(), k.Network())
			}
			a, err := k.ReceiveAddress(0)
			if err != nil || a.String() != tc.first {
				t.Fatalf("ReceiveAddress(0) = %v, %v", a, err)
			}
		})
	}
}

func TestParseExtendedPublicKeyErrors(t *testing.T) {
	master, err := hdkeychain.NewKeyFromString(masterKprv)
	if err != nil {
		t.Fatal(err)
	}
	xprvMaster, _ := master.CloneWithVersion(xprvVersion)
	neutered, err := xprvMaster.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	depth0Kpub, _ := neutered.CloneWithVersion(kpubVersion)
	kpubChain0, err := mustParseKey(t, accountKpub, Mainnet).account.Derive(0) // depth 4, kpub version
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		c := byte('2')
		if s[i] == c {
			c = '3'
		}
		return s[:i] + string(c) + s[i+1:]
	}

	tests := []struct {
		name    string
		in      string
		net     Network
		kinds   []error // all must match
		notKind []error // none may match
		want    string  // substring of the message
	}{
		// Network mismatch.
		{"kpub on testnet", accountKpub, Testnet10, []error{ErrWrongNetwork}, []error{ErrPrivateKey}, "mainnet key (kpub) but the gateway runs on testnet-10; export a ktub"},
		{"ktub on mainnet", accountKtub, Mainnet, []error{ErrWrongNetwork}, []error{ErrPrivateKey}, "testnet key (ktub) but the gateway runs on mainnet; export a kpub"},
		{"golang kpub on testnet", golangKpub, Testnet10, []error{ErrWrongNetwork}, nil, "mainnet key"},
		{"hunt ktub on mainnet", huntKtub, Mainnet, []error{ErrWrongNetwork}, nil, "testnet key"},
		{"xpub on testnet", reencode(t, accountKpub, withVersion([]byte{0x04, 0x88, 0xb2, 0x1e})), Testnet10, []error{ErrWrongNetwork}, nil, "(xpub)"},
		{"tpub on mainnet", reencode(t, accountKtub, withVersion([]byte{0x04, 0x35, 0x87, 0xcf})), Mainnet, []error{ErrWrongNetwork}, nil, "(tpub)"},

		// Private keys and seed phrases.
		{"kprv master", masterKprv, Mainnet, []error{ErrPrivateKey}, []error{ErrWrongNetwork}, "never paste a private key"},
		{"kprv on testnet", masterKprv, Testnet10, []error{ErrPrivateKey}, []error{ErrWrongNetwork}, "export the account's extended public key (ktub)"},
		{"ktrv master", huntKtrv, Testnet10, []error{ErrPrivateKey}, nil, "(ktrv)"},
		{"xprv", xprvMaster.String(), Mainnet, []error{ErrPrivateKey}, nil, "(xprv)"},
		{"kprv with bad checksum", flip(masterKprv, 60), Mainnet, []error{ErrPrivateKey}, nil, "never paste"},
		{"kprv truncated", masterKprv[:50], Mainnet, []error{ErrPrivateKey}, nil, "never paste"},
		{"private key data under kpub version", reencode(t, masterKprv, withVersion(kpubVersion)), Mainnet, []error{ErrPrivateKey}, nil, "never paste"},
		{"tprv version bytes", reencode(t, masterKprv, withVersion([]byte{0x04, 0x35, 0x83, 0x94})), Testnet10, []error{ErrPrivateKey}, nil, "never paste"},
		{"seed phrase", "fringe ceiling crater inject pilot travel gas nurse bulb bullet horn segment snack harbor dice laugh vital cigar push couple plastic into slender worry", Mainnet, []error{ErrPrivateKey}, nil, "seed phrase"},

		// Depth.
		{"depth 0 kpub (master)", depth0Kpub.String(), Mainnet, nil, []error{ErrPrivateKey, ErrWrongNetwork}, "expected the account-level key at depth 3 (path m/44'/111111'/0'), got depth 0 (this is a master/root key)"},
		{"depth 4 kpub (receive chain)", kpubChain0.String(), Mainnet, nil, nil, "got depth 4"},
		{"depth 2 kpub", reencode(t, accountKpub, withDepth(2)), Mainnet, nil, nil, "got depth 2"},
		{"depth 5 ktub", reencode(t, accountKtub, withDepth(5)), Testnet10, nil, nil, "got depth 5"},

		// Encoding problems.
		{"bad checksum kpub", flip(accountKpub, 60), Mainnet, nil, []error{ErrPrivateKey}, "checksum mismatch"},
		{"bad checksum last char", flip(accountKpub, len(accountKpub)-1), Mainnet, nil, nil, "checksum mismatch"},
		{"truncated kpub", accountKpub[:100], Mainnet, nil, nil, "wrong length"},
		{"extra chars", accountKpub + "zzzz", Mainnet, nil, nil, "wrong length"},
		{"invalid base58 char", accountKpub[:50] + "0" + accountKpub[51:], Mainnet, nil, nil, "invalid base58"},
		{"empty", "   ", Mainnet, nil, nil, "empty input"},
		{"address instead of key", hdReceiveMainnet[0], Mainnet, nil, nil, "wrong length"},
		{"very long", strings.Repeat("z", 5000), Mainnet, nil, nil, "too long"},
		{"unknown version (ypub)", reencode(t, accountKpub, withVersion([]byte{0x04, 0x9d, 0x7c, 0xb2})), Mainnet, nil, nil, "unknown version bytes 049d7cb2"},
		{"point not on curve", reencode(t, accountKpub, func(p []byte) {
			p[45] = 0x02
			for i := 46; i < 78; i++ {
				p[i] = 0xff
			}
		}), Mainnet, nil, nil, "not a valid secp256k1 point"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseExtendedPublicKey(tc.in, tc.net)
			if err == nil {
				t.Fatalf("accepted: %v", k)
			}
			if !errors.Is(err, ErrInvalidExtendedKey) {
				t.Fatalf("err %v does not match ErrInvalidExtendedKey", err)
			}
			for _, kind := range tc.kinds {
				if !errors.Is(err, kind) {
					t.Fatalf("err %v does not match %v", err, kind)
				}
			}
			for _, kind := range tc.notKind {
				if errors.Is(err, kind) {
					t.Fatalf("err %v unexpectedly matches %v", err, kind)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q does not contain %q", err, tc.want)
			}
			// Never echo key material back (it may be a private key).
			if in := strings.TrimSpace(tc.in); len(in) > 8 && strings.Contains(err.Error(), in[4:]) {
				t.Fatalf("error text echoes the input: %q", err)
			}
		})
	}
	if _, err := ParseExtendedPublicKey(accountKpub, "devnet"); !errors.Is(err, ErrUnknownNetwork) {
		t.Fatalf("unknown network: err = %v", err)
	}
}

func TestReceiveAddressIndexLimits(t *testing.T) {
	k := mustParseKey(t, accountKpub, Mainnet)
	for _, idx := range []uint32{1 << 31, 1<<31 + 1, ^uint32(0)} {
		if _, err := k.ReceiveAddress(idx); !errors.Is(err, ErrInvalidIndex) {
			t.Errorf("ReceiveAddress(%d) err = %v, want ErrInvalidIndex", idx, err)
		}
	}
	a, err := k.ReceiveAddress(1<<31 - 1)
	if err != nil {
		t.Fatalf("ReceiveAddress(2^31-1): %v", err)
	}
	if _, err := DecodeAddress(a.String()); err != nil {
		t.Fatal(err)
	}
}

func TestReceiveAddressConcurrent(t *testing.T) {
	k := mustParseKey(t, accountKpub, Mainnet)
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(hdReceiveMainnet))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, want := range hdReceiveMainnet {
				a, err := k.ReceiveAddress(uint32(i))
				if err != nil || a.String() != want {
					errs <- fmt.Errorf("index %d: %v %w", i, a, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
