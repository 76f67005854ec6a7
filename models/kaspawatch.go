package models

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The Kaspa watcher (workers/kaspa) does the chain I/O; these functions are
// the domain half it calls each cycle: which addresses to watch, what the
// observed UTXOs mean for payments, and confirmation depth.

const chainKaspa = "kaspa"

// openStatuses are the statuses whose addresses are watched.
var openStatuses = []PaymentStatus{StatusPending, StatusConfirming, StatusUnderpaid}

// Reads of open sessions name their statuses as literals in the SQL text,
// never as bound parameters: pgx prepares every statement, and once
// Postgres switches a prepared statement to its generic plan it cannot see
// bound statuses, guesses 1/n_distinct of the table per value, and at 1M
// past sessions reads the whole table (a parallel sequential scan) where
// the open statuses are a few rows of payments_chain_open_idx. Literals
// keep their real frequency in every plan. The statuses are our constants,
// never input.
var (
	openStatusSQL    = statusIn("status", openStatuses...)
	expiredStatusSQL = statusIn("status", StatusExpired)
)

// statusIn is "col IN ('a', 'b')" for sts, as literals (see openStatusSQL).
func statusIn(col string, sts ...PaymentStatus) string {
	q := make([]string, len(sts))
	for i, st := range sts {
		q[i] = "'" + string(st) + "'"
	}
	return col + " IN (" + strings.Join(q, ", ") + ")"
}

// KaspaWatch is the set of addresses to poll this cycle.
//
// KaspaWatchList fills its fields; KaspaWatchFrom answers from the
// watcher's index instead, valid until the index's next refresh, so that a
// cycle polling only some addresses (a watcher following the chain) does
// not build, sort and map every watched address each cycle: at 100,000
// open sessions that was most of a cycle's CPU. Read it through the
// methods.
type KaspaWatch struct {
	// Addresses are the pay-to addresses of open sessions (and of expired
	// sessions still inside the late window), deduplicated and sorted
	// (index-backed: built by All).
	Addresses []string
	// MinStartDaa is, per address, the oldest session's start DAA score:
	// UTXOs from blocks below it cannot pay any watched session
	// (index-backed: nil; see MinStart).
	MinStartDaa map[string]int64

	idx *OpenIndex
}

// Len is the number of watched addresses.
func (w *KaspaWatch) Len() int {
	if w.idx != nil {
		return len(w.idx.addrs)
	}
	return len(w.Addresses)
}

// MinStart is addr's oldest session start (MinStartDaa); ok is false when
// addr is not watched.
func (w *KaspaWatch) MinStart(addr string) (start int64, ok bool) {
	if w.idx != nil {
		a, ok := w.idx.addrs[addr]
		if !ok {
			return 0, false
		}
		return max(w.idx.minStart(a), 0), true
	}
	start, ok = w.MinStartDaa[addr]
	return start, ok
}

// All returns every watched address, sorted.
func (w *KaspaWatch) All() []string {
	if w.idx != nil && w.Addresses == nil {
		w.Addresses = make([]string, 0, len(w.idx.addrs))
		for addr := range w.idx.addrs {
			w.Addresses = append(w.Addresses, addr)
		}
		sort.Strings(w.Addresses)
	}
	return w.Addresses
}

// Share returns the watched addresses of share slot out of n: every
// address falls in exactly one share (share k holds the k-th of n equal
// ranges of a hash of the address), so polling share k of n in cycle k
// polls every address within n cycles, without sorting them; from the
// index, it reads only the addresses of its own hash range.
func (w *KaspaWatch) Share(slot, n int) []string {
	if n < 1 || slot < 0 || slot >= n || n > math.MaxUint32 {
		return nil
	}
	// Share slot holds the hashes in [lo, hi): a run of the index's
	// buckets, whose addresses are read and no others.
	lo, hi := uint64(slot)<<32/uint64(n), uint64(slot+1)<<32/uint64(n)
	in := func(h uint32) bool { return uint64(h) >= lo && uint64(h) < hi }
	var out []string
	if w.idx != nil {
		for b := lo >> (32 - shareBits); b < uint64(len(w.idx.buckets)) && b<<(32-shareBits) < hi; b++ {
			for _, a := range w.idx.buckets[b] {
				if in(a.hash) {
					out = append(out, a.addr)
				}
			}
		}
		return out
	}
	for _, addr := range w.Addresses {
		if in(addressHash(addr)) {
			out = append(out, addr)
		}
	}
	return out
}

