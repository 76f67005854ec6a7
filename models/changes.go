package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// changeMask is a set of table groups: the tables whose writes make the same
// cached reads stale.
type changeMask uint32

// The table groups cached reads depend on.
const (
	changePayments  changeMask = 1 << iota // payments, transfers
	changeLinks                            // payment_links
	changeMerchants                        // merchants
	// chain_states: its own group, so that a watcher cycle (one write per
	// chain every poll interval) drops only the chain positions cached for
	// session creation, not the link and merchant reads.
	changeChainStates
	// merchants.kaspa_next_index moved on by a kpub session (and nothing
	// else: merchantIndexSQL): only reads of the whole merchant depend on
	// it, so session creation's link cache outlives the kpub sessions it
	// serves. Every other merchants write is in this group too.
	changeMerchantIndex
	changeGroups = iota
	changeAll    = changeMask(1)<<changeGroups - 1
)

// tableChanges maps each table to its group. Tables no cached read depends
// on map to 0 (rate_limits is written by every per-IP-limited request);
// a table missing here (a new one) conservatively invalidates everything.
var tableChanges = map[string]changeMask{
	"payments":           changePayments,
	"transfers":          changePayments,
	"payment_links":      changeLinks,
	"merchants":          changeMerchants | changeMerchantIndex,
	"rate_limits":        0,
	"auth_sessions":      0,
	"idempotency_keys":   0,
	"events":             0,
	"webhook_endpoints":  0,
	"webhook_deliveries": 0,
	"webhook_attempts":   0,
	"chain_states":       changeChainStates,
	"payment_activities": 0,
	"schema_migrations":  0,
}

// CacheTTL is how long a cached read may be served without a database
// round trip, at most: the safety net for writers Till cannot see (another
// process on SQLite, an operator's SQL). It is half the checkout's poll
// interval (2 s, views/partials/checkout.templ).
const CacheTTL = time.Second

// changesChannel is the Postgres NOTIFY channel writes are announced on.
const changesChannel = "till_changes"

// Changes tracks writes per table group with generation counters, so that
// cached reads can tell whether they are still current. A write is counted
// after it commits: GORM callbacks count single statements as they return
// and the statements of DB.Tx when it commits. A reader takes the stamp of
// its groups BEFORE it queries and keeps the result under that stamp; a
// commit in between changes the stamp, so the entry is stale at the next
// look and can never pass for current. On Postgres, writes are announced
// to other processes with NOTIFY and theirs are heard on a dedicated LISTEN
// connection; while that connection is down, caches read through.
type Changes struct {
	gens [changeGroups]atomic.Uint64
	// ttl is how long an entry is served at most (ns; tests change it).
	ttl atomic.Int64
	// live is false while writes of other processes could go unheard
	// (Postgres, listener not connected): caches then read through.
	live atomic.Bool
	// id names this handle in its notifications, so it skips its own.
	id string
	// pending collects groups written since the last NOTIFY; kick wakes
	// the publisher (nil: no other process to tell).
	pending atomic.Uint32
	kick    chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	log     *slog.Logger
	// notifies counts NOTIFYs sent (tests check the coalescing).
	notifies atomic.Int64
}

func newChanges(d Dialect) *Changes {
	var b [8]byte
	_, _ = rand.Read(b[:])
	c := &Changes{id: hex.EncodeToString(b[:]), log: slog.Default()}
	c.ttl.Store(int64(CacheTTL))
	c.live.Store(d == SQLite)
	return c
}

// stamp is the current stamp of the groups in m: it grows with every
// write to any of them.
func (c *Changes) stamp(m changeMask) uint64 {
	var s uint64
	for i := range c.gens {
		if m&(1<<i) != 0 {
			s += c.gens[i].Load()
		}
	}
	return s
}

