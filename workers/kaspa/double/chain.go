// Package double is a deterministic, thread-safe stand-in for a Kaspa node
// plus the public Kaspa REST API (kaspa-rest-server, the FastAPI service
// behind api.kaspa.org) and a CoinGecko-style price route.
//
// It exists so the watcher and the browser tests can run against a REAL HTTP
// server that reproduces the documented response shapes and quirks (UTXO
// amounts and DAA scores as JSON strings, blockdag counters as strings,
// accepting_* keys absent for unaccepted transactions, 422/400/404/503
// bodies, keyset paging headers, strict query parameters, indexer lag) while
// the test drives the chain: pay an address, advance the DAG, spend or
// re-score UTXOs, inject failures. The upstream behaviour mimicked is that of
// kaspa-ng/kaspa-rest-server c84d28a (FastAPI 0.110, pydantic 1.10) as
// summarised in the project's Kaspa research notes (kaspa.md §1).
//
// The same controls are exposed as JSON under /_double/… so another process
// (the standalone cmd/kaspa-double, a browser test) can drive the chain.
package double

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	kaspaaddr "till/models/kaspa"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultVirtualDaaScore uint64 = 100_000_000
	// DefaultBlueScore deliberately differs from DefaultVirtualDaaScore so a
	// caller that mixes blue score with DAA score gets visibly wrong numbers.
	DefaultBlueScore uint64 = 98_000_000
	DefaultBPS              = 10
	DefaultPrice            = "0.1"
)

// DefaultStartTime is the origin of the simulated clock (used when
// Options.Clock is nil): block time = StartTime + (DAA − start DAA) / BPS.
var DefaultStartTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Default sender ("from") addresses: real, valid addresses of each network
// (taken from the REST server's fixtures), used when a payment names none.
const (
	DefaultSenderMainnet = "kaspa:qpvtxyhfm0x63y97g2ktamen5ngpdmjwpslcf92quu5x5e5ag3uezpj2gt9km"
	DefaultSenderTestnet = "kaspatest:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67"
)

// exampleAddress is the REST server's ADDRESS_EXAMPLE per network; FastAPI
// substitutes it when a body omits "addresses" (a model default).
var exampleAddress = map[string]string{
	"mainnet":    "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73",
	"testnet-10": "kaspatest:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67",
}

// SompiPerKaspa is the number of sompi in one KAS.
const SompiPerKaspa = 100_000_000

// MaxSompi is the consensus cap on any amount (29 billion KAS).
const MaxSompi uint64 = 29_000_000_000 * SompiPerKaspa

// Options configures a Chain. The zero value is a mainnet chain at DAA score
// 100,000,000 with a simulated clock.
type Options struct {
	// Network is "mainnet" (default) or "testnet-10". It selects the address
	// prefix and regex, networkName, and whether /info/price works.
	Network string
	// VirtualDaaScore is the starting virtual DAA score.
	VirtualDaaScore uint64
	// BlueScore is the starting sink blue score.
	BlueScore uint64
	// BPS is blocks per second (10 on mainnet since Crescendo); it scales the
	// simulated clock, AutoAdvance and the REST server's health tolerance.
	BPS int
	// Clock returns "now" for block times and time-based checks. Nil means a
	// deterministic simulated clock that only moves with the DAG:
	// StartTime + (virtual DAA − starting DAA) × 1000/BPS ms.
	Clock func() time.Time
	// StartTime is the simulated clock's origin (DefaultStartTime if zero).
	StartTime time.Time
	// Price is the initial KAS/USD price as decimal text (DefaultPrice if "").
	Price string
}

// FailMode selects how injected failures answer.
type FailMode string

// Failure modes for Fail / InjectFailure.
const (
	// Fail503 answers 503 {"detail":"…"} like an unavailable upstream.
	Fail503 FailMode = "503"
	// Fail500 answers 500 {"message":"Internal server error"}, the REST
	// server's unhandled-exception body.
	Fail500 FailMode = "500"
	// FailTimeout holds the request until its context ends (client timeout
	// or disconnect), the server stops, or Failure.Delay elapses — in the
	// last case the request is then answered normally (a slow server).
	FailTimeout FailMode = "timeout"
	// FailJunk answers 200 application/json with a non-JSON body (an HTML
	// proxy page).
	FailJunk FailMode = "junk"
	// FailTruncated answers 200 with the real JSON body cut in half.
	FailTruncated FailMode = "truncated"
)

