package evm_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"till/workers/evm"
	"till/workers/evm/evmsim"
)

var (
	recvA = common.HexToAddress("0x00000000000000000000000000000000000000aa")
	recvB = common.HexToAddress("0x00000000000000000000000000000000000000bb")
	other = common.HexToAddress("0x00000000000000000000000000000000000000cc")
)

// chain starts a simulated chain, a provider proxy in front of it and a client of the proxy.
func chain(t *testing.T, opts evm.ClientOptions) (*evmsim.Sim, *evmsim.Proxy, *evm.Client) {
	t.Helper()
	sim := evmsim.StartT(t)
	p := evmsim.NewProxyT(t, sim.URL())
	c, err := evm.Dial(p.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return sim, p, c
}

func units(n int64) *big.Int { return big.NewInt(n) }

func TestClientReadsTheChain(t *testing.T) {
	sim, p, c := chain(t, evm.ClientOptions{})
	ctx := context.Background()

	id, err := c.ChainID(ctx)
	if err != nil || id != 1337 {
		t.Fatalf("ChainID %d %v", id, err)
	}
	// decimals() of the token (eth_call with selector 0x313ce567).
	if d, err := c.Decimals(ctx, sim.USDC()); err != nil || d != 6 {
		t.Fatalf("Decimals %d %v", d, err)
	}
	out, err := c.Call(ctx, sim.USDC(), common.FromHex("0x313ce567"), evm.Latest)
	if err != nil || len(out) != 32 || out[31] != 6 {
		t.Fatalf("Call %x %v", out, err)
	}
	// An address without code answers nothing: not an ERC-20.
	if _, err := c.Decimals(ctx, other); !errors.Is(err, evm.ErrBadResponse) {
		t.Fatalf("Decimals of an account without code: %v", err)
	}
	// A contract without decimals() reverts: the node's own error.
	if _, err := c.Decimals(ctx, sim.ERC721()); !errors.Is(err, evm.ErrRPC) {
		t.Fatalf("Decimals of a contract without decimals(): %v", err)
	}

	txA, err := sim.Send(recvA, units(12_345_678))
	if err != nil {
		t.Fatal(err)
	}
	for _, send := range []func() (common.Hash, error){
		func() (common.Hash, error) { return sim.Send(recvB, units(5)) },
		func() (common.Hash, error) { return sim.Send(other, units(7)) },
		func() (common.Hash, error) { return sim.SendFake(recvA, units(12_345_678)) },
		func() (common.Hash, error) { return sim.SendERC721Transfer(sim.Payer(), recvA, units(12_345_678)) },
	} {
		if _, err := send(); err != nil {
			t.Fatal(err)
		}
	}
	head, err := sim.Mine(1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.BlockNumber(ctx); err != nil || n != head {
		t.Fatalf("BlockNumber %d %v, want %d", n, err, head)
	}

	logs, err := c.FilterLogs(ctx, evm.LogFilter{From: 1, To: head, Token: sim.USDC(), Receivers: []common.Address{recvA, recvB}})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 {
		t.Fatalf("%d logs, want the 2 USDC transfers to A and B: %+v", len(logs), logs)
	}
	la := logs[0]
	paid, _ := sim.Receipt(txA)
	if la.Address != sim.USDC() || la.TxHash != txA || la.BlockNumber != head || la.BlockHash != paid.BlockHash ||
		la.Index != 0 || len(la.Topics) != 3 || la.Topics[0] != evm.TransferTopic ||
		common.BytesToAddress(la.Topics[1].Bytes()) != sim.Payer() || common.BytesToAddress(la.Topics[2].Bytes()) != recvA ||
		new(big.Int).SetBytes(la.Data).Int64() != 12_345_678 || la.Removed {
		t.Fatalf("log %+v", la)
	}
	if common.BytesToAddress(logs[1].Topics[2].Bytes()) != recvB || logs[1].Index != 1 {
		t.Fatalf("second log %+v", logs[1])
	}
	// Without receivers: every USDC transfer in the range (the mint in block 2 and the three payments).
	all, err := c.FilterLogs(ctx, evm.LogFilter{From: 2, To: head, Token: sim.USDC()})
	if err != nil || len(all) != 4 {
		t.Fatalf("%d logs without receivers (%v), want 4", len(all), err)
	}
	if p.Calls("eth_getLogs") != 2 {
		t.Fatalf("eth_getLogs calls %d", p.Calls("eth_getLogs"))
	}

	r, err := c.TransactionReceipt(ctx, txA)
	if err != nil || r.Status != 1 || r.BlockNumber != head || r.BlockHash != paid.BlockHash || r.TxHash != txA || len(r.Logs) != 1 {
		t.Fatalf("receipt %+v %v", r, err)
	}
	if _, err := c.TransactionReceipt(ctx, common.HexToHash("0x01")); !errors.Is(err, evm.ErrNotFound) {
		t.Fatalf("receipt of an unknown transaction: %v", err)
	}
	if err := sim.Reorg(1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransactionReceipt(ctx, txA); !errors.Is(err, evm.ErrNotFound) {
		t.Fatalf("receipt after a reorg: %v", err)
	}
}

func TestClientReadsBlocksByNumberAndTagInOneBatch(t *testing.T) {
	sim, p, c := chain(t, evm.ClientOptions{})
	ctx := context.Background()
	if _, err := sim.Mine(35); err != nil { // head 38, finalized 32
		t.Fatal(err)
	}
	want := func(n uint64) evm.Block {
		h, err := sim.HeaderAt(n)
		if err != nil {
			t.Fatal(err)
		}
		parent, _ := sim.HeaderAt(n - 1)
		return evm.Block{Number: n, Hash: h.Hash, ParentHash: parent.Hash, Time: h.Time}
	}
	cases := []struct {
		n    rpc.BlockNumber
		want evm.Block
	}{
		{evm.Height(5), want(5)}, {evm.Latest, want(38)}, {evm.Safe, want(38)}, {evm.Finalized, want(32)},
	}
	for _, tc := range cases {
		got, err := c.HeaderByNumber(ctx, tc.n)
		if err != nil || got != tc.want {
			t.Fatalf("HeaderByNumber(%s) = %+v, %v; want %+v", tc.n, got, err, tc.want)
		}
	}
	if _, err := c.HeaderByNumber(ctx, evm.Height(1000)); !errors.Is(err, evm.ErrNotFound) {
		t.Fatalf("block beyond the head: %v", err)
	}

	p.ResetCounts()
	got, err := c.BlocksByNumber(ctx, []rpc.BlockNumber{evm.Height(5), evm.Latest, evm.Finalized, evm.Height(1000)})
	if err != nil {
		t.Fatal(err)
	}
	wantBatch := []evm.BlockResult{{want(5), true}, {want(38), true}, {want(32), true}, {evm.Block{}, false}}
	for i := range wantBatch {
		if got[i] != wantBatch[i] {
			t.Fatalf("batch element %d = %+v, want %+v", i, got[i], wantBatch[i])
		}
	}
	if p.Requests() != 1 || p.Calls("eth_getBlockByNumber") != 4 {
		t.Fatalf("%d requests, %d calls; want one request of 4 calls", p.Requests(), p.Calls("eth_getBlockByNumber"))
	}
}

// TestClientErrorClasses: every kind of failure a provider produces comes back as the right typed error.
func TestClientErrorClasses(t *testing.T) {
	sim, p, c := chain(t, evm.ClientOptions{Timeout: 300 * time.Millisecond})
	if _, err := sim.Pay(recvA, units(1)); err != nil { // with the mint: two USDC logs in blocks 1–20
		t.Fatal(err)
	}
	if _, err := sim.Mine(16); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	getLogs := func() error {
		_, err := c.FilterLogs(ctx, evm.LogFilter{From: 1, To: 20, Token: sim.USDC()})
		return err
	}
	blockNumber := func() error { _, err := c.BlockNumber(ctx); return err }
	cases := []struct {
		name       string
		setup      func()
		call       func() error
		kind       error
		code       int
		httpStatus int
		retryAfter time.Duration
	}{
		{"geth block range limit", func() { p.SetRangeLimit(5) }, getLogs, evm.ErrTooLarge, -32602, 0, 0},
		{"Infura result cap", func() { p.SetResultCap(1) }, getLogs, evm.ErrTooLarge, -32005, 0, 0},
		{"message naming a block range", func() {
			p.ErrorNext("eth_getLogs", 1, -32000, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range")
		}, getLogs, evm.ErrTooLarge, -32000, 0, 0},
		{"message naming a limit", func() {
			p.ErrorNext("eth_getLogs", 1, -32600, "ranges over 10000 blocks are not supported on freetier, max is 1k blocks: range limit exceeded")
		}, getLogs, evm.ErrTooLarge, -32600, 0, 0},
		{"query timeout on the provider", func() { p.ErrorNext("eth_getLogs", 1, -32000, "query timeout exceeded") }, getLogs, evm.ErrTooLarge, -32000, 0, 0},
		{"HTTP 413", func() { p.FailNext(evmsim.Fault{Kind: evmsim.PayloadTooLarge}, 1) }, getLogs, evm.ErrTooLarge, 0, 413, 0},
		{"HTTP 429 with Retry-After", func() { p.FailNext(evmsim.Fault{Kind: evmsim.RateLimited, RetryAfter: 7 * time.Second}, 1) }, blockNumber, evm.ErrRateLimited, 0, 429, 7 * time.Second},
		{"rate limit as a JSON-RPC error", func() {
			p.ErrorNext("eth_getLogs", 1, -32005, "daily request count exceeded, request rate limited")
		}, getLogs, evm.ErrRateLimited, -32005, 0, 0},
		{"HTTP 503", func() { p.FailNext(evmsim.Fault{Kind: evmsim.Unavailable}, 1) }, blockNumber, evm.ErrUnavailable, 0, 503, 0},
		{"slow answer past the client's timeout", func() { p.FailNext(evmsim.Fault{Kind: evmsim.Slow, Delay: 5 * time.Second}, 1) }, blockNumber, evm.ErrUnavailable, 0, 0, 0},
		{"junk body", func() { p.FailNext(evmsim.Fault{Kind: evmsim.Junk}, 1) }, blockNumber, evm.ErrBadResponse, 0, 0, 0},
		{"truncated body", func() { p.FailNext(evmsim.Fault{Kind: evmsim.Truncated}, 1) }, getLogs, evm.ErrBadResponse, 0, 0, 0},
		{"truncated batch", func() { p.FailNext(evmsim.Fault{Kind: evmsim.Truncated}, 1) }, func() error {
			_, err := c.BlocksByNumber(ctx, []rpc.BlockNumber{evm.Height(1), evm.Height(2)})
			return err
		}, evm.ErrBadResponse, 0, 0, 0},
		{"wrong type", func() {
			p.RewriteNext("eth_blockNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage(`{"n":1}`) })
		}, blockNumber, evm.ErrBadResponse, 0, 0, 0},
		{"quantity without 0x", func() {
			p.RewriteNext("eth_blockNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage(`"14"`) })
		}, blockNumber, evm.ErrBadResponse, 0, 0, 0},
		{"block number without 0x", func() {
			p.RewriteNext("eth_getBlockByNumber", 1, func(r json.RawMessage) json.RawMessage {
				return json.RawMessage(strings.Replace(string(r), `"number":"0x`, `"number":"`, 1))
			})
		}, func() error { _, err := c.HeaderByNumber(ctx, evm.Height(3)); return err }, evm.ErrBadResponse, 0, 0, 0},
		{"block without hash", func() {
			p.RewriteNext("eth_getBlockByNumber", 1, func(json.RawMessage) json.RawMessage {
				return json.RawMessage(`{"number":"0x3","parentHash":"0x` + strings.Repeat("00", 32) + `","timestamp":"0x1"}`)
			})
		}, func() error { _, err := c.HeaderByNumber(ctx, evm.Height(3)); return err }, evm.ErrBadResponse, 0, 0, 0},
		{"log without transaction hash", func() {
			p.RewriteNext("eth_getLogs", 1, func(r json.RawMessage) json.RawMessage {
				return json.RawMessage(strings.Replace(string(r), `"transactionHash"`, `"txHash"`, 1))
			})
		}, getLogs, evm.ErrBadResponse, 0, 0, 0},
		{"reverted call is the node's error", nil, func() error {
			_, err := c.Call(ctx, sim.USDC(), common.FromHex("0xdeadbeef"), evm.Latest)
			return err
		}, evm.ErrRPC, 3, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p.Clear()
			if tc.setup != nil {
				tc.setup()
			}
			err := tc.call()
			var e *evm.Error
			if !errors.As(err, &e) || !errors.Is(err, tc.kind) {
				t.Fatalf("err %v (%T), want %v", err, err, tc.kind)
			}
			if e.Code != tc.code || e.HTTPStatus != tc.httpStatus || e.RetryAfter != tc.retryAfter {
				t.Fatalf("code %d status %d retry-after %v; want %d %d %v (%v)", e.Code, e.HTTPStatus, e.RetryAfter,
					tc.code, tc.httpStatus, tc.retryAfter, err)
			}
			// The same call works once the provider behaves.
			p.Clear()
			if err := tc.call(); err != nil && !errors.Is(err, evm.ErrRPC) {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}

	t.Run("timeout is the client's own", func(t *testing.T) {
		p.Clear()
		p.FailNext(evmsim.Fault{Kind: evmsim.Slow, Delay: 5 * time.Second}, 1)
		start := time.Now()
		err := blockNumber()
		if !errors.Is(err, evm.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		dead := evmsim.NewProxy(sim.URL())
		dead.Close()
		dc, err := evm.Dial(dead.URL(), evm.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Close()
		if _, err := dc.ChainID(ctx); !errors.Is(err, evm.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientKeepsLogsOfOtherShapesForTheCaller(t *testing.T) {
	sim, p, c := chain(t, evm.ClientOptions{})
	ctx := context.Background()
	tx, err := sim.Pay(recvA, units(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	// The node's log with 64 bytes of data: decoded as it is, for the watcher to drop.
	p.RewriteNext("eth_getLogs", 1, func(r json.RawMessage) json.RawMessage {
		var logs []map[string]any
		if err := json.Unmarshal(r, &logs); err != nil || len(logs) != 1 {
			t.Errorf("logs %s: %v", r, err)
			return r
		}
		logs[0]["data"] = logs[0]["data"].(string) + strings.Repeat("ab", 32)
		out, _ := json.Marshal(logs)
		return out
	})
	logs, err := c.FilterLogs(ctx, evm.LogFilter{From: tx.BlockNumber, To: tx.BlockNumber, Token: sim.USDC(), Receivers: []common.Address{recvA}})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 || len(logs[0].Data) != 64 || logs[0].TxHash != tx.Hash || new(big.Int).SetBytes(logs[0].Data[:32]).Int64() != 1_000_000 {
		t.Fatalf("logs %+v", logs)
	}
}

func TestClientNullBlockInABatchIsNotFound(t *testing.T) {
	sim, p, c := chain(t, evm.ClientOptions{})
	ctx := context.Background()
	if _, err := sim.Mine(2); err != nil {
		t.Fatal(err)
	}
	// The provider answers null for a block it has (a lagging node behind a load balancer does).
	p.RewriteNext("eth_getBlockByNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage("null") })
	got, err := c.BlocksByNumber(ctx, []rpc.BlockNumber{evm.Height(4), evm.Height(5)})
	if err != nil {
		t.Fatal(err)
	}
	h5, _ := sim.HeaderAt(5)
	if got[0].Found || !got[1].Found || got[1].Block.Hash != h5.Hash {
		t.Fatalf("batch %+v", got)
	}
	p.RewriteNext("eth_getBlockByNumber", 1, func(json.RawMessage) json.RawMessage { return json.RawMessage("null") })
	if _, err := c.HeaderByNumber(ctx, evm.Latest); !errors.Is(err, evm.ErrNotFound) {
		t.Fatalf("null latest block: %v", err)
	}
}

func TestDialRefusesNonHTTPURLs(t *testing.T) {
	for _, u := range []string{"ws://127.0.0.1:8546", "127.0.0.1:8545", ""} {
		if _, err := evm.Dial(u, evm.ClientOptions{}); err == nil {
			t.Errorf("Dial(%q) accepted", u)
		}
	}
}
