package evm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"till/models"
	chains "till/models/evm"
	"till/workers"
)

// MaxReceiversPerCall is the most receivers one eth_getLogs topic list
// carries.
const MaxReceiversPerCall = 1000

// growAfter is how many successful eth_getLogs calls in a row double a
// range that was halved, up to MaxRange.
const growAfter = 10

// Watcher finds USDC payments on one EVM chain. Each cycle, under the
// chain's leadership lock: eth_blockNumber; the store's receivers, oldest
// session start and unsettled transfers; one JSON-RPC batch of
// eth_getBlockByNumber for the head, the cursor block, the blocks of
// unsettled transfers (and the safe or finalized tag when the chain's
// finality says so), which decides what is still canonical — never the
// mere fact that eth_getLogs answered; then eth_getLogs over the unscanned
// range in block chunks of the current range and receiver chunks of at
// most MaxReceiversPerCall. Calls per cycle: 1 + ⌈blocks/range⌉ ×
// ⌈receivers/1000⌉ + one batch, whatever the number of sessions or
// customer polls (plus one header batch only if a provider's logs lack
// blockTimestamp). Everything goes to Store.ApplyEVMObservation; then the
// receipts of wallet-reported transactions of pending sessions are checked
// (ReceiptChecker; no call when there is none).
type Watcher struct {
	Config chains.ChainConfig
	Client *Client
	Store  *models.Store
	Log    *slog.Logger
	// MaxBackoff caps the wait after repeated failures (default 1 minute).
	MaxBackoff time.Duration
	// Wait waits d or until ctx ends, reporting whether d elapsed: between
	// cycles and for a rate limit's Retry-After (tests inject their own;
	// default a timer).
	Wait func(ctx context.Context, d time.Duration) bool
	// Observer, when set, is told of each cycle and the head it read
	// (metrics; the Client reports its own calls).
	Observer workers.ChainObserver

	mu        sync.Mutex
	span      uint64 // current eth_getLogs block range
	successes int
	receipts  *ReceiptChecker // wallet-reported transactions, once per cycle
	// index holds the watched sessions between cycles (models.OpenIndex);
	// rereads reads it in full now and then, after a cycle's write.
	index   *models.OpenIndex
	rereads *workers.Rereads
}

// Name identifies the worker in logs.
func (w *Watcher) Name() string { return "evm-watcher-" + w.Config.Name }

func (w *Watcher) maxRange() uint64 {
	if w.Config.MaxRange == 0 {
		return chains.DefaultMaxRange
	}
	return w.Config.MaxRange
}

// Range is the current eth_getLogs block range (it adapts to the provider).
func (w *Watcher) Range() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.span == 0 {
		w.span = w.maxRange()
	}
	return w.span
}

// Run polls every PollInterval until ctx ends, through workers.Loop under
// models.WatcherLockKey(chain): on Postgres one process per chain scans.
// Failures back off exponentially; a rate-limit answer's Retry-After is
// waited out first. Sessions stay as they are while the chain is not
// observed (expiry runs on the last scanned block's time).
func (w *Watcher) Run(ctx context.Context) error {
	if w.Log == nil {
		w.Log = slog.Default()
	}
	interval := w.Config.PollInterval
	if interval <= 0 {
		interval = w.Config.DefaultPollInterval()
	}
	wait := w.Wait
	if wait == nil {
		wait = workers.Sleep
	}
	loop := &workers.Loop{Wait: wait, Name: "evm watcher " + w.Config.Name, DB: w.Store.DB(), LockKey: models.WatcherLockKey(w.Config.Name),
		Interval: interval, MaxBackoff: w.MaxBackoff, Timeout: 5 * time.Minute, Log: w.Log,
		Cycle: func(ctx context.Context) error {
			res, err := w.Cycle(ctx)
			var e *Error
			if errors.As(err, &e) && e.Kind == KindRateLimited && e.RetryAfter > 0 {
				wait(ctx, min(e.RetryAfter, 10*time.Minute)) // then the loop's back-off
			}
			if err == nil && (res.Recorded > 0 || res.Orphaned > 0 || res.Confirmed > 0) {
				w.Log.Info("evm watcher "+w.Config.Name, slog.Int("recorded", res.Recorded), slog.Int("matched", res.Matched),
					slog.Int("orphaned", res.Orphaned), slog.Int("confirmed", res.Confirmed))
			}
			return err
		}}
	return loop.Run(ctx)
}

