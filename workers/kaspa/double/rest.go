package double

// The REST endpoints, shaped after kaspa-ng/kaspa-rest-server c84d28a
// (endpoints/*.py). Node-backed routes read the UTXO set and scores;
// indexer-backed routes (history) only see indexed transactions.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	kaspaaddr "till/models/kaspa"
)

// GenesisMs is the mainnet genesis time in ms (constants.GENESIS_MS); the
// paging endpoint treats before ≤ GenesisMs as "nothing older".
const GenesisMs int64 = 1636298787842

// Limits of the REST server (constants.py).
const (
	TxSearchIDLimit = 1000
	TxSearchBSLimit = 100
	// healthToleranceDown is HEALTH_TOLERANCE_DOWN in seconds.
	healthToleranceDown = 300
)

var txIDPattern = "[a-f0-9]{64}"
var txIDRe = regexp.MustCompile(txIDPattern)

func i64(v int64) *int64 { return &v }

func (c *Chain) addrPattern() string { return "^" + c.prefix + ":[a-z0-9]{61,63}$" }

func (c *Chain) restMux() *http.ServeMux {
	addrRe := regexp.MustCompile(c.addrPattern())
	m := http.NewServeMux()
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request)) { m.HandleFunc(pattern, f) }

	// pathAddress validates {kaspaAddress}: regex → 422, codec → 400.
	pathAddress := func(p *params) string {
		a := p.r.PathValue("kaspaAddress")
		p.pathRegex("kaspaAddress", a, addrRe, c.addrPattern())
		return a
	}
	// known remembers addresses that matched addrRe and decoded, so a
	// watcher asking for the same thousands of addresses every cycle is not
	// charged a regex and a bech32 decode per address per cycle on the
	// machine it is measured on (the real REST server runs elsewhere).
	known := &addressCache{m: map[string]string{}}
	decodeOr400 := func(w http.ResponseWriter, a string) (string, bool) {
		if addr, ok := known.get(a); ok {
			return addr, true
		}
		addr, _, err := c.resolve(a)
		if err != nil {
			writeDetail(w, http.StatusBadRequest, "Invalid address: "+a)
			return "", false
		}
		if addrRe.MatchString(a) {
			known.put(a, addr)
		}
		return addr, true
	}

	h("GET /addresses/{kaspaAddress}/balance", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		a := pathAddress(p)
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		c.mu.Lock()
		bal := c.balanceLocked(addr)
		c.mu.Unlock()
		writeJSON(w, 200, obj{{"address", a}, {"balance", bal}})
	})

	h("POST /addresses/balances", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		addrs := c.addressesBody(p)
		if !p.done(w) {
			return
		}
		resolved := make([]string, len(addrs))
		for i, a := range addrs {
			addr, ok := decodeOr400(w, a)
			if !ok {
				return
			}
			resolved[i] = addr
		}
		out := make([]obj, 0, len(addrs))
		c.mu.Lock()
		for i, a := range addrs {
			out = append(out, obj{{"address", a}, {"balance", c.balanceLocked(resolved[i])}})
		}
		c.mu.Unlock()
		writeJSON(w, 200, out)
	})

	h("GET /addresses/{kaspaAddress}/utxos", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w) {
			return
		}
		a := pathAddress(p)
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		c.mu.Lock()
		list := c.sortedUTXOsLocked(&addr)
		c.mu.Unlock()
		out := make([]obj, 0, len(list))
		for _, e := range list {
			out = append(out, utxoJSON(e))
		}
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(utxoTTL(len(out))))
		writeJSON(w, 200, out)
	})

	h("POST /addresses/utxos", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w) {
			return
		}
		addrs := c.addressesBody(p)
		if !p.done(w) {
			return
		}
		var resolved []string
		seen := map[string]bool{}
		for _, a := range addrs {
			addr, ok := known.get(a)
			if !ok {
				if !addrRe.MatchString(a) {
					writeDetail(w, http.StatusBadRequest, "Invalid address: "+a)
					return
				}
				if addr, ok = decodeOr400(w, a); !ok {
					return
				}
			}
			if !seen[addr] {
				seen[addr] = true
				resolved = append(resolved, addr)
			}
		}
		out := []obj{}
		c.mu.Lock()
		for _, addr := range resolved {
			for _, e := range c.sortedUTXOsLocked(&addr) {
				out = append(out, utxoJSON(e))
			}
		}
		c.mu.Unlock()
		writeJSON(w, 200, out)
	})

	h("GET /addresses/{kaspaAddress}/utxos/count", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w) {
			return
		}
		a := pathAddress(p)
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		c.mu.Lock()
		n := len(c.sortedUTXOsLocked(&addr))
		c.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(utxoTTL(n)))
		writeJSON(w, 200, obj{{"count", n}})
	})

	h("GET /addresses/{kaspaAddress}/full-transactions", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w, "limit", "offset", "fields", "resolve_previous_outpoints") {
			return
		}
		a := pathAddress(p)
		limit := p.queryInt("limit", 50, i64(1), i64(500))
		offset := p.queryInt("offset", 0, i64(0), nil)
		fields := p.queryStr("fields", "")
		mode := p.queryEnum("resolve_previous_outpoints", "no", "no", "light", "full")
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		txs := c.addressTxsLocked(addr) // newest first
		if offset >= int64(len(txs)) {
			txs = nil
		} else {
			txs = txs[offset:]
		}
		if int64(len(txs)) > limit {
			txs = txs[:limit]
		}
		out := make([]obj, 0, len(txs))
		for _, t := range txs {
			out = append(out, c.txJSONLocked(t, txView{mode: mode, list: true, fields: splitFields(fields), inputs: true, outputs: true}))
		}
		ttl := 8
		if offset > 0 && len(txs) > 0 {
			age := (c.nowMs() - txs[0].blockTime) / 1000
			switch {
			case age < 600:
				ttl = 8
			case age < 86400:
				ttl = 60
			default:
				ttl = 600
			}
		}
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(ttl))
		writeJSON(w, 200, out)
	})

	h("GET /addresses/{kaspaAddress}/full-transactions-page", c.fullTransactionsPage(pathAddress, decodeOr400))

	h("GET /addresses/{kaspaAddress}/transactions-count", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w) {
			return
		}
		a := pathAddress(p)
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		c.mu.Lock()
		n := len(c.addressTxsLocked(addr))
		c.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=8")
		writeJSON(w, 200, obj{{"total", n}})
	})

	h("GET /transactions/{transaction_id}", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		id := r.PathValue("transaction_id")
		p.pathRegex("transaction_id", id, txIDRe, txIDPattern)
		_ = p.queryStr("blockHash", "")
		inputs := p.queryBool("inputs", true)
		outputs := p.queryBool("outputs", true)
		mode := p.queryEnum("resolve_previous_outpoints", "no", "no", "light", "full")
		if !p.done(w) {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		t, ok := c.txs[id]
		if !ok || !t.indexed {
			w.Header().Set("Cache-Control", "public, max-age=3")
			writeDetail(w, http.StatusNotFound, "Transaction not found")
			return
		}
		var bs uint64
		if t.accepted {
			bs = t.acceptingBlueScore
		}
		c.addCacheControlLocked(w, bs, t.blockTime)
		writeJSON(w, 200, c.txJSONLocked(t, txView{mode: mode, inputs: inputs, outputs: outputs}))
	})

	h("POST /transactions/search", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		fields := p.queryStr("fields", "")
		mode := p.queryEnum("resolve_previous_outpoints", "no", "no", "light", "full")
		acceptance := p.queryEnum("acceptance", "", "accepted", "rejected")
		m := p.body()
		var ids []string
		var bs map[string]json.RawMessage
		var gte, lt int64
		if m != nil {
			ids, _, _ = p.strList(m, "transactionIds", true)
			if raw, ok := m["acceptingBlueScores"]; ok && strings.TrimSpace(string(raw)) != "null" {
				if json.Unmarshal(raw, &bs) != nil || bs == nil {
					p.errs = append(p.errs, verr([]any{"body", "acceptingBlueScores"}, "value is not a valid dict", "type_error.dict", nil))
				} else {
					gte = p.intField(bs, []any{"body", "acceptingBlueScores"}, "gte")
					lt = p.intField(bs, []any{"body", "acceptingBlueScores"}, "lt")
				}
			}
		}
		if !p.done(w) {
			return
		}
		if len(ids) == 0 && bs == nil {
			writeJSON(w, 200, []obj{})
			return
		}
		if len(ids) > TxSearchIDLimit {
			writeDetail(w, http.StatusUnprocessableEntity, "Too many transaction ids. Max "+strconv.Itoa(TxSearchIDLimit))
			return
		}
		if len(ids) > 0 && bs != nil {
			writeDetail(w, http.StatusUnprocessableEntity, "Only one of transactionIds and acceptingBlueScores must be non-null")
			return
		}
		if bs != nil && lt-gte > TxSearchBSLimit {
			writeDetail(w, http.StatusBadRequest, "Diff between acceptingBlueScores.gte and lt must be <= "+strconv.Itoa(TxSearchBSLimit))
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var found []*tx
		if bs != nil {
			if gte != 0 { // the server tests "if accepting_blue_score_gte:" — 0 finds nothing
				for _, t := range c.txList {
					if t.indexed && t.accepted && int64(t.acceptingBlueScore) >= gte && int64(t.acceptingBlueScore) < lt {
						found = append(found, t)
					}
				}
			}
		} else {
			seen := map[string]bool{}
			for _, id := range ids {
				t, ok := c.txs[id]
				if !ok || !t.indexed || seen[id] {
					continue
				}
				seen[id] = true
				if (acceptance == "accepted" && !t.accepted) || (acceptance == "rejected" && t.accepted) {
					continue
				}
				found = append(found, t)
			}
		}
		sortNewestFirst(found)
		out := make([]obj, 0, len(found))
		for _, t := range found {
			out = append(out, c.txJSONLocked(t, txView{mode: mode, list: true, fields: splitFields(fields), inputs: true, outputs: true}))
		}
		writeJSON(w, 200, out)
	})

	h("POST /transactions/acceptance", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w) {
			return
		}
		m := p.body()
		var ids []string
		if m != nil {
			var present bool
			ids, present, _ = p.strList(m, "transactionIds", false)
			if !present {
				p.errs = append(p.errs, verr([]any{"body", "transactionIds"}, "field required", "value_error.missing", nil))
			}
		}
		if !p.done(w) {
			return
		}
		if len(ids) > TxSearchIDLimit {
			writeDetail(w, http.StatusUnprocessableEntity, "Too many transaction ids. Max "+strconv.Itoa(TxSearchIDLimit))
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		out := make([]obj, 0, len(ids))
		for _, id := range ids {
			t, ok := c.txs[id]
			if ok && t.indexed && t.accepted {
				out = append(out, obj{{"transactionId", id}, {"accepted", true}, {"acceptingBlockHash", t.acceptingHash},
					{"acceptingBlueScore", t.acceptingBlueScore}, {"acceptingTimestamp", t.acceptingTime}})
			} else {
				out = append(out, obj{{"transactionId", id}, {"accepted", false}, {"acceptingBlockHash", nil},
					{"acceptingBlueScore", nil}, {"acceptingTimestamp", nil}})
			}
		}
		writeJSON(w, 200, out)
	})

	h("GET /virtual-chain", c.virtualChain)

	h("GET /info/virtual-chain-blue-score", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, obj{{"blueScore", c.BlueScore()}})
	})
	blockdag := func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		tip := c.blockHashAt(c.daa)
		count := strconv.FormatUint(864_000+(c.daa-c.startDaa), 10)
		writeJSON(w, 200, obj{
			{"networkName", "kaspa-" + c.network},
			{"blockCount", count},
			{"headerCount", count},
			{"tipHashes", []string{tip}},
			{"difficulty", pyNum(3870677677777.2)},
			{"pastMedianTime", strconv.FormatInt(c.nowMs()-3_000, 10)},
			{"virtualParentHashes", []string{tip}},
			{"pruningPointHash", hash(c.network, "pruning-point")},
			{"virtualDaaScore", strconv.FormatUint(c.daa, 10)},
			{"sink", c.chainHashAt(c.blueScore)},
		})
	}
	h("GET /info/blockdag", blockdag)
	h("GET /info/network", blockdag)

	h("GET /info/price", func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		stringOnly := p.queryBool("stringOnly", false)
		if !p.done(w) {
			return
		}
		if c.network != string(kaspaaddr.Mainnet) {
			writeDetail(w, http.StatusServiceUnavailable, "Endpoint not available. This endpoint is only available in mainnet.")
			return
		}
		price := c.Price()
		if stringOnly {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(price))
			return
		}
		writeJSON(w, 200, obj{{"price", json.Number(price)}})
	})

	h("GET /info/health", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		dbBlue, dbTime := c.blueScore, c.nowMs()
		if c.lag {
			dbBlue, dbTime = c.lagBlueScore, c.lagTime
		}
		diff := c.blueScore - dbBlue
		timeDiff := float64(c.nowMs()-dbTime) / 1000
		synced := diff < uint64(healthToleranceDown*c.bps) && timeDiff < healthToleranceDown
		p2p := sha256.Sum256([]byte("till-kaspa-double-" + c.network))
		status := 200
		var timeDiffJSON any = int64(timeDiff) // response_model coerces to int
		if !synced {
			status = http.StatusServiceUnavailable
			timeDiffJSON = pyNum(timeDiff) // raw JSONResponse keeps the float
		}
		writeJSON(w, status, obj{
			{"kaspadServers", []obj{{
				{"kaspadHost", "wrpc"}, {"serverVersion", "1.0.1"}, {"isUtxoIndexed", true}, {"isSynced", true},
				{"p2pId", hex.EncodeToString(p2p[:])}, {"blueScore", c.blueScore},
			}}},
			{"database", obj{
				{"isSynced", synced}, {"blueScore", dbBlue}, {"blueScoreDiff", diff},
				{"acceptedTxBlockTime", dbTime}, {"acceptedTxBlockTimeDiff", timeDiffJSON},
			}},
		})
	})

	h("GET /info/fee-estimate", func(w http.ResponseWriter, r *http.Request) {
		bucket := func(rate int, secs float64) obj {
			return obj{{"feerate", rate}, {"estimatedSeconds", pyNum(secs)}}
		}
		writeJSON(w, 200, obj{
			{"priorityBucket", bucket(110, 1.0)},
			{"normalBuckets", []obj{bucket(100, 1.5), bucket(100, 3.0)}},
			{"lowBuckets", []obj{bucket(100, 10.0)}},
		})
	})

	h(routeCoinGecko, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Cache-Control", "public, max-age=30")
		res := obj{}
		if contains(splitFields(strings.ToLower(q.Get("ids"))), "kaspa") {
			inner := obj{}
			if contains(splitFields(strings.ToLower(q.Get("vs_currencies"))), "usd") {
				inner = append(inner, kv{"usd", json.Number(c.Price())})
			}
			res = append(res, kv{"kaspa", inner})
		}
		writeJSON(w, 200, res)
	})
	return m
}

