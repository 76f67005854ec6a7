package double

// The /_double/ control API: the Go controls as JSON over HTTP, so the
// standalone command and tests in another process can drive the chain.
// Bodies are JSON whatever the Content-Type (curl -d works); unknown fields
// are ignored; errors are 400/404 {"error":"…"}. Control calls are never
// counted in Calls() nor affected by injected failures.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ControlHelp lists the control endpoints (GET /_double answers with it).
var ControlHelp = []string{
	`POST /_double/pay {"address":"kaspa:…","amount":"1.5" | "sompi":150000000,"from":"kaspa:…","change":sompi,"outputs":[{"address":…,"amount"|"sompi":…}],"coinbase":bool,"rejected":bool,"sameBlock":bool} → {"transactionId":…,"blockDaaScore":…,"virtualDaaScore":…,"blueScore":…}`,
	`POST /_double/advance {"blocks":n} → {"virtualDaaScore":…,"blueScore":…}`,
	`POST /_double/spend {"transactionId":…,"index":n} | {"address":…} → {"removed":n}`,
	`POST /_double/daa-score {"transactionId":…,"index":n,"blockDaaScore":n} (reorg moving a UTXO)`,
	`POST /_double/reject {"transactionId":…} (accepted → merged-but-rejected, UTXOs removed)`,
	`POST /_double/accept {"transactionId":…} (undo reject: accepted at the current blue score, UTXOs back at the current DAA score)`,
	`POST /_double/freeze {"on":bool} (while on, the DAA and blue scores stand still, even on pay/advance)`,
	`POST /_double/fail {"mode":"503|500|timeout|junk|truncated","count":n (0 = until cleared),"route":"POST /addresses/utxos" (optional),"delayMs":n (timeout only)}`,
	`POST /_double/clear (remove all injected failures, incl. CoinGecko)`,
	`POST /_double/indexer-lag {"on":bool}`,
	`POST /_double/price {"price":"0.1234","fail":bool} ("fail" makes the CoinGecko route answer 429; both keys optional)`,
	`GET /_double/calls → {"GET /info/blockdag":n,…};  POST /_double/calls/reset`,
	`GET /_double/state → scores, price, flags, failures, utxos`,
}

