package models_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
)

// otherKpub is a second wallet (cmd/till-bench's), for kpub changes.
const otherKpub = "kpub2KUE88roSn5peP1rEZnbRuKYw1fEPbhqBoXVWW7mLfkrLvQBAjUqwx7m1ezeSfqfecv9RUYePuHf99iW51i31WjwWjnzKDCUcTucBSiBbJA"

// nextIndex is the merchant's kpub counter as stored.
func nextIndex(t *testing.T, f *fixture) int64 {
	t.Helper()
	var n int64
	if err := f.s.DB().R(f.ctx).Raw("SELECT kaspa_next_index FROM merchants WHERE id = ?", f.m.ID).Row().Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKpubIndexesReservedTogether: concurrent kpub sessions of one merchant
// get distinct indexes and addresses from one UPDATE: the first reservation
// is held until every caller has queued, and it takes them all. The counter
// ends at exactly n.
func TestKpubIndexesReservedTogether(t *testing.T) {
	f := newFixture(t)
	withKpub(t, f)
	const n = 12
	var updates atomic.Int32
	models.OnIndexUpdate(f.s, func(merchantID string) {
		if updates.Add(1) == 1 {
			await(t, "every session queued", func() bool { return models.QueuedForIndex(f.s, merchantID) == n })
		}
	})
	payments := make([]*models.Payment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payments[i], errs[i] = f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
		}()
	}
	wg.Wait()
	indexes, addrs := map[int64]bool{}, map[string]bool{}
	for i, p := range payments {
		if errs[i] != nil {
			t.Fatalf("session %d: %v", i, errs[i])
		}
		if p.DerivationIndex == nil || indexes[*p.DerivationIndex] || addrs[p.PayAddress] {
			t.Fatalf("session %d: index %v address %s handed out twice", i, p.DerivationIndex, p.PayAddress)
		}
		indexes[*p.DerivationIndex], addrs[p.PayAddress] = true, true
	}
	for i := range int64(n) {
		if !indexes[i] {
			t.Fatalf("index %d not handed out: %v", i, indexes)
		}
	}
	if got := nextIndex(t, f); got != n {
		t.Errorf("counter %d after %d sessions, want %d", got, n, n)
	}
	if got := updates.Load(); got != 1 {
		t.Errorf("%d reservations for %d sessions, want 1", got, n)
	}
}

// TestKpubReservationCancelled: a caller that gives up does not leave the
// others waiting, and reserves nothing unless its UPDATE had started. Caller
// a runs the first reservation (held before it takes its batch), b and c
// queue behind it; one of a and b gives up.
func TestKpubReservationCancelled(t *testing.T) {
	cases := []struct {
		name   string
		cancel int      // which caller gives up: 0 a, 1 b
		want   [3]int64 // each caller's index, -1 for none
	}{
		{"queued caller", 1, [3]int64{0, -1, 1}},
		{"caller running the reservation", 0, [3]int64{-1, 0, 1}},
	}
	type result struct {
		p   *models.Payment
		err error
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			withKpub(t, f)
			entered, release := make(chan struct{}), make(chan struct{})
			models.OnIndexUpdate(f.s, func(string) {
				models.OnIndexUpdate(f.s, nil) // the first reservation only
				close(entered)
				<-release
			})
			var results [3]chan result
			var cancels [3]context.CancelFunc
			for i := range results {
				ctx, cancel := context.WithCancel(f.ctx)
				defer cancel()
				results[i], cancels[i] = make(chan result, 1), cancel
				go func() {
					p, err := f.s.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
					results[i] <- result{p, err}
				}()
				if i == 0 {
					<-entered
				}
				await(t, "callers queued", func() bool { return models.QueuedForIndex(f.s, f.m.ID) == i+1 })
			}
			cancels[tc.cancel]()
			if tc.cancel > 0 {
				// A queued caller returns while the reservation is held.
				if r := <-results[tc.cancel]; !errors.Is(r.err, context.Canceled) {
					t.Fatalf("cancelled queued caller: %+v", r)
				}
			}
			close(release)
			for i, want := range tc.want {
				if i == tc.cancel && tc.cancel > 0 {
					continue
				}
				r := <-results[i]
				switch {
				case want < 0 && r.err == nil:
					t.Errorf("cancelled caller %d created %+v", i, r.p)
				case want >= 0 && (r.err != nil || *r.p.DerivationIndex != want):
					t.Errorf("caller %d: %+v, want index %d", i, r, want)
				}
			}
			if got := nextIndex(t, f); got != 2 {
				t.Errorf("counter %d, want 2 (nothing reserved for the caller gone)", got)
			}
		})
	}
}

