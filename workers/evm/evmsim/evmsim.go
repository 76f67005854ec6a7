// Package evmsim runs a real EVM chain in-process for tests and for cmd/evm-double: go-ethereum's simulated
// backend with its node's JSON-RPC served over HTTP on 127.0.0.1, a 6-decimal MockUSDC, a second MockUSDC as
// a fake token emitting the identical Transfer event, and an ERC-721-shaped Transfer emitter.
//
// Blocks are mined only by Commit (Mine, Pay and the other helpers that say so); a reorg is
// Fork(parent) + Rollback + Commit. Only this package and cmd/evm-double import the simulated backend: it
// costs minutes of cold compile time, so the importing packages stay few.
package evmsim

import (
	"context"
	"crypto/ecdsa"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// Committed artifacts of contracts/MockUSDC.sol (solc 0.8.28, evmVersion paris); `make contracts` rebuilds them.
var (
	//go:embed contracts/MockUSDC.abi
	usdcABI string
	//go:embed contracts/MockUSDC.bin
	usdcBin string
	//go:embed contracts/MockERC721Emitter.abi
	erc721ABI string
	//go:embed contracts/MockERC721Emitter.bin
	erc721Bin string
)

// ChainID is the chain ID of every simulated chain (fixed by go-ethereum's simulated backend).
const ChainID = 1337

// TransferTopic is topic 0 of the ERC-20 (and ERC-721) Transfer event.
var TransferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// PayerKeyHex is the private key of the funded payer (go-ethereum's well-known developer key). It holds ether
// for gas and USDC of both tokens; it exists only on simulated chains.
const PayerKeyHex = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// payerUSDC is what the payer is minted of each token at start: 10^12 USDC in micro-USDC.
var payerUSDC = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// fixedGas is the gas limit of every call the Sim sends, so no estimate runs against a block that does not
// include the previous, not yet mined transactions. The dev chain runs every fork, whose state-growth prices make
// a transfer to a new holder cost ~146k gas; 500k leaves room and still fits 120 transfers in a 60M-gas block.
const fixedGas = 500_000

// deployGas is the gas limit of a contract deployment.
const deployGas = 3_000_000

// Options configure Start. The zero value is fine.
type Options struct {
	// Addr is the host:port of the JSON-RPC HTTP server; empty picks a free 127.0.0.1 port.
	Addr string
}

// Tx is a mined (or queued) transaction the Sim sent.
type Tx struct {
	Hash        common.Hash
	BlockNumber uint64 // 0 while not mined
	BlockHash   common.Hash
}

// Head is a block the chain reports under a tag.
type Head struct {
	Number uint64
	Hash   common.Hash
	Time   uint64 // unix seconds
}

// Sim is a running simulated chain. All methods are safe for concurrent use.
type Sim struct {
	mu      sync.Mutex
	backend *simulated.Backend
	client  simulated.Client
	url     string
	key     *ecdsa.PrivateKey
	payer   common.Address
	nonce   uint64
	usdc    *bind.BoundContract
	fake    *bind.BoundContract
	nft     *bind.BoundContract
	usdcABI abi.ABI
	closed  bool
}

// StartT starts a chain for a test and closes it when the test ends.
func StartT(t testing.TB) *Sim {
	t.Helper()
	s, err := Start(Options{})
	if err != nil {
		t.Fatalf("evmsim: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// SetupBlocks is the head of a new chain: block 1 deploys the contracts, block 2 mints to the payer, block 3 is
// empty. A reorg never replaces them.
const SetupBlocks = 3

// Start runs a new chain, deploys the tokens, mints to the payer and mines them (the head is SetupBlocks).
func Start(opts Options) (*Sim, error) {
	key, err := crypto.HexToECDSA(PayerKeyHex)
	if err != nil {
		return nil, err
	}
	payer := crypto.PubkeyToAddress(key.PublicKey)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(24), nil)

	var backend *simulated.Backend
	var url string
	// A free port can be taken between the probe and the node's listen; try a few.
	for attempt := 0; ; attempt++ {
		host, port, err := pickAddr(opts.Addr)
		if err != nil {
			return nil, err
		}
		backend, err = newBackend(types.GenesisAlloc{payer: {Balance: ether}}, host, port)
		if err == nil {
			url = fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(port)))
			break
		}
		if opts.Addr != "" || attempt == 4 {
			return nil, err
		}
	}
	s := &Sim{backend: backend, client: backend.Client(), url: url, key: key, payer: payer}
	if err := s.deploy(); err != nil {
		backend.Close()
		return nil, err
	}
	return s, nil
}

// newBackend starts the simulated backend with its HTTP server; NewBackend panics when the node cannot start
// (the port was taken).
func newBackend(alloc types.GenesisAlloc, host string, port int) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evmsim: start node on %s:%d: %v", host, port, r)
		}
	}()
	return simulated.NewBackend(alloc, func(nc *node.Config, ec *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort = host, port
		nc.HTTPModules = []string{"eth", "net", "web3"}
		nc.HTTPVirtualHosts = []string{"*"}
	}), nil
}