func (c *Chain) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	h := func(pattern string, f func(r *http.Request) (int, any)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			status, v := f(r)
			if err, ok := v.(error); ok {
				v = map[string]string{"error": err.Error()}
			}
			b, _ := marshal(v)
			writeRaw(w, r, status, "application/json", b, nil)
		})
	}
	decode := func(r *http.Request, v any) error {
		raw, err := readBody(r)
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(raw))) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("bad JSON body: %w", err)
		}
		return nil
	}
	scores := func() map[string]uint64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return map[string]uint64{"virtualDaaScore": c.daa, "blueScore": c.blueScore}
	}

	h("GET /_double", func(*http.Request) (int, any) { return 200, map[string]any{"endpoints": ControlHelp} })
	h("GET /_double/{$}", func(*http.Request) (int, any) { return 200, map[string]any{"endpoints": ControlHelp} })

	h("POST /_double/pay", func(r *http.Request) (int, any) {
		type out struct {
			Address string      `json:"address"`
			Amount  json.Number `json:"amount"`
			Sompi   json.Number `json:"sompi"`
		}
		var body struct {
			out
			From      string      `json:"from"`
			Change    json.Number `json:"change"`
			Outputs   []out       `json:"outputs"`
			Coinbase  bool        `json:"coinbase"`
			Rejected  bool        `json:"rejected"`
			SameBlock bool        `json:"sameBlock"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		outs := body.Outputs
		if body.Address != "" {
			outs = append([]out{body.out}, outs...)
		}
		spec := TxSpec{From: body.From, Coinbase: body.Coinbase, Rejected: body.Rejected, SameBlock: body.SameBlock}
		for i, o := range outs {
			var sompi int64
			var err error
			switch {
			case o.Sompi != "" && o.Amount != "":
				err = errors.New(`give either "amount" (KAS) or "sompi", not both`)
			case o.Sompi != "":
				sompi, err = strconv.ParseInt(o.Sompi.String(), 10, 64)
			case o.Amount != "":
				sompi, err = ParseKAS(o.Amount.String())
			default:
				err = errors.New(`missing "amount" (KAS decimal) or "sompi"`)
			}
			if err != nil {
				return 400, fmt.Errorf("output %d: %w", i, err)
			}
			spec.Outputs = append(spec.Outputs, Output{Address: o.Address, Sompi: sompi})
		}
		if body.Change != "" {
			ch, err := strconv.ParseInt(body.Change.String(), 10, 64)
			if err != nil {
				return 400, fmt.Errorf("change: %w", err)
			}
			spec.Change = ch
		}
		if len(spec.Outputs) == 0 {
			return 400, errors.New(`need "address" with "amount" or "sompi", or "outputs"`)
		}
		id, err := c.Submit(spec)
		if err != nil {
			return 400, err
		}
		c.mu.Lock()
		res := map[string]any{"transactionId": id, "blockDaaScore": c.txs[id].daa, "virtualDaaScore": c.daa, "blueScore": c.blueScore}
		c.mu.Unlock()
		return 200, res
	})

	h("POST /_double/advance", func(r *http.Request) (int, any) {
		var body struct {
			Blocks *uint64 `json:"blocks"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		n := uint64(1)
		if body.Blocks != nil {
			n = *body.Blocks
		}
		c.Advance(n)
		return 200, scores()
	})

	h("POST /_double/spend", func(r *http.Request) (int, any) {
		var body struct {
			TransactionID string  `json:"transactionId"`
			Index         *uint32 `json:"index"`
			Address       string  `json:"address"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		switch {
		case body.Address != "":
			if _, _, err := c.resolve(body.Address); err != nil {
				return 400, err
			}
			return 200, map[string]int{"removed": c.SpendAll(body.Address)}
		case body.TransactionID != "" && body.Index != nil:
			if !c.Spend(body.TransactionID, *body.Index) {
				return 404, errors.New("no such UTXO")
			}
			return 200, map[string]int{"removed": 1}
		}
		return 400, errors.New(`need {"transactionId","index"} or {"address"}`)
	})

	h("POST /_double/daa-score", func(r *http.Request) (int, any) {
		var body struct {
			TransactionID string  `json:"transactionId"`
			Index         uint32  `json:"index"`
			BlockDaaScore *uint64 `json:"blockDaaScore"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if body.BlockDaaScore == nil {
			return 400, errors.New(`missing "blockDaaScore"`)
		}
		if !c.SetDaaScore(body.TransactionID, body.Index, *body.BlockDaaScore) {
			return 404, errors.New("no such UTXO")
		}
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/reject", func(r *http.Request) (int, any) {
		var body struct {
			TransactionID string `json:"transactionId"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if !c.Reject(body.TransactionID) {
			return 404, errors.New("no such transaction")
		}
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/accept", func(r *http.Request) (int, any) {
		var body struct {
			TransactionID string `json:"transactionId"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if !c.Accept(body.TransactionID) {
			return 404, errors.New("no such rejected transaction")
		}
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/freeze", func(r *http.Request) (int, any) {
		var body struct {
			On *bool `json:"on"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if body.On == nil {
			return 400, errors.New(`missing "on"`)
		}
		c.Freeze(*body.On)
		return 200, scores()
	})

	h("POST /_double/fail", func(r *http.Request) (int, any) {
		var body struct {
			Mode    string `json:"mode"`
			Count   int    `json:"count"`
			Route   string `json:"route"`
			DelayMs int64  `json:"delayMs"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		f := Failure{Mode: FailMode(body.Mode), Count: body.Count, Route: body.Route, Delay: time.Duration(body.DelayMs) * time.Millisecond}
		if err := c.InjectFailure(f); err != nil {
			return 400, err
		}
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/clear", func(*http.Request) (int, any) {
		c.Clear()
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/indexer-lag", func(r *http.Request) (int, any) {
		var body struct {
			On *bool `json:"on"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if body.On == nil {
			return 400, errors.New(`missing "on"`)
		}
		c.SetIndexerLag(*body.On)
		return 200, map[string]bool{"ok": true}
	})

	h("POST /_double/price", func(r *http.Request) (int, any) {
		var body struct {
			Price json.Number `json:"price"`
			Fail  *bool       `json:"fail"`
		}
		if err := decode(r, &body); err != nil {
			return 400, err
		}
		if body.Price != "" {
			if err := c.SetPrice(body.Price.String()); err != nil {
				return 400, err
			}
		}
		if body.Fail != nil {
			c.SetCoinGeckoFail(*body.Fail)
		}
		return 200, map[string]any{"price": c.Price()}
	})

	h("GET /_double/calls", func(*http.Request) (int, any) { return 200, c.Calls() })
	h("POST /_double/calls/reset", func(*http.Request) (int, any) {
		c.ResetCalls()
		return 200, map[string]bool{"ok": true}
	})
	h("GET /_double/state", func(*http.Request) (int, any) { return 200, c.State() })
	h("/_double/", func(*http.Request) (int, any) {
		return 404, errors.New("unknown control endpoint; GET /_double lists them")
	})
	return m
}

// ParseKAS converts a decimal KAS amount ("1.5", "0.00000001", "100") to
// sompi exactly, with integer arithmetic only. At most 8 fractional digits.
func ParseKAS(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("invalid KAS amount %q", s)
	}
	if len(frac) > 8 {
		return 0, fmt.Errorf("invalid KAS amount %q: more than 8 decimals", s)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("invalid KAS amount %q", s)
			}
		}
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > int64(MaxSompi/SompiPerKaspa) {
		return 0, fmt.Errorf("invalid KAS amount %q: too large", s)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 8-len(frac)), 10, 64)
	}
	return w*SompiPerKaspa + f, nil
}
