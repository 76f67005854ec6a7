package evmsim_test

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"till/workers/evm/evmsim"
)

var (
	recvA = common.HexToAddress("0x00000000000000000000000000000000000000aa")
	recvB = common.HexToAddress("0x00000000000000000000000000000000000000bb")
)

// dial is a client of the chain over its HTTP JSON-RPC URL: what Till's code sees.
func dial(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func transferLogs(t *testing.T, c *ethclient.Client, token common.Address, from, to uint64) []common.Address {
	t.Helper()
	logs, err := c.FilterLogs(context.Background(), ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: []common.Address{token},
		Topics:    [][]common.Hash{{evmsim.TransferTopic}, nil, {common.BytesToHash(recvA.Bytes()), common.BytesToHash(recvB.Bytes())}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []common.Address
	for _, l := range logs {
		out = append(out, common.BytesToAddress(l.Topics[2].Bytes()))
	}
	return out
}

func TestStartServesJSONRPCOverHTTPQuickly(t *testing.T) {
	start := time.Now()
	sim := evmsim.StartT(t)
	took := time.Since(start)
	if took > time.Second {
		t.Errorf("Start took %v, want well under a second", took)
	}
	t.Logf("Start took %v", took)
	c := dial(t, sim.URL())
	id, err := c.ChainID(context.Background())
	if err != nil || id.Uint64() != 1337 || sim.ChainID() != 1337 {
		t.Fatalf("chain id %v %v", id, err)
	}
	head, err := c.BlockNumber(context.Background())
	if err != nil || head != 3 {
		t.Fatalf("head %d %v, want 3 (deploy, mint, one empty block)", head, err)
	}
	// decimals() of the token over HTTP is 6 (selector 0x313ce567).
	for _, token := range []common.Address{sim.USDC(), sim.FakeToken()} {
		out, err := c.CallContract(context.Background(), ethereum.CallMsg{To: &token, Data: common.FromHex("0x313ce567")}, nil)
		if err != nil || new(big.Int).SetBytes(out).Int64() != 6 {
			t.Fatalf("decimals of %s: %x %v", token, out, err)
		}
	}
	if sim.USDC() == sim.FakeToken() {
		t.Fatal("fake token shares USDC's address")
	}
	// The README's local setup names the token's address: the payer's first deployment, on every start.
	if sim.USDC() != crypto.CreateAddress(sim.Payer(), 0) || sim.USDC() != common.HexToAddress("0x3A220f351252089D385b29beca14e27F204c296A") {
		t.Fatalf("USDC at %s", sim.USDC())
	}
}

func TestPayMinesOneBlockWithTheTransfer(t *testing.T) {
	sim := evmsim.StartT(t)
	c := dial(t, sim.URL())
	tx, err := sim.Pay(recvA, big.NewInt(12_345_678))
	if err != nil {
		t.Fatal(err)
	}
	if tx.BlockNumber != 4 {
		t.Fatalf("paid in block %d, want 4", tx.BlockNumber)
	}
	bal, err := sim.BalanceOf(recvA)
	if err != nil || bal.Int64() != 12_345_678 {
		t.Fatalf("balance %v %v", bal, err)
	}
	logs, err := c.FilterLogs(context.Background(), ethereum.FilterQuery{
		FromBlock: big.NewInt(4), ToBlock: big.NewInt(4), Addresses: []common.Address{sim.USDC()},
	})
	if err != nil || len(logs) != 1 {
		t.Fatalf("logs %v %v", logs, err)
	}
	l := logs[0]
	if l.TxHash != tx.Hash || l.BlockHash != tx.BlockHash || len(l.Topics) != 3 || len(l.Data) != 32 ||
		common.BytesToAddress(l.Topics[1].Bytes()) != sim.Payer() ||
		common.BytesToAddress(l.Topics[2].Bytes()) != recvA || new(big.Int).SetBytes(l.Data).Int64() != 12_345_678 {
		t.Fatalf("log %+v", l)
	}
}

func TestQueuedTransfersShareOneBlockUntilMined(t *testing.T) {
	sim := evmsim.StartT(t)
	c := dial(t, sim.URL())
	if _, err := sim.Send(recvA, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Send(recvB, big.NewInt(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SendFake(recvA, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	if got := transferLogs(t, c, sim.USDC(), 0, 3); len(got) != 0 {
		t.Fatalf("logs before mining: %v", got)
	}
	head, err := sim.Mine(1)
	if err != nil || head != 4 {
		t.Fatalf("head %d %v", head, err)
	}
	if got := transferLogs(t, c, sim.USDC(), 4, 4); len(got) != 2 || got[0] != recvA || got[1] != recvB {
		t.Fatalf("USDC logs %v", got)
	}
	if got := transferLogs(t, c, sim.FakeToken(), 4, 4); len(got) != 1 {
		t.Fatalf("fake logs %v", got)
	}
}

func TestERC721TransferHasFourTopics(t *testing.T) {
	sim := evmsim.StartT(t)
	c := dial(t, sim.URL())
	tx, err := sim.EmitERC721Transfer(sim.Payer(), recvA, big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := c.FilterLogs(context.Background(), ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(tx.BlockNumber), ToBlock: new(big.Int).SetUint64(tx.BlockNumber),
		Topics: [][]common.Hash{{evmsim.TransferTopic}, nil, {common.BytesToHash(recvA.Bytes())}},
	})
	if err != nil || len(logs) != 1 {
		t.Fatalf("logs %v %v", logs, err)
	}
	if l := logs[0]; l.Address != sim.ERC721() || len(l.Topics) != 4 || len(l.Data) != 0 || l.Topics[3].Big().Int64() != 7 {
		t.Fatalf("log %+v", l)
	}
}

func TestReorgDropsTransfersAndChangesHashes(t *testing.T) {
	sim := evmsim.StartT(t)
	c := dial(t, sim.URL())
	tx, err := sim.Pay(recvA, big.NewInt(5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Mine(2); err != nil {
		t.Fatal(err)
	}
	before := map[uint64]common.Hash{}
	for n := uint64(3); n <= 6; n++ {
		h, err := sim.HeaderAt(n)
		if err != nil {
			t.Fatal(err)
		}
		before[n] = h.Hash
	}
	if err := sim.Reorg(3); err != nil { // blocks 4, 5, 6 replaced
		t.Fatal(err)
	}
	head, _ := sim.Head()
	if head.Number != 6 {
		t.Fatalf("head %d after reorg, want 6", head.Number)
	}
	for n := uint64(3); n <= 6; n++ {
		h, _ := sim.HeaderAt(n)
		if changed := h.Hash != before[n]; changed != (n >= 4) {
			t.Errorf("block %d changed=%v", n, changed)
		}
	}
	if _, err := c.TransactionReceipt(context.Background(), tx.Hash); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("receipt after reorg: %v", err)
	}
	if got := transferLogs(t, c, sim.USDC(), 0, 6); len(got) != 0 {
		t.Fatalf("logs after reorg %v", got)
	}
	// The token's own blocks are never replaced.
	if err := sim.Reorg(4); err == nil {
		t.Fatal("a reorg of the setup blocks was accepted")
	}
	// The chain goes on: the payer's nonce is right again.
	if _, err := sim.Pay(recvB, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
}

func TestReorgKeepMinesTheSameTransferUnderANewBlockHash(t *testing.T) {
	sim := evmsim.StartT(t)
	c := dial(t, sim.URL())
	tx, err := sim.Pay(recvA, big.NewInt(5))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.ReorgKeep(1); err != nil {
		t.Fatal(err)
	}
	again, err := sim.Receipt(tx.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if again.BlockNumber != tx.BlockNumber || again.BlockHash == tx.BlockHash {
		t.Fatalf("before %+v after %+v", tx, again)
	}
	if got := transferLogs(t, c, sim.USDC(), 0, tx.BlockNumber); len(got) != 1 {
		t.Fatalf("logs %v", got)
	}
}

func TestSafeIsHeadAndFinalizedMovesEvery32Blocks(t *testing.T) {
	sim := evmsim.StartT(t)
	cases := []struct {
		mineTo    uint64
		finalized uint64
	}{{31, 0}, {32, 32}, {63, 32}, {64, 64}, {70, 64}}
	for _, tc := range cases {
		head, _ := sim.Head()
		if _, err := sim.Mine(int(tc.mineTo - head.Number)); err != nil {
			t.Fatal(err)
		}
		safe, err := sim.Safe()
		if err != nil || safe.Number != tc.mineTo {
			t.Fatalf("safe %d %v at head %d", safe.Number, err, tc.mineTo)
		}
		fin, err := sim.Finalized()
		if err != nil || fin.Number != tc.finalized {
			t.Fatalf("finalized %d %v at head %d, want %d", fin.Number, err, tc.mineTo, tc.finalized)
		}
	}
}

func TestConcurrentPaymentsAllLand(t *testing.T) {
	sim := evmsim.StartT(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sim.Send(recvA, big.NewInt(int64(i+1))); err != nil {
				errs <- err
			}
			if i%5 == 0 {
				if _, err := sim.Mine(1); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := sim.Mine(1); err != nil {
		t.Fatal(err)
	}
	bal, err := sim.BalanceOf(recvA)
	if want := int64(n * (n + 1) / 2); err != nil || bal.Int64() != want {
		t.Fatalf("balance %v %v, want %d", bal, err, want)
	}
}

func bigInt(n int64) *big.Int { return big.NewInt(n) }
