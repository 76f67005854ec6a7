package kaspa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"till/workers/kaspa/double"
)

// TestVirtualChain follows the double's chain through Client.VirtualChain:
// the window's blocks with their DAA score and outputs, coinbase and
// rejected transactions left out, indexer lag honoured, nothing past the
// head, and the server's 400s surfacing as *HTTPError.
func TestVirtualChain(t *testing.T) {
	chain, cl := startDouble(t, double.Options{})
	ctx := context.Background()
	a, b := chain.AddressFor("a"), chain.AddressFor("b")
	base := double.DefaultBlueScore
	pay := submit(t, chain, double.TxSpec{Outputs: []double.Output{{Address: a, Sompi: above2to53}}, Change: 7}) // +0
	submit(t, chain, double.TxSpec{Outputs: []double.Output{{Address: a, Sompi: 50}}, Coinbase: true})           // +1
	submit(t, chain, double.TxSpec{Outputs: []double.Output{{Address: b, Sompi: 60}}, Rejected: true})           // +2
	reorged := chain.Pay(b, 70, "")                                                                              // +3
	chain.Advance(6)                                                                                             // head +10
	later := chain.Pay(b, 80, "")                                                                                // +10
	chain.Reject(reorged)

	daaOf := func(id string) uint64 {
		t.Helper()
		for _, u := range chain.State().UTXOs {
			if u.TransactionID == id {
				return u.BlockDaaScore
			}
		}
		t.Fatalf("no UTXO of %s", id)
		return 0
	}
	payTx, err := cl.Transaction(ctx, pay)
	if err != nil {
		t.Fatal(err)
	}
	want0 := ChainBlock{Hash: payTx.AcceptingBlockHash, BlueScore: base, DaaScore: daaOf(pay), Timestamp: payTx.AcceptingBlockTime,
		Transactions: []ChainTx{{ID: pay, Outputs: []ChainOutput{
			{Index: 0, Address: a, Amount: above2to53},
			{Index: 1, Address: chain.DefaultSender(), Amount: 7},
		}}}}
	got, err := cl.VirtualChain(ctx, base, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []ChainBlock{want0}) {
		t.Fatalf("window +0:\n got %+v\nwant %+v", got, []ChainBlock{want0})
	}

	// ids lists each block as "blueScore−base:id,…" (ids cut to 8 hex).
	ids := func(blocks []ChainBlock) []string {
		var out []string
		for _, bl := range blocks {
			var txs []string
			for _, tx := range bl.Transactions {
				txs = append(txs, tx.ID[:8])
			}
			out = append(out, fmt.Sprintf("%d:%s", bl.BlueScore-base, strings.Join(txs, ",")))
		}
		return out
	}
	tests := []struct {
		name   string
		change func()
		gte    uint64
		limit  int
		want   []string
	}{
		{"second window", nil, base + 10, 10, []string{"10:" + later[:8]}},
		{"limit 100", nil, base, 100, []string{"0:" + pay[:8], "10:" + later[:8]}},
		{"past the head", nil, base + 100, 100, nil},
		{"re-accepted at the head", func() { chain.Accept(reorged) }, base + 10, 10, []string{"10:" + later[:8], "11:" + reorged[:8]}},
		{"indexer lag hides new transactions", func() {
			chain.SetIndexerLag(true)
			chain.Pay(a, 90, "")
		}, base + 10, 10, []string{"10:" + later[:8], "11:" + reorged[:8]}},
	}
	for _, tc := range tests {
		if tc.change != nil {
			tc.change()
		}
		got, err := cl.VirtualChain(ctx, tc.gte, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if g := ids(got); !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, g, tc.want)
		}
	}
	chain.SetIndexerLag(false)
	if got, err := cl.VirtualChain(ctx, base+10, 10); err != nil || len(got) != 2 || len(got[1].Transactions) != 2 {
		t.Errorf("after the lag: %+v %v", got, err)
	}

	for _, tc := range []struct {
		name  string
		gte   uint64
		limit int
	}{{"limit outside {10, 100}", base, 50}, {"gte not divisible by limit", base + 10, 100}} {
		_, err := cl.VirtualChain(ctx, tc.gte, tc.limit)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Path != "/virtual-chain" {
			t.Errorf("%s: err %v, want a 400 *HTTPError", tc.name, err)
		}
	}
}

// TestVirtualChainDecoding feeds hand-written answers: tolerated variants
// and ones that must be ErrBadResponse.
func TestVirtualChainDecoding(t *testing.T) {
	id := strings.Repeat("ab", 32)
	cl, body := cannedClient(t)
	block := func(blueScore, outputs string) string {
		return `[{"hash":"h","blue_score":` + blueScore + `,"transactions":[{"transaction_id":"` + id + `","is_accepted":true,"outputs":[` + outputs + `]}]}]`
	}
	out := func(addr, amount string) string {
		return `{"script_public_key":"20ac","script_public_key_address":` + addr + `,"amount":` + amount + `}`
	}
	tests := []struct {
		name, body string
		want       []ChainOutput // nil with ok=false: ErrBadResponse
		ok         bool
	}{
		{"string numbers and unknown fields", block(`"1000"`, out(`"kaspa:a"`, `"18446744073709551615"`)+`,{"x":1,`+out(`"kaspa:b"`, "5")[1:]),
			[]ChainOutput{{0, "kaspa:a", 18446744073709551615}, {1, "kaspa:b", 5}}, true},
		{"output without an address is skipped, indexes kept", block("1009", `{"amount":1},`+out(`null`, "2")+","+out(`"kaspa:c"`, "3")),
			[]ChainOutput{{2, "kaspa:c", 3}}, true},
		{"block below the window", block("999", out(`"kaspa:a"`, "1")), nil, false},
		{"block past the window", block("1010", out(`"kaspa:a"`, "1")), nil, false},
		{"missing blue_score", `[{"hash":"h","transactions":[]}]`, nil, false},
		{"bad transaction id", strings.Replace(block("1000", ""), id, "xyz", 1), nil, false},
		{"amount missing", block("1000", `{"script_public_key_address":"kaspa:a"}`), nil, false},
		{"negative amount", block("1000", out(`"kaspa:a"`, "-1")), nil, false},
		{"object instead of list", `{"detail":"x"}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			*body = tc.body
			got, err := cl.VirtualChain(context.Background(), 1000, 10)
			if !tc.ok {
				if !errors.Is(err, ErrBadResponse) {
					t.Errorf("got %+v %v, want ErrBadResponse", got, err)
				}
				return
			}
			if err != nil || len(got) != 1 || len(got[0].Transactions) != 1 || !reflect.DeepEqual(got[0].Transactions[0].Outputs, tc.want) {
				t.Errorf("got %+v %v, want outputs %+v", got, err, tc.want)
			}
		})
	}
}
