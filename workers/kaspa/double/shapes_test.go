package double

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestShapes asserts every endpoint's JSON shape and, above all, the JSON
// type of each field: the REST API mixes strings and numbers on purpose.
func TestShapes(t *testing.T) {
	c, url := start(t, Options{})
	payee := c.AddressFor("payee")
	idle := c.AddressFor("idle")
	const big = 9_007_199_254_740_993 // 2^53 + 1: not representable as float64
	txPay := c.Submit2(t, TxSpec{Outputs: []Output{{payee, big}}, Change: 5_000_000})
	txCoinbase := c.Submit2(t, TxSpec{Outputs: []Output{{payee, 123}}, Coinbase: true})
	txRejected := c.Submit2(t, TxSpec{Outputs: []Output{{payee, 77}}, Rejected: true})
	c.Advance(10)

	type check struct {
		path []any
		typ  string
		val  string // optional exact value (string form)
	}
	tests := []struct {
		name, method, path, body string
		checks                   []check
	}{
		{"balance", "GET", "/addresses/" + payee + "/balance", "", []check{
			{[]any{"address"}, "string", payee},
			{[]any{"balance"}, "number", strconv.FormatUint(big+123, 10)},
		}},
		{"balance unused address is 0", "GET", "/addresses/" + idle + "/balance", "", []check{
			{[]any{"balance"}, "number", "0"},
		}},
		{"balances keep request order", "POST", "/addresses/balances", `{"addresses":["` + idle + `","` + payee + `"]}`, []check{
			{[]any{0, "address"}, "string", idle},
			{[]any{0, "balance"}, "number", "0"},
			{[]any{1, "address"}, "string", payee},
			{[]any{1, "balance"}, "number", strconv.FormatUint(big+123, 10)},
		}},
		{"balances empty list", "POST", "/addresses/balances", `{"addresses":[]}`, nil},
		{"utxos per address", "GET", "/addresses/" + payee + "/utxos", "", []check{
			{[]any{0, "address"}, "string", payee},
			{[]any{0, "outpoint", "transactionId"}, "string", txPay},
			{[]any{0, "outpoint", "index"}, "number", "0"},
			{[]any{0, "utxoEntry", "amount"}, "string", strconv.FormatUint(big, 10)},
			{[]any{0, "utxoEntry", "blockDaaScore"}, "string", "100000000"},
			{[]any{0, "utxoEntry", "isCoinbase"}, "bool", "false"},
			{[]any{0, "utxoEntry", "scriptPublicKey"}, "object", ""},
			{[]any{0, "utxoEntry", "scriptPublicKey", "scriptPublicKey"}, "string", ""},
			{[]any{0, "utxoEntry", "scriptPublicKey", "version"}, "absent", ""},
			{[]any{1, "outpoint", "transactionId"}, "string", txCoinbase},
			{[]any{1, "utxoEntry", "isCoinbase"}, "bool", "true"},
			{[]any{1, "utxoEntry", "blockDaaScore"}, "string", "100000001"},
		}},
		{"utxos batch mixes addresses", "POST", "/addresses/utxos", `{"addresses":["` + payee + `","` + c.DefaultSender() + `","` + payee + `"]}`, []check{
			{[]any{0, "address"}, "string", payee},
			{[]any{1, "address"}, "string", payee},
			{[]any{2, "address"}, "string", c.DefaultSender()},
			{[]any{2, "outpoint", "index"}, "number", "1"},
			{[]any{2, "utxoEntry", "amount"}, "string", "5000000"},
		}},
		{"utxo count", "GET", "/addresses/" + payee + "/utxos/count", "", []check{{[]any{"count"}, "number", "2"}}},
		{"transactions count counts rejected too", "GET", "/addresses/" + payee + "/transactions-count", "", []check{{[]any{"total"}, "number", "3"}}},
		{"transaction", "GET", "/transactions/" + txPay, "", []check{
			{[]any{"subnetwork_id"}, "string", "0000000000000000000000000000000000000000"},
			{[]any{"transaction_id"}, "string", txPay},
			{[]any{"hash"}, "string", ""},
			{[]any{"mass"}, "string", ""},
			{[]any{"payload"}, "null", ""},
			{[]any{"block_hash", 0}, "string", ""},
			{[]any{"block_time"}, "number", strconv.FormatInt(DefaultStartTime.UnixMilli(), 10)},
			{[]any{"version"}, "number", "0"},
			{[]any{"is_accepted"}, "bool", "true"},
			{[]any{"accepting_block_hash"}, "string", ""},
			{[]any{"accepting_block_blue_score"}, "number", strconv.FormatUint(DefaultBlueScore, 10)},
			{[]any{"accepting_block_time"}, "number", ""},
			{[]any{"inputs", 0, "index"}, "number", "0"},
			{[]any{"inputs", 0, "previous_outpoint_hash"}, "string", ""},
			{[]any{"inputs", 0, "previous_outpoint_index"}, "string", "0"},
			{[]any{"inputs", 0, "previous_outpoint_address"}, "null", ""},
			{[]any{"inputs", 0, "previous_outpoint_amount"}, "null", ""},
			{[]any{"inputs", 0, "previous_outpoint_resolved"}, "absent", ""},
			{[]any{"inputs", 0, "signature_script"}, "string", ""},
			{[]any{"inputs", 0, "sig_op_count"}, "string", "1"},
			{[]any{"outputs", 0, "index"}, "number", "0"},
			{[]any{"outputs", 0, "amount"}, "number", strconv.FormatUint(big, 10)},
			{[]any{"outputs", 0, "script_public_key"}, "string", ""},
			{[]any{"outputs", 0, "script_public_key_address"}, "string", payee},
			{[]any{"outputs", 0, "script_public_key_type"}, "string", "pubkey"},
			{[]any{"outputs", 0, "accepting_block_hash"}, "absent", ""},
			{[]any{"outputs", 1, "script_public_key_address"}, "string", c.DefaultSender()},
			{[]any{"outputs", 1, "amount"}, "number", "5000000"},
		}},
		{"transaction light resolution", "GET", "/transactions/" + txPay + "?resolve_previous_outpoints=light", "", []check{
			{[]any{"inputs", 0, "previous_outpoint_address"}, "string", c.DefaultSender()},
			{[]any{"inputs", 0, "previous_outpoint_amount"}, "number", ""},
			{[]any{"inputs", 0, "previous_outpoint_resolved"}, "absent", ""},
		}},
		{"transaction full resolution", "GET", "/transactions/" + txPay + "?resolve_previous_outpoints=full", "", []check{
			{[]any{"inputs", 0, "previous_outpoint_resolved", "script_public_key_address"}, "string", c.DefaultSender()},
			{[]any{"inputs", 0, "previous_outpoint_resolved", "index"}, "number", "0"},
			{[]any{"inputs", 0, "previous_outpoint_resolved", "script_public_key_type"}, "string", "pubkey"},
		}},
		{"transaction without inputs/outputs", "GET", "/transactions/" + txPay + "?inputs=false&outputs=no", "", []check{
			{[]any{"inputs"}, "null", ""},
			{[]any{"outputs"}, "null", ""},
		}},
		{"coinbase transaction", "GET", "/transactions/" + txCoinbase, "", []check{
			{[]any{"subnetwork_id"}, "string", "0100000000000000000000000000000000000000"},
			{[]any{"inputs"}, "null", ""},
			{[]any{"mass"}, "null", ""},
		}},
		{"unaccepted transaction omits accepting keys", "GET", "/transactions/" + txRejected, "", []check{
			{[]any{"is_accepted"}, "bool", "false"},
			{[]any{"accepting_block_hash"}, "absent", ""},
			{[]any{"accepting_block_blue_score"}, "absent", ""},
			{[]any{"accepting_block_time"}, "absent", ""},
		}},
		{"search lists keep accepting keys as null", "POST", "/transactions/search", `{"transactionIds":["` + txRejected + `","` + txPay + `","` + strings.Repeat("0", 64) + `"]}`, []check{
			{[]any{0, "transaction_id"}, "string", txRejected},
			{[]any{0, "accepting_block_hash"}, "null", ""},
			{[]any{0, "accepting_block_blue_score"}, "null", ""},
			{[]any{0, "accepting_block_time"}, "null", ""},
			{[]any{1, "transaction_id"}, "string", txPay},
			{[]any{1, "accepting_block_blue_score"}, "number", ""},
		}},
		{"search fields filter", "POST", "/transactions/search?fields=transaction_id,block_time", `{"transactionIds":["` + txPay + `"]}`, []check{
			{[]any{0, "transaction_id"}, "string", txPay},
			{[]any{0, "block_time"}, "number", ""},
			{[]any{0, "inputs"}, "absent", ""},
			{[]any{0, "is_accepted"}, "absent", ""},
		}},
		{"search acceptance=rejected", "POST", "/transactions/search?acceptance=rejected", `{"transactionIds":["` + txRejected + `","` + txPay + `"]}`, []check{
			{[]any{0, "transaction_id"}, "string", txRejected},
		}},
		{"search by accepting blue scores", "POST", "/transactions/search", `{"acceptingBlueScores":{"gte":` + strconv.FormatUint(DefaultBlueScore, 10) + `,"lt":` + strconv.FormatUint(DefaultBlueScore+1, 10) + `}}`, []check{
			{[]any{0, "transaction_id"}, "string", txPay},
		}},
		{"acceptance", "POST", "/transactions/acceptance", `{"transactionIds":["` + txPay + `","` + txRejected + `"]}`, []check{
			{[]any{0, "transactionId"}, "string", txPay},
			{[]any{0, "accepted"}, "bool", "true"},
			{[]any{0, "acceptingBlockHash"}, "string", ""},
			{[]any{0, "acceptingBlueScore"}, "number", strconv.FormatUint(DefaultBlueScore, 10)},
			{[]any{0, "acceptingTimestamp"}, "number", ""},
			{[]any{1, "accepted"}, "bool", "false"},
			{[]any{1, "acceptingBlockHash"}, "null", ""},
			{[]any{1, "acceptingBlueScore"}, "null", ""},
			{[]any{1, "acceptingTimestamp"}, "null", ""},
		}},
		{"full-transactions", "GET", "/addresses/" + payee + "/full-transactions?limit=2&resolve_previous_outpoints=light", "", []check{
			{[]any{0, "transaction_id"}, "string", txRejected},
			{[]any{1, "transaction_id"}, "string", txCoinbase},
		}},
		{"full-transactions offset", "GET", "/addresses/" + payee + "/full-transactions?limit=2&offset=2", "", []check{
			{[]any{0, "transaction_id"}, "string", txPay},
		}},
		{"blue score", "GET", "/info/virtual-chain-blue-score", "", []check{
			{[]any{"blueScore"}, "number", strconv.FormatUint(DefaultBlueScore+13, 10)},
		}},
		{"blockdag", "GET", "/info/blockdag", "", []check{
			{[]any{"networkName"}, "string", "kaspa-mainnet"},
			{[]any{"blockCount"}, "string", ""},
			{[]any{"headerCount"}, "string", ""},
			{[]any{"tipHashes", 0}, "string", ""},
			{[]any{"difficulty"}, "number", "3870677677777.2"},
			{[]any{"pastMedianTime"}, "string", ""},
			{[]any{"virtualParentHashes", 0}, "string", ""},
			{[]any{"pruningPointHash"}, "string", ""},
			{[]any{"virtualDaaScore"}, "string", strconv.FormatUint(DefaultVirtualDaaScore+13, 10)},
			{[]any{"sink"}, "string", ""},
		}},
		{"network alias", "GET", "/info/network", "", []check{
			{[]any{"networkName"}, "string", "kaspa-mainnet"},
			{[]any{"virtualDaaScore"}, "string", strconv.FormatUint(DefaultVirtualDaaScore+13, 10)},
		}},
		{"price", "GET", "/info/price", "", []check{{[]any{"price"}, "number", "0.1"}}},
		{"health", "GET", "/info/health", "", []check{
			{[]any{"kaspadServers", 0, "isSynced"}, "bool", "true"},
			{[]any{"kaspadServers", 0, "blueScore"}, "number", ""},
			{[]any{"database", "isSynced"}, "bool", "true"},
			{[]any{"database", "blueScoreDiff"}, "number", "0"},
		}},
		{"fee estimate", "GET", "/info/fee-estimate", "", []check{
			{[]any{"priorityBucket", "feerate"}, "number", ""},
			{[]any{"priorityBucket", "estimatedSeconds"}, "number", "1.0"},
			{[]any{"normalBuckets", 0, "feerate"}, "number", ""},
			{[]any{"lowBuckets", 0, "estimatedSeconds"}, "number", ""},
		}},
		{"coingecko", "GET", "/coingecko/simple/price?ids=kaspa&vs_currencies=usd", "", []check{
			{[]any{"kaspa", "usd"}, "number", "0.1"},
		}},
		{"coingecko unknown id", "GET", "/coingecko/simple/price?ids=bitcoin&vs_currencies=usd", "", []check{
			{[]any{"kaspa"}, "absent", ""},
		}},
	}
	hex64 := regexp.MustCompile(`^[a-f0-9]{64}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, url+tc.path, tc.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			v := r.json(t)
			if tc.checks == nil {
				if a, ok := v.([]any); !ok || len(a) != 0 {
					t.Errorf("want [], got %s", r.body)
				}
			}
			for _, ck := range tc.checks {
				got := jget(t, v, ck.path...)
				if typ := jtype(got); typ != ck.typ {
					t.Errorf("%v: type %s, want %s (%s)", ck.path, typ, ck.typ, r.body)
					continue
				}
				if ck.val != "" && fmtVal(got) != ck.val {
					t.Errorf("%v = %v, want %s", ck.path, got, ck.val)
				}
				if last, ok := ck.path[len(ck.path)-1].(string); ok && ck.typ == "string" && ck.val == "" && strings.HasSuffix(last, "hash") {
					if !hex64.MatchString(got.(string)) {
						t.Errorf("%v = %q, want 64 hex", ck.path, got)
					}
				}
			}
		})
	}

	t.Run("key order of a transaction follows TxModel", func(t *testing.T) {
		r := call(t, "GET", url+"/transactions/"+txPay, "")
		want := []string{"subnetwork_id", "transaction_id", "hash", "mass", "payload", "block_hash", "block_time", "version",
			"is_accepted", "accepting_block_hash", "accepting_block_blue_score", "accepting_block_time", "inputs", "outputs"}
		if got := topLevelKeys(t, r.body); !slices.Equal(got, want) {
			t.Errorf("keys %v\nwant %v", got, want)
		}
	})
	t.Run("stringOnly price is text/plain", func(t *testing.T) {
		r := call(t, "GET", url+"/info/price?stringOnly=true", "")
		if r.status != 200 || string(r.body) != "0.1" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}
	})
}

func fmtVal(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(string(b)))
	var out []string
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Submit2 is Submit that fails the test on error.
func (c *Chain) Submit2(t *testing.T, spec TxSpec) string {
	t.Helper()
	id, err := c.Submit(spec)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestTestnet(t *testing.T) {
	c, url := start(t, Options{Network: "testnet-10"})
	a := c.AddressFor("x")
	if !strings.HasPrefix(a, "kaspatest:") || !strings.HasPrefix(c.DefaultSender(), "kaspatest:") {
		t.Fatalf("addresses %s %s", a, c.DefaultSender())
	}
	c.Pay(a, 1000, "")
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"blockdag network name", "/info/blockdag", 200, `"networkName":"kaspa-testnet-10"`},
		{"testnet address accepted", "/addresses/" + a + "/balance", 200, `"balance":1000`},
		{"mainnet address fails the testnet regex", "/addresses/" + DefaultSenderMainnet + "/balance", 422, `"pattern":"^kaspatest:[a-z0-9]{61,63}$"`},
		{"price is mainnet only", "/info/price", 503, `{"detail":"Endpoint not available. This endpoint is only available in mainnet."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "GET", url+tc.path, "")
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("got %d %s, want %d containing %s", r.status, r.body, tc.status, tc.want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	id := c.Pay(a, 1, "")
	for i := 0; i < 30; i++ {
		c.Pay(a, int64(i+1), "")
	}
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		want                     map[string]string
	}{
		{"GET gets the default cache header", "GET", "/info/blockdag", "", nil, map[string]string{"Cache-Control": "public, max-age=8"}},
		{"POST gets none", "POST", "/addresses/utxos", `{"addresses":[]}`, nil, map[string]string{"Cache-Control": ""}},
		{"not found tx caches 3 s", "GET", "/transactions/" + strings.Repeat("a", 64), "", nil, map[string]string{"Cache-Control": "public, max-age=3"}},
		{"young tx caches 4 s", "GET", "/transactions/" + id, "", nil, map[string]string{"Cache-Control": "public, max-age=4"}},
		{"gzip over 500 bytes", "GET", "/addresses/" + a + "/utxos", "", []string{"Accept-Encoding: gzip"}, map[string]string{"Content-Encoding": "gzip"}},
		{"no gzip when small", "GET", "/info/virtual-chain-blue-score", "", []string{"Accept-Encoding: gzip"}, map[string]string{"Content-Encoding": ""}},
		{"CORS", "GET", "/info/blockdag", "", []string{"Origin: http://shop.example"}, map[string]string{
			"Access-Control-Allow-Origin":   "*",
			"Access-Control-Expose-Headers": "X-Data-Source, X-Page-Count, X-Next-Page-After, X-Next-Page-Before",
		}},
		{"CORS preflight", "OPTIONS", "/addresses/utxos", "", []string{"Origin: http://shop.example", "Access-Control-Request-Method: POST"}, map[string]string{
			"Access-Control-Allow-Origin": "http://shop.example", "Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A bare transport so Content-Encoding stays visible.
			req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = nil
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			for _, h := range tc.hdr {
				k, v, _ := strings.Cut(h, ": ")
				req.Header.Set(k, v)
			}
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for k, v := range tc.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
