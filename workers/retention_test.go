package workers_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
	"till/models/netguard"
	"till/workers"
)

// retentionDB is one test database opened by several "processes" (stores
// over their own connection pools), with a merchant and an endpoint.
type retentionDB struct {
	t      *testing.T
	url    string
	stores []*models.Store
	m      *models.Merchant
	ep     *models.WebhookEndpoint
}

func newRetentionDB(t *testing.T, processes int) *retentionDB {
	t.Helper()
	ctx := context.Background()
	r := &retentionDB{t: t, url: modeltest.URL(t)}
	sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
	if err != nil {
		t.Fatal(err)
	}
	for range processes {
		db, err := models.Open(ctx, r.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		r.stores = append(r.stores, models.NewStore(db, models.StoreOptions{Sealer: sealer, Network: kaspa.Mainnet, BcryptCost: 4}))
	}
	s := r.stores[0]
	if r.m, err = s.Register(ctx, models.RegisterInput{Email: "m@example.com", Password: "securepassword", Name: "Shop",
		KaspaAddress: "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"}); err != nil {
		t.Fatal(err)
	}
	url, events := "http://127.0.0.1:9/hook", []string{"*"}
	if r.ep, _, err = s.CreateWebhook(ctx, r.m.ID, models.WebhookInput{URL: &url, Events: &events}, &netguard.Policy{AllowPrivate: true}); err != nil {
		t.Fatal(err)
	}
	return r
}

// seed writes n delivered test events (no payment) from a year ago, each
// with its delivery and one attempt.
func (r *retentionDB) seed(n int) {
	r.t.Helper()
	at := time.Now().UTC().Add(-365 * 24 * time.Hour).Truncate(time.Microsecond)
	db := r.stores[0].DB().W(context.Background())
	code := 200
	for range n {
		ev := &models.Event{ID: uuid.NewString(), MerchantID: r.m.ID, Type: models.EventWebhookTest, Dialect: models.DialectKasPay,
			Data: "{}", CreatedAt: at}
		d := &models.WebhookDelivery{ID: uuid.NewString(), EventID: ev.ID, EndpointID: r.ep.ID, MerchantID: r.m.ID,
			Status: models.DeliveryDelivered, Attempts: 1, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
		a := &models.WebhookAttempt{ID: uuid.NewString(), DeliveryID: d.ID, AttemptedAt: at, StatusCode: &code, ResponseSnippet: "ok"}
		for _, row := range []any{ev, d, a} {
			if err := db.Create(row).Error; err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

func (r *retentionDB) events() int64 {
	r.t.Helper()
	var n int64
	if err := r.stores[0].DB().R(context.Background()).Model(&models.Event{}).Count(&n).Error; err != nil {
		r.t.Fatal(err)
	}
	return n
}

// await polls cond until it holds (30 s at most).
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestRetentionWorker: one cycle prunes everything past Keep, batch after
// batch, and logs one summary line; cycles with nothing to prune log
// nothing.
func TestRetentionWorker(t *testing.T) {
	cases := []struct {
		name       string
		keep       time.Duration
		rows       int
		wantEvents int64
	}{
		{"prunes old rows in batches", 90 * 24 * time.Hour, 7, 0},
		{"keeps rows younger than Keep", 400 * 24 * time.Hour, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRetentionDB(t, 1)
			r.seed(tc.rows)
			var logs logBuffer
			cycles := make(chan struct{}, 100)
			w := &workers.Retention{Store: r.stores[0], Keep: tc.keep, Batch: 2, Interval: time.Millisecond,
				Log: slogTo(&logs), Wait: func(ctx context.Context, d time.Duration) bool {
					cycles <- struct{}{}
					return ctx.Err() == nil
				}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			for range 3 { // three cycles done
				<-cycles
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := r.events(); got != tc.wantEvents {
				t.Fatalf("%d events left, want %d", got, tc.wantEvents)
			}
			lines := strings.Count(logs.String(), "retention: pruned")
			want := 0
			if tc.wantEvents < int64(tc.rows) {
				want = 1
				if !strings.Contains(logs.String(), "events=7 deliveries=7 attempts=7") {
					t.Errorf("summary line: %s", logs.String())
				}
			}
			if lines != want {
				t.Fatalf("%d summary lines, want %d:\n%s", lines, want, logs.String())
			}
		})
	}
}

// TestRetentionLeader: of two processes on Postgres only the one holding
// the retention lock prunes; when it stops, the other takes over.
func TestRetentionLeader(t *testing.T) {
	if modeltest.Engine() != models.Postgres {
		t.Skip("leadership is a Postgres advisory lock; SQLite serves one process")
	}
	r := newRetentionDB(t, 2)
	r.seed(5)
	keep := 90 * 24 * time.Hour

	// A leads: its first cycle prunes at once, then it waits (long).
	var logsA logBuffer
	firstCycle := make(chan struct{})
	a := &workers.Retention{Store: r.stores[0], Keep: keep, Log: slogTo(&logsA), Wait: func(ctx context.Context, d time.Duration) bool {
		select {
		case firstCycle <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return false
	}}
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	<-firstCycle
	if n := r.events(); n != 0 {
		t.Fatalf("leader A left %d events", n)
	}

	// B runs while A leads: it tries the lock again and again, and never
	// prunes the new rows.
	r.seed(4)
	var logsB logBuffer
	waits := make(chan struct{}, 100)
	b := &workers.Retention{Store: r.stores[1], Keep: keep, Log: slogTo(&logsB), Wait: func(ctx context.Context, d time.Duration) bool {
		select {
		case waits <- struct{}{}:
		default:
		}
		return workers.Sleep(ctx, 5*time.Millisecond) // B's interval, short
	}}
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(ctxB) }()
	for range 5 {
		<-waits
	}
	if n := r.events(); n != 4 {
		t.Fatalf("B pruned while A held the lock: %d events left of 4", n)
	}
	if strings.Contains(logsB.String(), "retention: pruned") {
		t.Fatalf("B logged a prune while A led:\n%s", logsB.String())
	}

	// A stops (its lock is released); B takes over and prunes.
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	await(t, "B prunes after A stopped", func() bool { return r.events() == 0 })
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	if strings.Count(logsA.String(), "retention: pruned") != 1 || !strings.Contains(logsA.String(), "events=5") {
		t.Fatalf("A's log:\n%s", logsA.String())
	}
	if !strings.Contains(logsB.String(), "events=4") {
		t.Fatalf("B's log:\n%s", logsB.String())
	}
}
