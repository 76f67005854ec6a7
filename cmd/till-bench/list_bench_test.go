package main

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkListAllPayments measures GET /api/payments without parameters
// (the KasPay document's "List all payments": every payment of the
// merchant in one JSON array) on tables prefilled with 100k and 1M
// payments, through the full Fiber stack over loopback TCP. One op is one
// complete list. The list is streamed from a keyset cursor, so the server's
// memory must not grow with the number of rows:
//
//   - peak-heap-MiB: the largest live heap seen (sampled every 2 ms) while
//     the list was served, minus the heap before it (client and server
//     share the process; the client only counts bytes);
//   - B/op, allocs/op (-benchmem): everything allocated per list, which does
//     grow with the rows (one JSON encoding per row) but is garbage at once;
//   - rows/op and MB/s of JSON.
func BenchmarkListAllPayments(b *testing.B) {
	for _, size := range []struct {
		name string
		rows int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run("rows="+size.name, func(b *testing.B) {
			f := newAPIFixture(b)
			f.prefill(b, size.rows)
			client := &http.Client{Timeout: 10 * time.Minute}
			list := func() (rows, n int64) {
				req, _ := http.NewRequest("GET", "http://"+f.host+"/api/payments", nil)
				req.Header.Set("Authorization", "Bearer "+f.shop.Token)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					body, _ := io.ReadAll(resp.Body)
					b.Fatalf("list: %d %s", resp.StatusCode, truncate(body, 200))
				}
				c := &rowCounter{}
				n, err = io.Copy(c, resp.Body)
				if err != nil {
					b.Fatal(err)
				}
				if !c.closed() {
					b.Fatal("the list was cut short")
				}
				return c.rows, n
			}
			list() // warm caches and the connection
			runtime.GC()
			base := heapLive()
			peak := newPeakSampler()
			var rows, bytesRead int64
			start := time.Now()
			ops := 0
			for b.Loop() {
				r, n := list()
				rows, bytesRead = r, bytesRead+n
				ops++
			}
			elapsed := time.Since(start)
			max := peak.stop()
			if rows != int64(size.rows) {
				b.Fatalf("listed %d payments, want %d", rows, size.rows)
			}
			b.ReportMetric(float64(rows), "rows/op")
			b.ReportMetric(float64(max-base)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(bytesRead)/float64(ops)/(1<<20), "MiB/op")
			b.ReportMetric(float64(bytesRead)/(1<<20)/elapsed.Seconds(), "MiB/s")
		})
	}
}

// rowCounter counts the payment objects of a {"data":[...]} list as the
// bytes pass (each starts with {"id":), without keeping them.
type rowCounter struct {
	rows int64
	tail []byte // the last bytes seen, for a marker split across writes
}

var rowMarker = []byte(`{"id":`)

func (c *rowCounter) Write(p []byte) (int, error) {
	buf := append(c.tail, p...)
	c.rows += int64(bytes.Count(buf, rowMarker))
	keep := len(rowMarker) - 1
	if len(buf) < keep {
		keep = len(buf)
	}
	// The kept tail cannot hold a whole marker, so nothing counts twice.
	c.tail = append(c.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

func (c *rowCounter) closed() bool { return bytes.HasSuffix(c.tail, []byte("]}")) }

// heapLive is the bytes of live and not yet swept heap objects.
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakSampler records the largest heapLive seen until stop.
type peakSampler struct {
	max  atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func newPeakSampler() *peakSampler {
	p := &peakSampler{done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if v := heapLive(); v > p.max.Load() {
				p.max.Store(v)
			}
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) stop() uint64 {
	close(p.done)
	p.wg.Wait()
	return p.max.Load()
}