// Failure describes one injected failure rule.
type Failure struct {
	// Mode is how the request fails.
	Mode FailMode `json:"mode"`
	// Count is how many matching requests fail; 0 means until cleared.
	Count int `json:"count"`
	// Route limits the failure to one route pattern as reported by Calls()
	// (e.g. "POST /addresses/utxos"); "" means every REST route except the
	// CoinGecko route, which fails separately (SetCoinGeckoFail).
	Route string `json:"route,omitempty"`
	// Delay applies to FailTimeout only: hold this long, then answer
	// normally. Zero holds until the request context ends.
	Delay time.Duration `json:"-"`
}

// Output is one payment output of a transaction built by the double.
type Output struct {
	// Address receives the output (any valid address; it is re-encoded with
	// the chain's prefix).
	Address string `json:"address"`
	// Sompi is the amount; must be 1 … MaxSompi.
	Sompi int64 `json:"sompi"`
}

// TxSpec describes a transaction for Submit; Pay and PayMany are shorthands.
type TxSpec struct {
	// From is the sender (the single input's previous-outpoint address);
	// "" means the network's default sender.
	From string
	// Outputs are the payments, in output-index order.
	Outputs []Output
	// Change, when > 0, appends a change output back to From.
	Change int64
	// Coinbase makes a coinbase transaction: coinbase subnetwork id, no
	// inputs, UTXOs flagged isCoinbase.
	Coinbase bool
	// Rejected records the transaction as merged but not accepted
	// (is_accepted=false, no accepting_* data) and creates no UTXOs.
	Rejected bool
	// SameBlock puts the transaction in the same block as the previous one
	// (same block hash, block_time and DAA score) and does not advance the
	// DAG — how several transactions end up sharing one block_time.
	SameBlock bool
}

// UTXO is the double's view of one unspent output (GET /_double/state).
type UTXO struct {
	Address       string `json:"address"`
	TransactionID string `json:"transactionId"`
	Index         uint32 `json:"index"`
	Amount        uint64 `json:"amount"`
	BlockDaaScore uint64 `json:"blockDaaScore"`
	IsCoinbase    bool   `json:"isCoinbase"`
}

// State is a snapshot of the chain for tests and GET /_double/state.
type State struct {
	Network         string    `json:"network"`
	VirtualDaaScore uint64    `json:"virtualDaaScore"`
	BlueScore       uint64    `json:"blueScore"`
	BlockTime       int64     `json:"blockTime"`
	Price           string    `json:"price"`
	IndexerLag      bool      `json:"indexerLag"`
	Frozen          bool      `json:"frozen"`
	CoinGeckoFail   bool      `json:"coingeckoFail"`
	Transactions    int       `json:"transactions"`
	Failures        []Failure `json:"failures"`
	UTXOs           []UTXO    `json:"utxos"`
}

type outpoint struct {
	txid  string
	index uint32
}

type utxo struct {
	seq      uint64
	address  string
	script   []byte
	amount   uint64
	daa      uint64
	coinbase bool
}

type txIn struct {
	prevHash   string
	prevIndex  uint32
	address    string
	script     []byte
	amount     uint64
	sigScript  string
	sigOpCount int
}

type txOut struct {
	amount  uint64
	script  []byte
	address string
	typ     string
}

type tx struct {
	seq                int
	id                 string
	hash               string
	subnetwork         string
	mass               uint64
	blockHash          string
	blockTime          int64
	daa                uint64
	accepted           bool
	acceptingHash      string
	acceptingBlueScore uint64
	acceptingTime      int64
	inputs             []txIn
	outputs            []txOut
	indexed            bool
	// acceptLag marks an acceptance (Accept) made while the indexer lagged:
	// the indexer does not know of it until the lag ends, so GET
	// /virtual-chain leaves the transaction out.
	acceptLag bool
	addresses []string // addresses touched (outputs, then input), deduplicated
}

// chainBlock is the chain block at one blue score as GET /virtual-chain
// reports it: the DAA score and time recorded when the first transaction
// was accepted there, and the transactions it accepts, in acceptance order.
type chainBlock struct {
	daa  uint64
	time int64
	txs  []*tx
}

type failRule struct {
	Failure
	remaining int // <0 = unlimited
}