// TestKpubChangeRacingSession: the kpub changes after the session read the
// merchant (its cached m.KaspaKpub still the old one) and before its index
// is reserved. The session takes the new wallet's first address (the
// counter reset to 0), never the old wallet's key with the new counter;
// a kpub removed meanwhile fails the session instead of using the old key.
func TestKpubChangeRacingSession(t *testing.T) {
	other, err := kaspa.ParseExtendedPublicKey(otherKpub, kaspa.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	other0, err := other.ReceiveAddress(0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, to string
		want     string // the address, "" for an Unavailable error
	}{
		{"new wallet", otherKpub, other0.String()},
		{"kpub removed", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			withKpub(t, f)
			if p := f.session(); p.PayAddress != receive0 {
				t.Fatalf("first session at %s, want %s", p.PayAddress, receive0)
			}
			models.OnIndexUpdate(f.s, func(string) {
				models.OnIndexUpdate(f.s, nil)
				to := tc.to
				if _, err := f.s.UpdateSettings(f.ctx, f.m.ID, models.SettingsInput{KaspaKpub: &to}); err != nil {
					t.Error(err)
				}
			})
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
			if tc.want == "" {
				if !errors.Is(err, models.ErrUnavailable) {
					t.Fatalf("session after the kpub was removed: %+v, %v", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.PayAddress != tc.want || *p.DerivationIndex != 0 {
				t.Fatalf("session at %s (index %d), want the new wallet's first address %s", p.PayAddress, *p.DerivationIndex, tc.want)
			}
		})
	}
}

// BenchmarkKpubSessions opens kpub sessions of one merchant from 8
// goroutines on the engine of the test run, with one UPDATE per session (as
// before reservations were batched) and with reservations batched, in the
// same process, so the two compare under the same load, and the same
// sessions on one address for reference; updates/op is how
// many counter UPDATEs a session cost, group-txs/op (SQLite) how many group
// commit transactions (reservations ride in them), shared-txs/op how many
// of those held both inserts and a reservation, writer-derives/op how many
// addresses the committer derived itself (no usable guess).
func BenchmarkKpubSessions(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int
	}{{"one index per update", 1}, {"reserved together", 0}, {"one address", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := modeltest.Store(b)
			m, err := s.Register(ctx, models.RegisterInput{Email: "m@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: merchantAddr})
			if err != nil {
				b.Fatal(err)
			}
			k, title, amount := testKpub, "Item", "10"
			if bc.limit < 0 {
				k = "" // the reference: the same sessions on the merchant's one address
			}
			if _, err := s.UpdateSettings(ctx, m.ID, models.SettingsInput{KaspaKpub: &k}); err != nil {
				b.Fatal(err)
			}
			link, err := s.CreateLink(ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount})
			if err != nil {
				b.Fatal(err)
			}
			models.LimitIndexBatch(s, bc.limit)
			var updates, txs, shared atomic.Int64
			if s.DB().Dialect == models.SQLite {
				models.OnGroupCommit(s, func(inserts, reservations int) {
					txs.Add(1)
					updates.Add(int64(reservations))
					if inserts > 0 && reservations > 0 {
						shared.Add(1)
					}
				})
			} else {
				models.OnIndexUpdate(s, func(string) { updates.Add(1) })
			}
			b.SetParallelism(4) // 8 goroutines on this 2-core machine
			derives := models.WriterDerives(s)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: link.Slug}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(updates.Load())/float64(b.N), "updates/op")
			if s.DB().Dialect == models.SQLite {
				b.ReportMetric(float64(txs.Load())/float64(b.N), "group-txs/op")
				b.ReportMetric(float64(shared.Load())/float64(b.N), "shared-txs/op")
				b.ReportMetric(float64(models.WriterDerives(s)-derives)/float64(b.N), "writer-derives/op")
			}
		})
	}
}

// commitLog records the group commit's transactions as they commit.
type commitLog struct {
	mu  sync.Mutex
	txs [][2]int // inserts, reservations
}

func logCommits(s *models.Store) *commitLog {
	l := &commitLog{}
	models.OnGroupCommit(s, func(inserts, reservations int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.txs = append(l.txs, [2]int{inserts, reservations})
	})
	return l
}