// Cycle runs one observation of the chain and applies it, then checks the
// receipts of wallet-reported transactions (a reverted one fails its
// session on the checkout; no calls when none is waiting).
func (w *Watcher) Cycle(ctx context.Context) (res models.EVMApplyResult, err error) {
	if w.Observer != nil {
		start := time.Now()
		defer func() { w.Observer.WatcherCycle(w.Config.Name, time.Since(start), err) }()
	}
	res, err = w.observe(ctx)
	if err != nil {
		return res, err
	}
	workers.MarkRecorded(ctx)
	// The index's periodic full read, off the path from query to write.
	if err := w.rereads.AfterWrite(ctx, w.Store); err != nil {
		log := w.Log
		if log == nil {
			log = slog.Default()
		}
		log.Warn("evm watcher "+w.Config.Name+": reading the watched sessions", slog.Any("error", err))
	}
	if w.receipts == nil {
		w.receipts = &ReceiptChecker{Store: w.Store, Client: w.Client, Chain: w.Config.Name}
	}
	if _, err := w.receipts.Cycle(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// observe is the observation half of a cycle: scan and apply.
func (w *Watcher) observe(ctx context.Context) (models.EVMApplyResult, error) {
	var none models.EVMApplyResult
	chain := w.Config.Name
	// The scan ends at the head read here: a transfer mined after it is
	// for the next cycle (the loop plans that cycle from this moment,
	// workers.Loop).
	workers.MarkQueried(ctx)
	head64, err := w.Client.BlockNumber(ctx)
	if err != nil {
		return none, err
	}
	head := int64(head64)
	if w.index == nil {
		w.index = w.Store.NewOpenIndex(chain)
		w.rereads = workers.NewRereads(w.index, w.Store.Now())
	}
	st, err := w.Store.EVMWatchStateFrom(ctx, chain, w.index)
	if err != nil {
		return none, err
	}

	// One batch: head, cursor, unsettled transfers' blocks, finality tag.
	nums := []int64{head}
	if st.HasCursor {
		nums = append(nums, st.Cursor)
	}
	for _, u := range st.Unsettled {
		nums = append(nums, u.BlockNumber)
	}
	nums = dedupe(nums)
	req := make([]rpc.BlockNumber, 0, len(nums)+1)
	for _, n := range nums {
		req = append(req, Height(uint64(n)))
	}
	switch w.Config.Finality {
	case chains.FinalitySafe:
		req = append(req, Safe)
	case chains.FinalityFinalized:
		req = append(req, Finalized)
	}
	blocks, err := w.Client.BlocksByNumber(ctx, req)
	if err != nil {
		return none, err
	}
	canon := map[int64]Block{}
	for i, n := range nums {
		if blocks[i].Found {
			canon[n] = blocks[i].Block
		}
	}
	headBlock, ok := canon[head]
	if !ok {
		return none, fmt.Errorf("evm %s: head block %d not served yet", chain, head)
	}
	if w.Observer != nil {
		lag := int64(0) // first scan: starts at the head
		if st.HasCursor {
			lag = max(head-st.Cursor, 0)
		}
		w.Observer.ChainHead(chain, lag, time.Unix(int64(headBlock.Time), 0))
	}
	obs := models.EVMObservation{Chain: chain, ChainID: int64(w.Config.ChainID), Head: head}
	if w.Config.Finality == chains.FinalitySafe || w.Config.Finality == chains.FinalityFinalized {
		f := int64(-1) // no final block yet: nothing is final
		if r := blocks[len(nums)]; r.Found {
			f = int64(r.Block.Number)
		}
		obs.Final = &f
	}

	// What is no longer canonical, and where scanning resumes.
	from := head - models.EVMReorgWindow + 1 // first scan: the last reorg window
	if st.HasCursor {
		from = st.Cursor + 1
		if b, ok := canon[st.Cursor]; !ok || !strings.EqualFold(b.Hash.Hex(), st.CursorHash) {
			from = st.Cursor - models.EVMReorgWindow + 1
		}
	}
	for _, u := range st.Unsettled {
		if b, ok := canon[u.BlockNumber]; !ok || !strings.EqualFold(b.Hash.Hex(), u.BlockHash) {
			obs.Orphaned = append(obs.Orphaned, u)
			from = min(from, u.BlockNumber)
		}
	}
	if len(st.Receivers) > 0 {
		from = max(from, st.OldestStart+1)
	}
	from = max(from, 1)

	if len(st.Receivers) > 0 && from <= head {
		logs, err := w.scan(ctx, uint64(from), uint64(head), st.Receivers)
		if err != nil {
			return none, err
		}
		if obs.Transfers, err = w.transfers(ctx, logs); err != nil {
			return none, err
		}
	}
	if from <= head || !st.HasCursor || head >= st.Cursor {
		obs.Cursor, obs.CursorHash, obs.CursorTime = head, headBlock.Hash.Hex(), time.Unix(int64(headBlock.Time), 0)
	} else if b, ok := canon[st.Cursor]; ok {
		// The provider is behind our cursor: keep it.
		obs.Cursor, obs.CursorHash, obs.CursorTime = st.Cursor, b.Hash.Hex(), time.Unix(int64(b.Time), 0)
	}
	obs.CursorHash = strings.ToLower(obs.CursorHash)
	return w.Store.ApplyEVMObservation(ctx, obs)
}

// scan reads the Transfer logs to receivers over [from, to] in chunks,
// adapting the block range to the provider.
func (w *Watcher) scan(ctx context.Context, from, to uint64, receivers []string) ([]types.Log, error) {
	addrs := make([]common.Address, len(receivers))
	for i, r := range receivers {
		addrs[i] = common.HexToAddress(r)
	}
	token := common.Address(w.Config.USDC)
	var out []types.Log
	for a := from; a <= to; {
		span := w.Range()
		b := min(a+span-1, to)
		var chunk []types.Log
		tooLarge := false
		for i := 0; i < len(addrs); i += MaxReceiversPerCall {
			logs, err := w.Client.FilterLogs(ctx, LogFilter{From: a, To: b, Token: token, Receivers: addrs[i:min(i+MaxReceiversPerCall, len(addrs))]})
			if errors.Is(err, ErrTooLarge) && b > a {
				w.shrink(b - a + 1)
				tooLarge = true
				break
			}
			if err != nil {
				return nil, err
			}
			w.succeeded()
			chunk = append(chunk, logs...)
		}
		if tooLarge {
			continue // the same start with the smaller range
		}
		out = append(out, chunk...)
		a = b + 1
	}
	return out, nil
}

// shrink halves the range after a "too large" answer for a chunk of n blocks.
func (w *Watcher) shrink(n uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.span = max(n/2, 1)
	w.successes = 0
}

// succeeded counts a successful call; growAfter of them double the range.
func (w *Watcher) succeeded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.span == 0 {
		w.span = w.maxRange()
	}
	if w.span >= w.maxRange() {
		return
	}
	w.successes++
	if w.successes >= growAfter {
		w.span = min(w.span*2, w.maxRange())
		w.successes = 0
	}
}

// transfers keeps the USDC Transfer logs (3 topics, 32 bytes of data, from
// the configured contract, not removed) and turns them into transfers.
func (w *Watcher) transfers(ctx context.Context, logs []types.Log) ([]models.EVMTransfer, error) {
	token := common.Address(w.Config.USDC)
	var kept []types.Log
	missingTime := map[uint64]bool{}
	for _, l := range logs {
		if len(l.Topics) != 3 || len(l.Data) != 32 || l.Address != token || l.Removed || l.Topics[0] != TransferTopic {
			continue
		}
		kept = append(kept, l)
		if l.BlockTimestamp == 0 {
			missingTime[l.BlockNumber] = true
		}
	}
	times := map[uint64]uint64{}
	if len(missingTime) > 0 {
		// Providers that do not send blockTimestamp: one more batch.
		var req []rpc.BlockNumber
		for n := range missingTime {
			req = append(req, Height(n))
		}
		res, err := w.Client.BlocksByNumber(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if r.Found {
				times[r.Block.Number] = r.Block.Time
			}
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].BlockNumber != kept[j].BlockNumber {
			return kept[i].BlockNumber < kept[j].BlockNumber
		}
		return kept[i].Index < kept[j].Index
	})
	out := make([]models.EVMTransfer, 0, len(kept))
	for _, l := range kept {
		ts := l.BlockTimestamp
		if ts == 0 {
			ts = times[l.BlockNumber]
		}
		units, ok := chains.UnitsFromWord(l.Data)
		out = append(out, models.EVMTransfer{Chain: w.Config.Name, TxHash: strings.ToLower(l.TxHash.Hex()), LogIndex: int64(l.Index),
			BlockNumber: int64(l.BlockNumber), BlockHash: strings.ToLower(l.BlockHash.Hex()), BlockTime: time.Unix(int64(ts), 0).UTC(),
			Token: strings.ToLower(l.Address.Hex()), From: strings.ToLower(common.BytesToAddress(l.Topics[1].Bytes()).Hex()),
			To: strings.ToLower(common.BytesToAddress(l.Topics[2].Bytes()).Hex()), Amount: units, Unconvertible: !ok})
	}
	return out, nil
}

func dedupe(ns []int64) []int64 {
	seen := map[int64]bool{}
	out := ns[:0:0]
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
