// Command till-bench is a small HTTP load generator for Till's public
// payment API, and the home of the benchmarks that need one (go test
// -bench in this folder; `make bench` runs them). Against a running server:
//
//	till-bench [-c 32] [-d 10s] [-xff] sessions http://127.0.0.1:3000 SLUG
//	till-bench [-c 32] [-d 10s] status http://127.0.0.1:3000 PAYMENT_ID...
//
// sessions opens payment sessions on the link SLUG (POST /api/payments);
// status polls GET /api/payments/:id/status round-robin over the ids. Each
// of -c connections keeps one request in flight (keep-alive) for -d, then
// the rate and the p50/p99 latency are printed. -xff sends a different
// X-Forwarded-For every 50 requests, for a server started with
// TILL_TRUSTED_PROXIES=127.0.0.1 whose per-IP limit on new sessions would
// otherwise stop the run.
//
// `make bench-http` (.ci/bench-http.sh) uses more modes:
//
//	till-bench ceiling-http -addr 127.0.0.1:PORT [-insert-db DBURL [-rows 1M]]
//	till-bench suite -label sqlite -till URL -kaspa URL -evm URL -ceiling URL -insert-db DBURL [-row-ceiling URL] [-d 5s] [-runs 3] …
//	till-bench suite -till URL -setup-only -state FILE
//	till-bench prefill -db DBURL -state FILE [-rows 1M] [-open 100k]
//	till-bench watch -till URL -kaspa URL -evm URL -metrics URL -pid PID -db DBURL -state FILE [-runs 3] …
//	till-bench report [-interval 2s] FILE
//
// ceiling-http serves a bare Fiber JSON handler (no database): the HTTP
// ceiling; with -insert-db also the HTTP + session-row ceiling, Till's
// create body parsed and its session row inserted (rowceiling.go). suite sets a running till serve up through its API and measures
// its status polls and session creation beside the ceilings, each figure
// as a ratio to its ceiling of the same run (see suite.go); with
// -setup-only it only sets up and keeps what it made in a state file.
// prefill writes past and open sessions into Till's database while till
// serve is stopped (prefill.go); watch measures the watchers of a running
// till serve with many open sessions (watch.go); report prints the tables
// across database sizes and open-session counts from the -json records.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "till-bench:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "suite":
			return runSuite(args[1:], stdout, stderr)
		case "ceiling-http":
			return runCeilingHTTP(args[1:], stderr)
		case "prefill":
			return runPrefill(args[1:], stderr)
		case "watch":
			return runWatch(args[1:], stdout, stderr)
		case "report":
			return runReport(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("till-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clients := fs.Int("c", 32, "concurrent keep-alive connections")
	dur := fs.Duration("d", 10*time.Second, "how long to run")
	xff := fs.Bool("xff", false, "vary X-Forwarded-For every 50 requests (server must trust 127.0.0.1 as a proxy)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: till-bench [flags] sessions BASE_URL SLUG | status BASE_URL ID... | suite|prefill|watch|report FLAGS... | ceiling-http -addr ADDR [-insert-db DBURL]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 3 || (rest[0] != "sessions" && rest[0] != "status") {
		fs.Usage()
		return errUsage
	}
	u, err := url.Parse(rest[1])
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return fmt.Errorf("BASE_URL %q: want http://host:port", rest[1])
	}
	l := &Load{Addr: u.Host, Clients: *clients}
	switch rest[0] {
	case "sessions":
		body := []byte(fmt.Sprintf(`{"paymentLinkSlug":%q}`, rest[2]))
		l.Request = func(i int) []byte {
			if *xff {
				return RawRequest("POST", u.Host, "/api/payments", body, "X-Forwarded-For", FakeIP(i/50))
			}
			return RawRequest("POST", u.Host, "/api/payments", body)
		}
	case "status":
		ids := rest[2:]
		reqs := make([][]byte, len(ids))
		for i, id := range ids {
			reqs[i] = RawRequest("GET", u.Host, "/api/payments/"+url.PathEscape(id)+"/status", nil)
		}
		l.Request = func(i int) []byte { return reqs[i%len(reqs)] }
	}
	res, err := l.Run(Until(*dur))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", rest[0], res)
	if res.FirstErr != nil {
		fmt.Fprintf(stdout, "first error: %v\n", res.FirstErr)
	}
	return nil
}

// FakeIP returns a private address (10.x.y.z) for customer number n, sent
// as X-Forwarded-For.
func FakeIP(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}
