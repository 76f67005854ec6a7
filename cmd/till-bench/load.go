package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Load drives HTTP/1.1 requests at one server over Clients keep-alive
// connections, one request in flight per connection, as that many browsers
// would. It writes prepared request bytes and parses responses with
// net/http's reader: no transport, pool or per-request goroutine, so on a
// small machine the generator takes as little CPU from the server as it can.
type Load struct {
	// Addr is host:port of the server.
	Addr string
	// Clients is the number of concurrent connections (default 32).
	Clients int
	// Request returns the raw bytes of the i-th request (see RawRequest).
	// It is called from several goroutines.
	Request func(i int) []byte
	// Check inspects each response; nil accepts any 2xx status.
	Check func(status int, body []byte) error
}

// Result is what a run measured.
type Result struct {
	// N is how many requests completed (failed ones included).
	N int
	// Elapsed is the wall time from the first request to the last response.
	Elapsed time.Duration
	// Latencies of all requests, sorted.
	Latencies []time.Duration
	// Errors counts failed requests; FirstErr is the first failure.
	Errors   int
	FirstErr error
}

// Rate is completed requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile latency (0 < p ≤ 100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	i = max(0, min(i, len(r.Latencies)-1))
	return r.Latencies[i]
}

// Ms converts a duration to milliseconds for reports.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// String is a one-line summary.
func (r Result) String() string {
	return fmt.Sprintf("%d requests in %.2fs: %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors",
		r.N, r.Elapsed.Seconds(), r.Rate(), Ms(r.Percentile(50)), Ms(r.Percentile(99)), r.Errors)
}

// Run sends requests while next reports true: each true hands one request
// to a free connection, so next paces the run (pass b.Loop in a benchmark:
// it blocks for as long as all connections are busy, and its timing is the
// server's throughput). Run returns once every request has been answered.
func (l *Load) Run(next func() bool) (Result, error) {
	clients := l.Clients
	if clients <= 0 {
		clients = 32
	}
	conns := make([]*clientConn, clients)
	for i := range conns {
		c, err := dial(l.Addr)
		if err != nil {
			for _, c := range conns[:i] {
				c.close()
			}
			return Result{}, err
		}
		conns[i] = c
	}
	work := make(chan int)
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	firstErrs := make([]error, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conns[w]
			defer c.close()
			lat[w] = make([]time.Duration, 0, 4096)
			for i := range work {
				t0 := time.Now()
				status, body, err := c.do(l.Request(i))
				if err == nil {
					if l.Check != nil {
						err = l.Check(status, body)
					} else if status < 200 || status > 299 {
						err = fmt.Errorf("status %d: %s", status, truncate(body, 200))
					}
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs[w]++
					if firstErrs[w] == nil {
						firstErrs[w] = err
					}
				}
			}
		}()
	}
	var start time.Time
	n := 0
	for next() {
		if n == 0 {
			start = time.Now()
		}
		work <- n
		n++
	}
	close(work)
	wg.Wait()
	return collect(n, start, lat, errs, firstErrs), nil
}

// collect merges the per-client measurements of n requests started at
// start into one Result (latencies sorted, errors summed, the first error
// of the lowest-numbered client that had one).
func collect(n int, start time.Time, lat [][]time.Duration, errs []int, firstErrs []error) Result {
	res := Result{N: n}
	if n > 0 {
		res.Elapsed = time.Since(start)
	}
	for w := range lat {
		res.Latencies = append(res.Latencies, lat[w]...)
		res.Errors += errs[w]
		if res.FirstErr == nil {
			res.FirstErr = firstErrs[w]
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// Count returns a pacing function for Run that allows n requests.
func Count(n int) func() bool {
	return func() bool {
		n--
		return n >= 0
	}
}

// Until returns a pacing function for Run that allows requests until d has
// passed since its first call.
func Until(d time.Duration) func() bool {
	var end time.Time
	return func() bool {
		if end.IsZero() {
			end = time.Now().Add(d)
		}
		return time.Now().Before(end)
	}
}

// RawRequest renders an HTTP/1.1 request for Load. body may be nil;
// headers are name, value pairs.
func RawRequest(method, host, path string, body []byte, headers ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: till-bench\r\n", method, path, host)
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// clientConn is one keep-alive connection; it redials after a failure.
type clientConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	body bytes.Buffer
}

func dial(addr string) (*clientConn, error) {
	c := &clientConn{addr: addr}
	if err := c.redial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *clientConn) redial() error {
	if c.conn != nil {
		_ = c.conn.Close()
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", c.addr)
	if err != nil {
		c.conn = nil
		return fmt.Errorf("dial %s: %w", c.addr, err)
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *clientConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

// do sends req and reads the whole response. The returned body is only
// valid until the next call.
func (c *clientConn) do(req []byte) (int, []byte, error) {
	if c.conn == nil {
		if err := c.redial(); err != nil {
			return 0, nil, err
		}
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(req); err != nil {
		_ = c.redial()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		_ = c.redial()
		return 0, nil, err
	}
	c.body.Reset()
	_, err = io.Copy(&c.body, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		_ = c.redial()
		return 0, nil, err
	}
	if resp.Close {
		if err := c.redial(); err != nil {
			return resp.StatusCode, c.body.Bytes(), err
		}
	}
	return resp.StatusCode, c.body.Bytes(), nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// errUsage marks command-line mistakes.
var errUsage = errors.New("usage")