// addressesBody parses {"addresses":[…]} (BalanceRequest / UtxoRequest).
// A missing key falls back to the model default [ADDRESS_EXAMPLE].
func (c *Chain) addressesBody(p *params) []string {
	m := p.body()
	if m == nil {
		return nil
	}
	list, present, _ := p.strList(m, "addresses", false)
	if !present {
		return []string{exampleAddress[c.network]}
	}
	return list
}

func utxoTTL(n int) int {
	switch {
	case n > 100_000:
		return 3600
	case n > 10_000:
		return 600
	case n > 1_000:
		return 60
	}
	return 8
}

func (c *Chain) balanceLocked(addr string) uint64 {
	var sum uint64
	for _, u := range c.utxos {
		if u.address == addr {
			sum += u.amount
		}
	}
	return sum
}

func utxoJSON(e utxoEntry) obj {
	return obj{
		{"address", e.u.address},
		{"outpoint", obj{{"transactionId", e.op.txid}, {"index", e.op.index}}},
		{"utxoEntry", obj{
			{"amount", strconv.FormatUint(e.u.amount, 10)},
			{"scriptPublicKey", obj{{"scriptPublicKey", hex.EncodeToString(e.u.script)}}},
			{"blockDaaScore", strconv.FormatUint(e.u.daa, 10)},
			{"isCoinbase", e.u.coinbase},
		}},
	}
}

