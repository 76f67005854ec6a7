package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"till/handlers"
	"till/models"
	"till/models/evm"
	"till/web/webtest"
)

// The USDC checkout, over the real HTTP stack and database. USDC links are
// created through the domain (insertUSDCLinkFixture); payments are credited through the models EVM functions (payUSDC), which
// the EVM watcher will call once it lands.

const (
	usdcChainBase = "base"
	usdcReceiver  = "0x52908400098527886E0F7030069857D2E4169EE7" // EIP-55 test vector
)

var usdcBaseToken = func() evm.Address { b, _ := evm.Builtin(usdcChainBase); return b.USDC }()

type usdcHarness struct {
	t   testing.TB
	ctx context.Context
	env *webtest.Env
	m   webtest.Merchant
}

// newUSDCHarness runs Till with base enabled (chain ID 8453, Circle's USDC,
// 3 confirmations) and one merchant.
func newUSDCHarness(t testing.TB) *usdcHarness {
	t.Helper()
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) {
		o.EVMChains = map[string]models.EVMChain{usdcChainBase: {ChainID: 8453, USDC: usdcBaseToken.Lower(), Confirmations: 3}}
	}})
	env.Listen()
	h := &usdcHarness{t: t, ctx: context.Background(), env: env}
	h.m = env.Register("usdc@example.com", "Stablecoin Shop", webtest.AddrA)
	return h
}

