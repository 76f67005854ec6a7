package double

// GET /virtual-chain, shaped after kaspa-rest-server's experimental
// endpoints/get_virtual_chain.py: the chain blocks of one blue-score window
// with the transactions each accepted, for a client that follows the chain
// instead of polling every address.

import (
	"encoding/hex"
	"net/http"
	"strconv"
)

// virtualChain serves GET /virtual-chain?blueScoreGte=G&limit=L
// &resolveInputs=bool&includeCoinbase=bool (a strict route). Validation
// follows FastAPI: unknown parameter, missing or non-integer blueScoreGte,
// blueScoreGte < 0 and non-boolean flags → 422; then the handler's own
// checks → 400 {"detail":"'limit' must be in [10, 100]"} and
// {"detail":"'blueScoreGte' must be divisible by limit (L)"}.
//
// It answers the chain blocks with blue score in [G, G+L) that accepted at
// least one returned transaction, by blue score, each transaction with
// is_accepted=true and no null keys (response_model_exclude_none). It is
// indexer-backed: transactions unknown to the lagging indexer are left
// out, as are rejected ones; includeCoinbase=false drops transactions
// without inputs. A window starting past the node's blue score is [].
func (c *Chain) virtualChain(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	if !p.strict(w, "blueScoreGte", "limit", "resolveInputs", "includeCoinbase") {
		return
	}
	gte := p.requiredInt("blueScoreGte", i64(0), nil)
	limit := p.queryInt("limit", 10, nil, nil) // enum=[10, 100] is documentation only
	resolve := p.queryBool("resolveInputs", false)
	coinbase := p.queryBool("includeCoinbase", true)
	if !p.done(w) {
		return
	}
	if limit != 10 && limit != 100 {
		writeDetail(w, http.StatusBadRequest, "'limit' must be in [10, 100]")
		return
	}
	if gte%limit != 0 {
		writeDetail(w, http.StatusBadRequest, "'blueScoreGte' must be divisible by limit ("+strconv.FormatInt(limit, 10)+")")
		return
	}
	lo, hi := uint64(gte), uint64(gte)+uint64(limit)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.addCacheControlLocked(w, hi, 0)
	out := []obj{}
	if c.blueScore > 0 && c.blueScore < lo {
		writeJSON(w, http.StatusOK, out)
		return
	}
	for bs := lo; bs < hi; bs++ {
		b := c.chain[bs]
		if b == nil {
			continue
		}
		var txs []obj
		for _, t := range b.txs {
			if !t.indexed || t.acceptLag || (!coinbase && len(t.inputs) == 0) {
				continue
			}
			txs = append(txs, vcTxJSON(t, resolve))
		}
		if len(txs) > 0 {
			out = append(out, obj{{"hash", c.chainHashAt(bs)}, {"blue_score", bs}, {"daa_score", b.daa},
				{"timestamp", b.time}, {"transactions", txs}})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// vcTxJSON renders one VcTxModel without null keys: inputs (absent for a
// coinbase) carry the previous outpoint's script, address and amount only
// when resolve is set; outputs are in index order without an index.
func vcTxJSON(t *tx, resolve bool) obj {
	o := obj{{"transaction_id", t.id}, {"is_accepted", true}}
	if len(t.inputs) > 0 {
		ins := make([]obj, 0, len(t.inputs))
		for _, in := range t.inputs {
			e := obj{
				{"previous_outpoint_hash", in.prevHash},
				{"previous_outpoint_index", in.prevIndex},
				{"signature_script", in.sigScript},
			}
			if resolve {
				e = append(e, kv{"previous_outpoint_script", hex.EncodeToString(in.script)},
					kv{"previous_outpoint_address", in.address}, kv{"previous_outpoint_amount", in.amount})
			}
			ins = append(ins, e)
		}
		o = append(o, kv{"inputs", ins})
	}
	if len(t.outputs) > 0 {
		outs := make([]obj, 0, len(t.outputs))
		for _, out := range t.outputs {
			outs = append(outs, obj{
				{"script_public_key", hex.EncodeToString(out.script)},
				{"script_public_key_address", out.address},
				{"amount", out.amount},
			})
		}
		o = append(o, kv{"outputs", outs})
	}
	return o
}