func pickAddr(addr string) (string, int, error) {
	if addr != "" {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return "", 0, fmt.Errorf("evmsim: address %q: %w", addr, err)
		}
		var port int
		if _, err := fmt.Sscan(p, &port); err != nil {
			return "", 0, fmt.Errorf("evmsim: port %q: %w", p, err)
		}
		return host, port, nil
	}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, err
	}
	defer l.Close()
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Sim) deploy() error {
	var err error
	if s.usdcABI, err = abi.JSON(strings.NewReader(usdcABI)); err != nil {
		return err
	}
	nftABI, err := abi.JSON(strings.NewReader(erc721ABI))
	if err != nil {
		return err
	}
	deploy := func(bin string, parsed abi.ABI) (*bind.BoundContract, error) {
		opts := s.transactor()
		opts.GasLimit = deployGas
		addr, _, err := bind.DeployContract(opts, common.FromHex(strings.TrimSpace(bin)), s.client, nil)
		if err != nil {
			return nil, err
		}
		return bind.NewBoundContract(addr, parsed, s.client, s.client, s.client), nil
	}
	if s.usdc, err = deploy(usdcBin, s.usdcABI); err != nil {
		return fmt.Errorf("evmsim: deploy MockUSDC: %w", err)
	}
	if s.fake, err = deploy(usdcBin, s.usdcABI); err != nil {
		return fmt.Errorf("evmsim: deploy fake MockUSDC: %w", err)
	}
	if s.nft, err = deploy(erc721Bin, nftABI); err != nil {
		return fmt.Errorf("evmsim: deploy MockERC721Emitter: %w", err)
	}
	if err := s.commitLocked(); err != nil {
		return err
	}
	for _, c := range []*bind.BoundContract{s.usdc, s.fake, s.nft} {
		if code, err := s.client.CodeAt(context.Background(), c.Address(), nil); err != nil || len(code) == 0 {
			return fmt.Errorf("evmsim: no contract at %s after deployment (%w)", c.Address(), err)
		}
	}
	for _, c := range []*bind.BoundContract{s.usdc, s.fake} {
		if _, err := c.Transact(s.transactor(), "mint", s.payer, payerUSDC); err != nil {
			return fmt.Errorf("evmsim: mint: %w", err)
		}
	}
	if err := s.commitLocked(); err != nil {
		return err
	}
	// A third block so that every contract and balance sits below the first block a test pays in.
	s.backend.Commit()
	return nil
}

// transactor signs with the payer's key and assigns nonces itself, so transactions can be queued between
// blocks without asking the node. Callers hold s.mu (or run before Start returns).
func (s *Sim) transactor() *bind.TransactOpts {
	opts := bind.NewKeyedTransactor(s.key, big.NewInt(ChainID))
	opts.Nonce = new(big.Int).SetUint64(s.nonce)
	opts.GasLimit = fixedGas
	opts.Context = context.Background()
	s.nonce++
	return opts
}

// URL is the JSON-RPC HTTP endpoint of the chain's node.
func (s *Sim) URL() string { return s.url }