// insertUSDCLinkFixture creates an active USDC link on base paying
// usdcReceiver through the domain (Store.CreateLink), with its 10-character
// code as the slug; price in micro-USDC (0: open amount).
func (h *usdcHarness) insertUSDCLinkFixture(price int64, redirect string) *models.PaymentLink {
	h.t.Helper()
	title, desc, currency, chain, receiver := "Conference ticket", "One seat.", string(models.USDC), usdcChainBase, usdcReceiver
	amount := models.FormatAsset(price, models.USDC)
	in := models.LinkInput{Title: &title, Description: &desc, Amount: &amount, Currency: &currency, Chain: &chain, Receiver: &receiver}
	if redirect != "" {
		in.RedirectURL = &redirect
	}
	l, err := h.env.Store.CreateLink(h.ctx, h.m.ID, in)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// start opens a session on the link from a fresh visitor and returns the
// visitor and the session page.
func (h *usdcHarness) start(slug string, values url.Values) (*webtest.Client, webtest.Page) {
	h.t.Helper()
	c := h.env.Client()
	if values == nil {
		values = url.Values{}
	}
	r := c.Submit("/pay/"+slug, "/pay/"+slug, values)
	if r.Status != http.StatusSeeOther && r.Status != http.StatusFound {
		h.t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	return c, c.Get(r.Header.Get("Location"))
}

func (h *usdcHarness) payment(id string) *models.Payment {
	h.t.Helper()
	p, err := h.env.Store.Payment(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// payUSDC credits p with a Transfer of amount to its receiver, recorded at
// a block after the session's start and observed depth blocks deep. It is
// the one place a test "pays"; once the EVM watcher lands it becomes a
// payment on evmsim followed by watcher cycles.
func (h *usdcHarness) payUSDC(p *models.Payment, amount int64, depth int64) string {
	h.t.Helper()
	sum := sha256.Sum256([]byte(p.ID))
	tx := "0x" + hex.EncodeToString(sum[:])
	block := p.StartBlock + 1
	_, err := h.env.Store.RecordEVMTransfer(h.ctx, models.EVMTransfer{Chain: p.Chain, TxHash: tx, LogIndex: 0,
		BlockNumber: block, BlockHash: "0x" + strings.Repeat("b1", 32), BlockTime: time.Now().UTC(),
		Token: usdcBaseToken.Lower(), From: "0x" + strings.Repeat("11", 20), To: p.PayAddress, Amount: amount}, block+depth-1)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func pageCSRF(t testing.TB, p webtest.Page) string {
	t.Helper()
	raw, _ := p.Doc.Find("body").Attr("hx-headers")
	var hd map[string]string
	if err := json.Unmarshal([]byte(raw), &hd); err != nil || hd["X-CSRF-Token"] == "" {
		t.Fatalf("no CSRF token in hx-headers %q", raw)
	}
	return hd["X-CSRF-Token"]
}

func TestUSDCCheckoutShowsWhereAndWhatToPay(t *testing.T) {
	h := newUSDCHarness(t)
	l := h.insertUSDCLinkFixture(25_000_000, "")

	c := h.env.Client()
	lp := c.Get("/pay/" + l.Slug)
	if lp.Status != http.StatusOK {
		t.Fatalf("link page %d", lp.Status)
	}
	if got := strings.Join(strings.Fields(lp.TestID("checkout-amount")), " "); got != "25 USDC" {
		t.Errorf("link amount %q", got)
	}
	if got := lp.TestID("checkout-network"); got != "Paid in USDC on Base." {
		t.Errorf("link network %q", got)
	}
	if got := strings.Join(strings.Fields(lp.TestID("pay-start")), " "); got != "Pay with USDC" {
		t.Errorf("start button %q", got)
	}

	_, sp := h.start(l.Slug, nil)
	id, _ := sp.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	p := h.payment(id)
	if p.AmountExpected <= 25_000_000 || p.AmountExpected >= 25_010_000 {
		t.Fatalf("amount %d: want the price plus an offset below a cent", p.AmountExpected)
	}
	receiver := evm.MustParseAddress(usdcReceiver)
	for testid, want := range map[string]string{
		"pay-network":  "Base",
		"pay-chain-id": "8453",
		"pay-token":    usdcBaseToken.Hex(),
		"pay-address":  receiver.Hex(),
		"pay-amount":   models.FormatAsset(p.AmountExpected, models.USDC),
	} {
		if got := sp.TestID(testid); got != want {
			t.Errorf("%s = %q, want %q", testid, got, want)
		}
	}
	if href, _ := sp.Doc.Find(`[data-testid="pay-token-link"]`).Attr("href"); href != "https://basescan.org/token/"+usdcBaseToken.Hex() {
		t.Errorf("token link %q", href)
	}
	warn := strings.Join(strings.Fields(sp.TestID("pay-warning")), " ")
	if !strings.Contains(warn, "exactly "+models.FormatAsset(p.AmountExpected, models.USDC)+" USDC") || !strings.Contains(warn, "on Base only") {
		t.Errorf("warning %q", warn)
	}
	for _, copyOf := range []string{"pay-amount", "pay-address", "pay-token"} {
		if sp.Doc.Find(`[data-copy="`+copyOf+`"]`).Length() != 1 {
			t.Errorf("no copy button for %s", copyOf)
		}
	}
	if sp.TestID("pay-countdown") == "" {
		t.Error("no countdown")
	}
	if strings.Contains(sp.Doc.Find("main").Text(), "KAS") {
		t.Error("a USDC checkout mentions KAS")
	}
	if sp.Doc.Find(`script[src="/static/js/wallet.js"]`).Length() != 1 {
		t.Error("wallet script not loaded")
	}
	// The wallet button waits, hidden, for wallet.js to find a wallet.
	if _, hidden := sp.Doc.Find(`[data-evm-pay-box]`).Attr("hidden"); !hidden {
		t.Error("the browser-wallet button is shown before a wallet was found")
	}
	wb := sp.Doc.Find(`[data-testid="pay-browser-wallet"]`)
	for attr, want := range map[string]string{"data-chain-id": "0x2105", "data-token": usdcBaseToken.Hex(),
		"data-receiver": receiver.Hex(), "data-units": itoa(p.AmountExpected), "data-tx-url": "/pay/status/" + p.ID + "/tx"} {
		if got, _ := wb.Attr(attr); got != want {
			t.Errorf("wallet button %s = %q, want %q", attr, got, want)
		}
	}

	// The QR code encodes the EIP-681 URI of the exact amount.
	uri := evm.PaymentURI(usdcBaseToken, 8453, receiver, p.AmountExpected)
	if got, _ := sp.Doc.Find(`[data-testid="pay-qr"]`).Attr("data-uri"); got != uri {
		t.Errorf("QR URI %q, want %q", got, uri)
	}
	if got := sp.TestID("pay-uri"); got != uri {
		t.Errorf("payment link %q", got)
	}
	src, _ := sp.Doc.Find(`[data-testid="pay-qr"]`).Attr("src")
	resp, err := http.Get(h.env.URL + src)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := png.Decode(bytes.NewReader(body)); err != nil {
		t.Fatalf("QR is not a PNG: %v", err)
	}
	want, err := handlers.QRPNG(uri)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Error("the QR PNG does not encode the EIP-681 URI")
	}
}

func itoa(n int64) string { return models.FormatUnits(n, 0, 0) }

func TestUSDCCheckoutPaidAfterCredit(t *testing.T) {
	h := newUSDCHarness(t)
	l := h.insertUSDCLinkFixture(5_000_000, "https://shop.example/thanks")
	c, sp := h.start(l.Slug, nil)
	id, _ := sp.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	poll, _ := sp.Doc.Find(`#pay-poll`).Attr("hx-get")
	p := h.payment(id)

	// Seen at depth 1: confirming, with the transaction and its explorer link.
	tx := h.payUSDC(p, p.AmountExpected, 1)
	r := c.Get(poll, "HX-Request", "true")
	if r.Status != http.StatusOK {
		t.Fatalf("poll %d", r.Status)
	}
	if got := r.TestID("pay-txid"); got != tx {
		t.Errorf("tx %q", got)
	}
	if href, _ := r.Doc.Find(`[data-testid="pay-explorer"]`).Attr("href"); href != "https://basescan.org/tx/"+tx {
		t.Errorf("explorer %q", href)
	}
	if strings.Contains(r.Body, "KAS") {
		t.Error("the status mentions KAS")
	}

	// Another customer's payment seen at the required depth: Paid, with the
	// redirect. (The confirmation advance of a recorded transfer is the EVM
	// watcher's, built in parallel.)
	c2, sp2 := h.start(l.Slug, nil)
	id2, _ := sp2.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	poll2, _ := sp2.Doc.Find(`#pay-poll`).Attr("hx-get")
	p2 := h.payment(id2)
	h.payUSDC(p2, p2.AmountExpected, int64(p2.RequiredConfirmations))
	r = c2.Get(poll2, "HX-Request", "true")
	if got := strings.Join(strings.Fields(r.Text(`[data-testid="pay-status-line"]`)), " "); got != "Paid Confirmed on Base" {
		t.Errorf("status %q", got)
	}
	if got := strings.Join(strings.Fields(r.TestID("pay-received")), " "); got != models.FormatAsset(p2.AmountExpected, models.USDC)+" USDC" {
		t.Errorf("received %q", got)
	}
	if got, _ := r.Doc.Find(`[data-testid="pay-redirecting"]`).Attr("data-redirect"); got != "https://shop.example/thanks" {
		t.Errorf("redirect %q", got)
	}
	if r.Doc.Find(`#pay-poll[hx-trigger]`).Length() != 0 {
		t.Error("still polling after Paid")
	}
	// The receipt prints USDC and links the Base explorer.
	rc := c2.Get("/pay/receipt/" + id2)
	if got := strings.Join(strings.Fields(rc.TestID("receipt-amount")), " "); got != models.FormatAsset(p2.AmountExpected, models.USDC)+" USDC" {
		t.Errorf("receipt amount %q", got)
	}
	sum := sha256.Sum256([]byte(p2.ID))
	if href, _ := rc.Doc.Find(`[data-testid="receipt-explorer"]`).Attr("href"); href != "https://basescan.org/tx/0x"+hex.EncodeToString(sum[:]) {
		t.Errorf("receipt explorer %q", href)
	}
	if strings.Contains(rc.Doc.Find("main").Text(), "KAS") {
		t.Error("the USDC receipt mentions KAS")
	}
}

func TestUSDCWalletTxReport(t *testing.T) {
	h := newUSDCHarness(t)
	l := h.insertUSDCLinkFixture(5_000_000, "")
	c, sp := h.start(l.Slug, nil)
	id, _ := sp.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	tok := pageCSRF(t, sp)
	good := "0x" + strings.Repeat("Ab", 32)

	// A Kaspa session takes no wallet transaction.
	kaspaLink := h.env.Do("POST", "/api/links", map[string]any{"title": "Beans", "amount": 10, "currency": "KAS"}, h.m.Bearer()...).JSON(t)
	kc, ksp := h.start(kaspaLink["slug"].(string), nil)
	kid, _ := ksp.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")

	cases := []struct {
		name   string
		client *webtest.Client
		id     string
		hash   string
		csrf   string
		status int
		body   string
	}{
		{"no CSRF token", c, id, good, "", http.StatusForbidden, ""},
		{"not a hash", c, id, "0x1234", tok, http.StatusBadRequest, "0x followed by 64 hexadecimal digits"},
		{"no 0x", c, id, strings.Repeat("ab", 32), tok, http.StatusBadRequest, "0x followed by 64"},
		{"kaspa session", kc, kid, good, pageCSRF(t, ksp), http.StatusBadRequest, "not paid with a browser wallet"},
		{"unknown session", c, uuid.NewString(), good, tok, http.StatusNotFound, ""},
		{"first report", c, id, good, tok, http.StatusOK, "Sent, waiting to be mined"},
		{"second report", c, id, "0x" + strings.Repeat("cd", 32), tok, http.StatusConflict, "already reported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.PostForm("/pay/status/"+tc.id+"/tx", url.Values{"txHash": {tc.hash}}, "X-CSRF-Token", tc.csrf)
			if r.Status != tc.status || !strings.Contains(r.Body, tc.body) {
				t.Fatalf("%d %q, want %d %q", r.Status, r.Body, tc.status, tc.body)
			}
		})
	}
	p := h.payment(id)
	if p.SubmittedTxHash != strings.ToLower(good) || p.TxKnownAt == nil {
		t.Fatalf("stored %q at %v", p.SubmittedTxHash, p.TxKnownAt)
	}
	// It never credits: still waiting, nothing received, no transaction.
	if p.Status != models.StatusPending || p.AmountReceived != 0 || p.TxID != "" {
		t.Fatalf("after the report: %s, received %d, tx %q", p.Status, p.AmountReceived, p.TxID)
	}
	sp = c.Get("/pay/" + l.Slug + "/p/" + id)
	if got := sp.Text(`[data-testid="pay-tx-sent"] p`); got != "Sent, waiting to be mined" {
		t.Errorf("notice %q", got)
	}
	if got := sp.TestID("pay-tx-submitted"); got != strings.ToLower(good) {
		t.Errorf("submitted %q", got)
	}
	if got, _ := sp.Doc.Find(`[data-testid="pay-status-line"]`).Attr("data-phase"); got != "pending" {
		t.Errorf("phase %q", got)
	}

	// The EVM side finds it reverted: the page says it failed, and a poll
	// carrying the old version sees the change.
	poll, _ := sp.Doc.Find(`#pay-poll`).Attr("hx-get")
	if ok, err := h.env.Store.MarkSubmittedTxFailed(h.ctx, id, "The transaction was reverted on the network"); err != nil || !ok {
		t.Fatalf("mark failed: %v %v", ok, err)
	}
	r := c.Get(poll, "HX-Request", "true")
	if r.Status != http.StatusOK {
		t.Fatalf("poll after the failure %d", r.Status)
	}
	if got := r.Text(`[data-testid="pay-tx-failed"] p`); got != "Your wallet's transaction failed" {
		t.Errorf("failure %q in %s", got, r.Body)
	}
	if r.Doc.Find(`[data-testid="pay-tx-sent"]`).Length() != 0 {
		t.Error("still says sent")
	}
}

func TestUSDCOpenAmountForm(t *testing.T) {
	h := newUSDCHarness(t)
	l := h.insertUSDCLinkFixture(0, "")
	c := h.env.Client()
	lp := c.Get("/pay/" + l.Slug)
	if lp.Doc.Find(`input[name="amount"]`).Length() != 1 || lp.TestID("checkout-open-amount") == "" {
		t.Fatal("no amount field on an open-amount link")
	}
	var n int64
	count := func() int64 {
		if err := h.env.Store.DB().R(h.ctx).Model(&models.Payment{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct{ amount, msg string }{
		{"0.009", "amount must be at least 0.01 USDC"},
		{"0", "amount must be at least 0.01 USDC"},
		{"", "Enter an amount in USDC, such as 12.50"},
		{"ten", "Enter an amount in USDC, such as 12.50"},
		{"1.0000001", "Enter an amount in USDC, such as 12.50"},
	} {
		r := c.Submit("/pay/"+l.Slug, "/pay/"+l.Slug, url.Values{"amount": {tc.amount}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%q: %d", tc.amount, r.Status)
		}
		if got := strings.TrimSpace(r.Doc.Find("#amount-error").Text()); got != tc.msg {
			t.Errorf("%q: error %q, want %q (%s)", tc.amount, got, tc.msg, r.Doc.Find("form").Text())
		}
		if v, _ := r.Doc.Find(`input[name="amount"]`).Attr("value"); v != tc.amount {
			t.Errorf("%q: the field kept %q", tc.amount, v)
		}
	}
	if count() != 0 {
		t.Fatalf("%d sessions opened by refused amounts", n)
	}
	_, sp := h.start(l.Slug, url.Values{"amount": {"12.5"}})
	id, _ := sp.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	p := h.payment(id)
	if p.AmountExpected <= 12_500_000 || p.AmountExpected >= 12_510_000 {
		t.Fatalf("open amount %d: want 12.5 USDC plus an offset below a cent", p.AmountExpected)
	}
	if got := sp.TestID("pay-amount"); got != models.FormatAsset(p.AmountExpected, models.USDC) {
		t.Errorf("amount shown %q", got)
	}
}