// addressTxsLocked lists the indexed transactions touching addr, newest
// (block_time) first.
func (c *Chain) addressTxsLocked(addr string) []*tx {
	var out []*tx
	for _, t := range c.byAddr[addr] {
		if t.indexed {
			out = append(out, t)
		}
	}
	sortNewestFirst(out)
	return out
}

func sortNewestFirst(txs []*tx) {
	sort.SliceStable(txs, func(i, j int) bool {
		if txs[i].blockTime != txs[j].blockTime {
			return txs[i].blockTime > txs[j].blockTime
		}
		return txs[i].seq > txs[j].seq
	})
}

func splitFields(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// addCacheControlLocked is helper/utils.add_cache_control: the TTL grows with
// the age of the data (by blue score distance, else by block time).
func (c *Chain) addCacheControlLocked(w http.ResponseWriter, blueScore uint64, timestamp int64) {
	var secs float64
	switch {
	case blueScore != 0:
		d := int64(c.blueScore) - int64(blueScore)
		if d < 0 {
			d = -d
		}
		secs = float64(d) / float64(c.bps)
	case timestamp != 0:
		d := c.nowMs() - timestamp
		if d < 0 {
			d = -d
		}
		secs = float64(d) / 1000
	default:
		return
	}
	ttl := 86400
	for _, step := range []struct {
		below float64
		ttl   int
	}{{20, 4}, {60, 20}, {600, 60}, {3600, 600}, {10800, 1200}, {36000, 3600}, {86400, 10800}, {172800, 36000}} {
		if secs < step.below {
			ttl = step.ttl
			break
		}
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(ttl))
}

// txView selects how a transaction is rendered.
type txView struct {
	mode            string // resolve_previous_outpoints: no|light|full
	list            bool   // list endpoints: accepting_* always present (null when unaccepted)
	fields          []string
	inputs, outputs bool
}

// txJSONLocked renders a TxModel. For GET /transactions/{id} (list=false)
// the accepting_* keys are absent when the transaction is not accepted
// (response_model_exclude_unset); list endpoints always emit them.
func (c *Chain) txJSONLocked(t *tx, v txView) obj {
	var mass any
	if t.mass != 0 {
		mass = strconv.FormatUint(t.mass, 10)
	}
	o := obj{
		{"subnetwork_id", t.subnetwork},
		{"transaction_id", t.id},
		{"hash", t.hash},
		{"mass", mass},
		{"payload", nil},
		{"block_hash", []string{t.blockHash}},
		{"block_time", t.blockTime},
		{"version", 0},
		{"is_accepted", t.accepted},
	}
	if t.accepted {
		o = append(o, kv{"accepting_block_hash", t.acceptingHash}, kv{"accepting_block_blue_score", t.acceptingBlueScore},
			kv{"accepting_block_time", t.acceptingTime})
	} else if v.list {
		o = append(o, kv{"accepting_block_hash", nil}, kv{"accepting_block_blue_score", nil}, kv{"accepting_block_time", nil})
	}
	var ins any
	if v.inputs && len(t.inputs) > 0 {
		list := make([]obj, 0, len(t.inputs))
		for i, in := range t.inputs {
			e := obj{
				{"transaction_id", t.id},
				{"index", i},
				{"previous_outpoint_hash", in.prevHash},
				{"previous_outpoint_index", strconv.FormatUint(uint64(in.prevIndex), 10)},
			}
			if v.mode == "full" {
				a, _ := kaspaaddr.DecodeAddress(in.address)
				e = append(e, kv{"previous_outpoint_resolved", obj{
					{"transaction_id", in.prevHash}, {"index", in.prevIndex}, {"amount", in.amount},
					{"script_public_key", hex.EncodeToString(in.script)}, {"script_public_key_address", in.address},
					{"script_public_key_type", a.Version.String()},
				}})
			}
			if v.mode == "no" {
				e = append(e, kv{"previous_outpoint_address", nil}, kv{"previous_outpoint_amount", nil})
			} else {
				e = append(e, kv{"previous_outpoint_address", in.address}, kv{"previous_outpoint_amount", in.amount})
			}
			e = append(e, kv{"signature_script", in.sigScript}, kv{"sig_op_count", strconv.Itoa(in.sigOpCount)})
			list = append(list, e)
		}
		ins = list
	}
	var outs any
	if v.outputs && len(t.outputs) > 0 {
		list := make([]obj, 0, len(t.outputs))
		for i, out := range t.outputs {
			list = append(list, obj{
				{"transaction_id", t.id},
				{"index", i},
				{"amount", out.amount},
				{"script_public_key", hex.EncodeToString(out.script)},
				{"script_public_key_address", out.address},
				{"script_public_key_type", out.typ},
			})
		}
		outs = list
	}
	o = append(o, kv{"inputs", ins}, kv{"outputs", outs})
	if len(v.fields) > 0 {
		var f obj
		for _, e := range o {
			if contains(v.fields, e.k) {
				f = append(f, e)
			}
		}
		if f == nil {
			f = obj{}
		}
		o = f
	}
	return o
}

// fullTransactionsPage is GET /addresses/{a}/full-transactions-page:
// keyset paging by block_time (ms), reproducing the server's algorithm
// including the page growing past limit when transactions share the
// boundary block_time, and the X-Page-Count / X-Next-Page-Before /
// X-Next-Page-After headers.
func (c *Chain) fullTransactionsPage(pathAddress func(*params) string, decodeOr400 func(http.ResponseWriter, string) (string, bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := newParams(r)
		if !p.strict(w, "limit", "before", "after", "fields", "resolve_previous_outpoints", "acceptance") {
			return
		}
		a := pathAddress(p)
		limit := p.queryInt("limit", 50, i64(1), i64(500))
		before := p.queryInt("before", 0, i64(0), nil)
		after := p.queryInt("after", 0, i64(0), nil)
		fields := splitFields(p.queryStr("fields", ""))
		mode := p.queryEnum("resolve_previous_outpoints", "no", "no", "light", "full")
		acceptance := p.queryEnum("acceptance", "", "accepted", "rejected")
		if !p.done(w) {
			return
		}
		addr, ok := decodeOr400(w, a)
		if !ok {
			return
		}
		w.Header().Set("X-Page-Count", "0")
		if before != 0 && after != 0 {
			w.Header().Del("X-Page-Count") // HTTPException responses drop response headers
			writeDetail(w, http.StatusBadRequest, "Only one of [before, after] can be present")
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		all := c.addressTxsLocked(addr) // newest first
		var cand []*tx
		switch {
		case before != 0:
			if before <= GenesisMs {
				writeJSON(w, 200, []obj{})
				return
			}
			for _, t := range all {
				if t.blockTime < before {
					cand = append(cand, t)
				}
			}
		case after != 0:
			if after > c.nowMs()+3_600_000 {
				writeJSON(w, 200, []obj{})
				return
			}
			for i := len(all) - 1; i >= 0; i-- { // ascending
				if all[i].blockTime > after {
					cand = append(cand, all[i])
				}
			}
		default:
			cand = all
		}
		if acceptance == "accepted" {
			var acc []*tx
			for _, t := range cand {
				if t.accepted {
					acc = append(acc, t)
				}
			}
			cand = acc
		}
		if int64(len(cand)) > limit {
			cand = cand[:limit]
		}
		if len(cand) == 0 {
			writeJSON(w, 200, []obj{})
			return
		}
		newest, oldest := cand[0].blockTime, cand[0].blockTime
		for _, t := range cand {
			newest = max(newest, t.blockTime)
			oldest = min(oldest, t.blockTime)
		}
		page := map[string]*tx{}
		for _, t := range cand {
			page[t.id] = t
		}
		if int64(len(cand)) == limit {
			// "To avoid gaps when transactions with the same block_time are
			// at the intersection between pages."
			for _, t := range all {
				if t.blockTime == newest || t.blockTime == oldest {
					page[t.id] = t
				}
			}
		}
		hasNewer, hasOlder := false, false
		for _, t := range all {
			if (before != 0 || after != 0) && t.blockTime > newest {
				hasNewer = true
			}
			if (after == 0 || after >= GenesisMs) && t.blockTime < oldest {
				hasOlder = true
			}
		}
		if hasNewer {
			w.Header().Set("X-Next-Page-After", strconv.FormatInt(newest, 10))
		}
		if hasOlder {
			w.Header().Set("X-Next-Page-Before", strconv.FormatInt(oldest, 10))
		}
		res := make([]*tx, 0, len(page))
		for _, t := range page {
			if (acceptance == "accepted" && !t.accepted) || (acceptance == "rejected" && t.accepted) {
				continue
			}
			res = append(res, t)
		}
		sortNewestFirst(res)
		out := make([]obj, 0, len(res))
		for _, t := range res {
			out = append(out, c.txJSONLocked(t, txView{mode: mode, list: true, fields: fields, inputs: true, outputs: true}))
		}
		w.Header().Set("X-Page-Count", strconv.Itoa(len(out)))
		if before != 0 {
			c.addCacheControlLocked(w, 0, before)
		} else if after != 0 && len(page) >= int(limit) && len(res) > 0 {
			c.addCacheControlLocked(w, 0, res[0].blockTime)
		}
		writeJSON(w, 200, out)
	}
}

// addressCache maps an address as a client sent it to the chain's own
// spelling, for addresses known valid; it forgets everything at
// maxKnownAddresses rather than grow without bound.
type addressCache struct {
	mu sync.Mutex
	m  map[string]string
}

const maxKnownAddresses = 1 << 18

func (k *addressCache) get(a string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	addr, ok := k.m[a]
	return addr, ok
}

func (k *addressCache) put(a, addr string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) >= maxKnownAddresses {
		clear(k.m)
	}
	k.m[a] = addr
}
