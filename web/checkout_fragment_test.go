package web_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"till/web/webtest"
)

// TestCheckoutFirstPollSeesChanges: the first poll's fragment (200, served
// from the fragment cache when nothing it shows changed) shows every change
// at the next poll: the countdown as the clock moves, the watcher's writes
// (detected, deeper, confirmed) and the merchant's edit of the link.
func TestCheckoutFirstPollSeesChanges(t *testing.T) {
	h := newCheckoutHarness(t)
	h.settings(map[string]any{"requiredConfirmations": 10})
	slug := h.link(map[string]any{"successMessage": "Thanks!"})
	id, _ := h.start(h.env.Client(), slug, nil)
	p := h.payment(id)
	c := h.env.Client()
	first := "/pay/status/" + id

	type want struct{ phase, line, success string }
	poll := func(step string, w want) webtest.Page {
		t.Helper()
		for range 2 { // a render, then (most likely) the cached bytes
			r := h.poll(c, first)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: poll %d %s", step, r.Status, r.Body)
			}
			if ph, _ := r.Doc.Find("#pay-panel").Attr("data-phase"); ph != w.phase {
				t.Fatalf("%s: panel phase %q, want %q", step, ph, w.phase)
			}
			if got := strings.Join(strings.Fields(r.Doc.Find("#pay-status").Text()), " "); !strings.Contains(got, w.line) {
				t.Fatalf("%s: status line %q, want %q", step, got, w.line)
			}
			if got := r.TestID("success-message"); got != w.success {
				t.Fatalf("%s: success message %q, want %q", step, got, w.success)
			}
		}
		return h.poll(c, first)
	}
	countdown := func(r webtest.Page) time.Duration {
		t.Helper()
		var m, s int
		if _, err := fmt.Sscanf(r.TestID("pay-countdown"), "%d:%d", &m, &s); err != nil {
			t.Fatalf("countdown %q: %v", r.TestID("pay-countdown"), err)
		}
		return time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	}

	before := countdown(poll("pending", want{phase: "pending", line: "Waiting for payment"}))
	h.shift(2 * time.Minute)
	if after := countdown(poll("pending, two minutes on", want{phase: "pending", line: "Waiting for payment"})); after > before-2*time.Minute {
		t.Errorf("countdown %s two minutes after %s", after, before)
	}
	h.shift(0)

	h.chain.Advance(1)
	h.chain.Pay(p.PayAddress, p.AmountExpected, "")
	h.cycle()
	poll("detected", want{phase: "confirming", line: "1 of 10 confirmations"})
	h.chain.Advance(2)
	h.cycle()
	poll("deeper", want{phase: "confirming", line: "3 of 10 confirmations"})
	h.chain.Advance(10)
	h.cycle()
	poll("confirmed", want{phase: "confirmed", line: "Confirmed on the Kaspa network", success: "Thanks!"})
	h.patchLink(h.linkID(slug), map[string]any{"successMessage": "Thanks again!"})
	poll("link edited", want{phase: "confirmed", line: "Confirmed on the Kaspa network", success: "Thanks again!"})
}

// BenchmarkCheckoutFirstPoll is the first poll of make bench-http's
// checkout workload (GET /pay/status/:id without v, no cookie, 200) over
// 200 pending sessions in turn, through Fiber's fasthttp handler with no
// sockets: CPU and allocations per poll, the database reads included (the
// store's cached view).
//
//	go test ./web -run '^$' -bench CheckoutFirstPoll -benchmem
func BenchmarkCheckoutFirstPoll(b *testing.B) {
	h := newCheckoutHarness(b)
	slug := h.link(nil)
	paths := make([]string, 200)
	for i := range paths {
		id, _ := h.start(h.env.Client(), slug, nil)
		paths[i] = "/pay/status/" + id
	}
	handler := h.env.Server.App.Handler()
	reqs := make([]fasthttp.Request, len(paths))
	for i, p := range paths {
		reqs[i].Header.SetMethod(fiber.MethodGet)
		reqs[i].SetRequestURI(p)
		reqs[i].Header.SetHost("till.test")
	}
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40000}
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ctx.Init(&reqs[i%len(reqs)], addr, nil)
		handler(&ctx)
		if code := ctx.Response.StatusCode(); code != fiber.StatusOK {
			b.Fatalf("status %d: %s", code, ctx.Response.Body())
		}
		ctx.Response.Reset()
		i++
	}
}