// addressHash spreads addresses over the shares of KaspaWatch.Share.
// It is FNV-1a, written out so that it allocates nothing.
func addressHash(addr string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(addr); i++ {
		h = (h ^ uint32(addr[i])) * 16777619
	}
	// MurmurHash3's finaliser: every input bit reaches the top bits,
	// which pick a share (FNV-1a alone leaves the last bytes to few).
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// KaspaWatchList returns what to watch. virtualDaa is the chain's current
// score: sessions created before any observation (start score 0) get an
// estimate from their age, so old coins can never pay them.
func (s *Store) KaspaWatchList(ctx context.Context, virtualDaa uint64) (*KaspaWatch, error) {
	now := s.clock()
	if err := s.backfillStartDaa(ctx, virtualDaa, now); err != nil {
		return nil, err
	}
	type row struct {
		PayAddress string
		MinStart   int64
	}
	var rows []row
	err := s.db.R(ctx).Model(&Payment{}).Select("pay_address, MIN(start_daa_score) AS min_start").
		Where("chain = ?", chainKaspa).
		Where(openStatusSQL+" OR ("+expiredStatusSQL+" AND expires_at > ?)", now.Add(-s.lateWindow)).
		Group("pay_address").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: watch list: %w", err)
	}
	w := &KaspaWatch{MinStartDaa: make(map[string]int64, len(rows))}
	for _, r := range rows {
		w.Addresses = append(w.Addresses, r.PayAddress)
		w.MinStartDaa[r.PayAddress] = r.MinStart
	}
	sort.Strings(w.Addresses)
	return w, nil
}

func (s *Store) backfillStartDaa(ctx context.Context, virtualDaa uint64, now time.Time) error {
	if virtualDaa == 0 {
		return nil
	}
	var ids []string
	if err := s.db.R(ctx).Model(&Payment{}).Where("chain = ? AND start_daa_score = 0 AND "+openStatusSQL, chainKaspa).
		Limit(1000).Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("models: backfill start: %w", err)
	}
	_, err := s.backfillStart(ctx, ids, virtualDaa, now)
	return err
}

// backfillStart estimates the start DAA score of the sessions ids that have
// none (0) from their age, and returns what it set by id.
func (s *Store) backfillStart(ctx context.Context, ids []string, virtualDaa uint64, now time.Time) (map[string]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ps []Payment
	if err := s.db.R(ctx).Select("id", "created_at").Where("id IN ? AND start_daa_score = 0", ids).Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("models: backfill start: %w", err)
	}
	out := make(map[string]int64, len(ps))
	for _, p := range ps {
		age := now.Sub(p.CreatedAt)
		if age < 0 {
			age = 0
		}
		est := int64(virtualDaa) - int64(age.Seconds()*float64(s.bps))
		if est < 1 {
			est = 1
		}
		if err := s.db.W(ctx).Model(&Payment{}).Where("id = ? AND start_daa_score = 0", p.ID).Update("start_daa_score", est).Error; err != nil {
			return out, fmt.Errorf("models: backfill start: %w", err)
		}
		out[p.ID] = est
	}
	return out, nil
}

// KaspaCredit is one output paying a watched address.
type KaspaCredit struct {
	TxID    string
	Index   uint32
	Address string
	Amount  int64 // sompi
	// BlockDaaScore is the UTXO's accepting DAA score (0 when the credit
	// came from transaction history instead of the UTXO set).
	BlockDaaScore uint64
	// BlockTime and AcceptingBlueScore come from transaction history
	// (reconciliation of coins spent before the watcher saw them).
	BlockTime          *time.Time
	AcceptingBlueScore uint64
	// Coinbase marks a miner reward (a UTXO flagged isCoinbase, or a
	// history output of a coinbase transaction). See customerCredit.
	Coinbase bool
}

// customerCredit is the one coinbase rule, whatever path found the output:
// miner rewards are not customer payments and are never credited.
func customerCredit(c KaspaCredit) bool { return !c.Coinbase }

