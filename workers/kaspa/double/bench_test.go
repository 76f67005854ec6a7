package double

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkBatchUTXOs is one watcher request: POST /addresses/utxos with
// 2,600 addresses (what Till's watcher sends per request at 33,000 open
// kpub sessions), the same addresses each time, as cycle after cycle. It
// reports the double's cost per address: on the benchmark machine the
// double shares the cores with Till.
func BenchmarkBatchUTXOs(b *testing.B) {
	c := New(Options{})
	url, stop, err := c.StartLoopback()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { stop(); c.Close() }()
	const n = 2600
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = `"` + c.AddressFor("bench-"+strconv.Itoa(i)) + `"`
	}
	c.Pay(strings.Trim(addrs[0], `"`), 1000, "")
	body := `{"addresses":[` + strings.Join(addrs, ",") + `]}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url+"/addresses/utxos", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n/1000, "µs/address")
}

// BenchmarkVirtualChain is one chain-follower request: GET /virtual-chain
// for a 100-blue-score window (100 transactions) in a chain holding n
// transactions. The cost must not grow with n: the double indexes
// acceptances by blue score rather than scanning its history.
func BenchmarkVirtualChain(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run("txs="+strconv.Itoa(n), func(b *testing.B) {
			c := New(Options{})
			url, stop, err := c.StartLoopback()
			if err != nil {
				b.Fatal(err)
			}
			defer func() { stop(); c.Close() }()
			to := c.AddressFor("bench")
			for range n {
				c.Pay(to, 1000, "")
			}
			q := url + "/virtual-chain?limit=100&includeCoinbase=false&blueScoreGte=" + strconv.FormatUint(DefaultBlueScore+uint64(n/2/100*100), 10)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := http.Get(q)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