func (l *commitLog) get() [][2]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][2]int(nil), l.txs...)
}

// otherAmount is a copy of tmpl (a one-address session) with a new id and
// amount, for a lone insert queued beside kpub sessions.
func otherAmount(tmpl *models.Payment, plus int64) *models.Payment {
	p := *tmpl
	p.ID, p.AmountExpected = uuid.NewString(), tmpl.AmountExpected+plus
	return &p
}

// TestKpubSessionsOneWriterTurn (SQLite): kpub sessions queued while the
// writer is held are reserved, derived and inserted in the writer's next
// transaction, beside the one-address insert queued before them: one
// transaction, one counter UPDATE, where a kpub session used to take two
// (its reservation in one, its insert in the next).
func TestKpubSessionsOneWriterTurn(t *testing.T) {
	f := newFixture(t)
	if f.s.DB().Dialect != models.SQLite {
		t.Skip("kpub sessions ride the group commit on SQLite only")
	}
	tmpl := f.session()
	withKpub(t, f)
	h := holdCommits(t, f.s)
	commits := logCommits(f.s)
	inserted := make(chan error, 1)
	go func() {
		ok, err := models.InsertUniqueAmount(f.ctx, f.s, otherAmount(tmpl, 1_000_000))
		if err == nil && !ok {
			err = errors.New("not inserted")
		}
		inserted <- err
	}()
	h.wait(1)
	type result struct {
		p   *models.Payment
		err error
	}
	created := make(chan result, 2)
	for range 2 {
		go func() {
			p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
			created <- result{p, err}
		}()
	}
	h.wait(2) // both kpub sessions' inserts, before any index is reserved
	if got := nextIndex(t, f); got != 0 {
		t.Fatalf("counter %d before the transaction, want 0 (nothing reserved ahead)", got)
	}
	h.release()
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for range 2 {
		r := <-created
		if r.err != nil {
			t.Fatal(r.err)
		}
		got[*r.p.DerivationIndex] = r.p.PayAddress
	}
	if got[0] != receive0 || got[1] == "" || got[1] == receive0 {
		t.Fatalf("kpub sessions at %v, want indexes 0 (%s) and 1", got, receive0)
	}
	if got, want := commits.get(), [][2]int{{3, 1}}; !slices.Equal(got, want) {
		t.Errorf("transactions (inserts, UPDATEs) %v, want %v", got, want)
	}
	if got := nextIndex(t, f); got != 2 {
		t.Errorf("counter %d, want 2", got)
	}
}

// TestKpubReservationFailedTransaction (SQLite): the transaction a kpub
// session rides in fails, after its UPDATE ran. Its index is never used:
// the session runs again alone, with a reservation of its own (the counter
// moved once, the session at index 0) or, when its own UPDATE is what
// fails (a trigger refusing it), the session fails and the counter has not
// moved. Either way the one-address insert beside it is stored.
func TestKpubReservationFailedTransaction(t *testing.T) {
	cases := []struct {
		name       string
		badInsert  bool // a second insert for a merchant that does not exist
		refuse     bool // a trigger refuses the counter's UPDATE
		wantIndex  int64
		wantCount  int64
		wantFailed bool
	}{
		{name: "a later insert fails the transaction", badInsert: true, wantIndex: 0, wantCount: 1},
		{name: "the reservation itself fails", refuse: true, wantCount: 0, wantFailed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if f.s.DB().Dialect != models.SQLite {
				t.Skip("the reservation rides the group commit on SQLite only")
			}
			tmpl := f.session()
			withKpub(t, f)
			if tc.refuse {
				if err := f.s.DB().W(f.ctx).Exec(`CREATE TRIGGER refuse_index BEFORE UPDATE OF kaspa_next_index ON merchants
					BEGIN SELECT RAISE(ABORT, 'index refused'); END`).Error; err != nil {
					t.Fatal(err)
				}
			}
			h := holdCommits(t, f.s)
			commits := logCommits(f.s)
			type result struct {
				p   *models.Payment
				err error
			}
			created := make(chan result, 1)
			go func() {
				p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
				created <- result{p, err}
			}()
			h.wait(1) // the kpub session, first in the batch
			good := otherAmount(tmpl, 1_000_000)
			inserts := []*models.Payment{good}
			if tc.badInsert {
				bad := otherAmount(tmpl, 2_000_000)
				bad.MerchantID = uuid.NewString()
				inserts = append(inserts, bad)
			}
			var wg sync.WaitGroup
			for _, p := range inserts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = models.InsertUniqueAmount(f.ctx, f.s, p)
				}()
			}
			h.wait(len(inserts))
			h.release()
			wg.Wait()
			r := <-created
			switch {
			case tc.wantFailed && r.err == nil:
				t.Fatalf("kpub session created at index %d from a refused reservation", *r.p.DerivationIndex)
			case !tc.wantFailed && (r.err != nil || *r.p.DerivationIndex != tc.wantIndex):
				t.Fatalf("kpub session: %+v, want index %d", r, tc.wantIndex)
			}
			for _, c := range commits.get() {
				if c[1] != 0 {
					t.Errorf("a transaction with a reservation committed: %v", commits.get())
				}
			}
			if got := nextIndex(t, f); got != tc.wantCount {
				t.Errorf("counter %d, want %d", got, tc.wantCount)
			}
			if _, err := f.s.Payment(f.ctx, good.ID); err != nil {
				t.Errorf("the one-address session beside it: %v", err)
			}
		})
	}
}