// KaspaTxLookup is what GET /transactions/{id} said about a credited (or
// reversed) transaction whose output is missing from the UTXO answer.
type KaspaTxLookup struct {
	// Found is false when the indexer answered 404 (it may lag).
	Found bool
	// Accepted is the transaction's is_accepted.
	Accepted bool
	// AcceptingBlueScore is the accepting chain block's blue score (0 when
	// not accepted).
	AcceptingBlueScore uint64
}

// KaspaObservation is one watcher cycle's view of the chain.
type KaspaObservation struct {
	Network string
	// VirtualDaaScore is /info/blockdag's virtualDaaScore.
	VirtualDaaScore uint64
	// SinkBlueScore is /info/virtual-chain-blue-score, when fetched (0 if not).
	SinkBlueScore uint64
	// Credits are the UTXOs (and reconciled outputs) of watched addresses.
	Credits []KaspaCredit
	// Watch is the list the credits were fetched for.
	Watch *KaspaWatch
	// Polled, when set, are the addresses of Watch whose UTXOs were asked
	// for this cycle: a watcher following the chain polls only those it
	// must (KaspaHotFrom) and those the chain named. A credit on another
	// address was not looked for, so it is neither backed nor missing this
	// cycle. Nil: every address of Watch was polled.
	Polled map[string]bool
	// Lookups are the answers of GET /transactions/{id} for credits of
	// unconfirmed payments (and reversed credits) that the UTXO answer
	// lacks, by transaction id. A credit that is neither in the UTXO answer
	// nor confirmed accepted here is unverified: its payment cannot confirm
	// in this cycle.
	Lookups map[string]KaspaTxLookup

	backing *chainBacking
}

// KaspaApplyResult says what a cycle changed.
type KaspaApplyResult struct {
	NewTransfers int
	Matched      int
	Confirmed    int
	// Reversed counts credits the chain took back this cycle.
	Reversed int
	// Recredited counts reversed credits accepted again this cycle.
	Recredited int
}

// ApplyKaspaObservation records the chain position, turns new outpoints into
// transfers matched to payments, follows DAA-score changes of known ones, and
// advances confirmations. Every payment change is a conditional update in a
// transaction with its events, so running it twice (or in two processes)
// changes nothing the second time.
func (s *Store) ApplyKaspaObservation(ctx context.Context, obs KaspaObservation) (KaspaApplyResult, error) {
	var res KaspaApplyResult
	now := s.clock()
	obs.backing = newChainBacking(obs)
	// Only credits from blocks at or after the oldest watched session's
	// start can matter; older coins on a merchant's address are not Till's
	// business.
	var fresh []KaspaCredit
	for _, c := range obs.Credits {
		min, watched := int64(0), false
		if obs.Watch != nil {
			min, watched = obs.Watch.MinStart(c.Address)
		}
		if !watched {
			continue
		}
		if c.BlockDaaScore > 0 && int64(c.BlockDaaScore) < min {
			continue
		}
		fresh = append(fresh, c)
	}
	known, err := s.knownTransfers(ctx, fresh)
	if err != nil {
		return res, err
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].BlockDaaScore < fresh[j].BlockDaaScore })
	var tally creditTally
	for _, c := range fresh {
		if t, ok := known[outpoint(c.TxID, c.Index)]; ok {
			// A UTXO's DAA score changes when the chain reorganises: follow it.
			if c.BlockDaaScore > 0 && (t.BlockDaaScore == nil || *t.BlockDaaScore != int64(c.BlockDaaScore)) {
				if err := s.db.W(ctx).Model(&Transfer{}).Where("id = ?", t.ID).Update("block_daa_score", int64(c.BlockDaaScore)).Error; err != nil {
					return res, fmt.Errorf("models: update daa score: %w", err)
				}
			}
			if t.ReversedAt != nil && t.PaymentID != nil && customerCredit(c) {
				// The chain accepted a reversed credit again.
				if err := s.recredit(ctx, t, c, obs, now, &res); err != nil {
					return res, err
				}
			}
			continue
		}
		if err := tally.add(s.recordKaspaCredit(ctx, c, obs, now)); err != nil {
			return res, err
		}
	}
	res.NewTransfers, res.Matched, res.Confirmed = tally.recorded, tally.matched, res.Confirmed+tally.confirmed
	if err := s.verifyCredits(ctx, obs, now, &res); err != nil {
		return res, err
	}
	n, err := s.advanceConfirmations(ctx, obs, now)
	res.Confirmed += n
	if err != nil {
		return res, err
	}
	// Saved last: the expirer only expires sessions whose deadline passed
	// before this observation, whose credits are now all recorded.
	if err := saveChainState(s.db.W(ctx), &ChainState{Chain: chainKaspa, Network: obs.Network, DaaScore: obs.VirtualDaaScore, BlueScore: obs.SinkBlueScore, ObservedAt: now}); err != nil {
		return res, fmt.Errorf("models: save chain state: %w", err)
	}
	return res, nil
}