// Chain is the simulated node + REST server state. All methods are safe for
// concurrent use.
type Chain struct {
	mu sync.Mutex

	network     string
	prefix      string
	bps         int
	clock       func() time.Time
	startTime   time.Time
	startDaa    uint64
	defaultFrom string

	daa       uint64
	blueScore uint64
	txCounter int
	utxoSeq   uint64

	utxos  map[outpoint]*utxo
	txs    map[string]*tx
	txList []*tx
	byAddr map[string][]*tx
	last   *tx // most recent transaction (for SameBlock)
	// chain indexes accepted transactions by accepting blue score, so a
	// /virtual-chain window costs its blue scores and transactions, not a
	// scan of every transaction ever submitted.
	chain map[uint64]*chainBlock

	price         string
	coingeckoFail bool

	frozen bool

	lag          bool
	lagBlueScore uint64
	lagTime      int64

	failures []*failRule
	calls    map[string]int
	inFlight map[string]int   // requests being served, per route
	peak     map[string]int   // most in flight at once since ResetCalls
	holds    map[string]*hold // HoldUntilInFlight

	closed    chan struct{}
	closeOnce sync.Once
}

// New builds a chain. It panics on an unknown network or an invalid price,
// which are programming errors in a test.
func New(opts Options) *Chain {
	network := opts.Network
	if network == "" {
		network = string(kaspaaddr.Mainnet)
	}
	n, err := kaspaaddr.ParseNetwork(network)
	if err != nil {
		panic("double: " + err.Error())
	}
	c := &Chain{
		network:   network,
		prefix:    n.Prefix(),
		bps:       opts.BPS,
		clock:     opts.Clock,
		startTime: opts.StartTime,
		daa:       opts.VirtualDaaScore,
		blueScore: opts.BlueScore,
		price:     DefaultPrice,
		utxos:     map[outpoint]*utxo{},
		txs:       map[string]*tx{},
		byAddr:    map[string][]*tx{},
		chain:     map[uint64]*chainBlock{},
		calls:     map[string]int{},
		inFlight:  map[string]int{},
		peak:      map[string]int{},
		holds:     map[string]*hold{},
		closed:    make(chan struct{}),
	}
	if c.bps <= 0 {
		c.bps = DefaultBPS
	}
	if c.startTime.IsZero() {
		c.startTime = DefaultStartTime
	}
	if c.daa == 0 {
		c.daa = DefaultVirtualDaaScore
	}
	if c.blueScore == 0 {
		c.blueScore = DefaultBlueScore
	}
	c.startDaa = c.daa
	c.defaultFrom = DefaultSenderMainnet
	if n == kaspaaddr.Testnet10 {
		c.defaultFrom = DefaultSenderTestnet
	}
	if opts.Price != "" {
		if err := c.SetPrice(opts.Price); err != nil {
			panic("double: " + err.Error())
		}
	}
	return c
}

// Network returns "mainnet" or "testnet-10".
func (c *Chain) Network() string { return c.network }

// Prefix returns the chain's address prefix ("kaspa" or "kaspatest").
func (c *Chain) Prefix() string { return c.prefix }

// DefaultSender returns the address used as sender when none is given.
func (c *Chain) DefaultSender() string { return c.defaultFrom }

// AddressFor returns a deterministic, valid Schnorr (version 0) address of
// the chain's network derived from label, so tests and examples can mint as
// many distinct addresses as they need without a key.
func (c *Chain) AddressFor(label string) string {
	sum := sha256.Sum256([]byte("till/kaspa-double/address/" + label))
	s, err := kaspaaddr.EncodeAddress(c.prefix, kaspaaddr.VersionPubKey, sum[:])
	if err != nil {
		panic("double: " + err.Error())
	}
	return s
}

