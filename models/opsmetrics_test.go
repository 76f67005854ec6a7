package models_test

import (
	"testing"
	"time"

	"till/models"
)

// TestOpsMetricsQueries checks the scrape-time reads: open sessions by chain
// and status (closed ones left out), and the webhook queue counting only
// active endpoints, with the oldest due time.
func TestOpsMetricsQueries(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	b := e.merchant("b@example.com", whAddrB)

	counts := func() map[string]int64 {
		t.Helper()
		cs, err := e.s.OpenSessionCounts(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, c := range cs {
			out[c.Chain+"/"+string(c.Status)] = c.Count
		}
		return out
	}
	if got := counts(); len(got) != 0 {
		t.Fatalf("no sessions yet: %v", got)
	}
	la, lb := e.link(a), e.link(b)
	e.payment(la, models.CreatePaymentInput{})
	e.payment(lb, models.CreatePaymentInput{})
	e.confirm(e.payment(la, models.CreatePaymentInput{})) // closed: not counted
	if got := counts(); len(got) != 1 || got["kaspa/pending"] != 2 {
		t.Fatalf("open sessions across merchants = %v, want kaspa/pending 2", got)
	}

	q, err := e.s.WebhookQueueState(e.ctx)
	if err != nil || q.Pending != 0 || !q.OldestDue.IsZero() {
		t.Fatalf("empty queue: %+v %v", q, err)
	}
	epA, _ := e.endpoint(a, "https://hooks.example.com/a", "*")
	epB, _ := e.endpoint(b, "https://hooks.example.com/b", "*")
	if _, err := e.s.SendTestWebhook(e.ctx, a.ID, epA.ID); err != nil {
		t.Fatal(err)
	}
	due := e.s.Now()
	e.clk.Add(90 * time.Second)
	if _, err := e.s.SendTestWebhook(e.ctx, b.ID, epB.ID); err != nil {
		t.Fatal(err)
	}
	q, err = e.s.WebhookQueueState(e.ctx)
	if err != nil || q.Pending != 2 || !q.OldestDue.Equal(due) {
		t.Fatalf("queue = %+v %v, want 2 pending, oldest due %v", q, err, due)
	}
	off := false
	if _, err := e.s.UpdateWebhook(e.ctx, a.ID, epA.ID, models.WebhookInput{IsActive: &off}, nil); err != nil {
		t.Fatal(err)
	}
	q, err = e.s.WebhookQueueState(e.ctx)
	if err != nil || q.Pending != 1 || !q.OldestDue.Equal(due.Add(90*time.Second)) {
		t.Fatalf("queue with a paused endpoint = %+v %v, want its delivery left out", q, err)
	}

	if pools := e.s.DB().Pools(); pools["write"] == nil {
		t.Fatalf("pools: %v", pools)
	}
}
