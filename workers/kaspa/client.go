// Package kaspa is the gateway's client for the public Kaspa REST API
// (kaspa-rest-server, e.g. https://api.kaspa.org) and the chain watcher
// built on it.
//
// The client is deliberately small: the calls the watcher needs, each with
// its own timeout, exact integer decoding of amounts and scores (the API
// sends many of them as JSON strings; nothing money-related ever goes
// through float64), tolerance of unknown fields (the API grows new ones),
// and typed errors so callers can tell "not indexed yet" (ErrNotFound) from
// "server trouble" (*HTTPError) from "garbage on the wire"
// (ErrBadResponse).
package kaspa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"till/models"
	"till/workers"
)

// MaxRequestBytes is the REST server's cap on a request body
// (kaspa-rest-server's LimitUploadSize): a larger POST is refused with 413.
const MaxRequestBytes = 200_000

// utxoBodyFrame is the JSON around the addresses: {"addresses":[ and ]}.
const utxoBodyFrame = len(`{"addresses":[]}`)

// UTXOBatches splits addresses into consecutive runs whose POST
// /addresses/utxos bodies each fit 95 % of the server's cap (the margin is
// for a server or proxy counting slightly differently), so a watcher makes
// as few UTXO requests as the cap allows: at 67–73 characters an address
// (mainnet Schnorr to testnet ECDSA), 2,500–2,700 addresses per request.
// Each address costs its length plus quotes and a comma (Kaspa addresses
// are bech32: nothing in them needs escaping). The runs share addresses'
// backing array.
func (c *Client) UTXOBatches(addresses []string) [][]string {
	budget := c.maxRequestBytes() * 95 / 100
	var out [][]string
	start, size := 0, utxoBodyFrame
	for i, a := range addresses {
		cost := len(a) + 3
		if i > start && size+cost > budget {
			out = append(out, addresses[start:i])
			start, size = i, utxoBodyFrame
		}
		size += cost
	}
	if start < len(addresses) {
		out = append(out, addresses[start:])
	}
	return out
}

// longestAddress is the longest Kaspa address: testnet's prefix and an
// ECDSA payload ("kaspatest:" and 63 characters).
const longestAddress = 73

// AddressesPerBody is how many addresses of n characters one POST
// /addresses/utxos body holds under UTXOBatches' budget.
func (c *Client) AddressesPerBody(n int) int {
	return (c.maxRequestBytes()*95/100 - utxoBodyFrame) / (n + 3)
}

func (c *Client) maxRequestBytes() int {
	if c.MaxRequestBytes > 0 {
		return c.MaxRequestBytes
	}
	return MaxRequestBytes
}

// DefaultTimeout bounds each request unless Client.Timeout says otherwise.
const DefaultTimeout = 10 * time.Second

// maxResponseBytes caps how much of a response body is read.
const maxResponseBytes = 64 << 20

// Errors returned by Client methods; match them with errors.Is / errors.As.
var (
	// ErrNotFound is returned for HTTP 404, e.g. a transaction the indexer
	// does not know (yet).
	ErrNotFound = errors.New("kaspa api: not found")
	// ErrBadResponse wraps every failure to understand a 2xx response: a
	// body that is not the expected JSON, truncated, or missing required
	// fields.
	ErrBadResponse = errors.New("kaspa api: bad response")
)

// HTTPError is returned for non-2xx answers other than 404.
type HTTPError struct {
	// Method and Path identify the request (path without host or query).
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Body holds the first 512 bytes of the response body.
	Body string
}

// Error reports method, path, status and the start of the body.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("kaspa api: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Client calls one Kaspa REST API server. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
	// Timeout bounds every request (connection, headers and body). Zero
	// means DefaultTimeout. Set it before first use.
	Timeout time.Duration
	// UserAgent is sent with every request when non-empty.
	UserAgent string
	// Observer, when set, is told of every request (metrics). Set it before
	// first use.
	Observer workers.ChainObserver
	// MaxRequestBytes is the server's cap on a request body, which sizes
	// UTXOBatches; zero means the public REST server's (MaxRequestBytes).
	// Set it lower for a server or proxy configured with a smaller cap.
	MaxRequestBytes int
}

// NewClient returns a client for the API at baseURL (e.g.
// "https://api.kaspa.org"; a trailing slash is ignored). A nil httpClient
// means a dedicated client with default transport settings; per-request
// timeouts come from Client.Timeout, not httpClient.Timeout.
func NewClient(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: httpClient}
}

