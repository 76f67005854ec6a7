package models_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/models"
)

const retentionKeep = 90 * 24 * time.Hour

// retentionEnv is a fixture with one webhook endpoint subscribed to
// everything.
type retentionEnv struct {
	*fixture
	ep *models.WebhookEndpoint
}

func newRetentionEnv(t *testing.T) *retentionEnv {
	t.Helper()
	f := newFixture(t)
	url, events := "http://127.0.0.1:9/hook", []string{"*"}
	ep, _, err := f.s.CreateWebhook(f.ctx, f.m.ID, models.WebhookInput{URL: &url, Events: &events}, testPolicy(true))
	if err != nil {
		t.Fatal(err)
	}
	return &retentionEnv{fixture: f, ep: ep}
}

// deliver claims every due delivery and records res for each, as the
// dispatcher would; it returns the events sent.
func (e *retentionEnv) deliver(res models.AttemptResult, schedule ...time.Duration) []string {
	e.t.Helper()
	jobs, err := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 50, Lease: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	var evs []string
	for i := range jobs {
		if _, err := e.s.RecordDeliveryAttempt(e.ctx, &jobs[i], res, schedule); err != nil {
			e.t.Fatal(err)
		}
		evs = append(evs, jobs[i].EventID)
	}
	return evs
}

// expire lets the open sessions run out and expires them.
func (e *retentionEnv) expire() {
	e.t.Helper()
	e.advance(31 * 60 * 10)
	e.observe()
	if _, err := e.s.ExpireDue(e.ctx, 100); err != nil {
		e.t.Fatal(err)
	}
}

// insertOutbox writes an event of paymentID (nil: none) with one delivery
// in status st and one attempt with a body, all at time at, straight into
// the tables (as if written long ago); it returns the event id.
func (e *retentionEnv) insertOutbox(paymentID *string, st models.DeliveryStatus, at time.Time) string {
	e.t.Helper()
	ev := e.insertEvent(paymentID, at)
	db := e.s.DB().W(e.ctx)
	code := 200
	d := &models.WebhookDelivery{ID: uuid.NewString(), EventID: ev.ID, EndpointID: e.ep.ID, MerchantID: e.m.ID, Status: st,
		Attempts: 1, NextAttemptAt: at, LastStatusCode: &code, CreatedAt: at, UpdatedAt: at}
	a := &models.WebhookAttempt{ID: uuid.NewString(), DeliveryID: d.ID, AttemptedAt: at, StatusCode: &code, LatencyMS: 12,
		ResponseSnippet: "thanks"}
	for _, row := range []any{d, a} {
		if err := db.Create(row).Error; err != nil {
			e.t.Fatal(err)
		}
	}
	return ev.ID
}

