package evmsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// FaultKind is a way a JSON-RPC provider misbehaves, imitated by Proxy.
type FaultKind int

const (
	// RateLimited answers HTTP 429 with Retry-After (Fault.RetryAfter, whole seconds).
	RateLimited FaultKind = iota + 1
	// Unavailable answers HTTP 503.
	Unavailable
	// PayloadTooLarge answers HTTP 413.
	PayloadTooLarge
	// Slow waits Fault.Delay (or until the client gives up), then answers normally.
	Slow
	// Junk answers 200 with a body that is not JSON.
	Junk
	// Truncated answers 200 with the first half of the real JSON body.
	Truncated
)

// Fault is one misbehaviour of the proxy.
type Fault struct {
	Kind       FaultKind
	RetryAfter time.Duration // RateLimited: sent as whole seconds (at least 1)
	Delay      time.Duration // Slow
}

type pendingFault struct {
	fault Fault
	left  int
}

type rewrite struct {
	method string
	left   int
	fn     func(result json.RawMessage) json.RawMessage
	err    *rpcError // answer with this error instead of asking the node
}

// Proxy is an HTTP server in front of a node's JSON-RPC URL that imitates hosted providers: an eth_getLogs
// block-range limit and result cap, HTTP 429/413/503, slow, junk and truncated answers, rewritten results and
// canned JSON-RPC errors.
// It counts HTTP requests and JSON-RPC calls per method (each batch element counts), whether or not a fault
// answers them. Safe for concurrent use.
type Proxy struct {
	srv    *httptest.Server
	target string
	client *http.Client

	mu         sync.Mutex
	requests   int
	calls      map[string]int
	rangeLimit uint64
	resultCap  int
	faults     []pendingFault
	rewrites   []rewrite
}

// NewProxy starts a proxy in front of target (a JSON-RPC HTTP URL). Close it when done.
func NewProxy(target string) *Proxy {
	p := &Proxy{target: target, client: &http.Client{Timeout: 30 * time.Second}, calls: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// NewProxyT starts a proxy in front of target and closes it when the test ends.
func NewProxyT(t interface{ Cleanup(func()) }, target string) *Proxy {
	p := NewProxy(target)
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's JSON-RPC URL.
func (p *Proxy) URL() string { return p.srv.URL }

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// SetRangeLimit makes eth_getLogs over more than n blocks fail with geth's -32602 "exceed maximum block
// range: n" (0 lifts the limit).
func (p *Proxy) SetRangeLimit(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rangeLimit = n
}

// SetResultCap makes eth_getLogs answering more than n logs fail with Infura's -32005 "query returned more
// than n results" (0 lifts the cap).
func (p *Proxy) SetResultCap(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resultCap = n
}

// FailNext makes the next n HTTP requests misbehave as f says (after any faults already queued).
func (p *Proxy) FailNext(f Fault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, pendingFault{fault: f, left: n})
}

// RewriteNext passes the results of the next n calls of method through fn (a call answered with an error
// is left alone and does not count).
func (p *Proxy) RewriteNext(method string, n int, fn func(result json.RawMessage) json.RawMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrites = append(p.rewrites, rewrite{method: method, left: n, fn: fn})
}

// ErrorNext answers the next n calls of method with the JSON-RPC error (code, message) instead of asking
// the node: the wording of a provider's limit or rate-limit errors.
func (p *Proxy) ErrorNext(method string, n int, code int, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrites = append(p.rewrites, rewrite{method: method, left: n, err: &rpcError{Code: code, Message: message}})
}

// Clear removes every queued fault and rewrite and lifts the range limit and result cap.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.rewrites, p.rangeLimit, p.resultCap = nil, nil, 0, 0
}

// Calls is how many JSON-RPC calls of method the proxy received.
func (p *Proxy) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// AllCalls is a copy of the per-method call counts.
func (p *Proxy) AllCalls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

// Requests is how many HTTP requests the proxy received (a batch is one).
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// ResetCounts sets every counter back to zero.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests, p.calls = 0, map[string]int{}
}