func outpoint(tx string, idx uint32) string { return fmt.Sprintf("%s:%d", tx, idx) }

// knownTransfers loads the transfers already recorded for credits.
func (s *Store) knownTransfers(ctx context.Context, credits []KaspaCredit) (map[string]Transfer, error) {
	out := map[string]Transfer{}
	ids := map[string]bool{}
	var list []string
	for _, c := range credits {
		if !ids[c.TxID] {
			ids[c.TxID] = true
			list = append(list, c.TxID)
		}
	}
	for start := 0; start < len(list); start += 500 {
		end := min(start+500, len(list))
		var ts []Transfer
		if err := s.db.R(ctx).Where("chain = ? AND tx_id IN ?", chainKaspa, list[start:end]).Find(&ts).Error; err != nil {
			return nil, fmt.Errorf("models: known transfers: %w", err)
		}
		for _, t := range ts {
			out[outpoint(t.TxID, uint32(t.OutputIndex))] = t
		}
	}
	return out, nil
}

// estimateBlockTime dates a credit: its block time when history gave one,
// else now minus its depth at the block rate (10 blocks per second).
func (s *Store) estimateBlockTime(c KaspaCredit, virtualDaa uint64, now time.Time) time.Time {
	if c.BlockTime != nil {
		return *c.BlockTime
	}
	if c.BlockDaaScore == 0 || virtualDaa <= c.BlockDaaScore {
		return now
	}
	depth := virtualDaa - c.BlockDaaScore
	return now.Add(-time.Duration(depth) * time.Second / time.Duration(s.bps))
}

// recordKaspaCredit records a new output as a transfer and credits it to
// the payment it pays, if any, through the neutral path (recordCredit).
func (s *Store) recordKaspaCredit(ctx context.Context, c KaspaCredit, obs KaspaObservation, now time.Time) (created, matched, confirmed bool, err error) {
	t := &Transfer{ID: uuid.NewString(), Chain: chainKaspa, TxID: c.TxID, OutputIndex: int64(c.Index), Address: c.Address,
		Amount: c.Amount, BlockTime: c.BlockTime, SeenAt: now, CreatedAt: now}
	if !customerCredit(c) {
		// Kept so it is looked at once, never matched, claimed or
		// looked up: it is nobody's payment.
		t.Coinbase, t.DetailsFetched = true, true
	}
	if c.BlockDaaScore > 0 {
		v := int64(c.BlockDaaScore)
		t.BlockDaaScore = &v
	}
	if c.AcceptingBlueScore > 0 {
		v := int64(c.AcceptingBlueScore)
		t.AcceptingBlueScore = &v
	}
	return s.recordCredit(ctx, t, s.kaspaCredit(c, obs, now), obs.backing, now)
}

// kaspaCredit is c in neutral terms: its depth on its own scale, its block
// time (estimated from the DAA score when history gave none), and Kaspa's
// start rule — a session started no later than the credit's block when its
// start DAA score is at most the block's (the start score is the virtual
// DAA score observed before it opened, and a block with that very score was
// mined after the observation); a history credit without a DAA score must
// postdate the session's creation (with a little slack for clock skew).
func (s *Store) kaspaCredit(c KaspaCredit, obs KaspaObservation, now time.Time) Credit {
	out := Credit{Chain: chainKaspa, TxID: c.TxID, Address: c.Address, Amount: c.Amount,
		Depth: creditConfirmations(c, obs), BlockTime: s.estimateBlockTime(c, obs.VirtualDaaScore, now)}
	switch {
	case c.BlockDaaScore > 0:
		daa := int64(c.BlockDaaScore)
		out.Started = func(q *gorm.DB) *gorm.DB { return q.Where("start_daa_score <= ?", daa) }
	case c.BlockTime != nil:
		bt := c.BlockTime.Add(10 * time.Second)
		out.Started = func(q *gorm.DB) *gorm.DB { return q.Where("created_at < ?", bt) }
	}
	return out
}

