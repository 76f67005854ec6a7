package models

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestOpenIndexAggregatesRandom: after every change of a random sequence
// (sessions put, re-put with another status or start, dropped, lapsed), the
// index's kept aggregates equal a pass over its sessions: each address's
// oldest start, the addresses holding credits, the buckets (every address
// in its own, at its recorded position) and the sweep shares.
func TestOpenIndexAggregatesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	idx := &OpenIndex{late: 1000}
	idx.reset()
	addrs := make([]string, 3000) // ~0.7 per bucket: many share one
	for i := range addrs {
		addrs[i] = fmt.Sprintf("kaspa:addr%d", i)
	}
	addrs[0] = "kaspa:one-address-merchant"
	now := int64(0)
	for step := range 40_000 {
		id := fmt.Sprintf("p%d", rng.IntN(8000))
		addr := addrs[0]
		if rng.IntN(3) > 0 {
			addr = addrs[rng.IntN(len(addrs))]
		}
		if old, ok := idx.sessions[id]; ok {
			addr = old.a.addr // a session never changes address
		}
		e := openSession{start: int64(rng.IntN(50)) - 1, expires: now + int64(rng.IntN(5000)),
			status: statusCode(rng.IntN(5)), paid: rng.IntN(10) == 0}
		idx.put(id, addr, e, e.watched(now-idx.late))
		if step%100 == 0 {
			now += 300
			idx.lapse(now)
		}
		if step%997 == 0 || step == 39_999 {
			checkAggregates(t, idx, now)
		}
		if step%331 == 0 {
			s := &Store{now: func() time.Time { return time.UnixMicro(now) }}
			within := time.Duration(rng.IntN(3000)) * time.Microsecond
			if got, want := s.KaspaHotFrom(idx, within), s.KaspaHotScan(idx, within); !maps.Equal(got, want) {
				t.Fatalf("step %d: hot within %v: %d addresses, a pass over the sessions %d", step, within, len(got), len(want))
			}
		}

	}
}

// TestOpenIndexStartsStayBounded: a session whose start goes back and forth
// leaves entries that turn live again; the heap is rebuilt with one entry
// per session, so it stays within twice the members.
func TestOpenIndexStartsStayBounded(t *testing.T) {
	idx := &OpenIndex{late: 1000}
	idx.reset()
	const addr = "kaspa:one"
	idx.put("other", addr, openSession{start: 3, status: codePending}, true)
	for i := range 1000 {
		idx.put("flip", addr, openSession{start: 5 + int64(i%2)*2, status: codePending}, true)
		if a := idx.addrs[addr]; len(a.starts) > 2*len(a.ids)+9 || idx.minStart(a) != 3 {
			t.Fatalf("after %d flips: %d entries for %d sessions, oldest %d", i+1, len(a.starts), len(a.ids), idx.minStart(a))
		}
	}
}

func checkAggregates(t *testing.T, idx *OpenIndex, now int64) {
	t.Helper()
	starts, hot, members := map[string]int64{}, map[string]int{}, map[string]int{}
	for id, e := range idx.sessions {
		if !e.watched(now - idx.late) {
			t.Fatalf("session %s lapsed at %d is still held (now %d)", id, e.expires+idx.late, now)
		}
		members[e.a.addr]++
		if m, ok := starts[e.a.addr]; !ok || (e.start >= 0 && (m < 0 || e.start < m)) {
			starts[e.a.addr] = e.start
		}
		if e.holdsCredit() {
			hot[e.a.addr]++
		}
	}
	if len(members) != len(idx.addrs) {
		t.Fatalf("%d addresses held, %d have sessions", len(idx.addrs), len(members))
	}
	for addr, a := range idx.addrs {
		if got := idx.minStart(a); got != starts[addr] {
			t.Fatalf("%s: oldest start %d, want %d", addr, got, starts[addr])
		}
		if len(a.ids) != members[addr] {
			t.Fatalf("%s: %d ids, %d sessions", addr, len(a.ids), members[addr])
		}
		if b := idx.buckets[a.hash>>(32-shareBits)]; a.pos >= len(b) || b[a.pos] != a {
			t.Fatalf("%s is not at its position %d in its bucket", addr, a.pos)
		}
	}
	n := 0
	for _, b := range idx.buckets {
		n += len(b)
	}
	if n != len(idx.addrs) {
		t.Fatalf("the buckets hold %d addresses, the index %d", n, len(idx.addrs))
	}
	if !maps.Equal(idx.hot, hot) {
		t.Fatalf("credit counts %v, want %v", idx.hot, hot)
	}
	w := &KaspaWatch{idx: idx}
	for _, shares := range []int{1, 2, 7, 5000} {
		var got []string
		for k := range shares {
			got = append(got, w.Share(k, shares)...)
		}
		if slices.Sort(got); !slices.Equal(got, w.All()) {
			t.Fatalf("%d shares hold %d addresses, the index %d", shares, len(got), len(w.All()))
		}
	}
}

// BenchmarkOpenIndex: the per-cycle reads of an index of 66,666 Kaspa
// sessions (100,000 open across both chains), half on one merchant's
// address and half on their own, none due soon: what a following cycle
// asks of it, and the reconciliation's every 15th.
func BenchmarkOpenIndex(b *testing.B) {
	now := time.Now()
	s := &Store{now: func() time.Time { return now }, lateWindow: 24 * time.Hour}
	idx := s.NewOpenIndex(ChainKaspa)
	for i := range 66_666 {
		addr := "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"
		if i%2 == 1 {
			addr = fmt.Sprintf("kaspa:qz7ulu4c25dh7fzec9zjyrmlhnkzrg4wmf89q7gzr3gfrsj3uz6xj%012d", i)
		}
		e := openSession{start: int64(1000 + i), created: now.UnixMicro() - int64(i), expires: now.Add(time.Hour).UnixMicro() + int64(i), status: codePending}
		idx.put(fmt.Sprintf("01a22f6a-5294-7da8-99dd-%012d", i), addr, e, true)
	}
	w := &KaspaWatch{idx: idx}
	b.Run("hot", func(b *testing.B) {
		for b.Loop() {
			s.KaspaHotFrom(idx, time.Minute)
		}
	})
	b.Run("share", func(b *testing.B) {
		n := w.Len() / 1300
		k := 0
		for b.Loop() {
			w.Share(k%n, n)
			k++
		}
	})
	b.Run("reconcile-targets", func(b *testing.B) {
		for b.Loop() {
			s.KaspaReconcileTargetsFrom(idx, 10_000)
		}
	})
	b.Run("change", func(b *testing.B) { // one shared-address session paid and back
		id := "01a22f6a-5294-7da8-99dd-000000000000"
		e := idx.sessions[id]
		for b.Loop() {
			paid := e
			paid.status, paid.paid = codeConfirming, true
			idx.put(id, e.a.addr, paid, true)
			idx.put(id, e.a.addr, e, true)
			idx.minStart(e.a)
		}
	})
}
