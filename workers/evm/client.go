// Package evm watches EVM chains for USDC payments. client.go is its JSON-RPC client: go-ethereum's own rpc
// client (HTTP, batches) with go-ethereum's common, hexutil and types.Log decoding, a timeout of its own, and
// typed errors the watcher acts on (shrink the log range, wait, back off, or distrust the provider).
package evm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"till/workers"
)

// TransferTopic is topic 0 of the ERC-20 Transfer(address,address,uint256) event.
var TransferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// decimalsSelector is the call data of ERC-20 decimals().
var decimalsSelector = []byte{0x31, 0x3c, 0xe5, 0x67}

// Block tags accepted wherever a block number is (go-ethereum's rpc.BlockNumber: a height or a tag).
const (
	Latest    = rpc.LatestBlockNumber
	Safe      = rpc.SafeBlockNumber
	Finalized = rpc.FinalizedBlockNumber
)

// Height is the block at number n, as an rpc.BlockNumber.
func Height(n uint64) rpc.BlockNumber { return rpc.BlockNumber(n) }

// DefaultTimeout bounds every call (a batch is one call) when ClientOptions.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// ErrorKind sorts what went wrong with a call by what the caller should do about it.
type ErrorKind int

const (
	// KindTooLarge means the provider refused the range or the size of the answer (eth_getLogs): ask for less.
	KindTooLarge ErrorKind = iota + 1
	// KindRateLimited means HTTP 429 or a rate-limit error; Error.RetryAfter says how long to wait when known.
	KindRateLimited
	// KindUnavailable means HTTP 5xx (and other refusals), a timeout, or no connection: back off and retry.
	KindUnavailable
	// KindBadResponse is an answer that is not JSON-RPC, has wrong types or is truncated.
	KindBadResponse
	// KindRPC means the node answered the call with a JSON-RPC error of no other kind (e.g. execution reverted).
	KindRPC
)

func (k ErrorKind) String() string {
	switch k {
	case KindTooLarge:
		return "too large"
	case KindRateLimited:
		return "rate limited"
	case KindUnavailable:
		return "unavailable"
	case KindBadResponse:
		return "bad response"
	case KindRPC:
		return "rpc error"
	}
	return "unknown"
}

// Sentinels for errors.Is: errors.Is(err, evm.ErrTooLarge) holds for every *Error of KindTooLarge.
var (
	ErrTooLarge    = errors.New("evm: range or result too large")
	ErrRateLimited = errors.New("evm: rate limited")
	ErrUnavailable = errors.New("evm: node unavailable")
	ErrBadResponse = errors.New("evm: bad response")
	ErrRPC         = errors.New("evm: rpc error")
	// ErrNotFound: the node answered null — no block at that height or tag, no receipt for that transaction.
	ErrNotFound = errors.New("evm: not found")
)

// Error is a failed call.
type Error struct {
	Kind       ErrorKind
	Method     string        // the JSON-RPC method (the first of a batch)
	HTTPStatus int           // when the HTTP status was not 2xx
	Code       int           // the JSON-RPC error code, when the node sent one
	RetryAfter time.Duration // KindRateLimited: the provider's Retry-After, 0 when absent
	Err        error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Method, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match the kind's sentinel.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTooLarge:
		return e.Kind == KindTooLarge
	case ErrRateLimited:
		return e.Kind == KindRateLimited
	case ErrUnavailable:
		return e.Kind == KindUnavailable
	case ErrBadResponse:
		return e.Kind == KindBadResponse
	case ErrRPC:
		return e.Kind == KindRPC
	}
	return false
}

// ClientOptions configure Dial.
type ClientOptions struct {
	// Timeout bounds each call; DefaultTimeout when zero.
	Timeout time.Duration
	// Transport carries the HTTP requests; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Observer, when set, is told of every call, by Chain and JSON-RPC
	// method (metrics).
	Observer workers.ChainObserver
	Chain    string
}

// Client talks JSON-RPC over HTTP to one EVM node or provider. Safe for concurrent use.
type Client struct {
	rpc      *rpc.Client
	timeout  time.Duration
	observer workers.ChainObserver
	chain    string
}