// message is a JSON-RPC request or response as the proxy sees it.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reqs, batch, err := parseMessages(body)
	p.mu.Lock()
	p.requests++
	for _, m := range reqs {
		p.calls[m.Method]++
	}
	fault, hasFault := p.takeFaultLocked()
	p.mu.Unlock()
	if err != nil {
		http.Error(w, "parse error: "+err.Error(), http.StatusBadRequest)
		return
	}

	if hasFault {
		switch fault.Kind {
		case RateLimited:
			secs := max(1, int(fault.RetryAfter.Round(time.Second)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			http.Error(w, `{"jsonrpc":"2.0","error":{"code":429,"message":"Too Many Requests"}}`, http.StatusTooManyRequests)
			return
		case Unavailable:
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		case PayloadTooLarge:
			http.Error(w, "request entity too large", http.StatusRequestEntityTooLarge)
			return
		case Junk:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
			return
		case Slow:
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}

	resps, err := p.answer(r.Context(), reqs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var out []byte
	if batch {
		out, err = json.Marshal(resps)
	} else {
		out, err = json.Marshal(resps[0])
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if hasFault && fault.Kind == Truncated {
		out = out[:len(out)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (p *Proxy) takeFaultLocked() (Fault, bool) {
	for len(p.faults) > 0 {
		f := &p.faults[0]
		if f.left <= 0 {
			p.faults = p.faults[1:]
			continue
		}
		f.left--
		return f.fault, true
	}
	return Fault{}, false
}

func parseMessages(body []byte) ([]message, bool, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var msgs []message
		if err := json.Unmarshal(body, &msgs); err != nil {
			return nil, true, err
		}
		if len(msgs) == 0 {
			return nil, true, fmt.Errorf("empty batch")
		}
		return msgs, true, nil
	}
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, err
	}
	return []message{m}, false, nil
}

// answer refuses the calls the provider rules refuse, forwards the others to the node in one request, and
// applies the result cap and the rewrites. Responses come back in request order.
func (p *Proxy) answer(ctx context.Context, reqs []message) ([]message, error) {
	p.mu.Lock()
	rangeLimit, resultCap := p.rangeLimit, p.resultCap
	p.mu.Unlock()

	resps := make([]message, len(reqs))
	var forward []int
	for i, m := range reqs {
		if e := p.takeError(m.Method); e != nil {
			resps[i] = errorResponse(m.ID, e.Code, e.Message)
			continue
		}
		if m.Method == "eth_getLogs" && rangeLimit > 0 {
			span, err := p.logRange(ctx, m.Params)
			if err != nil {
				return nil, err
			}
			if span > rangeLimit {
				resps[i] = errorResponse(m.ID, -32602, fmt.Sprintf("exceed maximum block range: %d", rangeLimit))
				continue
			}
		}
		forward = append(forward, i)
	}
	if len(forward) > 0 {
		batch := make([]message, len(forward))
		for j, i := range forward {
			batch[j] = reqs[i]
		}
		got, err := p.forward(ctx, batch)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]message, len(got))
		for _, g := range got {
			byID[string(g.ID)] = g
		}
		for _, i := range forward {
			g, ok := byID[string(reqs[i].ID)]
			if !ok {
				return nil, fmt.Errorf("node did not answer call %s", reqs[i].ID)
			}
			resps[i] = g
		}
	}
	for i, m := range reqs {
		r := &resps[i]
		if r.Error != nil {
			continue
		}
		if m.Method == "eth_getLogs" && resultCap > 0 {
			var logs []json.RawMessage
			if json.Unmarshal(r.Result, &logs) == nil && len(logs) > resultCap {
				*r = errorResponse(m.ID, -32005, fmt.Sprintf("query returned more than %d results", resultCap))
				continue
			}
		}
		if fn := p.takeRewrite(m.Method); fn != nil {
			r.Result = fn(r.Result)
		}
	}
	return resps, nil
}

func (p *Proxy) takeError(method string) *rpcError {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.rewrites {
		rw := &p.rewrites[i]
		if rw.method == method && rw.left > 0 && rw.err != nil {
			rw.left--
			return rw.err
		}
	}
	return nil
}

func (p *Proxy) takeRewrite(method string) func(json.RawMessage) json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.rewrites {
		rw := &p.rewrites[i]
		if rw.method == method && rw.left > 0 && rw.fn != nil {
			rw.left--
			return rw.fn
		}
	}
	return nil
}

func errorResponse(id json.RawMessage, code int, msg string) message {
	return message{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: code, Message: msg}}
}

// forward sends msgs to the node as one batch (a batch of one when the client sent a single call).
func (p *Proxy) forward(ctx context.Context, msgs []message) ([]message, error) {
	for i := range msgs {
		msgs[i].JSONRPC = "2.0"
	}
	body, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var got []message
	if err := json.Unmarshal(data, &got); err != nil {
		return nil, fmt.Errorf("node answered %d %q: %w", resp.StatusCode, data, err)
	}
	return got, nil
}

// logRange is the number of blocks an eth_getLogs filter spans; block tags are resolved against the node.
func (p *Proxy) logRange(ctx context.Context, params json.RawMessage) (uint64, error) {
	var filters []struct {
		FromBlock *string `json:"fromBlock"`
		ToBlock   *string `json:"toBlock"`
		BlockHash *string `json:"blockHash"`
	}
	if err := json.Unmarshal(params, &filters); err != nil || len(filters) != 1 {
		return 0, nil // malformed: the node answers it
	}
	f := filters[0]
	if f.BlockHash != nil {
		return 1, nil
	}
	from, err := p.blockNumber(ctx, f.FromBlock)
	if err != nil {
		return 0, err
	}
	to, err := p.blockNumber(ctx, f.ToBlock)
	if err != nil {
		return 0, err
	}
	if to < from {
		return 0, nil
	}
	return to - from + 1, nil
}

// blockNumber reads a filter's block field: a number, or a tag (absent = latest) asked of the node.
func (p *Proxy) blockNumber(ctx context.Context, v *string) (uint64, error) {
	if v != nil {
		if n, err := hexutil.DecodeUint64(*v); err == nil {
			return n, nil
		}
		if *v == "earliest" {
			return 0, nil
		}
	}
	tag := "latest"
	if v != nil {
		tag = *v
	}
	params, _ := json.Marshal([]any{tag, false})
	got, err := p.forward(ctx, []message{{ID: json.RawMessage("1"), Method: "eth_getBlockByNumber", Params: params}})
	if err != nil {
		return 0, err
	}
	var h struct {
		Number hexutil.Uint64 `json:"number"`
	}
	if len(got) != 1 || got[0].Error != nil || json.Unmarshal(got[0].Result, &h) != nil {
		return 0, fmt.Errorf("resolve block tag %q", tag)
	}
	return uint64(h.Number), nil
}