// ChainID is the chain ID the node reports (always 1337).
func (s *Sim) ChainID() uint64 { return ChainID }

// USDC is the address of the 6-decimal MockUSDC that stands in for USDC.
func (s *Sim) USDC() common.Address { return s.usdc.Address() }

// FakeToken is a second MockUSDC: identical Transfer events from another contract address.
func (s *Sim) FakeToken() common.Address { return s.fake.Address() }

// ERC721 is the contract whose Transfer events have ERC-721's shape (4 topics).
func (s *Sim) ERC721() common.Address { return s.nft.Address() }

// Payer is the funded account every transfer is sent from.
func (s *Sim) Payer() common.Address { return s.payer }

// Client is an in-process go-ethereum client of the chain, for assertions in tests (Till's own code talks
// to URL).
func (s *Sim) Client() simulated.Client { return s.client }

// Send queues a transfer of units (micro-USDC) of USDC to `to` in the pending block; it is mined by the next
// Commit (Mine, Pay, …).
func (s *Sim) Send(to common.Address, units *big.Int) (common.Hash, error) {
	return s.send(s.usdc, "transfer", to, units)
}

// SendFake queues the same transfer on the fake token.
func (s *Sim) SendFake(to common.Address, units *big.Int) (common.Hash, error) {
	return s.send(s.fake, "transfer", to, units)
}

// SendERC721Transfer queues an ERC-721-shaped Transfer(from, to, tokenID) log (4 topics, no data).
func (s *Sim) SendERC721Transfer(from, to common.Address, tokenID *big.Int) (common.Hash, error) {
	return s.send(s.nft, "emitTransfer", from, to, tokenID)
}

// send signs and queues one call of method on c.
func (s *Sim) send(c *bind.BoundContract, method string, args ...any) (common.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return common.Hash{}, errClosed
	}
	tx, err := c.Transact(s.transactor(), method, args...)
	if err != nil {
		s.nonce-- // nothing was sent
		return common.Hash{}, fmt.Errorf("evmsim: %s: %w", method, err)
	}
	return tx.Hash(), nil
}

var errClosed = errors.New("evmsim: chain closed")

// Pay sends units (micro-USDC) of USDC from the payer to `to` and mines the block that includes it.
func (s *Sim) Pay(to common.Address, units *big.Int) (Tx, error) {
	return s.sendAndMine(func() (common.Hash, error) { return s.Send(to, units) })
}

// PayFake does what Pay does on the fake token.
func (s *Sim) PayFake(to common.Address, units *big.Int) (Tx, error) {
	return s.sendAndMine(func() (common.Hash, error) { return s.SendFake(to, units) })
}

// EmitERC721Transfer mines a block with an ERC-721-shaped Transfer(from, to, tokenID) log.
func (s *Sim) EmitERC721Transfer(from, to common.Address, tokenID *big.Int) (Tx, error) {
	return s.sendAndMine(func() (common.Hash, error) { return s.SendERC721Transfer(from, to, tokenID) })
}

func (s *Sim) sendAndMine(send func() (common.Hash, error)) (Tx, error) {
	hash, err := send()
	if err != nil {
		return Tx{}, err
	}
	if _, err := s.Mine(1); err != nil {
		return Tx{}, err
	}
	return s.Receipt(hash)
}

// Receipt is where a transaction was mined; an error if it is not (or no longer) in the canonical chain or
// reverted.
func (s *Sim) Receipt(hash common.Hash) (Tx, error) {
	r, err := s.client.TransactionReceipt(context.Background(), hash)
	if err != nil {
		return Tx{}, fmt.Errorf("evmsim: receipt of %s: %w", hash, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return Tx{}, fmt.Errorf("evmsim: transaction %s reverted", hash)
	}
	return Tx{Hash: hash, BlockNumber: r.BlockNumber.Uint64(), BlockHash: r.BlockHash}, nil
}

// Mine seals n blocks (n ≥ 1) and returns the new head number. The first includes every queued transaction.
func (s *Sim) Mine(n int) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	for range n {
		if err := s.commitLocked(); err != nil {
			return 0, err
		}
	}
	return s.headLocked()
}

