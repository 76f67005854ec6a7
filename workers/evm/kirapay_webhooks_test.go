package evm_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/netguard"
	"till/workers/evm"
	"till/workers/webhooks"
	"till/workers/webhooks/webhookstest"
)

// captured is one webhook request a receiver got.
type captured struct {
	Path   string
	Header http.Header
	Body   []byte
}

// hookReceiver records every request, in arrival order, and answers 200.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, captured{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

// on returns the requests received on path, in order.
func (rc *hookReceiver) on(path string) []captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []captured
	for _, r := range rc.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// hookEndpoints registers, for h's merchant, a KasPay endpoint on
// /kaspay (every event) and a KiraPay one on /kirapay of rc, through the
// domain; it returns their secrets.
func (h *wharness) hookEndpoints(rc *hookReceiver) (kasSecret, kiraSecret string) {
	h.t.Helper()
	all := []string{models.EventAll}
	policy := &netguard.Policy{AllowPrivate: true}
	kasURL, kiraURL := rc.URL+"/kaspay", rc.URL+"/kirapay"
	_, kasSecret, err := h.store.CreateWebhook(h.ctx, h.m.ID, models.WebhookInput{URL: &kasURL, Events: &all}, policy)
	if err != nil {
		h.t.Fatal(err)
	}
	_, kiraSecret, err = h.store.CreateWebhook(h.ctx, h.m.ID, models.WebhookInput{URL: &kiraURL, Dialect: models.DialectKiraPay}, policy)
	if err != nil {
		h.t.Fatal(err)
	}
	return kasSecret, kiraSecret
}