// kaspaPosition is the transfer columns a recredited Kaspa credit refreshes.
func kaspaPosition(c KaspaCredit) map[string]any {
	up := map[string]any{}
	if c.BlockDaaScore > 0 {
		up["block_daa_score"] = int64(c.BlockDaaScore)
	}
	if c.AcceptingBlueScore > 0 {
		up["accepting_blue_score"] = int64(c.AcceptingBlueScore)
	}
	return up
}

// creditConfirmations is a credit's depth: virtual DAA minus its block DAA
// score, or for history credits sink blue score minus accepting blue score.
// The two scales are never mixed.
func creditConfirmations(c KaspaCredit, obs KaspaObservation) int64 {
	switch {
	case c.BlockDaaScore > 0 && obs.VirtualDaaScore >= c.BlockDaaScore:
		return int64(obs.VirtualDaaScore - c.BlockDaaScore)
	case c.AcceptingBlueScore > 0 && obs.SinkBlueScore >= c.AcceptingBlueScore:
		return int64(obs.SinkBlueScore - c.AcceptingBlueScore)
	}
	return 0
}

// advanceConfirmations recomputes the depth of every confirming payment and
// confirms those that reached their required depth. A payment's depth is its
// newest credit's; each credit is measured on its own scale (DAA score while
// its UTXO is in this cycle's answer, else blue score once its transaction is
// confirmed accepted), and a payment with a credit that is missing and
// unverified this cycle is left as it is. Payments whose depth changed
// without confirming are updated together per depth.
func (s *Store) advanceConfirmations(ctx context.Context, obs KaspaObservation, now time.Time) (int, error) {
	var ps []Payment
	err := s.db.R(ctx).Where("chain = ? AND status = ?", chainKaspa, StatusConfirming).Find(&ps).Error
	if err != nil {
		return 0, fmt.Errorf("models: confirming payments: %w", err)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	credits, err := s.activeCredits(s.db.R(ctx), ids)
	if err != nil {
		return 0, err
	}
	confirmed := 0
	byDepth := map[int64][]string{}
	for i := range ps {
		p := &ps[i]
		conf, ok := obs.backing.depth(credits[p.ID])
		if !ok {
			continue // a credit is unverified, or no usable score this cycle
		}
		if conf < int64(p.RequiredConfirmations) {
			if conf != p.Confirmations {
				byDepth[conf] = append(byDepth[conf], p.ID)
			}
			continue
		}
		ok, err := s.confirmPayment(ctx, p, conf, now)
		if err != nil {
			return confirmed, err
		}
		if ok {
			confirmed++
		}
	}
	for depth, ids := range byDepth {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			if err := s.db.W(ctx).Model(&Payment{}).Where("id IN ? AND status = ?", chunk, StatusConfirming).
				Updates(map[string]any{"confirmations": depth, "updated_at": now}).Error; err != nil {
				return confirmed, fmt.Errorf("models: update depth: %w", err)
			}
		}
	}
	return confirmed, nil
}

// kaspaStoredCredit is a recorded Kaspa transfer as a credit measured from
// the last observed chain state (manual assignment), and that state's
// backing: none, so a payment with other credits is not confirmed by it.
func (s *Store) kaspaStoredCredit(t *Transfer, st *ChainState, now time.Time) (Credit, backing) {
	c := KaspaCredit{TxID: t.TxID, Index: uint32(t.OutputIndex), Address: t.Address, Amount: t.Amount, BlockTime: t.BlockTime}
	if t.BlockDaaScore != nil && *t.BlockDaaScore > 0 {
		c.BlockDaaScore = uint64(*t.BlockDaaScore)
	}
	if t.AcceptingBlueScore != nil && *t.AcceptingBlueScore > 0 {
		c.AcceptingBlueScore = uint64(*t.AcceptingBlueScore)
	}
	obs := KaspaObservation{Network: st.Network, VirtualDaaScore: st.DaaScore, SinkBlueScore: st.BlueScore}
	return s.kaspaCredit(c, obs, now), obs.backing
}
