package workers

import "time"

// ChainObserver receives what the chain watchers measure: every call to a
// chain's API, every watch cycle, and the chain head each cycle saw. The
// server's metrics (web/metrics) implement it; a nil ChainObserver is never
// called, so watchers and clients built without one (tests, tools) record
// nothing. Implementations must be safe for concurrent use and cheap: they
// run on the watchers' paths.
type ChainObserver interface {
	// ChainCall is one request to a chain API: endpoint is a fixed name
	// (a REST path pattern or a JSON-RPC method), never a value.
	ChainCall(chain, endpoint string, elapsed time.Duration, err error)
	// WatcherCycle is one watch cycle of chain, err its failure.
	WatcherCycle(chain string, elapsed time.Duration, err error)
	// ChainHead is the head a cycle read: lagBlocks is how many blocks the
	// watcher had still to scan when it read it (-1: not measured on this
	// chain), headTime the head block's time.
	ChainHead(chain string, lagBlocks int64, headTime time.Time)
}

// DeliveryObserver receives the outcome of each webhook delivery attempt:
// dialect is the endpoint's dialect, outcome one of the Delivery* outcomes.
type DeliveryObserver interface {
	WebhookAttempt(dialect, outcome string, elapsed time.Duration)
}

// Outcomes of one webhook attempt, as DeliveryObserver reports them.
const (
	DeliveryDelivered   = "delivered"   // 2xx: done
	DeliveryRetrying    = "retrying"    // failed; another attempt is scheduled
	DeliveryFailed      = "failed"      // failed for good (the schedule is spent)
	DeliveryInterrupted = "interrupted" // shutdown cut the send; released for another process
	DeliveryUnrecorded  = "unrecorded"  // sent, but the result could not be stored
)
