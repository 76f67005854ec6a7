package kaspa

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"till/models"
	"till/workers"
)

// Watcher finds payments on the Kaspa chain. Each cycle it makes one
// /info/blockdag call and one POST /addresses/utxos per body of up to
// the server's body cap of watched addresses (Client.UTXOBatches: about
// 2,600 addresses; up to utxoBatchesInFlight of them at once), whatever the
// number of customer polls. Past followMinBodies bodies, with Follow, it
// reads what the chain accepted instead (follow.go) and polls only the addresses it must,
// so its calls stop growing with the sessions open. Then it makes a
// bounded number of transaction lookups that check credits of unconfirmed payments missing from the UTXO answer (spent,
// or taken back by the chain), a bounded number for sender details and,
// every few cycles, a bounded history read that finds coins the merchant
// spent before the UTXO poll saw them. Everything it learns goes
// through the domain (models.Store), the same functions the HTTP side uses.
type Watcher struct {
	Client   *Client
	Store    *models.Store
	Interval time.Duration
	Log      *slog.Logger
	// DetailsPerCycle bounds GET /transactions/{id} lookups per cycle.
	DetailsPerCycle int
	// VerifyPerCycle bounds the GET /transactions/{id} lookups per cycle
	// that check credits of unconfirmed payments missing from the UTXO
	// answer (and reversed credits that may come back).
	VerifyPerCycle int
	// ReconcileEvery runs the history read every n cycles (0: never).
	ReconcileEvery int
	// ReconcilePerCycle bounds the addresses read in one reconciliation.
	ReconcilePerCycle int
	// MaxBackoff caps the wait after repeated failures.
	MaxBackoff time.Duration
	// Observer, when set, is told of each cycle and the head it read
	// (metrics; the Client reports its own calls).
	Observer workers.ChainObserver
	// Follow reads the virtual chain's accepted transactions each cycle
	// (GET /virtual-chain) and, once the watched addresses take more than
	// one UTXO request, polls only those it must (follow.go). Off: every
	// watched address is polled every cycle.
	Follow bool

	// index holds the watched sessions between cycles (models.OpenIndex);
	// rereads reads it in full now and then, after a cycle's write.
	index           *models.OpenIndex
	rereads         *workers.Rereads
	cycle           int
	reconcileOffset int
	verifyOffset    int
	reversedOffset  int
	follow          follower
	sweep           int
}

// Name identifies the worker in logs.
func (w *Watcher) Name() string { return "kaspa-watcher" }