// now returns the current time in ms per the configured or simulated clock.
// Callers hold c.mu.
func (c *Chain) nowMs() int64 {
	if c.clock != nil {
		return c.clock().UnixMilli()
	}
	return c.startTime.UnixMilli() + int64(c.daa-c.startDaa)*1000/int64(c.bps)
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte("till/kaspa-double/" + strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

// blockHashAt is the deterministic hash of the (chain) block at a DAA score.
func (c *Chain) blockHashAt(daa uint64) string {
	return hash(c.network, "block", strconv.FormatUint(daa, 10))
}

// chainHashAt is the deterministic hash of the chain block at a blue score.
func (c *Chain) chainHashAt(blue uint64) string {
	return hash(c.network, "chain", strconv.FormatUint(blue, 10))
}

// resolve decodes an address of any network and re-encodes its payload
// with the chain's prefix (the node works on scripts, not strings).
func (c *Chain) resolve(s string) (addr string, script []byte, err error) {
	a, err := kaspaaddr.DecodeAddress(s)
	if err != nil {
		return "", nil, err
	}
	a.Prefix = c.prefix
	return a.String(), a.ScriptPublicKey(), nil
}

// Pay sends sompi to address to in a new one-output transaction from from
// ("" = default sender), accepted at the current virtual DAA score, and then
// advances the DAG by one block. It returns the transaction id and panics on
// invalid input (use Submit to get an error instead).
func (c *Chain) Pay(to string, sompi int64, from string) string {
	return c.PayMany(from, Output{Address: to, Sompi: sompi})
}

// PayMany is Pay with several outputs in one transaction.
func (c *Chain) PayMany(from string, outs ...Output) string {
	id, err := c.Submit(TxSpec{From: from, Outputs: outs})
	if err != nil {
		panic("double: " + err.Error())
	}
	return id
}

// Submit records a transaction described by spec and returns its id. An
// accepted transaction creates one UTXO per output with blockDaaScore = the
// current virtual DAA score, and (unless SameBlock) advances the DAG by one.
func (c *Chain) Submit(spec TxSpec) (string, error) {
	if len(spec.Outputs) == 0 && spec.Change <= 0 {
		return "", errors.New("transaction needs at least one output")
	}
	from := spec.From
	if from == "" {
		from = c.defaultFrom
	}
	fromAddr, fromScript, err := c.resolve(from)
	if err != nil {
		return "", fmt.Errorf("sender: %w", err)
	}
	outs := spec.Outputs
	if spec.Change > 0 {
		outs = append(append([]Output(nil), outs...), Output{Address: from, Sompi: spec.Change})
	}
	var total uint64
	built := make([]txOut, 0, len(outs))
	for i, o := range outs {
		addr, script, err := c.resolve(o.Address)
		if err != nil {
			return "", fmt.Errorf("output %d: %w", i, err)
		}
		if o.Sompi <= 0 || uint64(o.Sompi) > MaxSompi {
			return "", fmt.Errorf("output %d: amount %d sompi out of range 1…%d", i, o.Sompi, MaxSompi)
		}
		a, _ := kaspaaddr.DecodeAddress(addr)
		total += uint64(o.Sompi)
		if total > MaxSompi {
			return "", errors.New("total amount exceeds the maximum supply")
		}
		built = append(built, txOut{amount: uint64(o.Sompi), script: script, address: addr, typ: a.Version.String()})
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.txCounter++
	t := &tx{
		seq:        c.txCounter,
		id:         hash(c.network, "tx", strconv.Itoa(c.txCounter)),
		subnetwork: "0000000000000000000000000000000000000000",
		outputs:    built,
		indexed:    !c.lag,
		accepted:   !spec.Rejected,
	}
	t.hash = hash(c.network, "txhash", t.id)
	if spec.SameBlock && c.last != nil {
		t.blockHash, t.blockTime, t.daa = c.last.blockHash, c.last.blockTime, c.last.daa
	} else {
		t.blockHash, t.blockTime, t.daa = c.blockHashAt(c.daa), c.nowMs(), c.daa
	}
	if spec.Coinbase {
		t.subnetwork = "0100000000000000000000000000000000000000"
		t.mass = 0
	} else {
		fee := uint64(2036 + 1000*len(built))
		t.inputs = []txIn{{
			prevHash:   hash(c.network, "funding", t.id),
			prevIndex:  0,
			address:    fromAddr,
			script:     fromScript,
			amount:     total + fee,
			sigScript:  "41" + hash(c.network, "sig", t.id) + hash(c.network, "sig2", t.id) + "01",
			sigOpCount: 1,
		}}
		t.mass = fee
	}
	// Accepted in the chain block at the current blue score; the DAG then
	// moves one block so the payment has exactly one confirmation.
	if t.accepted {
		if spec.SameBlock && c.last != nil && c.last.accepted {
			t.acceptingHash, t.acceptingBlueScore, t.acceptingTime = c.last.acceptingHash, c.last.acceptingBlueScore, c.last.acceptingTime
		} else {
			t.acceptingHash, t.acceptingBlueScore = c.chainHashAt(c.blueScore), c.blueScore
		}
		for i, o := range built {
			c.utxoSeq++
			c.utxos[outpoint{t.id, uint32(i)}] = &utxo{
				seq: c.utxoSeq, address: o.address, script: o.script, amount: o.amount,
				daa: t.daa, coinbase: spec.Coinbase,
			}
		}
	}
	if !(spec.SameBlock && c.last != nil) {
		c.advanceLocked(1)
	}
	if t.accepted {
		if t.acceptingTime == 0 {
			t.acceptingTime = c.nowMs()
		}
		c.chainAddLocked(t, t.daa)
	}
	seen := map[string]bool{}
	for _, o := range built {
		if !seen[o.address] {
			seen[o.address] = true
			t.addresses = append(t.addresses, o.address)
		}
	}
	for _, in := range t.inputs {
		if !seen[in.address] {
			seen[in.address] = true
			t.addresses = append(t.addresses, in.address)
		}
	}
	c.txs[t.id] = t
	c.txList = append(c.txList, t)
	for _, a := range t.addresses {
		c.byAddr[a] = append(c.byAddr[a], t)
	}
	c.last = t
	return t.id, nil
}

// Advance moves the virtual DAA score and the sink blue score forward by n
// blocks (and the simulated clock by n/BPS seconds).
func (c *Chain) Advance(n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(n)
}

func (c *Chain) advanceLocked(n uint64) {
	if c.frozen {
		return
	}
	c.daa += n
	c.blueScore += n
}

// Freeze stops (on) or restarts (off) the DAG: while frozen, the virtual
// DAA score and blue score do not move — not with Advance, AutoAdvance, nor
// the block Pay normally adds — so a payment lands in a block whose DAA
// score equals the virtual score a watcher observed just before.
func (c *Chain) Freeze(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = on
}

// VirtualDaaScore returns the current virtual DAA score.
func (c *Chain) VirtualDaaScore() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.daa
}

// BlueScore returns the current sink blue score.
func (c *Chain) BlueScore() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blueScore
}

// Spend removes one UTXO, as if the merchant had spent it; the transaction
// that created it stays in history. It reports whether the UTXO existed.
func (c *Chain) Spend(txid string, index uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := outpoint{txid, index}
	_, ok := c.utxos[op]
	delete(c.utxos, op)
	return ok
}

// SpendAll removes every UTXO of address and returns how many were removed.
func (c *Chain) SpendAll(address string) int {
	addr, _, err := c.resolve(address)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for op, u := range c.utxos {
		if u.address == addr {
			delete(c.utxos, op)
			n++
		}
	}
	return n
}

// SetDaaScore changes a UTXO's blockDaaScore, as a chain reorg that moves
// the accepting block does (the utxoindex re-adds the entry with the new
// score). Transaction history is not touched: GET /virtual-chain keeps the
// transaction at its accepting blue score and block DAA score. It reports
// whether the UTXO exists.
func (c *Chain) SetDaaScore(txid string, index uint32, score uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.utxos[outpoint{txid, index}]
	if ok {
		u.daa = score
	}
	return ok
}

// Reject turns a transaction into a merged-but-rejected one (a double spend
// lost in a reorg): is_accepted=false, accepting_* data dropped, its UTXOs
// removed. It reports whether the transaction exists.
func (c *Chain) Reject(txid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txs[txid]
	if !ok {
		return false
	}
	if t.accepted {
		c.chainRemoveLocked(t)
	}
	t.accepted, t.acceptLag = false, false
	t.acceptingHash, t.acceptingBlueScore, t.acceptingTime = "", 0, 0
	for i := range t.outputs {
		delete(c.utxos, outpoint{txid, uint32(i)})
	}
	return true
}

// Accept undoes Reject, as a reorg back to a chain that accepts the
// transaction: is_accepted=true, accepted in the chain block at the current
// blue score, and its outputs back in the UTXO set at the current virtual
// DAA score. It reports whether the transaction exists and was rejected.
func (c *Chain) Accept(txid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txs[txid]
	if !ok || t.accepted {
		return false
	}
	t.accepted, t.acceptLag = true, c.lag
	t.acceptingHash, t.acceptingBlueScore, t.acceptingTime = c.chainHashAt(c.blueScore), c.blueScore, c.nowMs()
	c.chainAddLocked(t, c.daa)
	coinbase := t.subnetwork != "0000000000000000000000000000000000000000"
	for i, o := range t.outputs {
		c.utxoSeq++
		c.utxos[outpoint{t.id, uint32(i)}] = &utxo{
			seq: c.utxoSeq, address: o.address, script: o.script, amount: o.amount,
			daa: c.daa, coinbase: coinbase,
		}
	}
	return true
}

// SetIndexerLag switches indexer lag. While on, transactions created are
// unknown to the history endpoints (/transactions/{id} → 404, absent from
// search, full-transactions*, transactions-count, acceptance) while the
// node endpoints (utxos, balances, blockdag, blue score) see them at once;
// /info/health reports the database falling behind. GET /virtual-chain
// also leaves out transactions re-accepted (Accept) during the lag. Turning
// it off lets the indexer catch up: every transaction becomes visible.
func (c *Chain) SetIndexerLag(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on && !c.lag {
		c.lagBlueScore, c.lagTime = c.blueScore, c.nowMs()
	}
	if !on {
		for _, t := range c.txList {
			t.indexed, t.acceptLag = true, false
		}
	}
	c.lag = on
}

// chainAddLocked records accepted t in the chain block at its accepting
// blue score; daa is the DAA score its UTXOs got. The first acceptance at a
// blue score fixes the block's DAA score and time, and later ones share
// them (one block has one time). Callers hold c.mu.
func (c *Chain) chainAddLocked(t *tx, daa uint64) {
	b := c.chain[t.acceptingBlueScore]
	if b == nil {
		b = &chainBlock{daa: daa, time: t.acceptingTime}
		c.chain[t.acceptingBlueScore] = b
	}
	t.acceptingTime = b.time
	b.txs = append(b.txs, t)
}

// chainRemoveLocked takes accepted t out of its chain block (Reject).
// Callers hold c.mu.
func (c *Chain) chainRemoveLocked(t *tx) {
	b := c.chain[t.acceptingBlueScore]
	if b == nil {
		return
	}
	for i, x := range b.txs {
		if x == t {
			b.txs = append(b.txs[:i:i], b.txs[i+1:]...)
			return
		}
	}
}

// SetPrice sets the KAS/USD price served by /info/price and the CoinGecko
// route. s must be a non-negative decimal ("0.1234").
func (c *Chain) SetPrice(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP_") {
		return fmt.Errorf("invalid price %q: want a non-negative decimal", s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.price = pyFloat(f)
	return nil
}

// Price returns the current price as it is served (Python float repr).
func (c *Chain) Price() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.price
}

// SetCoinGeckoFail makes the CoinGecko route answer 429 (CoinGecko's rate
// limit response) until switched off or Clear is called. It is independent
// of Fail, which never touches the CoinGecko route unless it names it.
func (c *Chain) SetCoinGeckoFail(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.coingeckoFail = on
}

// Fail makes the next n REST requests (0 = all until Clear) fail with mode.
func (c *Chain) Fail(mode FailMode, n int) {
	if err := c.InjectFailure(Failure{Mode: mode, Count: n}); err != nil {
		panic("double: " + err.Error())
	}
}

// InjectFailure adds a failure rule; rules are consulted in the order added
// and the first one matching a request (and not used up) applies.
func (c *Chain) InjectFailure(f Failure) error {
	switch f.Mode {
	case Fail503, Fail500, FailTimeout, FailJunk, FailTruncated:
	default:
		return fmt.Errorf("unknown failure mode %q (want 503, 500, timeout, junk or truncated)", f.Mode)
	}
	if f.Count < 0 || f.Delay < 0 {
		return errors.New("count and delay must not be negative")
	}
	r := &failRule{Failure: f, remaining: f.Count}
	if f.Count == 0 {
		r.remaining = -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, r)
	return nil
}

// Clear removes every injected failure, including the CoinGecko one.
func (c *Chain) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = nil
	c.coingeckoFail = false
}

