package double

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPayAndConfirmations(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	id := c.Pay(a, 150_000_000, "")
	if !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(id) {
		t.Fatalf("txid %q", id)
	}
	// One block later: 1 confirmation by both measures.
	if got := c.VirtualDaaScore(); got != DefaultVirtualDaaScore+1 {
		t.Errorf("virtual DAA %d", got)
	}
	if got := c.BlueScore(); got != DefaultBlueScore+1 {
		t.Errorf("blue score %d", got)
	}
	u := c.State().UTXOs[0]
	if u.BlockDaaScore != DefaultVirtualDaaScore || u.Amount != 150_000_000 || u.TransactionID != id || u.Address != a {
		t.Errorf("utxo %+v", u)
	}
	r := call(t, "GET", url+"/transactions/"+id, "")
	if bs := num(t, jget(t, r.json(t), "accepting_block_blue_score")); bs != DefaultBlueScore {
		t.Errorf("accepting blue score %d", bs)
	}
	c.Advance(99)
	if c.VirtualDaaScore()-u.BlockDaaScore != 100 || c.BlueScore()-DefaultBlueScore != 100 {
		t.Errorf("after Advance(99): daa %d blue %d", c.VirtualDaaScore(), c.BlueScore())
	}

	t.Run("deterministic ids", func(t *testing.T) {
		c1, c2 := New(Options{}), New(Options{})
		for i := 0; i < 3; i++ {
			if x, y := c1.Pay(a, 1, ""), c2.Pay(a, 1, ""); x != y {
				t.Fatalf("run %d: %s != %s", i, x, y)
			}
		}
		tn := New(Options{Network: "testnet-10"})
		if tn.Pay(tn.AddressFor("z"), 1, "") == c1.Pay(a, 1, "") {
			t.Error("networks must not share transaction ids")
		}
	})
	t.Run("PayMany and change", func(t *testing.T) {
		b, d := c.AddressFor("b"), c.AddressFor("d")
		id := c.Submit2(t, TxSpec{From: d, Outputs: []Output{{a, 10}, {b, 20}}, Change: 30})
		r := call(t, "GET", url+"/transactions/"+id+"?resolve_previous_outpoints=light", "").json(t)
		for i, want := range []struct {
			addr string
			amt  uint64
		}{{a, 10}, {b, 20}, {d, 30}} {
			if jget(t, r, "outputs", i, "script_public_key_address") != want.addr || num(t, jget(t, r, "outputs", i, "amount")) != want.amt {
				t.Errorf("output %d: %v", i, jget(t, r, "outputs", i))
			}
		}
		if jget(t, r, "inputs", 0, "previous_outpoint_address") != d {
			t.Errorf("sender %v", jget(t, r, "inputs", 0, "previous_outpoint_address"))
		}
		if num(t, jget(t, r, "inputs", 0, "previous_outpoint_amount")) <= 60 {
			t.Error("input must cover outputs plus fee")
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		for _, spec := range []TxSpec{
			{Outputs: []Output{{"kaspa:nope", 1}}},
			{Outputs: []Output{{a, 0}}},
			{Outputs: []Output{{a, -5}}},
			{Outputs: []Output{{a, int64(MaxSompi) + 1}}},
			{From: "x", Outputs: []Output{{a, 1}}},
			{},
		} {
			if _, err := c.Submit(spec); err == nil {
				t.Errorf("Submit(%+v) accepted", spec)
			}
		}
		defer func() {
			if recover() == nil {
				t.Error("Pay with a bad address must panic")
			}
		}()
		c.Pay("bad", 1, "")
	})
}

func TestSpendReorgReject(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	id1 := c.Pay(a, 100, "")
	id2 := c.PayMany("", Output{a, 200}, Output{a, 300})
	utxos := func() []any { return call(t, "GET", url+"/addresses/"+a+"/utxos", "").json(t).([]any) }
	balance := func() uint64 {
		return num(t, jget(t, call(t, "GET", url+"/addresses/"+a+"/balance", "").json(t), "balance"))
	}
	if n := len(utxos()); n != 3 || balance() != 600 {
		t.Fatalf("%d utxos, balance %d", n, balance())
	}
	t.Run("Spend one", func(t *testing.T) {
		if !c.Spend(id2, 0) || c.Spend(id2, 0) {
			t.Fatal("Spend must report existence")
		}
		if balance() != 400 || len(utxos()) != 2 {
			t.Errorf("balance %d", balance())
		}
		// History keeps the transaction.
		if r := call(t, "GET", url+"/transactions/"+id2, ""); r.status != 200 {
			t.Errorf("tx after spend: %d", r.status)
		}
	})
	t.Run("SetDaaScore", func(t *testing.T) {
		if !c.SetDaaScore(id1, 0, 123) || c.SetDaaScore(id1, 9, 1) {
			t.Fatal("SetDaaScore must report existence")
		}
		if got := jget(t, utxos()[0], "utxoEntry", "blockDaaScore"); got != "123" {
			t.Errorf("blockDaaScore %v", got)
		}
	})
	t.Run("Reject", func(t *testing.T) {
		if !c.Reject(id1) || c.Reject(strings.Repeat("0", 64)) {
			t.Fatal("Reject must report existence")
		}
		if balance() != 300 {
			t.Errorf("balance %d", balance())
		}
		v := call(t, "GET", url+"/transactions/"+id1, "").json(t)
		if jget(t, v, "is_accepted") != false || jtype(jget(t, v, "accepting_block_blue_score")) != "absent" {
			t.Errorf("rejected tx %v", v)
		}
	})
	t.Run("SpendAll", func(t *testing.T) {
		if n := c.SpendAll(a); n != 1 {
			t.Errorf("removed %d", n)
		}
		if balance() != 0 || len(utxos()) != 0 {
			t.Error("address not empty")
		}
		if total := num(t, jget(t, call(t, "GET", url+"/addresses/"+a+"/transactions-count", "").json(t), "total")); total != 2 {
			t.Errorf("history total %d", total)
		}
	})
}

func TestIndexerLag(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	before := c.Pay(a, 1, "")
	c.SetIndexerLag(true)
	lagged := c.Pay(a, 2, "")

	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"node: utxos see it", "GET", "/addresses/" + a + "/utxos", "", 200, lagged},
		{"node: balance sees it", "GET", "/addresses/" + a + "/balance", "", 200, `"balance":3`},
		{"history: tx 404", "GET", "/transactions/" + lagged, "", 404, `{"detail":"Transaction not found"}`},
		{"history: older tx still there", "GET", "/transactions/" + before, "", 200, before},
		{"history: count", "GET", "/addresses/" + a + "/transactions-count", "", 200, `{"total":1}`},
		{"history: search", "POST", "/transactions/search", `{"transactionIds":["` + lagged + `"]}`, 200, `[]`},
		{"history: acceptance", "POST", "/transactions/acceptance", `{"transactionIds":["` + lagged + `"]}`, 200, `"accepted":false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, url+tc.path, tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("got %d %s", r.status, r.body)
			}
		})
	}
	t.Run("pages miss it", func(t *testing.T) {
		for _, p := range []string{"/full-transactions", "/full-transactions-page"} {
			if b := string(call(t, "GET", url+"/addresses/"+a+p, "").body); strings.Contains(b, lagged) || !strings.Contains(b, before) {
				t.Errorf("%s: %s", p, b)
			}
		}
	})
	t.Run("health reports the lag, then 503 past 300 s of blocks", func(t *testing.T) {
		v := call(t, "GET", url+"/info/health", "").json(t)
		if num(t, jget(t, v, "database", "blueScoreDiff")) != 1 {
			t.Errorf("health %v", v)
		}
		c.Advance(3000)
		r := call(t, "GET", url+"/info/health", "")
		v = r.json(t)
		if r.status != 503 || jget(t, v, "database", "isSynced") != false || num(t, jget(t, v, "database", "blueScoreDiff")) != 3001 {
			t.Errorf("health %d %s", r.status, r.body)
		}
		if jtype(jget(t, v, "database", "acceptedTxBlockTimeDiff")) != "number" {
			t.Error("acceptedTxBlockTimeDiff must be a number")
		}
	})
	t.Run("catching up makes it visible", func(t *testing.T) {
		c.SetIndexerLag(false)
		if r := call(t, "GET", url+"/transactions/"+lagged, ""); r.status != 200 {
			t.Errorf("status %d", r.status)
		}
		if r := call(t, "GET", url+"/info/health", ""); r.status != 200 {
			t.Errorf("health %d", r.status)
		}
	})
}

func TestFailures(t *testing.T) {
	c, url := start(t, Options{})
	blockdag := url + "/info/blockdag"

	t.Run("503 for n requests", func(t *testing.T) {
		c.Fail(Fail503, 2)
		for i, want := range []int{503, 503, 200} {
			r := call(t, "GET", blockdag, "")
			if r.status != want {
				t.Fatalf("request %d: %d", i, r.status)
			}
			if want == 503 && jtype(jget(t, r.json(t), "detail")) != "string" {
				t.Errorf("503 body %s", r.body)
			}
		}
	})
	t.Run("500 until cleared", func(t *testing.T) {
		c.Fail(Fail500, 0)
		for i := 0; i < 3; i++ {
			if r := call(t, "GET", blockdag, ""); r.status != 500 || string(r.body) != `{"message":"Internal server error"}` {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}
		c.Clear()
		if r := call(t, "GET", blockdag, ""); r.status != 200 {
			t.Fatalf("after Clear: %d", r.status)
		}
	})
	t.Run("junk and truncated bodies are 200s that are not JSON", func(t *testing.T) {
		for _, m := range []FailMode{FailJunk, FailTruncated} {
			c.Fail(m, 1)
			r := call(t, "GET", blockdag, "")
			if r.status != 200 || json.Valid(r.body) || len(r.body) == 0 {
				t.Errorf("%s: %d %q", m, r.status, r.body)
			}
		}
	})
	t.Run("timeout holds until the client gives up", func(t *testing.T) {
		c.Fail(FailTimeout, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", blockdag, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if r := call(t, "GET", blockdag, ""); r.status != 200 {
			t.Errorf("next request %d", r.status)
		}
	})
	t.Run("timeout with a delay answers late but normally", func(t *testing.T) {
		if err := c.InjectFailure(Failure{Mode: FailTimeout, Count: 1, Delay: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if r := call(t, "GET", blockdag, ""); r.status != 200 || !json.Valid(r.body) {
			t.Errorf("got %d", r.status)
		}
	})
	t.Run("route-scoped failure", func(t *testing.T) {
		if err := c.InjectFailure(Failure{Mode: Fail503, Route: "POST /addresses/utxos"}); err != nil {
			t.Fatal(err)
		}
		defer c.Clear()
		if r := call(t, "POST", url+"/addresses/utxos", `{"addresses":[]}`); r.status != 503 {
			t.Errorf("utxos %d", r.status)
		}
		if r := call(t, "GET", blockdag, ""); r.status != 200 {
			t.Errorf("blockdag %d", r.status)
		}
	})
	t.Run("CoinGecko fails separately", func(t *testing.T) {
		cg := url + "/coingecko/simple/price?ids=kaspa&vs_currencies=usd"
		c.Fail(Fail503, 0)
		if r := call(t, "GET", cg, ""); r.status != 200 {
			t.Errorf("global failure hit CoinGecko: %d", r.status)
		}
		c.Clear()
		c.SetCoinGeckoFail(true)
		if r := call(t, "GET", cg, ""); r.status != 429 {
			t.Errorf("coingecko %d", r.status)
		}
		if r := call(t, "GET", url+"/info/price", ""); r.status != 200 {
			t.Errorf("/info/price %d", r.status)
		}
		c.Clear()
		if r := call(t, "GET", cg, ""); r.status != 200 {
			t.Errorf("after Clear %d", r.status)
		}
	})
	t.Run("bad mode", func(t *testing.T) {
		if err := c.InjectFailure(Failure{Mode: "teapot"}); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("stop releases a held request", func(t *testing.T) {
		c2 := New(Options{})
		u2, stop, err := c2.StartLoopback()
		if err != nil {
			t.Fatal(err)
		}
		c2.Fail(FailTimeout, 0)
		done := make(chan error, 1)
		written := make(chan struct{})
		go func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(written) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", u2+"/info/blockdag", nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-written
		stop() // must not wait for the held request
		if err := <-done; err == nil {
			t.Error("held request got a response")
		}
	})
}

func TestCalls(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	call(t, "GET", url+"/info/blockdag", "")
	call(t, "GET", url+"/info/blockdag", "")
	call(t, "GET", url+"/addresses/"+a+"/balance", "")
	call(t, "GET", url+"/addresses/bad/balance", "") // 422s count too
	call(t, "POST", url+"/addresses/utxos", `{"addresses":[]}`)
	call(t, "GET", url+"/_double/state", "")
	call(t, "POST", url+"/_double/advance", `{"blocks":1}`)
	call(t, "GET", url+"/nope", "")
	want := map[string]int{
		"GET /info/blockdag":                    2,
		"GET /addresses/{kaspaAddress}/balance": 2,
		"POST /addresses/utxos":                 1,
	}
	got := c.Calls()
	if len(got) != len(want) {
		t.Errorf("calls %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	var overHTTP map[string]int
	if err := json.Unmarshal(call(t, "GET", url+"/_double/calls", "").body, &overHTTP); err != nil || overHTTP["GET /info/blockdag"] != 2 {
		t.Errorf("GET /_double/calls: %v %v", overHTTP, err)
	}
	c.ResetCalls()
	if len(c.Calls()) != 0 {
		t.Error("ResetCalls")
	}
}

func TestControlAPI(t *testing.T) {
	c, url := start(t, Options{})
	a, b := c.AddressFor("a"), c.AddressFor("b")
	ctl := func(path, body string) (int, map[string]any) {
		t.Helper()
		r := call(t, "POST", url+"/_double/"+path, body, "Content-Type: application/x-www-form-urlencoded")
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("%s: %s", path, r.body)
		}
		return r.status, m
	}
	var payID string
	tests := []struct {
		name, path, body string
		status           int
		check            func(t *testing.T, m map[string]any)
	}{
		{"pay KAS decimal", "pay", `{"address":"` + a + `","amount":"1.5"}`, 200, func(t *testing.T, m map[string]any) {
			payID = m["transactionId"].(string)
			if c.State().UTXOs[0].Amount != 150_000_000 {
				t.Errorf("amount %d", c.State().UTXOs[0].Amount)
			}
			if m["blockDaaScore"].(float64) != float64(DefaultVirtualDaaScore) {
				t.Errorf("blockDaaScore %v", m["blockDaaScore"])
			}
		}},
		{"pay sompi with sender and change", "pay", `{"address":"` + a + `","sompi":9007199254740993,"from":"` + b + `","change":7}`, 200, func(t *testing.T, m map[string]any) {
			s := c.State()
			if s.UTXOs[1].Amount != 9007199254740993 || s.UTXOs[2].Address != b || s.UTXOs[2].Amount != 7 {
				t.Errorf("utxos %+v", s.UTXOs)
			}
		}},
		{"pay several outputs", "pay", `{"outputs":[{"address":"` + a + `","amount":"0.00000001"},{"address":"` + b + `","sompi":2}],"sameBlock":true}`, 200, nil},
		{"pay: bad amount", "pay", `{"address":"` + a + `","amount":"1.123456789"}`, 400, nil},
		{"pay: both units", "pay", `{"address":"` + a + `","amount":"1","sompi":1}`, 400, nil},
		{"pay: bad address", "pay", `{"address":"kaspa:x","amount":"1"}`, 400, nil},
		{"pay: nothing", "pay", `{}`, 400, nil},
		{"pay: bad JSON", "pay", `{`, 400, nil},
		{"advance", "advance", `{"blocks":10}`, 200, func(t *testing.T, m map[string]any) {
			if m["virtualDaaScore"].(float64) != float64(c.VirtualDaaScore()) {
				t.Errorf("%v", m)
			}
		}},
		{"spend outpoint", "spend", `{"transactionId":"PAYID","index":0}`, 200, func(t *testing.T, m map[string]any) {
			if m["removed"].(float64) != 1 {
				t.Errorf("%v", m)
			}
		}},
		{"spend missing outpoint", "spend", `{"transactionId":"PAYID","index":0}`, 404, nil},
		{"spend address", "spend", `{"address":"` + b + `"}`, 200, func(t *testing.T, m map[string]any) {
			if m["removed"].(float64) != 2 {
				t.Errorf("%v", m)
			}
		}},
		{"spend nothing", "spend", `{}`, 400, nil},
		{"daa-score missing utxo", "daa-score", `{"transactionId":"PAYID","index":0,"blockDaaScore":5}`, 404, nil},
		{"reject", "reject", `{"transactionId":"PAYID"}`, 200, nil},
		{"accept", "accept", `{"transactionId":"PAYID"}`, 200, func(t *testing.T, m map[string]any) {
			s := c.State()
			if len(s.UTXOs) == 0 || s.UTXOs[len(s.UTXOs)-1].TransactionID != payID || s.UTXOs[len(s.UTXOs)-1].BlockDaaScore != s.VirtualDaaScore {
				t.Errorf("the accepted output is not back at the current score: %+v", s.UTXOs)
			}
			r := call(t, "GET", url+"/transactions/"+payID, "")
			if !strings.Contains(string(r.body), `"is_accepted":true`) || !strings.Contains(string(r.body), `"accepting_block_blue_score":`+strconv.FormatUint(c.BlueScore(), 10)) {
				t.Errorf("transaction %s", r.body)
			}
		}},
		{"accept an accepted transaction", "accept", `{"transactionId":"PAYID"}`, 404, nil},
		{"freeze", "freeze", `{"on":true}`, 200, func(t *testing.T, m map[string]any) {
			before := c.VirtualDaaScore()
			st, paid := ctl("pay", `{"address":"`+a+`","sompi":5}`)
			c.Advance(3)
			if st != 200 || paid["blockDaaScore"].(float64) != float64(before) || c.VirtualDaaScore() != before || !c.State().Frozen {
				t.Errorf("frozen at %d: pay %v, now %d", before, paid, c.VirtualDaaScore())
			}
		}},
		{"freeze needs on", "freeze", `{}`, 400, nil},
		{"unfreeze", "freeze", `{"on":false}`, 200, func(t *testing.T, m map[string]any) {
			before := c.VirtualDaaScore()
			if c.Advance(2); c.VirtualDaaScore() != before+2 {
				t.Errorf("still frozen")
			}
		}},
		{"fail", "fail", `{"mode":"503","count":1,"route":"GET /info/blockdag"}`, 200, func(t *testing.T, m map[string]any) {
			if r := call(t, "GET", url+"/info/blockdag", ""); r.status != 503 {
				t.Errorf("blockdag %d", r.status)
			}
		}},
		{"fail bad mode", "fail", `{"mode":"nope"}`, 400, nil},
		{"timeout with delayMs", "fail", `{"mode":"timeout","count":1,"delayMs":5}`, 200, func(t *testing.T, m map[string]any) {
			if r := call(t, "GET", url+"/info/blockdag", ""); r.status != 200 {
				t.Errorf("blockdag %d", r.status)
			}
		}},
		{"clear", "clear", ``, 200, nil},
		{"indexer lag on", "indexer-lag", `{"on":true}`, 200, func(t *testing.T, m map[string]any) {
			if !c.State().IndexerLag {
				t.Error("not lagging")
			}
		}},
		{"indexer lag needs on", "indexer-lag", `{}`, 400, nil},
		{"indexer lag off", "indexer-lag", `{"on":false}`, 200, nil},
		{"price", "price", `{"price":"0.1234"}`, 200, func(t *testing.T, m map[string]any) {
			r := call(t, "GET", url+"/info/price", "")
			if string(r.body) != `{"price":0.1234}` {
				t.Errorf("price %s", r.body)
			}
			r = call(t, "GET", url+"/coingecko/simple/price?ids=kaspa&vs_currencies=usd", "")
			if string(r.body) != `{"kaspa":{"usd":0.1234}}` {
				t.Errorf("coingecko %s", r.body)
			}
		}},
		{"price fail", "price", `{"fail":true}`, 200, func(t *testing.T, m map[string]any) {
			if r := call(t, "GET", url+"/coingecko/simple/price?ids=kaspa&vs_currencies=usd", ""); r.status != 429 {
				t.Errorf("coingecko %d", r.status)
			}
		}},
		{"price bad", "price", `{"price":"cheap"}`, 400, nil},
		{"calls reset", "calls/reset", ``, 200, func(t *testing.T, m map[string]any) {
			if len(c.Calls()) != 0 {
				t.Error("not reset")
			}
		}},
		{"unknown control", "bogus", `{}`, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := ctl(tc.path, strings.ReplaceAll(tc.body, "PAYID", payID))
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, m)
			}
			if status >= 400 && m["error"] == nil {
				t.Errorf("error body %v", m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	t.Run("state and help", func(t *testing.T) {
		var s State
		if err := json.Unmarshal(call(t, "GET", url+"/_double/state", "").body, &s); err != nil {
			t.Fatal(err)
		}
		if s.Network != "mainnet" || s.VirtualDaaScore != c.VirtualDaaScore() || s.Price != "0.1234" || !s.CoinGeckoFail || s.Transactions != 4 {
			t.Errorf("state %+v", s)
		}
		if r := call(t, "GET", url+"/_double", ""); r.status != 200 || !strings.Contains(string(r.body), "/_double/pay") {
			t.Errorf("help %d %s", r.status, r.body)
		}
	})
}

func TestParseKAS(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1.5", 150_000_000, true},
		{"0.00000001", 1, true},
		{"100", 10_000_000_000, true},
		{".5", 50_000_000, true},
		{"2.", 200_000_000, true},
		{"29000000000", 29_000_000_000 * SompiPerKaspa, true},
		{"29000000001", 0, false},
		{"1.000000001", 0, false},
		{"-1", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
		{".", 0, false},
		{"1,5", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseKAS(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseKAS(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}

func TestPyFloat(t *testing.T) {
	for in, want := range map[float64]string{
		0.1: "0.1", 1: "1.0", 0: "0.0", 0.025235: "0.025235", 1e-05: "1e-05", 1.5e-7: "1.5e-07",
		3870677677777.2: "3870677677777.2", 1e16: "1e+16", 123456789: "123456789.0",
	} {
		if got := pyFloat(in); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", in, got, want)
		}
	}
	c := New(Options{Price: "0.10"})
	if c.Price() != "0.1" {
		t.Errorf("price %q", c.Price())
	}
	for _, bad := range []string{"-1", "x", "0x10", "NaN"} {
		if c.SetPrice(bad) == nil {
			t.Errorf("SetPrice(%q) accepted", bad)
		}
	}
}

func TestAutoAdvanceAndClock(t *testing.T) {
	c := New(Options{})
	stop := c.AutoAdvance(time.Millisecond)
	start := c.VirtualDaaScore()
	deadline := time.Now().Add(5 * time.Second)
	for c.VirtualDaaScore() < start+3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // idempotent
	if c.VirtualDaaScore() < start+3 {
		t.Fatal("AutoAdvance did not advance")
	}
	if got := c.State().BlockTime; got != DefaultStartTime.UnixMilli()+int64(c.VirtualDaaScore()-DefaultVirtualDaaScore)*100 {
		t.Errorf("simulated clock %d", got)
	}
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c2 := New(Options{Clock: func() time.Time { return fixed }})
	c2.Pay(c2.AddressFor("x"), 1, "")
	if c2.State().BlockTime != fixed.UnixMilli() {
		t.Errorf("clock not used")
	}
}

// TestConcurrency hammers the chain from Go and HTTP at once (run with -race).
func TestConcurrency(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("a")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := c.Pay(a, int64(w*100+i+1), "")
				switch i % 4 {
				case 0:
					call(t, "POST", url+"/addresses/utxos", `{"addresses":["`+a+`"]}`)
				case 1:
					call(t, "GET", url+"/transactions/"+id, "")
				case 2:
					c.Advance(1)
					call(t, "GET", url+"/addresses/"+a+"/full-transactions-page?limit=5", "")
				case 3:
					c.Spend(id, 0)
					_ = c.State()
				}
			}
		}(w)
	}
	wg.Wait()
	s := c.State()
	if s.Transactions != 160 || len(s.UTXOs) != 120 {
		t.Errorf("transactions %d utxos %d", s.Transactions, len(s.UTXOs))
	}
	if got := c.Calls()["POST /addresses/utxos"]; got != 40 {
		t.Errorf("calls %d", got)
	}
}

func TestServeUntilClose(t *testing.T) {
	c := New(Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ln) }()
	if r := call(t, "GET", "http://"+ln.Addr().String()+"/info/virtual-chain-blue-score", ""); r.status != 200 {
		t.Errorf("status %d", r.status)
	}
	c.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}
