package evmsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"till/workers/evm/evmsim"
)

// answer is what post read of a response before closing its body.
type answer struct {
	StatusCode int
	Header     http.Header
}

func post(t *testing.T, url, body string) (answer, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header}, string(data)
}

const blockNumberCall = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

func getLogsCall(from, to string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"eth_getLogs","params":[{"fromBlock":"` + from + `","toBlock":"` + to + `"}]}`
}

func TestProxyForwardsAndCountsEveryBatchElement(t *testing.T) {
	sim := evmsim.StartT(t)
	p := evmsim.NewProxyT(t, sim.URL())
	c, err := rpc.Dial(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var head hexutil.Uint64
	if err := c.CallContext(context.Background(), &head, "eth_blockNumber"); err != nil || head != 3 {
		t.Fatalf("head %d %v", head, err)
	}
	blocks := make([]map[string]any, 3)
	batch := make([]rpc.BatchElem, 3)
	for i := range batch {
		batch[i] = rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(i + 1), false}, Result: &blocks[i]}
	}
	batch = append(batch, rpc.BatchElem{Method: "eth_chainId", Result: new(hexutil.Uint64)})
	if err := c.BatchCallContext(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for i, b := range batch {
		if b.Error != nil {
			t.Fatalf("element %d: %v", i, b.Error)
		}
	}
	if blocks[2]["number"] != "0x3" || *batch[3].Result.(*hexutil.Uint64) != 1337 {
		t.Fatalf("batch answers %v %v", blocks[2]["number"], batch[3].Result)
	}
	want := map[string]int{"eth_blockNumber": 1, "eth_getBlockByNumber": 3, "eth_chainId": 1}
	if got := p.AllCalls(); len(got) != len(want) || got["eth_blockNumber"] != 1 || got["eth_getBlockByNumber"] != 3 || got["eth_chainId"] != 1 {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if p.Requests() != 2 {
		t.Fatalf("requests %d, want 2", p.Requests())
	}
	p.ResetCounts()
	if p.Requests() != 0 || p.Calls("eth_getBlockByNumber") != 0 {
		t.Fatal("counts not reset")
	}
}

func TestProxyRangeLimitAndResultCap(t *testing.T) {
	sim := evmsim.StartT(t)
	p := evmsim.NewProxyT(t, sim.URL())
	if _, err := sim.Mine(10); err != nil { // head 13
		t.Fatal(err)
	}
	p.SetRangeLimit(5)
	cases := []struct {
		name, body, want string
	}{
		{"inside the limit", getLogsCall("0x1", "0x5"), `"result":[`},
		{"over the limit", getLogsCall("0x1", "0x6"), `{"code":-32602,"message":"exceed maximum block range: 5"}`},
		{"tag resolved against the head", getLogsCall("0x1", "latest"), `exceed maximum block range: 5`},
		{"tag inside the limit", getLogsCall("0xa", "latest"), `"result":[`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, p.URL(), tc.body)
			if resp.StatusCode != 200 || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %s", resp.StatusCode, body, tc.want)
			}
		})
	}
	// In a batch only the element over the limit fails.
	_, body := post(t, p.URL(), "["+getLogsCall("0x1", "0x9")+","+blockNumberCall+"]")
	var msgs []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct{ Code int }
	}
	if err := json.Unmarshal([]byte(body), &msgs); err != nil || len(msgs) != 2 {
		t.Fatalf("batch answer %s %v", body, err)
	}
	if msgs[0].ID != 7 || msgs[0].Error == nil || msgs[0].Error.Code != -32602 || msgs[1].ID != 1 || string(msgs[1].Result) != `"0xd"` {
		t.Fatalf("batch answer %s", body)
	}

	p.SetRangeLimit(0)
	p.SetResultCap(2) // blocks 1–3 hold the two mints' Transfer logs; the payment makes three
	if _, err := sim.Pay(recvA, bigInt(1)); err != nil {
		t.Fatal(err)
	}
	if _, body := post(t, p.URL(), getLogsCall("0x1", "0x3")); !strings.Contains(body, `"result":[`) {
		t.Fatalf("under the cap: %s", body)
	}
	if _, body := post(t, p.URL(), getLogsCall("0x1", "latest")); !strings.Contains(body, `{"code":-32005,"message":"query returned more than 2 results"}`) {
		t.Fatalf("over the cap: %s", body)
	}
	if p.Calls("eth_getLogs") != 7 {
		t.Fatalf("getLogs calls %d, want 7", p.Calls("eth_getLogs"))
	}
}

func TestProxyFaultsLastForTheNextNRequests(t *testing.T) {
	sim := evmsim.StartT(t)
	p := evmsim.NewProxyT(t, sim.URL())
	cases := []struct {
		fault      evmsim.Fault
		status     int
		bodyIsJSON bool
		header     string
	}{
		{evmsim.Fault{Kind: evmsim.RateLimited, RetryAfter: 3 * time.Second}, 429, false, "3"},
		{evmsim.Fault{Kind: evmsim.Unavailable}, 503, false, ""},
		{evmsim.Fault{Kind: evmsim.PayloadTooLarge}, 413, false, ""},
		{evmsim.Fault{Kind: evmsim.Junk}, 200, false, ""},
		{evmsim.Fault{Kind: evmsim.Truncated}, 200, false, ""},
	}
	for _, tc := range cases {
		p.FailNext(tc.fault, 2)
		for i := range 3 {
			resp, body := post(t, p.URL(), blockNumberCall)
			faulty := i < 2
			wantStatus := 200
			if faulty {
				wantStatus = tc.status
			}
			if resp.StatusCode != wantStatus {
				t.Fatalf("fault %d call %d: status %d, want %d", tc.fault.Kind, i, resp.StatusCode, wantStatus)
			}
			var v map[string]any
			isJSON := json.Unmarshal([]byte(body), &v) == nil && v["result"] == "0x3"
			if isJSON == faulty {
				t.Fatalf("fault %d call %d: body %q", tc.fault.Kind, i, body)
			}
			if faulty && resp.Header.Get("Retry-After") != tc.header {
				t.Fatalf("Retry-After %q, want %q", resp.Header.Get("Retry-After"), tc.header)
			}
		}
	}
	if p.Calls("eth_blockNumber") != 15 || p.Requests() != 15 {
		t.Fatalf("calls %d requests %d, want 15", p.Calls("eth_blockNumber"), p.Requests())
	}

	// Slow: the answer comes after the delay; a client that gives up first sees a timeout.
	p.FailNext(evmsim.Fault{Kind: evmsim.Slow, Delay: 300 * time.Millisecond}, 2)
	start := time.Now()
	if resp, body := post(t, p.URL(), blockNumberCall); resp.StatusCode != 200 || !strings.Contains(body, `"0x3"`) || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("slow answer %d %s after %v", resp.StatusCode, body, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(), strings.NewReader(blockNumberCall))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient client: %v", err)
	}
}

func TestProxyRewritesResultsOfOneMethod(t *testing.T) {
	sim := evmsim.StartT(t)
	p := evmsim.NewProxyT(t, sim.URL())
	p.RewriteNext("eth_getBlockByNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage("null") })
	p.RewriteNext("eth_blockNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage(`"5"`) })
	_, body := post(t, p.URL(), `[{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",false]},`+blockNumberCall[:len(blockNumberCall)-1]+`}]`)
	if !strings.Contains(body, `"result":null`) || !strings.Contains(body, `"result":"5"`) {
		t.Fatalf("rewritten batch %s", body)
	}
	p.ErrorNext("eth_blockNumber", 1, -32005, "daily request count exceeded, request rate limited")
	if _, body := post(t, p.URL(), blockNumberCall); !strings.Contains(body, `"error":{"code":-32005,"message":"daily request count exceeded, request rate limited"}`) {
		t.Fatalf("canned error %s", body)
	}
	// Each rewrite and canned error was for one call only.
	if _, body := post(t, p.URL(), blockNumberCall); !strings.Contains(body, `"result":"0x3"`) {
		t.Fatalf("second call %s", body)
	}
}