// takeFailure returns the failure that applies to a request on route, if
// any, consuming one use. Callers hold c.mu.
func (c *Chain) takeFailureLocked(route string) (Failure, bool) {
	for i, r := range c.failures {
		if r.Route == "" && route == routeCoinGecko {
			continue
		}
		if r.Route != "" && r.Route != route {
			continue
		}
		if r.remaining > 0 {
			r.remaining--
			if r.remaining == 0 {
				c.failures = append(c.failures[:i:i], c.failures[i+1:]...)
			}
		}
		return r.Failure, true
	}
	return Failure{}, false
}

// Calls returns how many requests each REST route received, keyed by route
// pattern ("POST /addresses/utxos", "GET /transactions/{transaction_id}").
// Control calls under /_double/ and unknown paths are not counted; failed
// (injected) requests are.
func (c *Chain) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the call counters and the in-flight peaks.
func (c *Chain) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
	c.peak = map[string]int{}
}

// PeakInFlight returns, per route pattern, the most requests the double
// was serving at once since the last ResetCalls: whether a client runs its
// requests concurrently.
func (c *Chain) PeakInFlight() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.peak)
}

// hold keeps a route's requests waiting until n are in flight together.
type hold struct {
	n       int
	timeout time.Duration
	release chan struct{}
	once    sync.Once
}