// bump records a committed write to the groups in m and announces it to
// other processes.
func (c *Changes) bump(m changeMask) {
	if m == 0 {
		return
	}
	c.bumpLocal(m)
	if c.kick != nil {
		c.pending.Or(uint32(m))
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *Changes) bumpLocal(m changeMask) {
	for i := range c.gens {
		if m&(1<<i) != 0 {
			c.gens[i].Add(1)
		}
	}
}

// BumpAll invalidates every cached read of this handle (and, on Postgres,
// of the other processes): for writes made around Till's own handles.
func (c *Changes) BumpAll() { c.bump(changeAll) }

// Live reports whether cached reads may be served (false while another
// process's writes could go unheard).
func (c *Changes) Live() bool { return c.live.Load() }

// txChanges collects the groups one DB.Tx writes until it commits.
type txChanges struct{ m atomic.Uint32 }

type txChangesKey struct{}

// inTx returns the context a DB.Tx runs in and the function to call when it
// ends: the groups written are bumped only if it committed.
func (c *Changes) inTx(ctx context.Context) (context.Context, func(committed bool)) {
	p := &txChanges{}
	return context.WithValue(ctx, txChangesKey{}, p), func(committed bool) {
		if committed {
			c.bump(changeMask(p.m.Load()))
		}
	}
}

// wrote records a write by the statement of db to the groups in m: at once
// outside a transaction, at commit inside DB.Tx. A transaction begun any
// other way is counted at once (before its commit; CacheTTL bounds that).
func (c *Changes) wrote(db *gorm.DB, m changeMask) {
	if m == 0 {
		return
	}
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx && db.Statement.Context != nil {
		if p, ok := db.Statement.Context.Value(txChangesKey{}).(*txChanges); ok {
			p.m.Or(uint32(m))
			return
		}
	}
	c.bump(m)
}

// register hooks the tracker into g's callbacks: after every create, update
// and delete (the table is known), and after raw statements, whose table is
// read from the SQL text (INSERT INTO t, UPDATE t, DELETE FROM t; anything
// else that is not a read counts as a write to every group).
func (c *Changes) register(g *gorm.DB) error {
	cb := g.Callback()
	model := func(db *gorm.DB) {
		if db.RowsAffected != 0 {
			c.wrote(db, tableMask(db.Statement.Table))
		}
	}
	raw := func(db *gorm.DB) {
		if write, m := sqlWriteMask(db.Statement.SQL.String()); write {
			c.wrote(db, m)
		}
	}
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("till:changes", model),
		cb.Update().After("gorm:update").Register("till:changes", model),
		cb.Delete().After("gorm:delete").Register("till:changes", model),
		cb.Raw().After("gorm:raw").Register("till:changes", raw),
		// Raw(…).Scan of UPDATE … RETURNING: counted when the statement
		// runs, a moment before its rows are read and it completes.
		cb.Row().After("gorm:row").Register("till:changes", raw),
		cb.Query().After("gorm:query").Register("till:changes", raw),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// tableMask is the group of a table (every group for an unknown one).
func tableMask(table string) changeMask {
	if m, ok := tableChanges[strings.ToLower(strings.Trim(table, "\"`"))]; ok {
		return m
	}
	return changeAll
}

// merchantIndexSQL is the kpub counter's statement (reserveIndexSQL) around
// its two bind variables, how many indexes and the merchant: it writes
// kaspa_next_index alone (changeMerchantIndex). Any other text, this one
// changed included, counts as a write to the whole merchants table.
var merchantIndexSQL = [3]string{"UPDATE merchants SET kaspa_next_index = kaspa_next_index + ", " WHERE id = ", " RETURNING kaspa_next_index, kaspa_kpub"}

// isMerchantIndexSQL tells whether sql is merchantIndexSQL with its bind
// variables in either engine's form.
func isMerchantIndexSQL(sql string) bool {
	rest, ok := strings.CutPrefix(sql, merchantIndexSQL[0])
	if !ok {
		return false
	}
	n, rest, ok := strings.Cut(rest, merchantIndexSQL[1])
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, merchantIndexSQL[2])
	return ok && (n == "?" && id == "?" || n == "$1" && id == "$2")
}

// sqlWriteMask tells whether a SQL text writes and to which groups.
func sqlWriteMask(sql string) (bool, changeMask) {
	if isMerchantIndexSQL(sql) {
		return true, changeMerchantIndex
	}
	kw, rest := sqlWord(sql)
	switch strings.ToUpper(kw) {
	case "", "SELECT", "VALUES", "EXPLAIN", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "LISTEN", "SET":
		return false, 0
	case "INSERT": // INSERT [OR …] INTO t
		for kw != "" && !strings.EqualFold(kw, "INTO") {
			kw, rest = sqlWord(rest)
		}
		t, _ := sqlWord(rest)
		return true, tableMask(t)
	case "UPDATE": // UPDATE [OR …] t
		t, rest := sqlWord(rest)
		if strings.EqualFold(t, "OR") {
			_, rest = sqlWord(rest)
			t, _ = sqlWord(rest)
		}
		return true, tableMask(t)
	case "DELETE": // DELETE FROM t
		_, rest = sqlWord(rest)
		t, _ := sqlWord(rest)
		return true, tableMask(t)
	}
	return true, changeAll
}

// sqlWord splits the first word (letters, digits, _, quotes) off s.
func sqlWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\r\n(")
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '"' || r == '`' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// startPostgres starts the LISTEN connection and the NOTIFY publisher.
func (c *Changes) startPostgres(url string, pool *sql.DB, log *slog.Logger) {
	if log != nil {
		c.log = log
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.kick = make(chan struct{}, 1)
	c.wg.Add(2)
	go c.listen(ctx, url)
	go c.publish(ctx, pool)
}

// stop ends the listener and publisher, sending what is still pending.
func (c *Changes) stop() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
		c.cancel = nil
	}
}

// publish sends one NOTIFY per wake-up with every group written since the
// last one: a burst of writes while a NOTIFY is on its way costs one more.
func (c *Changes) publish(ctx context.Context, pool *sql.DB) {
	defer c.wg.Done()
	send := func(ctx context.Context) {
		m := c.pending.Swap(0)
		if m == 0 {
			return
		}
		payload := c.id + " " + strconv.FormatUint(uint64(m), 10)
		if _, err := pool.ExecContext(ctx, "SELECT pg_notify($1, $2)", changesChannel, payload); err != nil {
			// Kept for the next try (or the flush at stop); other
			// processes see the write within CacheTTL anyway.
			c.pending.Or(m)
			if ctx.Err() == nil {
				c.log.Warn("changes: notify failed", slog.String("error", err.Error()))
			}
			return
		}
		c.notifies.Add(1)
	}
	for {
		select {
		case <-c.kick:
			send(ctx)
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			send(flush)
			cancel()
			return
		}
	}
}

// listen keeps a dedicated connection LISTENing for other processes'
// writes. Caches are live only while it listens; losing it and getting it
// back both invalidate everything (notifications in between are lost).
func (c *Changes) listen(ctx context.Context, url string) {
	defer c.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := c.listenOnce(ctx, url); err != nil && ctx.Err() == nil {
			c.log.Warn("changes: listener lost", slog.String("error", err.Error()))
		}
		c.live.Store(false)
		c.bumpLocal(changeAll)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (c *Changes) listenOnce(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "till-changes"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	c.bumpLocal(changeAll)
	c.live.Store(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, mask, _ := strings.Cut(n.Payload, " ")
		if id == c.id {
			continue
		}
		m, err := strconv.ParseUint(mask, 10, 32)
		if err != nil {
			m = uint64(changeAll)
		}
		c.bumpLocal(changeMask(m))
	}
}

// readCache keeps the results of one kind of read by key, each under the
// stamp of the groups it depends on, taken before it was read, for at most
// the tracker's TTL. Values are shared between callers: the methods that
// use a readCache hand out copies.
type readCache[V any] struct {
	changes *Changes
	deps    changeMask
	mu      sync.RWMutex
	m       map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	stamp uint64
	at    time.Duration // since monoStart, taken before the read
	v     V
}

// readCacheMax bounds each cache; when full it starts over (entries live
// about a second anyway).
const readCacheMax = 10_000

var monoStart = time.Now()

func newReadCache[V any](c *Changes, deps changeMask) *readCache[V] {
	return &readCache[V]{changes: c, deps: deps, m: map[string]cacheEntry[V]{}}
}

// get returns the value under key, loading (and keeping) it when missing,
// stale or expired. Errors are not kept.
func (rc *readCache[V]) get(key string, load func() (V, error)) (V, error) {
	c := rc.changes
	if c == nil || !c.live.Load() {
		return load()
	}
	stamp := c.stamp(rc.deps)
	now := time.Since(monoStart)
	rc.mu.RLock()
	e, ok := rc.m[key]
	rc.mu.RUnlock()
	if ok && e.stamp == stamp && now-e.at < time.Duration(c.ttl.Load()) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	rc.mu.Lock()
	if len(rc.m) >= readCacheMax {
		clear(rc.m)
	}
	rc.m[key] = cacheEntry[V]{stamp: stamp, at: now, v: v}
	rc.mu.Unlock()
	return v, nil
}

// storeCaches are a Store's cached reads.
type storeCaches struct {
	// payments: Store.Payment by id.
	payments *readCache[Payment]
	// checkouts: a session and whether a stray credit reached its address.
	checkouts *readCache[checkoutState]
	// links: payment links by id (the checkout's link).
	links *readCache[PaymentLink]
	// merchantNames: merchants' public names by id (the checkout). The
	// caches holding a whole Merchant depend on changeMerchantIndex too.
	merchantNames *readCache[string]
	// publicLinks: KiraPay's public link by code, with its merchant.
	publicLinks *readCache[publicLink]
	// apiKeys: the merchant owning an API key, by the key's hash.
	apiKeys *readCache[Merchant]
	// wallet: pages of KiraPay wallet transactions by merchant and query.
	wallet *readCache[walletPage]
	// linkSources: a link by slug with its merchant's session settings,
	// and chainPositions: a chain's last observed position (sessionSource).
	linkSources    *readCache[linkSource]
	chainPositions *readCache[chainPosition]
}

func newStoreCaches(c *Changes) storeCaches {
	return storeCaches{
		payments:       newReadCache[Payment](c, changePayments),
		checkouts:      newReadCache[checkoutState](c, changePayments),
		links:          newReadCache[PaymentLink](c, changeLinks),
		merchantNames:  newReadCache[string](c, changeMerchants),
		publicLinks:    newReadCache[publicLink](c, changeLinks|changeMerchants|changeMerchantIndex),
		apiKeys:        newReadCache[Merchant](c, changeMerchants|changeMerchantIndex),
		wallet:         newReadCache[walletPage](c, changePayments|changeMerchants|changeMerchantIndex),
		linkSources:    newReadCache[linkSource](c, changeLinks|changeMerchants),
		chainPositions: newReadCache[chainPosition](c, changeChainStates),
	}
}

// clone copies p deeply (its pointer fields too), so a caller may change
// the copy without touching a cached value.
func (p Payment) clone() *Payment {
	p.LinkID = clonePtr(p.LinkID)
	p.DerivationIndex = clonePtr(p.DerivationIndex)
	p.USDCents = clonePtr(p.USDCents)
	p.RateAt = clonePtr(p.RateAt)
	p.TxKnownAt = clonePtr(p.TxKnownAt)
	p.DetectedAt = clonePtr(p.DetectedAt)
	p.ConfirmedAt = clonePtr(p.ConfirmedAt)
	p.ExpiredAt = clonePtr(p.ExpiredAt)
	return &p
}

// clone copies l deeply.
func (l PaymentLink) clone() *PaymentLink {
	l.ExpiryMinutes = clonePtr(l.ExpiryMinutes)
	l.APIKeyID = clonePtr(l.APIKeyID)
	l.ExpiresAt = clonePtr(l.ExpiresAt)
	return &l
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
