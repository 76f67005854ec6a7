package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
)

func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

// startDouble runs the command on a free port with the given flags and stops it when the test ends.
func startDouble(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, &logs, func(u string) { urls <- u })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("evm-double did not start")
	}
	return ""
}

type info struct {
	RPCURL  string `json:"rpcUrl"`
	ChainID int    `json:"chainId"`
	USDC    string `json:"usdc"`
	Head    uint64 `json:"head"`
}

func TestControlAPIPaysMinesAndReorgs(t *testing.T) {
	base := startDouble(t, "-block-time", "0")
	var got info
	if code := call(t, "GET", base+"/_double", "", &got); code != 200 {
		t.Fatalf("GET /_double: %d", code)
	}
	if got.RPCURL != base+"/" || got.ChainID != 1337 || !common.IsHexAddress(got.USDC) || got.Head != 3 {
		t.Fatalf("info %+v", got)
	}

	// The JSON-RPC at / is the chain itself.
	c, err := ethclient.Dial(got.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if id, err := c.ChainID(context.Background()); err != nil || id.Int64() != 1337 {
		t.Fatalf("eth_chainId %v %v", id, err)
	}

	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	var paid struct {
		TxHash      string `json:"txHash"`
		BlockNumber uint64 `json:"blockNumber"`
	}
	if code := call(t, "POST", base+"/_double/pay", `{"to":"`+to.Hex()+`","amount":"12.345678"}`, &paid); code != 200 {
		t.Fatalf("pay: %d", code)
	}
	if paid.BlockNumber != 4 {
		t.Fatalf("paid %+v", paid)
	}
	r, err := c.TransactionReceipt(context.Background(), common.HexToHash(paid.TxHash))
	if err != nil || r.BlockNumber.Uint64() != 4 || len(r.Logs) != 1 || new(big.Int).SetBytes(r.Logs[0].Data).Int64() != 12_345_678 ||
		r.Logs[0].Address != common.HexToAddress(got.USDC) || common.BytesToAddress(r.Logs[0].Topics[2].Bytes()) != to {
		t.Fatalf("receipt %+v %v", r, err)
	}

	var mined struct{ Head uint64 }
	if code := call(t, "POST", base+"/_double/mine", `{"blocks":3}`, &mined); code != 200 || mined.Head != 7 {
		t.Fatalf("mine: %d %+v", code, mined)
	}
	if code := call(t, "POST", base+"/_double/reorg", `{"depth":4}`, &mined); code != 200 || mined.Head != 7 {
		t.Fatalf("reorg: %d %+v", code, mined)
	}
	if _, err := c.TransactionReceipt(context.Background(), common.HexToHash(paid.TxHash)); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("receipt after reorg: %v", err)
	}
	if code := call(t, "GET", base+"/_double", "", &got); code != 200 || got.Head != 7 {
		t.Fatalf("head after reorg %+v", got)
	}
}

func TestControlAPIRefusesBadInput(t *testing.T) {
	base := startDouble(t, "-block-time", "0")
	to := `"0x00000000000000000000000000000000000000aa"`
	cases := []struct{ path, body string }{
		{"/_double/pay", `{"to":` + to + `,"amount":"1.0000001"}`},
		{"/_double/pay", `{"to":` + to + `,"amount":"0"}`},
		{"/_double/pay", `{"to":` + to + `,"amount":"-1"}`},
		{"/_double/pay", `{"to":` + to + `,"amount":12.5}`},
		{"/_double/pay", `{"to":"0x00aa","amount":"1"}`},
		{"/_double/pay", `{"to":` + to + `,"amount":"1","extra":1}`},
		{"/_double/mine", `{"blocks":0}`},
		{"/_double/reorg", `{"depth":1}`}, // head is 3: the token's blocks stay
	}
	for _, tc := range cases {
		if code := call(t, "POST", base+tc.path, tc.body, nil); code != 400 {
			t.Errorf("POST %s %s: %d, want 400", tc.path, tc.body, code)
		}
	}
	var got info
	if call(t, "GET", base+"/_double", "", &got); got.Head != 3 {
		t.Fatalf("refused requests changed the chain: head %d", got.Head)
	}
}

func TestBlocksAreMinedEveryBlockTime(t *testing.T) {
	base := startDouble(t, "-block-time", "50ms")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got info
		call(t, "GET", base+"/_double", "", &got)
		if got.Head >= 6 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("head %d after 10s at one block per 50ms", got.Head)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseUSDCIsExact(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"12.345678", "12345678"}, {"1", "1000000"}, {"0.000001", "1"}, {"1.50", "1500000"},
		{"92233720368547.758079", "92233720368547758079"},
	}
	for _, tc := range cases {
		got, err := parseUSDC(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("parseUSDC(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "0.0000001", "0", "-5", "1,5"} {
		if _, err := parseUSDC(bad); err == nil {
			t.Errorf("parseUSDC(%q) accepted", bad)
		}
	}
}

// TestCallsAreCounted checks GET /_double/calls: JSON-RPC requests and calls per method (a batch's elements each
// count) reaching the chain since start or the last reset; control calls are not counted.
func TestCallsAreCounted(t *testing.T) {
	base := startDouble(t, "-block-time", "0")
	type counts struct {
		Requests int            `json:"requests"`
		Calls    map[string]int `json:"calls"`
	}
	rpc := func(body string) {
		resp, err := http.Post(base+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("rpc %s: %d", body, resp.StatusCode)
		}
	}
	rpc(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	rpc(`[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}]`)
	call(t, "POST", base+"/_double/mine", `{"blocks":1}`, nil)
	var got counts
	if code := call(t, "GET", base+"/_double/calls", "", &got); code != 200 || got.Requests != 2 ||
		got.Calls["eth_blockNumber"] != 2 || got.Calls["eth_chainId"] != 1 || len(got.Calls) != 2 {
		t.Fatalf("calls: %d %+v", code, got)
	}
	if code := call(t, "POST", base+"/_double/calls/reset", "", nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	got = counts{}
	if code := call(t, "GET", base+"/_double/calls", "", &got); code != 200 || got.Requests != 0 || len(got.Calls) != 0 {
		t.Fatalf("after reset: %d %+v", code, got)
	}
}