// TestKpubConcurrentCreators: many creators opening kpub sessions of one
// merchant, several each, get distinct, contiguous indexes (0…n-1, no gap)
// and distinct addresses, and the counter ends at n.
func TestKpubConcurrentCreators(t *testing.T) {
	const creators, each = 16, 6
	f := newFixture(t)
	withKpub(t, f)
	indexes, addrs := map[int64]bool{}, map[string]bool{}
	for _, p := range createConcurrently(t, f, creators, each) {
		if indexes[*p.DerivationIndex] || addrs[p.PayAddress] {
			t.Fatalf("index %d or address %s handed out twice", *p.DerivationIndex, p.PayAddress)
		}
		indexes[*p.DerivationIndex], addrs[p.PayAddress] = true, true
	}
	for i := range int64(creators * each) {
		if !indexes[i] {
			t.Fatalf("index %d not handed out (a gap)", i)
		}
	}
	if n := nextIndex(t, f); n != creators*each {
		t.Errorf("counter %d after %d sessions", n, creators*each)
	}
}

// TestKpubAddressGuessed (SQLite): a kpub session queued behind the
// merchant's last UPDATE guesses its index and derives that address while
// the writer is busy, so the writer derives nothing; when the counter moved
// behind the store's back (another process, say), the guesses are wrong
// and the writer derives the addresses of the indexes the UPDATE handed
// out, never the guessed ones.
func TestKpubAddressGuessed(t *testing.T) {
	key, err := kaspa.ParseExtendedPublicKey(testKpub, kaspa.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		moveTo      int64 // the counter set behind the store's back; 0: not
		wantIndexes []int64
		wantDerives int64
	}{
		{"guessed right", 0, []int64{1, 2}, 0},
		{"counter moved", 7, []int64{7, 8}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if f.s.DB().Dialect != models.SQLite {
				t.Skip("kpub sessions ride the group commit on SQLite only")
			}
			withKpub(t, f)
			if p := f.session(); *p.DerivationIndex != 0 {
				t.Fatalf("first session at index %d", *p.DerivationIndex)
			}
			if tc.moveTo > 0 {
				if err := f.s.DB().W(f.ctx).Exec("UPDATE merchants SET kaspa_next_index = ? WHERE id = ?", tc.moveTo, f.m.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
			h := holdCommits(t, f.s)
			created := make(chan *models.Payment, 2)
			for range 2 {
				go func() {
					p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: f.link.Slug})
					if err != nil {
						t.Error(err)
					}
					created <- p
				}()
			}
			h.wait(2)
			await(t, "both guesses derived", func() bool { return models.KpubGuessesDerived(f.s) == 2 })
			before := models.WriterDerives(f.s)
			h.release()
			got := map[int64]string{}
			for range 2 {
				if p := <-created; p != nil {
					got[*p.DerivationIndex] = p.PayAddress
				}
			}
			for _, idx := range tc.wantIndexes {
				want, err := key.ReceiveAddress(uint32(idx))
				if err != nil {
					t.Fatal(err)
				}
				if got[idx] != want.String() {
					t.Errorf("index %d at %q, want %s (sessions %v)", idx, got[idx], want, got)
				}
			}
			if d := models.WriterDerives(f.s) - before; d != tc.wantDerives {
				t.Errorf("the writer derived %d addresses, want %d", d, tc.wantDerives)
			}
		})
	}
}
