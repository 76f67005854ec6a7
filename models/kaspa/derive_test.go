package kaspa

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// referenceAddress is the derivation ReceiveAddress replaced: hdkeychain's
// public CKD and the child's compressed key without its parity byte.
func referenceAddress(node *hdkeychain.ExtendedKey, index uint32) ([]byte, error) {
	child, err := node.Derive(index)
	if err != nil {
		return nil, err
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return nil, err
	}
	return pub.SerializeCompressed()[1:], nil
}

// TestReceiveAddressMatchesHDKeychain derives the same receive addresses
// through ReceiveAddress and through hdkeychain (Derive + ECPubKey) for
// five keys of both networks, at the ends of the index range and at 2,500
// seeded random indexes each (12,525 in all).
func TestReceiveAddressMatchesHDKeychain(t *testing.T) {
	keys := []struct {
		key string
		net Network
	}{
		{accountKpub, Mainnet},
		{golangKpub, Mainnet},
		{fringeKpub, Mainnet},
		{accountKtub, Testnet10},
		{huntKtub, Testnet10},
	}
	compared := 0
	for ki, kc := range keys {
		k := mustParseKey(t, kc.key, kc.net)
		node, err := k.account.Derive(0)
		if err != nil {
			t.Fatal(err)
		}
		indexes := []uint32{0, 1, 2, 1<<31 - 2, 1<<31 - 1}
		rng := rand.New(rand.NewPCG(12, uint64(ki)))
		for range 2500 {
			indexes = append(indexes, rng.Uint32N(1<<31))
		}
		for _, idx := range indexes {
			want, wantErr := referenceAddress(node, idx)
			got, err := k.ReceiveAddress(idx)
			if wantErr != nil || err != nil {
				// hdkeychain's ErrInvalidChild is ErrUnusableIndex here;
				// neither occurs on a real key (probability < 2^-127).
				t.Fatalf("%.12s… index %d: hdkeychain err %v, ReceiveAddress err %v", kc.key, idx, wantErr, err)
			}
			if !bytes.Equal(got.Payload, want) || got.Version != VersionPubKey || got.Prefix != kc.net.Prefix() {
				t.Fatalf("%.12s… index %d: got %s %d %x, hdkeychain payload %x",
					kc.key, idx, got.Prefix, got.Version, got.Payload, want)
			}
			compared++
		}
	}
	if compared < 10000 {
		t.Fatalf("compared only %d indexes", compared)
	}
}

// TestReceiveAddressHardenedIndexError pins the error for indexes at or
// above 2^31: the sentinel and the text the merchant sees.
func TestReceiveAddressHardenedIndexError(t *testing.T) {
	k := mustParseKey(t, accountKpub, Mainnet)
	for _, idx := range []uint32{1 << 31, ^uint32(0)} {
		_, err := k.ReceiveAddress(idx)
		want := fmt.Sprintf("invalid derivation index: %d is not below 2^31 (hardened indexes cannot be derived from a public key)", idx)
		if !errors.Is(err, ErrInvalidIndex) || err.Error() != want {
			t.Errorf("ReceiveAddress(%d) err = %v, want %q", idx, err, want)
		}
	}
}

// scalarPoint returns k·G, normalized, and its affine x.
func scalarPoint(t *testing.T, k *btcec.ModNScalar) (btcec.JacobianPoint, [32]byte) {
	t.Helper()
	var p btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(k, &p)
	p.ToAffine()
	return p, *p.X.Bytes()
}

// TestChildX covers the step's rejections, which no real key reaches (each
// needs an HMAC output chosen in advance): I_L ≥ n, I_L = 0, and a child at
// infinity (I_L·G = −K_par); and its arithmetic on small known scalars,
// including a child equal to the parent's double (I_L·G = K_par).
func TestChildX(t *testing.T) {
	scalar := func(v uint32) *btcec.ModNScalar { return new(btcec.ModNScalar).SetInt(v) }
	bytesOf := func(s *btcec.ModNScalar) []byte { b := s.Bytes(); return b[:] }
	n := btcec.S256().N.FillBytes(make([]byte, 32))
	nMinus7 := bytesOf(new(btcec.ModNScalar).NegateVal(scalar(7)))
	ff := bytes.Repeat([]byte{0xff}, 32)

	parent, _ := scalarPoint(t, scalar(7)) // K_par = 7·G
	_, x8 := scalarPoint(t, scalar(8))
	_, x14 := scalarPoint(t, scalar(14))
	_, x7plusNm1 := scalarPoint(t, scalar(6)) // 7 + (n−1) ≡ 6

	tests := []struct {
		name   string
		il     []byte
		want   [32]byte
		wantOK bool
	}{
		{"I_L = n", n, [32]byte{}, false},
		{"I_L = 2^256-1", ff, [32]byte{}, false},
		{"I_L = 0", make([]byte, 32), [32]byte{}, false},
		{"child at infinity (I_L = n-7)", nMinus7, [32]byte{}, false},
		{"I_L = 1", bytesOf(scalar(1)), x8, true},
		{"I_L = 7 (doubling)", bytesOf(scalar(7)), x14, true},
		{"I_L = n-1", bytesOf(new(btcec.ModNScalar).NegateVal(scalar(1))), x7plusNm1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, ok := childX(tc.il, &parent)
			if ok != tc.wantOK || x != tc.want {
				t.Fatalf("childX = %x, %v; want %x, %v", x, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// BenchmarkReceiveAddress measures one receive address derivation from a
// parsed (cached) key, the per-session step of kpub payment creation,
// beside the hdkeychain path it replaced (same process, same load).
func BenchmarkReceiveAddress(b *testing.B) {
	k := mustParseKey(b, accountKpub, Mainnet)
	b.Run("prepared", func(b *testing.B) {
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			if _, err := k.ReceiveAddress(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("hdkeychain", func(b *testing.B) {
		node, err := k.account.Derive(0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			if _, err := referenceAddress(node, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