// HoldUntilInFlight makes each request to route wait, before it is
// served, until n requests to route are in flight at once or timeout has
// passed since it arrived (so a client that sends one at a time is only
// slowed, never stuck). PeakInFlight then tells which happened. The hold
// is released for good once n have met; install a new one to hold again.
func (c *Chain) HoldUntilInFlight(route string, n int, timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holds[route] = &hold{n: n, timeout: timeout, release: make(chan struct{})}
}

// enter counts a request to pattern in flight and returns the function
// that counts it out, after waiting on the route's hold if one is set.
func (c *Chain) enter(r *http.Request, pattern string) (leave func()) {
	c.mu.Lock()
	c.inFlight[pattern]++
	c.peak[pattern] = max(c.peak[pattern], c.inFlight[pattern])
	h := c.holds[pattern]
	if h != nil && c.inFlight[pattern] >= h.n {
		h.once.Do(func() { close(h.release) })
	}
	c.mu.Unlock()
	leave = func() {
		c.mu.Lock()
		c.inFlight[pattern]--
		c.mu.Unlock()
	}
	if h != nil {
		t := time.NewTimer(h.timeout)
		defer t.Stop()
		select {
		case <-h.release:
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	return leave
}

// AutoAdvance advances the DAG in the background every interval by
// interval×BPS blocks (at least 1), i.e. at the real block rate, until the
// returned stop function or Close is called.
func (c *Chain) AutoAdvance(interval time.Duration) (stop func()) {
	if interval <= 0 {
		interval = time.Second / time.Duration(c.bps)
	}
	n := uint64(interval * time.Duration(c.bps) / time.Second)
	if n == 0 {
		n = 1
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-c.closed:
				return
			case <-t.C:
				c.Advance(n)
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// Close stops AutoAdvance loops, releases requests held by FailTimeout and
// makes Serve return. The chain's state stays readable.
func (c *Chain) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
}

// State returns a snapshot of the chain: scores, price, flags, pending
// failures and every UTXO in creation order.
func (c *Chain) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{
		Network:         c.network,
		VirtualDaaScore: c.daa,
		BlueScore:       c.blueScore,
		BlockTime:       c.nowMs(),
		Price:           c.price,
		IndexerLag:      c.lag,
		CoinGeckoFail:   c.coingeckoFail,
		Transactions:    len(c.txList),
		Frozen:          c.frozen,
		Failures:        []Failure{},
		UTXOs:           []UTXO{},
	}
	for _, r := range c.failures {
		f := r.Failure
		if r.remaining > 0 {
			f.Count = r.remaining
		}
		s.Failures = append(s.Failures, f)
	}
	for _, e := range c.sortedUTXOsLocked(nil) {
		s.UTXOs = append(s.UTXOs, e.view())
	}
	return s
}

type utxoEntry struct {
	op outpoint
	u  *utxo
}

func (e utxoEntry) view() UTXO {
	return UTXO{Address: e.u.address, TransactionID: e.op.txid, Index: e.op.index,
		Amount: e.u.amount, BlockDaaScore: e.u.daa, IsCoinbase: e.u.coinbase}
}

// sortedUTXOsLocked lists UTXOs (of address when non-nil) in creation order.
func (c *Chain) sortedUTXOsLocked(address *string) []utxoEntry {
	var out []utxoEntry
	for op, u := range c.utxos {
		if address == nil || u.address == *address {
			out = append(out, utxoEntry{op, u})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].u.seq < out[j].u.seq })
	return out
}

// pyFloat formats f the way Python's repr(float) does (what FastAPI emits
// for a float field): shortest round-trip digits, always with a decimal
// point or exponent ("0.1", "1.0", "1e-05", "1e+16").
func pyFloat(f float64) string {
	if f != 0 && (f < 1e-4 || f >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-05 style: Go gives 1e-05
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