// UTXOsByAddresses returns the unspent outputs of all given addresses in one
// POST /addresses/utxos (node-backed, real time). The list mixes all
// addresses; use UTXO.Address to group. A body over MaxRequestBytes is
// refused here, without a request (split long lists with UTXOBatches);
// no addresses means no request and no UTXOs.
func (c *Client) UTXOsByAddresses(ctx context.Context, addresses []string) ([]UTXO, error) {
	if len(addresses) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(struct {
		Addresses []string `json:"addresses"`
	}{addresses})
	if err != nil {
		return nil, err
	}
	if len(body) > c.maxRequestBytes() {
		return nil, fmt.Errorf("kaspa api: %d addresses make a %d-byte body (max %d); split them with UTXOBatches", len(addresses), len(body), c.maxRequestBytes())
	}
	var wire []wireUTXO
	if err := c.do(ctx, http.MethodPost, "/addresses/utxos", nil, body, &wire); err != nil {
		return nil, err
	}
	out := make([]UTXO, 0, len(wire))
	for _, w := range wire {
		u, err := w.convert()
		if err != nil {
			return nil, fmt.Errorf("%w: POST /addresses/utxos: %w", ErrBadResponse, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// BlockDAG returns GET /info/blockdag, notably VirtualDaaScore (the
// reference for UTXO confirmations) and NetworkName (to check the server
// serves the configured network).
func (c *Client) BlockDAG(ctx context.Context) (BlockDAG, error) {
	var w wireBlockDAG
	if err := c.do(ctx, http.MethodGet, "/info/blockdag", nil, nil, &w); err != nil {
		return BlockDAG{}, err
	}
	d, err := w.convert()
	if err != nil {
		return BlockDAG{}, fmt.Errorf("%w: GET /info/blockdag: %w", ErrBadResponse, err)
	}
	return d, nil
}

// Transaction returns GET /transactions/{id} with previous outpoints
// resolved (resolve_previous_outpoints=light) so inputs carry the payer's
// address and amount. It is indexer-backed: ErrNotFound may just mean the
// indexer has not caught up yet.
func (c *Client) Transaction(ctx context.Context, id string) (Transaction, error) {
	if !isTxID(id) {
		return Transaction{}, fmt.Errorf("kaspa api: invalid transaction id %.80q", id)
	}
	q := url.Values{"resolve_previous_outpoints": {"light"}}
	var w wireTx
	path := "/transactions/" + id
	if err := c.do(ctx, http.MethodGet, path, q, nil, &w); err != nil {
		return Transaction{}, err
	}
	t, err := w.convert()
	if err != nil {
		return Transaction{}, fmt.Errorf("%w: GET %s: %w", ErrBadResponse, path, err)
	}
	return t, nil
}

// FullTransactionsPage returns one page of an address's history from GET
// /addresses/{a}/full-transactions-page, newest first, with previous
// outpoints resolved. after (epoch ms, 0 = none) asks for transactions with
// block_time strictly greater than after — the oldest limit of them
// (limit ≤ 0 means 50; capped at 500). The page can exceed limit when
// several transactions share the boundary block_time.
//
// nextAfter is the cursor for the next call: the server's
// X-Next-Page-After when newer transactions exist, otherwise the newest
// block_time seen (or after itself when the page is empty), so polling
// with it never re-reads a page. Keep calling while len(txs) ≥ limit.
// With after = 0 the server returns the newest page instead.
func (c *Client) FullTransactionsPage(ctx context.Context, address string, after int64, limit int) (txs []Transaction, nextAfter int64, err error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		limit = 500
	}
	if after < 0 {
		after = 0
	}
	q := url.Values{
		"limit":                      {strconv.Itoa(limit)},
		"resolve_previous_outpoints": {"light"},
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	path := "/addresses/" + url.PathEscape(address) + "/full-transactions-page"
	var wire []wireTx
	var hdr http.Header
	if err := c.doHeader(ctx, http.MethodGet, path, q, nil, &wire, &hdr); err != nil {
		return nil, 0, err
	}
	nextAfter = after
	for _, w := range wire {
		t, err := w.convert()
		if err != nil {
			return nil, 0, fmt.Errorf("%w: GET %s: %w", ErrBadResponse, path, err)
		}
		txs = append(txs, t)
		nextAfter = max(nextAfter, t.BlockTime)
	}
	if h := hdr.Get("X-Next-Page-After"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: GET %s: bad X-Next-Page-After %.40q", ErrBadResponse, path, h)
		}
		nextAfter = n
	}
	return txs, nextAfter, nil
}

// SinkBlueScore returns GET /info/virtual-chain-blue-score, the reference
// for transaction confirmations (sink blue score − accepting blue score).
// Never mix it with DAA scores.
func (c *Client) SinkBlueScore(ctx context.Context) (uint64, error) {
	var w struct {
		BlueScore uintJSON `json:"blueScore"`
	}
	if err := c.do(ctx, http.MethodGet, "/info/virtual-chain-blue-score", nil, nil, &w); err != nil {
		return 0, err
	}
	if !w.BlueScore.set {
		return 0, fmt.Errorf("%w: GET /info/virtual-chain-blue-score: missing blueScore", ErrBadResponse)
	}
	return w.BlueScore.v, nil
}

// VirtualChain returns GET
// /virtual-chain?blueScoreGte=gte&limit=limit&includeCoinbase=false: the
// chain blocks with blue score in [gte, gte+limit) and the non-coinbase
// transactions each accepted, by blue score — what a watcher following
// the chain reads instead of polling every address. The server wants limit
// 10 or 100 and gte divisible by it (else 400, an *HTTPError); it answers
// [] for a window past its head. Indexer-backed (experimental upstream): a
// lagging indexer returns fewer transactions, never wrong ones. A block
// outside the window is ErrBadResponse.
func (c *Client) VirtualChain(ctx context.Context, gte uint64, limit int) ([]ChainBlock, error) {
	q := url.Values{
		"blueScoreGte":    {strconv.FormatUint(gte, 10)},
		"limit":           {strconv.Itoa(limit)},
		"includeCoinbase": {"false"},
	}
	var wire []wireChainBlock
	if err := c.do(ctx, http.MethodGet, "/virtual-chain", q, nil, &wire); err != nil {
		return nil, err
	}
	lt := gte + uint64(max(limit, 0))
	if lt < gte { // past the top of uint64: the window is open-ended
		lt = math.MaxUint64
	}
	out := make([]ChainBlock, 0, len(wire))
	for _, w := range wire {
		b, err := w.convert(gte, lt)
		if err != nil {
			return nil, fmt.Errorf("%w: GET /virtual-chain: %w", ErrBadResponse, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Price returns the KAS/USD price from GET /info/price exactly as the
// server wrote the number ("0.025235"), for decimal parsing by the caller.
// Mainnet only: testnet servers answer 503 (*HTTPError).
func (c *Client) Price(ctx context.Context) (string, error) {
	var w struct {
		Price json.Number `json:"price"`
	}
	if err := c.do(ctx, http.MethodGet, "/info/price", nil, nil, &w); err != nil {
		return "", err
	}
	if w.Price == "" {
		return "", fmt.Errorf("%w: GET /info/price: missing price", ErrBadResponse)
	}
	if _, err := strconv.ParseFloat(w.Price.String(), 64); err != nil || strings.HasPrefix(w.Price.String(), "-") {
		return "", fmt.Errorf("%w: GET /info/price: bad price %.40q", ErrBadResponse, w.Price)
	}
	return w.Price.String(), nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	return c.doHeader(ctx, method, path, q, body, out, nil)
}

// doHeader performs one request with the per-request timeout and decodes a
// 2xx JSON body into out; hdr, when non-nil, receives the response headers.
func (c *Client) doHeader(ctx context.Context, method, path string, q url.Values, body []byte, out any, hdr *http.Header) (err error) {
	if c.Observer != nil {
		start := time.Now()
		defer func() {
			failed := err
			if errors.Is(err, ErrNotFound) {
				failed = nil // the server answered: not known (yet)
			}
			c.Observer.ChainCall(models.ChainKaspa, endpointOf(path), time.Since(start), failed)
		}()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("kaspa api: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("kaspa api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if readErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kaspa api: %s %s: %w", method, path, ctx.Err())
		}
		if resp.StatusCode/100 == 2 {
			return fmt.Errorf("%w: %s %s: reading body: %w", ErrBadResponse, method, path, readErr)
		}
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s %s: %s", ErrNotFound, method, path, snippet(raw, 200))
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Body: snippet(raw, 512)}
	}
	if hdr != nil {
		*hdr = resp.Header
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: %s %s: %w (body starts %q)", ErrBadResponse, method, path, err, snippet(raw, 64))
	}
	return nil
}

// snippet returns at most n bytes of b as a string.
// endpointOf is path as a fixed pattern (ids and addresses replaced), so
// metrics never carry a value.
func endpointOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/transactions/"):
		return "/transactions/{id}"
	case strings.HasPrefix(path, "/addresses/") && strings.HasSuffix(path, "/full-transactions-page"):
		return "/addresses/{address}/full-transactions-page"
	}
	return path
}

func snippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
