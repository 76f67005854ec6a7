package kaspa

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// NetworkStats serves /info/blockdag for the public /api/network endpoint
// from a short cache, so visitors cannot turn Till into an amplifier
// against the Kaspa API.
type NetworkStats struct {
	Client *Client
	TTL    time.Duration

	mu    sync.Mutex
	at    time.Time
	last  BlockDAG
	group singleflight.Group
}

// Stats returns the chain statistics, at most TTL (default 5 s) old.
func (n *NetworkStats) Stats(ctx context.Context) (BlockDAG, error) {
	ttl := n.TTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	n.mu.Lock()
	if !n.at.IsZero() && time.Since(n.at) < ttl {
		d := n.last
		n.mu.Unlock()
		return d, nil
	}
	n.mu.Unlock()
	v, err, _ := n.group.Do("dag", func() (any, error) {
		d, err := n.Client.BlockDAG(ctx)
		if err != nil {
			return BlockDAG{}, err
		}
		n.mu.Lock()
		n.last, n.at = d, time.Now()
		n.mu.Unlock()
		return d, nil
	})
	if err != nil {
		return BlockDAG{}, err
	}
	return v.(BlockDAG), nil
}