// commitLocked seals a block once every transaction sent so far is pending:
// the pool promotes new transactions asynchronously, and a block sealed
// before that would leave some of them out.
func (s *Sim) commitLocked() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.client.PendingNonceAt(context.Background(), s.payer)
		if err == nil && n >= s.nonce {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("evmsim: %d of the payer's transactions never reached the pool (%w)", s.nonce-n, err)
		}
		time.Sleep(time.Millisecond)
	}
	s.backend.Commit()
	return nil
}

// Reorg drops the last depth blocks (and their transactions) and mines depth empty blocks in their place:
// the head keeps its number, every dropped block changes hash. Queued, unmined transactions are dropped too.
func (s *Sim) Reorg(depth int) error { return s.reorg(depth, false) }

// ReorgKeep replaces the last depth blocks like Reorg but lets the dropped transactions be mined again in the
// first new block: the same transactions come back under new block hashes.
func (s *Sim) ReorgKeep(depth int) error { return s.reorg(depth, true) }

func (s *Sim) reorg(depth int, keep bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	head, err := s.headLocked()
	if err != nil {
		return err
	}
	if depth < 1 || head-SetupBlocks < uint64(depth) {
		return fmt.Errorf("evmsim: reorg depth %d at head %d: want 1 to %d (the setup blocks stay)", depth, head, head-SetupBlocks)
	}
	ctx := context.Background()
	parent, err := s.client.HeaderByNumber(ctx, new(big.Int).SetUint64(head-uint64(depth)))
	if err != nil {
		return err
	}
	// Fork refuses a dirty pending block: queued transactions are dropped in both modes.
	s.backend.Rollback()
	if err := s.backend.Fork(parent.Hash()); err != nil {
		return fmt.Errorf("evmsim: fork at %d: %w", parent.Number, err)
	}
	if !keep {
		// Fork re-injects the dropped blocks' transactions into the pool; drop them.
		s.backend.Rollback()
	}
	for range depth {
		s.backend.Commit()
	}
	s.resetNonceLocked()
	if now, err := s.headLocked(); err != nil || now != head {
		return fmt.Errorf("evmsim: head %d after reorg of %d at %d (%w)", now, depth, head, err)
	}
	return nil
}

// resetNonceLocked reads the payer's nonce back from the chain after dropped transactions.
func (s *Sim) resetNonceLocked() {
	if n, err := s.client.NonceAt(context.Background(), s.payer, nil); err == nil {
		s.nonce = n
	}
}

// Head is the latest block.
func (s *Sim) Head() (Head, error) { return s.header(rpc.LatestBlockNumber) }

// Safe is the block the chain reports as "safe" (the head, on a simulated chain).
func (s *Sim) Safe() (Head, error) { return s.header(rpc.SafeBlockNumber) }

// Finalized is the block the chain reports as "finalized": it moves in steps of 32 blocks.
func (s *Sim) Finalized() (Head, error) { return s.header(rpc.FinalizedBlockNumber) }

func (s *Sim) header(tag rpc.BlockNumber) (Head, error) {
	h, err := s.client.HeaderByNumber(context.Background(), big.NewInt(int64(tag)))
	if err != nil {
		return Head{}, fmt.Errorf("evmsim: header %s: %w", tag, err)
	}
	return Head{Number: h.Number.Uint64(), Hash: h.Hash(), Time: h.Time}, nil
}

// HeaderAt is the canonical block at number.
func (s *Sim) HeaderAt(number uint64) (Head, error) {
	return s.header(rpc.BlockNumber(number))
}

func (s *Sim) headLocked() (uint64, error) {
	return s.client.BlockNumber(context.Background())
}

// BalanceOf is the USDC balance of addr in micro-USDC.
func (s *Sim) BalanceOf(addr common.Address) (*big.Int, error) {
	var out []any
	if err := s.usdc.Call(&bind.CallOpts{Context: context.Background()}, &out, "balanceOf", addr); err != nil {
		return nil, err
	}
	return out[0].(*big.Int), nil
}

// Close stops the node. Further calls fail.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.backend.Close()
}
