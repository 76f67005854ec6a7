package kaspa

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"till/models"
)

// The chain follower: instead of asking for the UTXOs of every watched
// address each cycle, which takes one request per ~2,600 addresses (39 at
// 100,000 sessions on their own addresses), the watcher reads the
// transactions the virtual chain accepted since its last read (GET
// /virtual-chain, one request per 100 blue scores, ~10 s of mainnet) and
// polls only the addresses those paid, the addresses it must read directly
// (models.KaspaHotFrom) and a rolling share of the rest. A cycle's chain
// calls then follow the chain's traffic and the payments in flight, not the
// sessions open.
//
// Upstream marks the endpoint experimental and serves it from its indexer,
// which lags the node; so the follower is a hint and never the only path:
//   - a window is read again until the sink is followSettle past its end,
//     so a transaction the indexer adds a little late is still seen;
//   - the sweep polls every watched address within a bounded number of
//     cycles (a share of half a request body each cycle), which finds what
//     the follower missed (an indexer lagging more than followSettle, a deep
//     reorganisation);
//   - any failure, a gap (the first read after a start, or falling more
//     than followMaxWindows behind) or an endpoint the server does not
//     serve makes that cycle poll every address, exactly as without it.
const (
	// followWindow is each request's span of blue scores: upstream's
	// largest limit.
	followWindow = 100
	// followSettle is how far past a window's end the sink must be before
	// the window is not read again.
	followSettle = 100
	// followMaxWindows bounds the requests of one cycle; further behind,
	// the follower starts over from the sink with a full poll.
	followMaxWindows = 10
	// followRetryCycles is how many cycles a server that refused the
	// endpoint (4xx) is left alone before the follower tries again.
	followRetryCycles = 150
	// hotDue is how close to its deadline a pending session's address is
	// polled directly (models.KaspaHotFrom).
	hotDue = 60 * time.Second
	// followMinBodies is how many UTXO request bodies the watched
	// addresses must take before following pays: a following cycle asks
	// for the sink's blue score, two or three windows and about one body,
	// five or six calls, where a full poll asks for one per body.
	followMinBodies = 4
)

// follower is the watcher's position on the virtual chain. Only the
// watcher's goroutine uses it.
type follower struct {
	client *Client
	log    *slog.Logger
	// on: the follower has a position; cursor is the first window not
	// yet settled.
	on     bool
	cursor uint64
	// pause counts the cycles left before trying a refused endpoint again.
	pause int
}

// window is the start of the window holding blue score b.
func window(b uint64) uint64 { return b / followWindow * followWindow }

// read returns the addresses paid by transactions the chain accepted from
// the cursor up to sink, and whether the follower has watched without a gap
// since the previous cycle; if not, the caller polls every address this
// cycle. Only the context's end is an error: any other failure is logged
// and turns this cycle into a full poll.
func (f *follower) read(ctx context.Context, sink uint64) (paid map[string]bool, continuous bool, err error) {
	settled := window(sink - min(sink, followSettle))
	if !f.on || sink > f.cursor && (sink-f.cursor)/followWindow >= followMaxWindows {
		// Starting (or starting over): everything accepted before this
		// cycle's full poll is in its UTXO answer, everything after it
		// is at or past settled.
		f.on, f.cursor = true, settled
		return nil, false, nil
	}
	paid = map[string]bool{}
	for w := window(f.cursor); w <= sink; w += followWindow {
		blocks, err := f.client.VirtualChain(ctx, w, followWindow)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			f.fail(err)
			return nil, false, nil
		}
		for _, b := range blocks {
			for _, tx := range b.Transactions {
				for _, o := range tx.Outputs {
					paid[o.Address] = true
				}
			}
		}
	}
	f.cursor = max(f.cursor, settled)
	return paid, true, nil
}

// paused reports (and counts down) the cycles a refused endpoint is left
// alone.
func (f *follower) paused() bool {
	if f.pause > 0 {
		f.pause--
		return true
	}
	return false
}

// fail forgets the position; a refusal (4xx: an older server, or one
// without the indexer) also pauses the follower for followRetryCycles.
func (f *follower) fail(err error) {
	f.on = false
	var he *HTTPError
	if errors.Is(err, ErrNotFound) || (errors.As(err, &he) && he.Status >= 400 && he.Status < 500 && he.Status != http.StatusTooManyRequests) {
		f.pause = followRetryCycles
		f.log.Warn("kaspa watcher: GET /virtual-chain refused; polling every address", slog.Any("error", err),
			slog.Int("retry_after_cycles", followRetryCycles))
		return
	}
	f.log.Warn("kaspa watcher: GET /virtual-chain failed; polling every address this cycle", slog.Any("error", err))
}

// toPoll chooses the addresses to ask the UTXOs of: every watched one or,
// when they take more than followMinBodies request bodies and the follower
// watched without a gap, the hot ones, those of credits to check, those the
// chain paid, and the sweep's share: half a body's worth of the watched
// addresses, a different share each cycle (KaspaWatch.Share), so every
// address is polled within about twice as many cycles as it takes bodies.
// Nothing here reads every watched address, except a full poll. polled is
// nil when every address is polled; sink is the sink blue score read for
// the follower (0 if none was read).
func (w *Watcher) toPoll(ctx context.Context, watch *models.KaspaWatch, checks []models.CreditCheck) (addrs []string, polled map[string]bool, sink uint64, err error) {
	per := w.Client.AddressesPerBody(longestAddress)
	if !w.Follow || watch.Len() <= followMinBodies*per || w.follow.paused() {
		return watch.All(), nil, 0, nil
	}
	if sink, err = w.Client.SinkBlueScore(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, nil, 0, ctx.Err()
		}
		return watch.All(), nil, 0, nil // the UTXO poll will tell
	}
	paid, continuous, err := w.follow.read(ctx, sink)
	if err != nil || !continuous || len(checks) >= checkLimit {
		return watch.All(), nil, sink, err
	}
	hot := w.Store.KaspaHotFrom(w.index, hotDue)
	polled = make(map[string]bool, per+len(hot)+len(checks))
	for a := range hot {
		polled[a] = true
	}
	watched := func(a string) bool { _, ok := watch.MinStart(a); return ok }
	for _, c := range checks {
		// Credits checked against the UTXO answer every cycle, reversed
		// ones included: their addresses may have no hot session left.
		if watched(c.Address) {
			polled[c.Address] = true
		}
	}
	for a := range paid {
		if watched(a) {
			polled[a] = true
		}
	}
	share := max(per/2, 1)
	shares := (watch.Len() + share - 1) / share
	w.sweep++
	for _, a := range watch.Share(w.sweep%shares, shares) {
		polled[a] = true
	}
	addrs = make([]string, 0, len(polled))
	for a := range polled {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs, polled, sink, nil
}
