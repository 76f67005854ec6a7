package models

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"till/models/kaspa"
)

// Store is the domain: every read and every state change the HTTP handlers and
// the workers perform goes through its ctx-first methods, so both paths share
// one implementation of each rule.
type Store struct {
	db         *DB
	sealer     *Sealer
	network    kaspa.Network
	bcryptCost int
	now        func() time.Time
	log        *slog.Logger
	rates      RateSource
	lateWindow time.Duration
	bps        int64
	// reversalGrace: see DefaultReversalGrace.
	reversalGrace time.Duration
	// kpubs caches parsed extended public keys by their text.
	kpubs sync.Map
	// indexes reserves kpub derivation indexes together (kpubreserve.go).
	indexes indexReserver
	// commits batches session inserts (groupcommit.go).
	commits *groupCommit
	// offsetRange, when positive, narrows every chain's unique-offset
	// range (tests); 0 keeps ChainParams.OffsetRange.
	offsetRange int64
	// evm holds the enabled EVM chains, by name.
	evm map[string]EVMChain
	// defaultEVM is the chain a USDC link gets when it names none.
	defaultEVM string
	// rateLimitPruned is when this process last pruned rate_limits (unix ns).
	rateLimitPruned atomic.Int64
	// projections maps payment transitions to events (nil: the
	// DefaultProjections).
	projections Projections
	// dummyHash is compared for unknown emails at login: a bcrypt hash made
	// at start-up with bcryptCost, so both paths cost the same.
	dummyHash []byte
	// paymentID makes new payments' ids: NewPaymentID (tests force
	// clashes through it).
	paymentID func() string
	// caches of the hot reads (status polls, API key lookups), invalidated
	// by the handle's change tracker (see Changes).
	caches storeCaches
}

// StoreOptions configures a Store.
type StoreOptions struct {
	// Sealer encrypts secrets at rest; required.
	Sealer *Sealer
	// Network is the Kaspa network merchant addresses must belong to.
	Network kaspa.Network
	// BcryptCost is the password hashing cost (default 12; tests lower it).
	BcryptCost int
	// Now replaces the clock in tests; defaults to Now.
	Now func() time.Time
	// Log receives domain warnings; defaults to slog.Default().
	Log *slog.Logger
	// Rates prices USD links; without it USD sessions are refused.
	Rates RateSource
	// LateWindow is how long after expiry a payment is still credited
	// (default 24h).
	LateWindow time.Duration
	// BlocksPerSecond is the Kaspa block rate used to estimate block times
	// from DAA scores (default 10).
	BlocksPerSecond int64
	// UniqueOffsetRange is how many sompi (1…n) may be added to a price to
	// make it unique on a shared address (default per chain, 99,999 on Kaspa;
	// tests shrink it).
	UniqueOffsetRange int64
	// EVMChains are the enabled EVM chains by name; a USDC link on a chain
	// not listed cannot open sessions.
	EVMChains map[string]EVMChain
	// DefaultEVMChain (TILL_EVM_DEFAULT_CHAIN) is the chain a new USDC link
	// gets when it names none, and the link builder's preselected choice.
	DefaultEVMChain string
	// ReversalGrace is how long a credit missing from the UTXO set, whose
	// transaction the indexer calls rejected or unknown, waits before it is
	// reversed (default DefaultReversalGrace).
	ReversalGrace time.Duration
}

// NewStore builds the domain over an open, migrated database.
func NewStore(db *DB, o StoreOptions) *Store {
	s := &Store{db: db, sealer: o.Sealer, network: o.Network, bcryptCost: o.BcryptCost, now: o.Now, log: o.Log,
		rates: o.Rates, lateWindow: o.LateWindow, bps: o.BlocksPerSecond, paymentID: NewPaymentID}
	if s.lateWindow == 0 {
		s.lateWindow = 24 * time.Hour
	}
	if s.bps == 0 {
		s.bps = 10
	}
	s.reversalGrace = o.ReversalGrace
	if s.reversalGrace <= 0 {
		s.reversalGrace = DefaultReversalGrace
	}
	s.offsetRange = o.UniqueOffsetRange
	s.commits = newGroupCommit(db)
	s.commits.derive = s.addressAt // SQLite's kpub sessions derive in the writer's transaction
	s.evm = o.EVMChains
	if _, ok := o.EVMChains[o.DefaultEVMChain]; ok {
		s.defaultEVM = o.DefaultEVMChain
	}
	registerEVMChains(o.EVMChains)
	if s.bcryptCost == 0 {
		s.bcryptCost = 12
	}
	if s.bcryptCost < bcrypt.MinCost {
		s.bcryptCost = bcrypt.MinCost
	}
	s.dummyHash = newDummyHash(s.bcryptCost)
	s.caches = newStoreCaches(db.changes)
	if s.now == nil {
		s.now = Now
	}
	if s.network == "" {
		s.network = kaspa.Mainnet
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// DB exposes the database for health checks and workers' locking.
func (s *Store) DB() *DB { return s.db }

// Network is the Kaspa network this store validates addresses against.
func (s *Store) Network() kaspa.Network { return s.network }

// LateWindow is how long after expiry a payment is still credited.
func (s *Store) LateWindow() time.Duration { return s.lateWindow }

// Now is the store's clock (tests replace it).
func (s *Store) Now() time.Time { return s.clock() }

// clock returns the store's current time in UTC with microsecond precision.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
