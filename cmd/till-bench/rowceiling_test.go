package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"

	"till/models"
	"till/models/modeltest"
)

// TestRowCeiling serves the HTTP + session-row ceiling on a fresh database
// beside one of Till's (SQLite or Postgres, TILL_TEST_DB) and drives both
// routes over real HTTP with the suite's session load: every request
// inserts its row exactly once (as many pending rows, distinct ids and
// distinct amounts as requests, and the ids answered are the ids stored),
// the rows read back through Till's model, an answer describes its own
// row, and a body that is not a create request gets 400 and inserts
// nothing.
func TestRowCeiling(t *testing.T) {
	ctx := context.Background()
	base := modeltest.URL(t)
	dropSibling(t, base, "httprow")
	const past = 100
	rc, err := openRowCeiling(ctx, base, past)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := ceilingApp()
	rc.routes(app)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.Shutdown()
		rc.Close()
	})
	host := ln.Addr().String()

	f := &suiteFixture{o: suiteOptions{XFF: true}}
	var mu sync.Mutex
	answered := map[string]bool{}
	seen := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		if answered[id] {
			t.Errorf("id %s answered twice", id)
		}
		answered[id] = true
	}
	total := 0
	for _, run := range []struct {
		path            string
		clients, events int
	}{{"/sessions", 8, 150}, {"/sessions/batched", 8, 150}, {"/sessions/batched", 32, 200}} {
		res, err := f.sessionLoadAt(host, run.path, http.StatusCreated, []string{"coffee", "tea"}, run.clients, seen).Run(Count(run.events))
		total += run.events
		if err != nil || res.Errors > 0 || res.N != run.events {
			t.Fatalf("%s c=%d: %+v %v %v", run.path, run.clients, res, err, res.FirstErr)
		}
	}

	mdb, err := models.Open(ctx, rc.in.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	pending := func() []models.Payment {
		t.Helper()
		var ps []models.Payment
		if err := mdb.R(ctx).Where("status = ?", models.StatusPending).Find(&ps).Error; err != nil {
			t.Fatal(err)
		}
		return ps
	}
	ps := pending()
	amounts := map[int64]bool{}
	for _, p := range ps {
		if !answered[p.ID] || p.PayAddress != suiteAddress || p.LinkID == nil || p.AmountExpected <= 10*sompiPerKAS ||
			!p.ExpiresAt.After(p.CreatedAt) || p.RateAt == nil {
			t.Fatalf("row %+v (answered %v)", p, answered[p.ID])
		}
		amounts[p.AmountExpected] = true
	}
	if len(ps) != total || len(answered) != total || len(amounts) != total {
		t.Fatalf("%d requests: %d pending rows, %d ids answered, %d distinct amounts", total, len(ps), len(answered), len(amounts))
	}
	var old int64
	if err := mdb.R(ctx).Model(&models.Payment{}).Where("status <> ?", models.StatusPending).Count(&old).Error; err != nil || old != past {
		t.Fatalf("%d past sessions, want %d: %v", old, past, err)
	}

	post := func(path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/sessions", "/sessions/batched"} {
		resp := post(path, `{"paymentLinkSlug":"coffee"}`)
		var got models.KasPayCreated
		err := json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		var p models.Payment
		if err == nil {
			err = mdb.R(ctx).Where("id = ?", got.ID).First(&p).Error
		}
		if want := p.KasPayCreated(); err != nil || resp.StatusCode != http.StatusCreated || got.AmountExpected != want.AmountExpected ||
			got.KaspaAddress == nil || *got.KaspaAddress != suiteAddress || got.Status != want.Status || got.PaymentURI != want.PaymentURI {
			t.Fatalf("%s: status %d, answer %+v, row %+v: %v", path, resp.StatusCode, got, p, err)
		}
		total++
		for _, body := range []string{``, `not json`, `[1]`, `{"paymentLinkSlug":""}`, `{"customerEmail":"a@b.c"}`} {
			resp := post(path, body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %q: status %d, want 400", path, body, resp.StatusCode)
			}
		}
	}
	if n := len(pending()); n != total {
		t.Errorf("%d pending rows after the bad bodies, want %d", n, total)
	}
}