func (w *Watcher) defaults() {
	if w.Interval <= 0 {
		w.Interval = 2 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.DetailsPerCycle == 0 {
		w.DetailsPerCycle = 20
	}
	if w.VerifyPerCycle == 0 {
		w.VerifyPerCycle = 20
	}
	if w.ReconcilePerCycle == 0 {
		w.ReconcilePerCycle = 10
	}
	if w.MaxBackoff == 0 {
		w.MaxBackoff = time.Minute
	}
	w.follow.client, w.follow.log = w.Client, w.Log
}

// Run polls every Interval until ctx ends. On Postgres only the process
// holding the watcher lock polls; the others wait to take over. Failures
// (503, timeouts, junk) are logged and retried with exponential back-off;
// sessions stay as they are meanwhile.
func (w *Watcher) Run(ctx context.Context) error {
	w.defaults()
	loop := &workers.Loop{Name: "kaspa watcher", DB: w.Store.DB(), LockKey: models.WatcherLockKey(models.ChainKaspa),
		Interval: w.Interval, MaxBackoff: w.MaxBackoff, Timeout: 2 * time.Minute, Log: w.Log,
		Cycle: func(ctx context.Context) error {
			res, err := w.Cycle(ctx)
			if err == nil && (res.NewTransfers > 0 || res.Confirmed > 0 || res.Reversed > 0 || res.Recredited > 0) {
				w.Log.Info("kaspa watcher: cycle", slog.Int("new_transfers", res.NewTransfers),
					slog.Int("matched", res.Matched), slog.Int("confirmed", res.Confirmed),
					slog.Int("reversed", res.Reversed), slog.Int("recredited", res.Recredited))
			}
			return err
		}}
	return loop.Run(ctx)
}

// Cycle runs one watch cycle.
func (w *Watcher) Cycle(ctx context.Context) (res models.KaspaApplyResult, err error) {
	if w.Observer != nil {
		start := time.Now()
		defer func() { w.Observer.WatcherCycle(models.ChainKaspa, time.Since(start), err) }()
	}
	w.defaults()
	w.cycle++
	dag, err := w.Client.BlockDAG(ctx)
	if err != nil {
		return models.KaspaApplyResult{}, err
	}
	if w.Observer != nil && dag.PastMedianTime > 0 {
		// The UTXO set is read at the head: no blocks are left behind, so
		// only the head's age (its past median time) is measured.
		w.Observer.ChainHead(models.ChainKaspa, -1, time.UnixMilli(int64(dag.PastMedianTime)))
	}
	if w.index == nil {
		w.index = w.Store.NewOpenIndex(models.ChainKaspa)
		w.rereads = workers.NewRereads(w.index, w.Store.Now())
	}
	watch, err := w.Store.KaspaWatchFrom(ctx, w.index, dag.VirtualDaaScore)
	if err != nil {
		return models.KaspaApplyResult{}, err
	}
	checks, err := w.Store.KaspaCreditsToCheck(ctx, checkLimit)
	if err != nil {
		return models.KaspaApplyResult{}, err
	}
	// A payment is in the UTXO answer if it landed before its batch was
	// read: the first read going out (the follower's, or the first batch)
	// is when this cycle stops seeing new ones (the loop plans the next
	// cycle from it, workers.Loop).
	workers.MarkQueried(ctx)
	addrs, polled, sink, err := w.toPoll(ctx, watch, checks)
	if err != nil {
		return models.KaspaApplyResult{}, err
	}
	obs := models.KaspaObservation{Network: dag.NetworkName, VirtualDaaScore: dag.VirtualDaaScore, SinkBlueScore: sink,
		Watch: watch, Polled: polled}
	seen := map[string]bool{}
	batches, err := w.utxoBatches(ctx, addrs)
	if err != nil {
		return models.KaspaApplyResult{}, err
	}
	for _, utxos := range batches {
		for _, u := range utxos {
			if u.Amount > uint64(1<<62) {
				continue
			}
			obs.Credits = append(obs.Credits, models.KaspaCredit{
				TxID: u.TransactionID, Index: u.Index, Address: u.Address, Amount: int64(u.Amount), BlockDaaScore: u.BlockDaaScore,
				Coinbase: u.IsCoinbase, // the domain never credits it
			})
			seen[outpointKey(u.TransactionID, u.Index)] = true
		}
	}
	reconciled := false
	if w.ReconcileEvery > 0 && w.cycle%w.ReconcileEvery == 0 {
		credits, err := w.reconcile(ctx, seen)
		if err != nil {
			return models.KaspaApplyResult{}, err
		}
		obs.Credits = append(obs.Credits, credits...)
		reconciled = len(credits) > 0
	}
	if obs.Lookups, err = w.verify(ctx, obs.Credits, checks, polled); err != nil {
		return models.KaspaApplyResult{}, err
	}
	needBlue := reconciled
	for _, l := range obs.Lookups {
		needBlue = needBlue || l.Accepted
	}
	if !needBlue {
		if needBlue, err = w.Store.NeedsBlueScore(ctx); err != nil {
			return models.KaspaApplyResult{}, err
		}
	}
	if needBlue && obs.SinkBlueScore == 0 {
		if obs.SinkBlueScore, err = w.Client.SinkBlueScore(ctx); err != nil {
			return models.KaspaApplyResult{}, err
		}
	}
	res, err = w.Store.ApplyKaspaObservation(ctx, obs)
	if err != nil {
		return res, err
	}
	workers.MarkRecorded(ctx)
	// The index's periodic full read, off the path from query to write.
	if err := w.rereads.AfterWrite(ctx, w.Store); err != nil {
		w.Log.Warn("kaspa watcher: reading the watched sessions", slog.Any("error", err))
	}
	// Sender and block time come from the indexer, which may lag: a miss is
	// retried on later cycles and never holds up a confirmation.
	if err := w.fillDetails(ctx); err != nil {
		w.Log.Warn("kaspa watcher: transaction details", slog.Any("error", err))
	}
	return res, nil
}

// checkLimit bounds the credits read for checking each cycle
// (Store.KaspaCreditsToCheck); with as many, the follower polls every
// address, as some credits' addresses may be among those not read.
const checkLimit = 10_000

// utxoBatchesInFlight is how many UTXO requests of one cycle may be in
// flight at once. Sent one after another, a cycle's requests add up: at
// 100,000 open sessions on their own addresses a cycle makes 13 of them
// (about 2,600 addresses each), seconds against a distant REST server.
// Four keeps a cycle to a few round trips without hammering a public one.
const utxoBatchesInFlight = 4

// utxoBatches asks the REST server for the UTXOs of addresses, split into
// the bodies its cap allows (Client.UTXOBatches), up to
// utxoBatchesInFlight requests at once; the answers come back in the
// batches' order. The first error cancels the requests still running.
func (w *Watcher) utxoBatches(ctx context.Context, addresses []string) ([][]UTXO, error) {
	chunks := w.Client.UTXOBatches(addresses)
	out := make([][]UTXO, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(utxoBatchesInFlight)
	for i, chunk := range chunks {
		g.Go(func() (err error) {
			out[i], err = w.Client.UTXOsByAddresses(gctx, chunk)
			return err
		})
	}
	return out, g.Wait()
}

func outpointKey(tx string, idx uint32) string { return tx + ":" + strconv.FormatUint(uint64(idx), 10) }

// reconcile reads recent history of a rotating window of addresses that
// still wait for money, returning outputs to them that the UTXO set no
// longer shows (spent before the watcher saw them).
func (w *Watcher) reconcile(ctx context.Context, seen map[string]bool) ([]models.KaspaCredit, error) {
	targets := w.Store.KaspaReconcileTargetsFrom(w.index, 10_000)
	if len(targets) == 0 {
		return nil, nil
	}
	var out []models.KaspaCredit
	n := min(w.ReconcilePerCycle, len(targets))
	for i := 0; i < n; i++ {
		t := targets[(w.reconcileOffset+i)%len(targets)]
		after := t.Since.Add(-time.Minute).UnixMilli()
		txs, _, err := w.Client.FullTransactionsPage(ctx, t.Address, after, 100)
		if err != nil {
			return nil, err
		}
		for _, tx := range txs {
			if !tx.IsAccepted || tx.AcceptingBlueScore == nil {
				continue
			}
			bt := time.UnixMilli(tx.BlockTime).UTC()
			for _, o := range tx.Outputs {
				if o.ScriptPublicKeyAddress != t.Address || seen[outpointKey(tx.ID, o.Index)] || o.Amount > uint64(1<<62) {
					continue
				}
				out = append(out, models.KaspaCredit{
					TxID: tx.ID, Index: o.Index, Address: t.Address, Amount: int64(o.Amount),
					BlockTime: &bt, AcceptingBlueScore: *tx.AcceptingBlueScore,
					Coinbase: tx.IsCoinbase(), // the domain never credits it
				})
			}
		}
	}
	w.reconcileOffset = (w.reconcileOffset + n) % len(targets)
	return out, nil
}

// verify looks up, at most VerifyPerCycle per cycle, the transactions of
// credits of unconfirmed payments (then of reversed credits) whose outputs
// are missing from this cycle's credits. The domain decides what the
// answers mean; a credit left unchecked is unverified, so its payment waits.
// When the indexer fails, the lookups stop for this cycle.
func (w *Watcher) verify(ctx context.Context, credits []models.KaspaCredit, checks []models.CreditCheck, polled map[string]bool) (map[string]models.KaspaTxLookup, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	seenOut, seenTx := map[string]bool{}, map[string]bool{}
	for _, c := range credits {
		seenOut[outpointKey(c.TxID, c.Index)] = true
		if c.BlockDaaScore == 0 {
			seenTx[c.TxID] = true // found in history just now, accepted
		}
	}
	// Missing credits, each transaction once: those of unconfirmed payments
	// first, reversed ones in the slots left, each list in a rotating window
	// so every credit is checked within a few cycles.
	var active, reversed []string
	queued := map[string]bool{}
	for _, c := range checks {
		if polled != nil && !polled[c.Address] {
			continue // not asked for this cycle, so not missing
		}
		if seenOut[outpointKey(c.TxID, uint32(c.OutputIndex))] || seenTx[c.TxID] || queued[c.TxID] {
			continue
		}
		queued[c.TxID] = true
		if c.Reversed {
			reversed = append(reversed, c.TxID)
		} else {
			active = append(active, c.TxID)
		}
	}
	ids := rotate(active, &w.verifyOffset, w.VerifyPerCycle)
	ids = append(ids, rotate(reversed, &w.reversedOffset, w.VerifyPerCycle-len(ids))...)
	n := len(ids)
	if n == 0 {
		return nil, nil
	}
	out := make(map[string]models.KaspaTxLookup, n)
	for _, id := range ids {
		tx, err := w.Client.Transaction(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			out[id] = models.KaspaTxLookup{}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			w.Log.Warn("kaspa watcher: verifying credits", slog.Any("error", err))
			return out, nil
		}
		l := models.KaspaTxLookup{Found: true, Accepted: tx.IsAccepted && tx.AcceptingBlueScore != nil}
		if l.Accepted {
			l.AcceptingBlueScore = *tx.AcceptingBlueScore
		}
		out[id] = l
	}
	return out, nil
}

// rotate returns up to n items of list starting at *offset (wrapping), and
// moves *offset past them.
func rotate(list []string, offset *int, n int) []string {
	n = min(n, len(list))
	if n <= 0 {
		return nil
	}
	start := *offset % len(list)
	*offset = start + n
	out := make([]string, n)
	for i := range out {
		out[i] = list[(start+i)%len(list)]
	}
	return out
}

// fillDetails looks up a bounded number of transactions for their sender
// address and block time.
func (w *Watcher) fillDetails(ctx context.Context) error {
	ts, err := w.Store.TransfersNeedingDetails(ctx, "kaspa", w.DetailsPerCycle)
	if err != nil {
		return err
	}
	for _, t := range ts {
		tx, err := w.Client.Transaction(ctx, t.TxID)
		if errors.Is(err, ErrNotFound) {
			if err := w.Store.TransferDetailsUnavailable(ctx, t.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err // the chain is struggling: stop for this cycle
		}
		d := models.TransferDetails{}
		if tx.BlockTime > 0 {
			bt := time.UnixMilli(tx.BlockTime).UTC()
			d.BlockTime = &bt
		}
		if tx.AcceptingBlueScore != nil {
			d.AcceptingBlueScore = *tx.AcceptingBlueScore
		}
		for _, in := range tx.Inputs {
			if in.PreviousOutpointAddress != "" {
				d.SenderAddress = in.PreviousOutpointAddress
				break
			}
		}
		if err := w.Store.SetTransferDetails(ctx, t.ID, d); err != nil {
			return err
		}
	}
	return nil
}