// Dial makes a client of the JSON-RPC endpoint at url (http or https). It does not connect yet.
func Dial(url string, opts ClientOptions) (*Client, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("evm: RPC URL %q: want http:// or https://", url)
	}
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := &http.Client{Transport: statusTransport{base: base}}
	c, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("evm: RPC URL %q: %w", url, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{rpc: c, timeout: timeout, observer: opts.Observer, chain: opts.Chain}, nil
}

// Close releases the client's connections.
func (c *Client) Close() { c.rpc.Close() }

// call runs one JSON-RPC call under the client's timeout and classifies its error.
func (c *Client) call(ctx context.Context, result any, method string, args ...any) (err error) {
	defer c.observe(method, time.Now(), &err)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, answered := withAnswered(ctx)
	return classify(ctx, method, c.rpc.CallContext(ctx, result, method, args...), answered)
}

// ChainID is eth_chainId.
func (c *Client) ChainID(ctx context.Context) (uint64, error) {
	var id hexutil.Uint64
	if err := c.call(ctx, &id, "eth_chainId"); err != nil {
		return 0, err
	}
	return uint64(id), nil
}

// BlockNumber is eth_blockNumber: the height of the latest block.
func (c *Client) BlockNumber(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	if err := c.call(ctx, &n, "eth_blockNumber"); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Block is what the watcher needs of a block header.
type Block struct {
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64 // unix seconds
}

// rpcHeader is the part of an eth_getBlockByNumber answer a Block is read from; every field is required.
type rpcHeader struct {
	Number     *hexutil.Uint64 `json:"number"`
	Hash       *common.Hash    `json:"hash"`
	ParentHash *common.Hash    `json:"parentHash"`
	Timestamp  *hexutil.Uint64 `json:"timestamp"`
}

func (h *rpcHeader) block() (Block, error) {
	if h.Number == nil || h.Hash == nil || h.ParentHash == nil || h.Timestamp == nil {
		return Block{}, errors.New("block without number, hash, parentHash or timestamp")
	}
	return Block{Number: uint64(*h.Number), Hash: *h.Hash, ParentHash: *h.ParentHash, Time: uint64(*h.Timestamp)}, nil
}

// HeaderByNumber is eth_getBlockByNumber (without transactions) at a height or a tag (Latest, Safe,
// Finalized). A null answer is ErrNotFound.
func (c *Client) HeaderByNumber(ctx context.Context, n rpc.BlockNumber) (Block, error) {
	var h *rpcHeader
	if err := c.call(ctx, &h, "eth_getBlockByNumber", n, false); err != nil {
		return Block{}, err
	}
	if h == nil {
		return Block{}, fmt.Errorf("block %s: %w", n, ErrNotFound)
	}
	b, err := h.block()
	if err != nil {
		return Block{}, &Error{Kind: KindBadResponse, Method: "eth_getBlockByNumber", Err: err}
	}
	return b, nil
}

// BlockResult is one answer of BlocksByNumber: the block, or Found false when the node answered null.
type BlockResult struct {
	Block Block
	Found bool
}

// BlocksByNumber asks for several blocks (heights or tags) in one JSON-RPC batch. A null block is Found
// false; any other failure of any element fails the call.
func (c *Client) BlocksByNumber(ctx context.Context, ns []rpc.BlockNumber) (_ []BlockResult, err error) {
	const method = "eth_getBlockByNumber"
	if len(ns) == 0 {
		return nil, nil
	}
	defer c.observe(method, time.Now(), &err)
	return c.blocksByNumber(ctx, ns)
}

// blocksByNumber is BlocksByNumber's batch, reported once by its caller.
func (c *Client) blocksByNumber(ctx context.Context, ns []rpc.BlockNumber) ([]BlockResult, error) {
	const method = "eth_getBlockByNumber"
	headers := make([]*rpcHeader, len(ns))
	batch := make([]rpc.BatchElem, len(ns))
	for i, n := range ns {
		batch[i] = rpc.BatchElem{Method: method, Args: []any{n, false}, Result: &headers[i]}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, answered := withAnswered(ctx)
	if err := c.rpc.BatchCallContext(ctx, batch); err != nil {
		return nil, classify(ctx, method, err, answered)
	}
	out := make([]BlockResult, len(ns))
	for i, elem := range batch {
		if elem.Error != nil {
			return nil, classify(ctx, method, elem.Error, answered)
		}
		if headers[i] == nil {
			continue
		}
		b, err := headers[i].block()
		if err != nil {
			return nil, &Error{Kind: KindBadResponse, Method: method, Err: fmt.Errorf("block %s: %w", ns[i], err)}
		}
		out[i] = BlockResult{Block: b, Found: true}
	}
	return out, nil
}

// LogFilter is an eth_getLogs query for Transfer events of one token to some receivers.
type LogFilter struct {
	From, To  uint64           // inclusive block range
	Token     common.Address   // the emitting contract
	Receivers []common.Address // topic 2 (the `to` of Transfer); empty = any receiver
}

// FilterLogs is eth_getLogs with address = Token and topics = [Transfer, null, [receivers…]]. The logs come
// back as the node sent them (a log of another shape is the caller's to drop); a log without a block hash or
// transaction hash is a bad response.
func (c *Client) FilterLogs(ctx context.Context, f LogFilter) ([]types.Log, error) {
	topics := []any{TransferTopic}
	if len(f.Receivers) > 0 {
		to := make([]common.Hash, len(f.Receivers))
		for i, r := range f.Receivers {
			to[i] = common.BytesToHash(r.Bytes())
		}
		topics = append(topics, nil, to)
	}
	query := map[string]any{
		"address":   f.Token,
		"fromBlock": hexutil.Uint64(f.From),
		"toBlock":   hexutil.Uint64(f.To),
		"topics":    topics,
	}
	var logs []types.Log
	if err := c.call(ctx, &logs, "eth_getLogs", query); err != nil {
		return nil, err
	}
	for i := range logs {
		if logs[i].BlockHash == (common.Hash{}) || logs[i].TxHash == (common.Hash{}) {
			return nil, &Error{Kind: KindBadResponse, Method: "eth_getLogs",
				Err: fmt.Errorf("log %d without block hash or transaction hash", i)}
		}
	}
	return logs, nil
}

// Call is eth_call of data on contract `to` at block n.
func (c *Client) Call(ctx context.Context, to common.Address, data []byte, n rpc.BlockNumber) ([]byte, error) {
	// "data" is the field every node and provider reads ("input" is geth's newer alias).
	msg := map[string]any{"to": to, "data": hexutil.Bytes(data)}
	var out hexutil.Bytes
	if err := c.call(ctx, &out, "eth_call", msg, n); err != nil {
		return nil, err
	}
	return out, nil
}

// Decimals is the ERC-20 decimals() of token at the latest block.
func (c *Client) Decimals(ctx context.Context, token common.Address) (uint8, error) {
	out, err := c.Call(ctx, token, decimalsSelector, Latest)
	if err != nil {
		return 0, err
	}
	if len(out) != 32 {
		return 0, &Error{Kind: KindBadResponse, Method: "eth_call",
			Err: fmt.Errorf("decimals() of %s answered %d bytes, want 32 (is it an ERC-20 contract?)", token.Hex(), len(out))}
	}
	if new(big.Int).SetBytes(out).BitLen() > 8 {
		return 0, &Error{Kind: KindBadResponse, Method: "eth_call",
			Err: fmt.Errorf("decimals() of %s answered %s", token.Hex(), hexutil.Encode(out))}
	}
	return out[31], nil
}

// Receipt is what eth_getTransactionReceipt says of a mined transaction.
type Receipt struct {
	TxHash      common.Hash
	Status      uint64 // 1 success, 0 reverted
	BlockNumber uint64
	BlockHash   common.Hash
	Logs        []types.Log
}

type rpcReceipt struct {
	TxHash      *common.Hash    `json:"transactionHash"`
	Status      *hexutil.Uint64 `json:"status"`
	BlockNumber *hexutil.Uint64 `json:"blockNumber"`
	BlockHash   *common.Hash    `json:"blockHash"`
	Logs        []types.Log     `json:"logs"`
}

// TransactionReceipt is eth_getTransactionReceipt; ErrNotFound when the node does not know the transaction
// as mined (not yet, or no longer after a reorg).
func (c *Client) TransactionReceipt(ctx context.Context, tx common.Hash) (Receipt, error) {
	var r *rpcReceipt
	if err := c.call(ctx, &r, "eth_getTransactionReceipt", tx); err != nil {
		return Receipt{}, err
	}
	if r == nil {
		return Receipt{}, fmt.Errorf("receipt of %s: %w", tx.Hex(), ErrNotFound)
	}
	if r.TxHash == nil || r.Status == nil || r.BlockNumber == nil || r.BlockHash == nil {
		return Receipt{}, &Error{Kind: KindBadResponse, Method: "eth_getTransactionReceipt",
			Err: errors.New("receipt without transactionHash, status, blockNumber or blockHash")}
	}
	return Receipt{TxHash: *r.TxHash, Status: uint64(*r.Status), BlockNumber: uint64(*r.BlockNumber),
		BlockHash: *r.BlockHash, Logs: r.Logs}, nil
}

// observe reports one call (a batch counts once) to the observer, if any.
func (c *Client) observe(method string, start time.Time, err *error) {
	if c.observer != nil {
		c.observer.ChainCall(c.chain, method, time.Since(start), *err)
	}
}

// --- error classification ---

// answeredKey marks, per call, that an HTTP 2xx answer arrived: any later failure is the answer's fault.
type answeredKey struct{}

func withAnswered(ctx context.Context) (context.Context, *atomic.Bool) {
	var b atomic.Bool
	return context.WithValue(ctx, answeredKey{}, &b), &b
}

// statusTransport turns a non-2xx HTTP answer into an *httpStatusError carrying Retry-After (go-ethereum's
// rpc.HTTPError drops headers) and marks 2xx answers for classify.
type statusTransport struct{ base http.RoundTripper }

type httpStatusError struct {
	status     int
	retryAfter time.Duration
	body       string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %q", e.status, http.StatusText(e.status), e.body)
}

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if b, ok := req.Context().Value(answeredKey{}).(*atomic.Bool); ok {
			b.Store(true)
		}
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return nil, &httpStatusError{
		status:     resp.StatusCode,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		body:       strings.TrimSpace(string(body)),
	}
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

var (
	rateLimitMessage = regexp.MustCompile(`(?i)rate.?limit|too many requests|request rate|exceeded .*(quota|capacity)|throughput`)
	tooLargeMessage  = regexp.MustCompile(`(?i)block range|range (is )?too (large|wide|big)|exceed(s|ed)? maximum block range|` +
		`more than \d+ (results|logs)|max(imum)? results|too many (results|logs|blocks)|response (size|is too)|` +
		`limit(ed)? to \d+|range limit|query (timeout|timed out)|log query limit|\blimit exceeded`)
	unavailableMessage = regexp.MustCompile(`(?i)timeout|timed out|unavailable|overloaded|try again later`)
)

// classify turns an error of go-ethereum's rpc client into an *Error (or nil).
func classify(ctx context.Context, method string, err error, answered *atomic.Bool) error {
	if err == nil {
		return nil
	}
	e := &Error{Method: method, Err: err}
	var status *httpStatusError
	var rpcErr rpc.Error
	switch {
	case errors.As(err, &status):
		e.HTTPStatus = status.status
		switch status.status {
		case http.StatusTooManyRequests:
			e.Kind, e.RetryAfter = KindRateLimited, status.retryAfter
		case http.StatusRequestEntityTooLarge:
			e.Kind = KindTooLarge
		default: // 5xx, 408, and refusals such as 401/403/404 of a misconfigured URL or key
			e.Kind = KindUnavailable
		}
	case errors.As(err, &rpcErr):
		e.Code = rpcErr.ErrorCode()
		msg := rpcErr.Error()
		switch {
		case e.Code == 429 || e.Code == -32029 || rateLimitMessage.MatchString(msg):
			e.Kind = KindRateLimited
		case method == "eth_getLogs" && (e.Code == -32005 || tooLargeMessage.MatchString(msg)):
			e.Kind = KindTooLarge
		case unavailableMessage.MatchString(msg):
			e.Kind = KindUnavailable
		default:
			e.Kind = KindRPC
		}
	case ctx.Err() != nil || !answered.Load():
		// Our timeout, the caller's cancellation, or no HTTP answer at all (refused, reset, DNS).
		e.Kind = KindUnavailable
	default:
		// An HTTP 2xx answer came and could not be used: not JSON, not JSON-RPC, wrong types, truncated.
		e.Kind = KindBadResponse
	}
	return e
}