// insertEvent writes an event of paymentID (nil: none) at time at, with no
// delivery (a merchant without webhooks).
func (e *retentionEnv) insertEvent(paymentID *string, at time.Time) *models.Event {
	e.t.Helper()
	ev := &models.Event{ID: "evt_" + uuid.NewString(), MerchantID: e.m.ID, Type: "transaction.created", Dialect: models.DialectKasPay,
		PaymentID: paymentID, Data: `{"old":true}`, CreatedAt: at}
	if err := e.s.DB().W(e.ctx).Create(ev).Error; err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// outboxRow is what is left of one event's outbox rows.
type outboxRow struct {
	event, delivery, attempt bool
	status                   models.DeliveryStatus
	snippet, errText         string
	code                     *int
}

func (e *retentionEnv) outbox(eventID string) outboxRow {
	e.t.Helper()
	db := e.s.DB().R(e.ctx)
	var r outboxRow
	var n int64
	if err := db.Model(&models.Event{}).Where("id = ?", eventID).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	r.event = n == 1
	var ds []models.WebhookDelivery
	if err := db.Where("event_id = ?", eventID).Find(&ds).Error; err != nil {
		e.t.Fatal(err)
	}
	if len(ds) == 0 {
		return r
	}
	r.delivery, r.status = true, ds[0].Status
	var as []models.WebhookAttempt
	if err := db.Where("delivery_id = ?", ds[0].ID).Find(&as).Error; err != nil {
		e.t.Fatal(err)
	}
	if len(as) > 0 {
		r.attempt, r.snippet, r.errText, r.code = true, as[0].ResponseSnippet, as[0].Error, as[0].StatusCode
	}
	return r
}

func (e *retentionEnv) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.s.DB().R(e.ctx).Table(table).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestPrune: what a Prune past the retention removes and what it keeps.
func TestPrune(t *testing.T) {
	e := newRetentionEnv(t)
	old := e.clock.Now()
	never := 365 * 24 * time.Hour // a retry that stays pending

	// Long ago: a confirmed and an expired payment, delivered.
	confirmed := e.confirm(e.session())
	evConfirmed := e.deliver(models.AttemptResult{StatusCode: 200, Snippet: "ok"})[0]
	e.session()
	e.expire()
	evExpired := e.deliver(models.AttemptResult{StatusCode: 204, Snippet: "fine"})[0]
	// An expired payment whose delivery is still retrying.
	e.session()
	e.expire()
	evRetrying := e.deliver(models.AttemptResult{StatusCode: 503, Err: "HTTP 503", Snippet: "busy"}, never)[0]
	// Test events (no payment): one delivered, one given up.
	if _, err := e.s.SendTestWebhook(e.ctx, e.m.ID, e.ep.ID); err != nil {
		t.Fatal(err)
	}
	evTest := e.deliver(models.AttemptResult{StatusCode: 200, Snippet: "test ok"})[0]
	if _, err := e.s.SendTestWebhook(e.ctx, e.m.ID, e.ep.ID); err != nil {
		t.Fatal(err)
	}
	evTestFailed := e.deliver(models.AttemptResult{Err: "connection refused"})[0]
	open := e.session()

	// 100 days later: a recent confirmed payment, delivered.
	e.clock.Add(100 * 24 * time.Hour)
	e.confirm(e.session())
	evRecent := e.deliver(models.AttemptResult{StatusCode: 200, Snippet: "recent"})[0]
	// The open payment's old delivered event (a KiraPay
	// transaction.created, say) and an old pending one.
	evOpen := e.insertOutbox(&open.ID, models.DeliveryDelivered, old)
	evOpenPending := e.insertOutbox(&open.ID, models.DeliveryPending, old)
	// A finished delivery of an old, confirmed payment redelivered lately.
	evRedelivered := e.insertOutbox(&confirmed.ID, models.DeliveryDelivered, old)
	if err := e.s.DB().W(e.ctx).Model(&models.WebhookDelivery{}).Where("event_id = ?", evRedelivered).
		Update("updated_at", e.clock.Now()).Error; err != nil {
		t.Fatal(err)
	}

	kept := map[string]int64{}
	for _, tbl := range []string{"payments", "transfers", "payment_links", "merchants", "webhook_endpoints", "payment_activities"} {
		kept[tbl] = e.count(tbl)
	}
	res, err := e.s.Prune(e.ctx, e.clock.Now().Add(-retentionKeep), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := models.PruneResult{Deliveries: 4, Attempts: 4, AttemptsBlanked: 2, Events: 4}
	if res != want {
		t.Fatalf("pruned %+v, want %+v", res, want)
	}

	code200, code503 := 200, 503
	cases := []struct {
		name  string
		event string
		want  outboxRow
	}{
		{"confirmed payment's event", evConfirmed, outboxRow{}},
		{"expired payment's event", evExpired, outboxRow{}},
		{"delivered test event", evTest, outboxRow{}},
		{"given-up test event", evTestFailed, outboxRow{}},
		{"retrying delivery keeps event and attempt body", evRetrying,
			outboxRow{event: true, delivery: true, attempt: true, status: models.DeliveryPending, snippet: "busy", errText: "HTTP 503", code: &code503}},
		{"open payment: body blanked, rows kept", evOpen,
			outboxRow{event: true, delivery: true, attempt: true, status: models.DeliveryDelivered, code: &code200}},
		{"open payment's pending delivery", evOpenPending,
			outboxRow{event: true, delivery: true, attempt: true, status: models.DeliveryPending, snippet: "thanks", code: &code200}},
		{"recent event", evRecent,
			outboxRow{event: true, delivery: true, attempt: true, status: models.DeliveryDelivered, snippet: "recent", code: &code200}},
		{"delivery touched lately: kept, its old attempt blanked", evRedelivered,
			outboxRow{event: true, delivery: true, attempt: true, status: models.DeliveryDelivered, code: &code200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := e.outbox(tc.event)
			if fmt.Sprint(got.event, got.delivery, got.attempt, got.status, got.snippet, got.errText) !=
				fmt.Sprint(tc.want.event, tc.want.delivery, tc.want.attempt, tc.want.status, tc.want.snippet, tc.want.errText) ||
				(got.code == nil) != (tc.want.code == nil) || (got.code != nil && *got.code != *tc.want.code) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for tbl, n := range kept {
		if got := e.count(tbl); got != n {
			t.Errorf("%s: %d rows, had %d: never pruned", tbl, got, n)
		}
	}
	// Nothing more to do: a second call prunes nothing.
	if res, err := e.s.Prune(e.ctx, e.clock.Now().Add(-retentionKeep), 1000); err != nil || res.Rows() != 0 || res.More {
		t.Fatalf("second prune: %+v %v", res, err)
	}
}

// TestPruneBatches: each call prunes at most batch rows per step and says
// whether more may be left; calling until it says no prunes everything.
func TestPruneBatches(t *testing.T) {
	cases := []struct {
		// rows events with a delivery and an attempt each, bare events
		// without a delivery.
		rows, bare, batch, calls int
	}{
		{5, 0, 2, 3},
		{4, 0, 2, 3}, // the third call finds nothing
		{3, 0, 10, 1},
		{0, 0, 2, 1},
		{0, 5, 2, 3},
		{2, 3, 2, 3}, // deliveries first, then the bare events
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d rows %d bare by %d", tc.rows, tc.bare, tc.batch), func(t *testing.T) {
			e := newRetentionEnv(t)
			old := e.clock.Now()
			for range tc.rows {
				e.insertOutbox(nil, models.DeliveryDelivered, old)
			}
			for range tc.bare {
				e.insertEvent(nil, old)
			}
			e.clock.Add(retentionKeep + time.Hour)
			var total models.PruneResult
			calls := 0
			for {
				res, err := e.s.Prune(e.ctx, e.clock.Now().Add(-retentionKeep), tc.batch)
				if err != nil {
					t.Fatal(err)
				}
				calls++
				if res.Deliveries > int64(tc.batch) || res.Events-res.Deliveries > int64(tc.batch) {
					t.Fatalf("call %d pruned %+v, more than a batch of %d", calls, res, tc.batch)
				}
				total = total.Add(res)
				if !res.More {
					break
				}
				if calls > tc.rows+tc.bare+1 {
					t.Fatal("Prune keeps saying there is more")
				}
			}
			if calls != tc.calls {
				t.Fatalf("%d calls, want %d", calls, tc.calls)
			}
			n := int64(tc.rows)
			if total.Events != n+int64(tc.bare) || total.Deliveries != n || total.Attempts != n {
				t.Fatalf("pruned %+v, want %d deliveries and attempts, %d events", total, n, n+int64(tc.bare))
			}
			for _, tbl := range []string{"events", "webhook_deliveries", "webhook_attempts"} {
				if got := e.count(tbl); got != 0 {
					t.Errorf("%s: %d rows left", tbl, got)
				}
			}
		})
	}
}
