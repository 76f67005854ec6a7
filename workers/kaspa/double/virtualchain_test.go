package double

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVirtualChainShape pins the exact body of GET /virtual-chain for one
// transaction: key order, JSON types, no null keys, and the input fields
// resolveInputs adds.
func TestVirtualChainShape(t *testing.T) {
	c, url := start(t, Options{BlueScore: 500, VirtualDaaScore: 7000})
	payee := c.AddressFor("payee")
	id := c.Submit2(t, TxSpec{Outputs: []Output{{payee, 9_007_199_254_740_993}}, Change: 5})
	_, payeeScript, _ := c.resolve(payee)
	from, fromScript, _ := c.resolve(c.DefaultSender())
	tr := call(t, "GET", url+"/transactions/"+id+"?resolve_previous_outpoints=light", "").json(t)
	in0 := []any{"inputs", 0}
	input := fmt.Sprintf(`{"previous_outpoint_hash":%q,"previous_outpoint_index":0,"signature_script":%q`,
		jget(t, tr, append(in0, "previous_outpoint_hash")...), jget(t, tr, append(in0, "signature_script")...))
	outputs := fmt.Sprintf(`"outputs":[{"script_public_key":%q,"script_public_key_address":%q,"amount":9007199254740993},`+
		`{"script_public_key":%q,"script_public_key_address":%q,"amount":5}]`,
		hex.EncodeToString(payeeScript), payee, hex.EncodeToString(fromScript), from)
	block := fmt.Sprintf(`[{"hash":%q,"blue_score":500,"daa_score":7000,"timestamp":%s,"transactions":[{"transaction_id":%q,"is_accepted":true,"inputs":[`,
		jget(t, tr, "accepting_block_hash"), jget(t, tr, "accepting_block_time"), id)

	tests := []struct {
		name, query, want string
	}{
		{"unresolved inputs", "blueScoreGte=500", block + input + "}]," + outputs + "}]}]"},
		{"resolved inputs", "blueScoreGte=500&limit=100&resolveInputs=true", block + input +
			fmt.Sprintf(`,"previous_outpoint_script":%q,"previous_outpoint_address":%q,"previous_outpoint_amount":%s}],`,
				hex.EncodeToString(fromScript), from, jget(t, tr, append(in0, "previous_outpoint_amount")...)) +
			outputs + "}]}]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "GET", url+"/virtual-chain?"+tc.query, "")
			if r.status != 200 || string(r.body) != tc.want {
				t.Errorf("got %d %s\nwant   %s", r.status, r.body, tc.want)
			}
			if !strings.HasPrefix(r.header.Get("Cache-Control"), "public, max-age=") {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
		})
	}
}