// deliverAll runs a real dispatcher until nothing is due, one send per
// endpoint at a time so each endpoint gets its deliveries in claim order.
func (h *wharness) deliverAll() {
	h.t.Helper()
	d := &webhooks.Dispatcher{Store: h.store, Policy: &netguard.Policy{AllowPrivate: true}, PerEndpoint: 1, Interval: 5 * time.Millisecond}
	for {
		n, err := d.DeliverDue(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// kiraEventsOf lists a payment's KiraPay events as stored.
func (h *wharness) kiraEventsOf(id string) []models.Event {
	h.t.Helper()
	var evs []models.Event
	if err := h.store.DB().W(h.ctx).Where("payment_id = ? AND dialect = ?", id, models.DialectKiraPay).Find(&evs).Error; err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// kiraData decodes a KiraPay delivery body.
func kiraData(t *testing.T, body []byte) (id, typ string, tx models.KiraPayTransaction) {
	t.Helper()
	var b struct {
		ID, Type string
		Data     models.KiraPayTransaction
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("KiraPay body %s: %v", body, err)
	}
	return b.ID, b.Type, b.Data
}

var kiraIDPattern = regexp.MustCompile(`^evt_[0-9]{13}_[a-z0-9]{6}$`)

// TestKiraPayWebhooksOneUSDCPayment: one USDC payment on the simulated
// chain, already deep enough when the watcher first sees it, is one state
// change: KiraPay's transaction.created and transaction.succeeded and
// KasPay's payment.confirmed are written in that transaction (one
// created_at, the payment's updated_at). The KiraPay endpoint receives
// created then succeeded, the KasPay endpoint payment.confirmed; the
// KiraPay document's verifyWebhook, run verbatim under node, accepts every
// KiraPay delivery as a string, a Buffer and JSON.stringify(JSON.parse(body)),
// refuses the parsed object and a tampered body of the same length, and
// the KasPay document's verifier still accepts the KasPay delivery.
func TestKiraPayWebhooksOneUSDCPayment(t *testing.T) {
	h := newWatch(t, nil)
	rc := newHookReceiver(t)
	kasSecret, kiraSecret := h.hookEndpoints(rc)
	p := h.session(h.link)
	tx := h.pay(recvA, p.AmountExpected)
	h.mine(2) // three deep at the first sight: seen and confirmed at once
	if r := h.cycle(); r.Confirmed != 1 {
		t.Fatalf("cycle %+v, want the payment confirmed at once", r)
	}
	got := h.want(p.ID, models.StatusConfirmed, 3)
	var all []models.Event
	if err := h.store.DB().W(h.ctx).Where("payment_id = ?", p.ID).Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, e := range all {
		types[e.Type] = e.Dialect
		if !e.CreatedAt.Equal(all[0].CreatedAt) || !e.CreatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("event %s at %s, payment changed at %s: not one state change", e.Type, e.CreatedAt, got.UpdatedAt)
		}
	}
	if len(all) != 3 || types[models.EventTransactionCreated] != models.DialectKiraPay ||
		types[models.EventTransactionSucceeded] != models.DialectKiraPay || types[models.EventPaymentConfirmed] != models.DialectKasPay {
		t.Fatalf("events %v", types)
	}

	h.deliverAll()
	kira, kas := rc.on("/kirapay"), rc.on("/kaspay")
	if len(kira) != 2 || len(kas) != 1 {
		t.Fatalf("received %d KiraPay and %d KasPay requests, want 2 and 1", len(kira), len(kas))
	}
	hash := strings.ToLower(tx.Hash.Hex())
	var cases []webhookstest.KiraPayCase
	for i, want := range []string{models.EventTransactionCreated, models.EventTransactionSucceeded} {
		r := kira[i]
		id, typ, data := kiraData(t, r.Body)
		if typ != want || r.Header.Get(webhooks.KiraPayHeaderEvent) != want || r.Header.Get(webhooks.KiraPayHeaderID) != id || !kiraIDPattern.MatchString(id) {
			t.Fatalf("KiraPay request %d: %s %s headers %v", i, typ, id, r.Header)
		}
		if ts := r.Header.Get(webhooks.KiraPayHeaderTimestamp); ts != strconv.FormatInt(all[0].CreatedAt.Unix(), 10) {
			t.Errorf("%s: timestamp %s, want the event's creation in Unix seconds", typ, ts)
		}
		if data.ID != models.ShortID(p.ID) || data.Hash == nil || *data.Hash != hash || data.User.Username != h.m.Name {
			t.Errorf("%s: data %+v", typ, data)
		}
		if wantPayload := typ == models.EventTransactionSucceeded; (data.Payload != nil) != wantPayload {
			t.Errorf("%s: payload %+v", typ, data.Payload)
		}
		if status := map[string]string{models.EventTransactionCreated: "Pending", models.EventTransactionSucceeded: "Success"}[typ]; data.Status != status {
			t.Errorf("%s: status %s, want %s", typ, data.Status, status)
		}
		sig, ts := r.Header.Get(webhooks.KiraPayHeaderSignature), r.Header.Get(webhooks.KiraPayHeaderTimestamp)
		body := base64.StdEncoding.EncodeToString(r.Body)
		for _, mode := range []string{webhookstest.ModeString, webhookstest.ModeBuffer, webhookstest.ModeReparse, webhookstest.ModeObject} {
			cases = append(cases, webhookstest.KiraPayCase{Name: typ + " " + mode, Body: body, Signature: sig, Secret: kiraSecret, Timestamp: ts, Mode: mode})
		}
		tampered := bytes.Replace(r.Body, []byte(`"__v":0`), []byte(`"__v":1`), 1)
		if len(tampered) != len(r.Body) || bytes.Equal(tampered, r.Body) {
			t.Fatalf("tampering %s", r.Body)
		}
		cases = append(cases, webhookstest.KiraPayCase{Name: typ + " tampered", Body: base64.StdEncoding.EncodeToString(tampered),
			Signature: sig, Secret: kiraSecret, Timestamp: ts, Mode: webhookstest.ModeString})
	}
	results := webhookstest.RunKiraPay(t, cases)
	for _, c := range cases {
		want := c.Mode != webhookstest.ModeObject && !strings.HasSuffix(c.Name, "tampered")
		if r := results[c.Name]; r.OK != want || r.Threw != "" {
			t.Errorf("%s: verifyWebhook %v (threw %q), want %v", c.Name, r.OK, r.Threw, want)
		}
	}

	var kb struct{ Event string }
	if err := json.Unmarshal(kas[0].Body, &kb); err != nil || kb.Event != models.EventPaymentConfirmed || kas[0].Header.Get(webhooks.KiraPayHeaderSignature) != "" {
		t.Fatalf("KasPay request %s %v", kas[0].Body, kas[0].Header)
	}
	kr := webhookstest.RunKasPay(t, []webhookstest.KasPayCase{{Name: "kaspay", Body: base64.StdEncoding.EncodeToString(kas[0].Body),
		Signature: kas[0].Header.Get(webhooks.HeaderSignature), Secret: kasSecret}})
	if !kr["kaspay"].Verified || !kr["kaspay"].Canonical {
		t.Fatalf("KasPay verifier on the KasPay delivery: %+v", kr["kaspay"])
	}
}

// TestKiraPayFailedReorgedTransferExpired: a transfer seen (created), then
// reorganised out of the chain; once the session expires (after the orphan
// grace) the KiraPay endpoint receives transaction.failed with the orphaned
// transaction's hash and the reorganisation as its error.
func TestKiraPayFailedReorgedTransferExpired(t *testing.T) {
	h := newWatch(t, nil)
	rc := newHookReceiver(t)
	h.hookEndpoints(rc)
	p := h.session(h.link)
	deadline := h.cursorTime().Add(10 * time.Second)
	if err := h.store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", p.ID).Update("expires_at", deadline).Error; err != nil {
		t.Fatal(err)
	}
	tx := h.pay(recvA, p.AmountExpected)
	h.cycle()
	h.clock.Set(deadline.Add(time.Minute))
	if err := h.sim.Reorg(1); err != nil { // the block is replaced by an empty one
		t.Fatal(err)
	}
	h.mineUntil(deadline)
	if r := h.cycle(); r.Orphaned != 1 {
		t.Fatalf("cycle %+v, want the transfer orphaned", r)
	}
	h.clock.Set(deadline.Add(time.Minute + models.OrphanExpiryGrace + time.Second))
	if n := h.expire(); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	h.deliverAll()
	kira := rc.on("/kirapay")
	if len(kira) != 2 {
		t.Fatalf("KiraPay requests %d, want created and failed", len(kira))
	}
	hash := strings.ToLower(tx.Hash.Hex())
	for i, want := range []string{models.EventTransactionCreated, models.EventTransactionFailed} {
		_, typ, data := kiraData(t, kira[i].Body)
		if typ != want || data.ID != models.ShortID(p.ID) || data.Hash == nil || *data.Hash != hash {
			t.Fatalf("request %d: %s %+v", i, typ, data)
		}
		if typ == models.EventTransactionFailed && (data.Status != models.KiraPayFailed || data.Error != models.KiraPayErrOrphaned) {
			t.Fatalf("failed: status %s error %q", data.Status, data.Error)
		}
	}
	if kas := rc.on("/kaspay"); len(kas) != 1 || !bytes.Contains(kas[0].Body, []byte(`"event":"payment.expired"`)) {
		t.Fatalf("KasPay requests %d", len(kas))
	}
}

// TestKiraPayFailedRevertedSubmission: a hash reported by the wallet is
// transaction.created; its receipt says reverted (status 0), so the
// receipt checker's mark is transaction.failed ("Transaction reverted");
// the session stays open and a later transfer starts a new created and
// succeeded pair under the same _id.
func TestKiraPayFailedRevertedSubmission(t *testing.T) {
	h := newWatch(t, nil)
	rc := newHookReceiver(t)
	h.hookEndpoints(rc)
	p := h.session(h.link)
	bal, err := h.sim.BalanceOf(h.sim.Payer())
	if err != nil {
		t.Fatal(err)
	}
	reverted, err := h.sim.Send(recvA, new(big.Int).Add(bal, big.NewInt(1))) // beyond the balance: mined, reverts
	if err != nil {
		t.Fatal(err)
	}
	h.mine(1)
	if _, err := h.store.SubmitWalletTx(h.ctx, p.ID, reverted.Hex()); err != nil {
		t.Fatal(err)
	}
	rcheck := &evm.ReceiptChecker{Store: h.store, Client: h.w.Client, Chain: h.name}
	if c, err := rcheck.Cycle(h.ctx); err != nil || c.Reverted != 1 {
		t.Fatalf("receipt cycle %+v %v", c, err)
	}
	h.deliverAll()
	h.clock.Set(h.clock.Now().Add(time.Second))
	paid := h.pay(recvA, p.AmountExpected)
	h.mine(2)
	h.cycle()
	h.want(p.ID, models.StatusConfirmed, 3)
	h.deliverAll()

	kira := rc.on("/kirapay")
	wantTypes := []string{models.EventTransactionCreated, models.EventTransactionFailed, models.EventTransactionCreated, models.EventTransactionSucceeded}
	wantHash := []string{strings.ToLower(reverted.Hex()), strings.ToLower(reverted.Hex()), strings.ToLower(paid.Hash.Hex()), strings.ToLower(paid.Hash.Hex())}
	if len(kira) != len(wantTypes) {
		t.Fatalf("KiraPay requests %d, want %d", len(kira), len(wantTypes))
	}
	for i, want := range wantTypes {
		_, typ, data := kiraData(t, kira[i].Body)
		if typ != want || data.ID != models.ShortID(p.ID) || data.Hash == nil || *data.Hash != wantHash[i] {
			t.Fatalf("request %d: %s %+v, want %s of %s", i, typ, data, want, wantHash[i])
		}
		if typ == models.EventTransactionFailed && data.Error != models.KiraPayErrReverted {
			t.Fatalf("failed: error %q", data.Error)
		}
	}
	if n := len(h.kiraEventsOf(p.ID)); n != len(wantTypes) {
		t.Fatalf("%d KiraPay events stored, want %d", n, len(wantTypes))
	}
}