// vcSummary renders a /virtual-chain answer as "blueScore:name,name;…"
// with transaction ids replaced by the names given in names.
func vcSummary(t *testing.T, body []byte, names map[string]string) string {
	t.Helper()
	var blocks []struct {
		Hash         string `json:"hash"`
		BlueScore    uint64 `json:"blue_score"`
		Transactions []struct {
			ID string `json:"transaction_id"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(body, &blocks); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var parts []string
	for _, b := range blocks {
		var ids []string
		for _, tx := range b.Transactions {
			ids = append(ids, names[tx.ID])
		}
		parts = append(parts, fmt.Sprintf("%d:%s", b.BlueScore-DefaultBlueScore, strings.Join(ids, ",")))
	}
	return strings.Join(parts, ";")
}

// TestVirtualChainWindows checks which blocks and transactions a window
// returns as the chain changes: coinbase filtering, rejected transactions
// dropped, re-accepted ones moved to their new blue score, indexer lag,
// and windows beyond the head. Blue scores in the summaries are relative
// to DefaultBlueScore.
func TestVirtualChainWindows(t *testing.T) {
	c, url := start(t, Options{})
	a, b := c.AddressFor("a"), c.AddressFor("b")
	names := map[string]string{}
	add := func(name string, spec TxSpec) string {
		id := c.Submit2(t, spec)
		names[id] = name
		return id
	}
	add("pay", TxSpec{Outputs: []Output{{a, 1000}}})                    // +0
	add("coinbase", TxSpec{Outputs: []Output{{a, 50}}, Coinbase: true}) // +1
	add("rejected", TxSpec{Outputs: []Output{{a, 60}}, Rejected: true}) // +2, not accepted
	add("two", TxSpec{Outputs: []Output{{a, 70}, {b, 80}}})             // +3
	add("same", TxSpec{Outputs: []Output{{b, 90}}, SameBlock: true})    // +3 too
	reorged := add("reorged", TxSpec{Outputs: []Output{{b, 100}}})      // +4, then rejected
	c.Advance(5)                                                        // head +10
	later := add("later", TxSpec{Outputs: []Output{{a, 110}}})          // +10, head +11
	if !c.Reject(reorged) {
		t.Fatal("Reject")
	}

	get := func(t *testing.T, query string) string {
		t.Helper()
		r := call(t, "GET", url+"/virtual-chain?"+query, "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return vcSummary(t, r.body, names)
	}
	gte := func(rel int64) string { return fmt.Sprintf("blueScoreGte=%d", int64(DefaultBlueScore)+rel) }
	steps := []struct {
		name   string
		change func()
		query  string
		want   string
	}{
		{"coinbase excluded, rejected absent", nil, gte(0) + "&includeCoinbase=false", "0:pay;3:two,same"},
		{"coinbase included by default", nil, gte(0), "0:pay;1:coinbase;3:two,same"},
		{"window end is exclusive", nil, gte(10), "10:later"},
		{"limit 100 spans both", nil, gte(0) + "&limit=100&includeCoinbase=0", "0:pay;3:two,same;10:later"},
		{"window before any transaction", nil, gte(-10), ""},
		{"window past the head", nil, gte(100) + "&limit=100", ""},
		{"re-accepted at the current blue score", func() { c.Accept(reorged) }, gte(10), "10:later;11:reorged"},
		{"rejecting removes it from its block", func() { c.Reject(later) }, gte(10), "11:reorged"},
		{"indexer lag hides new acceptances", func() {
			c.SetIndexerLag(true)
			add("lagged", TxSpec{Outputs: []Output{{a, 120}}}) // +11, head +12
			c.Accept(later)                                    // re-accepted at +12
		}, gte(10), "11:reorged"},
		{"indexer catches up", func() { c.SetIndexerLag(false) }, gte(10), "11:reorged,lagged;12:later"},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		if got := get(t, s.query); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}

	t.Run("block DAA score and time match the UTXO and the transaction", func(t *testing.T) {
		r := call(t, "GET", url+"/virtual-chain?"+gte(10), "")
		v := r.json(t)
		tr := call(t, "GET", url+"/transactions/"+later, "").json(t)
		utxos := call(t, "GET", url+"/addresses/"+a+"/utxos", "").json(t)
		var daa any
		for i := range utxos.([]any) {
			if jget(t, utxos, i, "outpoint", "transactionId") == later {
				daa = jget(t, utxos, i, "utxoEntry", "blockDaaScore")
			}
		}
		if jget(t, v, 1, "blue_score").(json.Number).String() != fmt.Sprint(jget(t, tr, "accepting_block_blue_score")) ||
			jget(t, v, 1, "hash") != jget(t, tr, "accepting_block_hash") ||
			jget(t, v, 1, "timestamp").(json.Number) != jget(t, tr, "accepting_block_time").(json.Number) ||
			jget(t, v, 1, "daa_score").(json.Number).String() != daa {
			t.Errorf("block %v\ntx %v\nutxo daa %v", jget(t, v, 1), tr, daa)
		}
	})

	t.Run("counted and failed like any route", func(t *testing.T) {
		c.ResetCalls()
		if err := c.InjectFailure(Failure{Mode: Fail503, Count: 1, Route: "GET /virtual-chain"}); err != nil {
			t.Fatal(err)
		}
		if r := call(t, "GET", url+"/virtual-chain?"+gte(10), ""); r.status != 503 {
			t.Errorf("injected failure: status %d", r.status)
		}
		if r := call(t, "GET", url+"/virtual-chain?"+gte(10), ""); r.status != 200 {
			t.Errorf("after the failure: status %d", r.status)
		}
		if n := c.Calls()["GET /virtual-chain"]; n != 2 {
			t.Errorf("calls %d, want 2", n)
		}
	})
}

// TestVirtualChainOneTimePerBlock: with a real clock, transactions accepted
// at one blue score (a frozen DAG) share one block, so one timestamp — the
// one /transactions/{id} reports as accepting_block_time for each of them.
func TestVirtualChainOneTimePerBlock(t *testing.T) {
	now := DefaultStartTime
	c, url := start(t, Options{Clock: func() time.Time { return now }})
	c.Freeze(true)
	first := c.Pay(c.AddressFor("a"), 1, "")
	now = now.Add(3 * time.Second)
	second := c.Pay(c.AddressFor("b"), 2, "")
	v := call(t, "GET", url+"/virtual-chain?"+fmt.Sprintf("blueScoreGte=%d", DefaultBlueScore), "").json(t)
	if n := len(v.([]any)); n != 1 || len(jget(t, v, 0, "transactions").([]any)) != 2 {
		t.Fatalf("want one block with both transactions: %v", v)
	}
	if ts := jget(t, v, 0, "timestamp"); ts != json.Number(fmt.Sprint(DefaultStartTime.UnixMilli())) {
		t.Errorf("block timestamp %v, want the first acceptance's", ts)
	}
	for _, id := range []string{first, second} {
		tr := call(t, "GET", url+"/transactions/"+id, "").json(t)
		if got := jget(t, tr, "accepting_block_time"); got != jget(t, v, 0, "timestamp") {
			t.Errorf("%s: accepting_block_time %v, block timestamp %v", id[:8], got, jget(t, v, 0, "timestamp"))
		}
	}
}
