package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"till/models"
	"till/models/evm"
	"till/web/webtest"
)

// observeUSDCChain stores the test chain's observation (head and scan
// cursor) as the EVM watcher does after a cycle: new sessions start at it
// and manual assignment measures depth from it.
func observeUSDCChain(t *testing.T, env *webtest.Env, head int64) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := &models.ChainState{Chain: usdcTestChain, ChainID: usdcChainID, Head: head, Cursor: head,
		CursorHash: "0x" + strings.Repeat("cd", 32), CursorTime: &now, ObservedAt: now}
	if err := env.Store.DB().W(context.Background()).Save(st).Error; err != nil {
		t.Fatal(err)
	}
}

func settingsValues(evmAddr string) url.Values {
	return url.Values{"name": {"USDC Shop"}, "kaspaAddress": {webtest.AddrA}, "paymentExpiry": {"30"},
		"kaspaKpub": {""}, "requiredConfirmations": {"100"}, "evmAddress": {evmAddr}}
}

func TestUSDCDashboardSettings(t *testing.T) {
	env := newUSDCEnv(t)
	m := env.Register("dash-evm@example.com", "USDC Shop", webtest.AddrA)
	c := dashLogin(t, env, m)
	page := c.Get("/dashboard/settings")
	if _, ok := page.Doc.Find(`input[name="evmAddress"]`).Attr("value"); !ok {
		t.Fatal("no evmAddress field on the settings page")
	}
	help := page.Text("#evmAddress-help")
	for _, want := range []string{"Safe", "every chain", "externally owned", usdcTestChain} {
		if !strings.Contains(help, want) {
			t.Errorf("settings help %q does not mention %q", help, want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{evmAddr1Typo, "copy the address again from your wallet"},
		{evmZero, "zero address"},
	} {
		p := c.Submit("/dashboard/settings", "/dashboard/settings", settingsValues(tc.in))
		if got := p.TestID("error-evmAddress"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: field error %q, want %q (status %d)", tc.in, got, tc.want, p.Status)
		}
	}
	p := c.Submit("/dashboard/settings", "/dashboard/settings", settingsValues(strings.ToLower(evmAddr1)))
	if p.Status != http.StatusOK || p.TestID("error-evmAddress") != "" {
		t.Fatalf("save: %d %s", p.Status, p.TestID("error-evmAddress"))
	}
	if v, _ := c.Get("/dashboard/settings").Doc.Find(`input[name="evmAddress"]`).Attr("value"); v != evmAddr1 {
		t.Errorf("saved address shown as %q, want EIP-55 %s", v, evmAddr1)
	}
	// A form without the field leaves the address; an empty field clears it.
	old := settingsValues("")
	old.Del("evmAddress")
	c.Submit("/dashboard/settings", "/dashboard/settings", old)
	if mm, _ := env.Store.Merchant(context.Background(), m.ID); mm.EVMAddress != strings.ToLower(evmAddr1) {
		t.Errorf("a form without evmAddress changed it to %q", mm.EVMAddress)
	}
	c.Submit("/dashboard/settings", "/dashboard/settings", settingsValues(""))
	if mm, _ := env.Store.Merchant(context.Background(), m.ID); mm.EVMAddress != "" {
		t.Errorf("empty field did not clear: %q", mm.EVMAddress)
	}
}

func usdcLinkForm(title, amount, chain, receiver string) url.Values {
	return url.Values{"title": {title}, "amount": {amount}, "currency": {"USDC"}, "chain": {chain},
		"receiver": {receiver}, "status": {"active"}, "linkExpiresIn": {"0"}}
}

func TestUSDCDashboardLinks(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "dash-links@example.com", evmAddr1)
	c := dashLogin(t, env, m)
	page := c.Get("/dashboard/links/new")
	if page.Doc.Find(`select[name="currency"] option[value="USDC"]`).Length() != 1 {
		t.Fatal("no USDC currency in the link builder")
	}
	var chains []string
	page.Doc.Find(`select[name="chain"] option`).Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("value")
		chains = append(chains, v)
	})
	if strings.Join(chains, ",") != usdcTestChain {
		t.Errorf("chain choices %v, want only the enabled %s", chains, usdcTestChain)
	}
	if v, _ := page.Doc.Find(`input[name="receiver"]`).Attr("value"); v != evmAddr1 {
		t.Errorf("receiver prefilled with %q, want the merchant's %s", v, evmAddr1)
	}
	for _, tc := range []struct {
		form        url.Values
		field, want string
	}{
		{usdcLinkForm("A", "5", usdcTestChain, evmAddr1Typo), "receiver", "copy the address again from your wallet"},
		{usdcLinkForm("A", "5", "ethereum", evmAddr1), "chain", "not enabled"},
		{usdcLinkForm("A", "1.1234567", usdcTestChain, evmAddr1), "amount", "at most 6 decimal places"},
		{usdcLinkForm("A", "-2", usdcTestChain, evmAddr1), "amount", "must not be negative"},
	} {
		p := c.Submit("/dashboard/links/new", "/dashboard/links", tc.form)
		if got := p.TestID("error-" + tc.field); !strings.Contains(got, tc.want) {
			t.Errorf("%v: %s error %q, want %q (status %d)", tc.form, tc.field, got, tc.want, p.Status)
		}
	}
	if links, _ := env.Store.Links(context.Background(), m.ID); len(links) != 0 {
		t.Fatalf("refused forms created %d links", len(links))
	}
	// Receiver left as prefilled (the merchant's address), then edited.
	if p := c.Submit("/dashboard/links/new", "/dashboard/links", usdcLinkForm("Ebook", "19.99", usdcTestChain, evmAddr1)); p.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.Status, p.TestID("error-receiver"))
	}
	if p := c.Submit("/dashboard/links/new", "/dashboard/links", usdcLinkForm("Tips", "0", usdcTestChain, "")); p.Status != http.StatusSeeOther {
		t.Fatalf("create open amount with default receiver: %d", p.Status)
	}
	links, err := env.Store.Links(context.Background(), m.ID)
	if err != nil || len(links) != 2 {
		t.Fatalf("links %d, %v", len(links), err)
	}
	for _, l := range links {
		if l.Currency != models.USDC || l.Chain != usdcTestChain || l.Receiver != strings.ToLower(evmAddr1) || len(l.Slug) != models.LinkCodeLen {
			t.Errorf("stored link %+v", l)
		}
	}
	list := c.Get("/dashboard/links")
	if got := list.TestID("link-chain"); got != "USDC on Base Sepolia" {
		t.Errorf("links list chain %q", got)
	}
	if !strings.Contains(list.Body, "Any amount (USDC)") || !strings.Contains(list.Body, "19.99 USDC") {
		t.Errorf("links list prices missing")
	}
	var ebook models.PaymentLink
	for _, l := range links {
		if l.Title == "Ebook" {
			ebook = l
		}
	}
	edit := c.Get("/dashboard/links/" + ebook.ID + "/edit")
	if v, _ := edit.Doc.Find(`input[name="receiver"]`).Attr("value"); v != evmAddr1 {
		t.Errorf("edit receiver %q", v)
	}
	f := usdcLinkForm("Ebook", "20", usdcTestChain, evmAddr2)
	f.Set("linkExpiresIn", "keep")
	if p := c.Submit("/dashboard/links/"+ebook.ID+"/edit", "/dashboard/links/"+ebook.ID, f); p.Status != http.StatusSeeOther {
		t.Fatalf("update: %d", p.Status)
	}
	got, _ := env.Store.Link(context.Background(), m.ID, ebook.ID)
	if got.Amount != 20_000_000 || got.Receiver != strings.ToLower(evmAddr2) || got.Slug != ebook.Slug {
		t.Errorf("updated link %+v", got)
	}

	// Without an EVM address in settings an empty receiver is refused.
	if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": ""}, m.Bearer()...); r.Status != 200 {
		t.Fatal(r.Status)
	}
	p := c.Submit("/dashboard/links/new", "/dashboard/links", usdcLinkForm("No receiver", "5", usdcTestChain, ""))
	if got := p.TestID("error-receiver"); !strings.Contains(got, "receiver is required") {
		t.Errorf("empty receiver without an EVM address: %q (status %d)", got, p.Status)
	}
}

func TestUSDCDashboardPaymentsAndAssign(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "dash-pay@example.com", evmAddr1)
	observeUSDCChain(t, env, 100)
	l := usdcLink(t, env, m, `{"title":"Course","amount":10,"currency":"USDC","chain":"base-sepolia"}`)
	open := func() (string, int64) {
		r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": l["slug"]})
		if r.Status != 200 {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}
		j := r.JSON(t)
		return j["id"].(string), usdcUnits(t, j["amountExpected"].(string))
	}
	paidID, paidUnits := open()
	otherID, otherUnits := open()
	chain, _ := evm.Builtin(usdcTestChain)
	head := int64(101 + chain.Confirmations)
	tx1 := "0x" + strings.Repeat("a1", 32)
	if res := recordUSDC(t, env, evmAddr1, paidUnits, 101, head, tx1); !res.Confirmed {
		t.Fatalf("exact amount: %+v", res)
	}
	// An exchange withdrawal that deducted a fee: short by 0.5 USDC.
	tx2 := "0x" + strings.Repeat("b2", 32)
	if res := recordUSDC(t, env, evmAddr1, otherUnits-500_000, 102, head, tx2); res.Matched {
		t.Fatalf("wrong amount matched: %+v", res)
	}
	observeUSDCChain(t, env, head)

	c := dashLogin(t, env, m)
	page := c.Get("/dashboard/payments")
	row := page.Doc.Find(`[data-testid="payment-row"][data-payment-id="` + paidID + `"]`)
	if got := strings.TrimSpace(row.Find(`[data-testid="payment-chain"]`).Text()); got != "Base Sepolia" {
		t.Errorf("chain column %q", got)
	}
	if href, _ := row.Find(`[data-testid="payment-explorer"]`).Attr("href"); href != "https://sepolia.basescan.org/tx/"+tx1 {
		t.Errorf("explorer link %q", href)
	}
	if got := strings.TrimSpace(row.Find(`[data-testid="payment-amount"]`).Text()); !strings.Contains(got, evm.FormatUSDC(paidUnits)+" USDC") {
		t.Errorf("amount cell %q", got)
	}
	detail := c.Get("/dashboard/payments/" + paidID)
	if got := detail.TestID("detail-chain"); !strings.HasPrefix(got, "Base Sepolia") || detail.TestID("detail-token") != chain.USDC.Hex() {
		t.Errorf("detail network %q token %q", got, detail.TestID("detail-token"))
	}
	if got := detail.Text("#pay-address"); got != evmAddr1 {
		t.Errorf("detail pay-to %q, want EIP-55 %s", got, evmAddr1)
	}
	if href, _ := detail.Doc.Find(`[data-testid="explorer-link"]`).Attr("href"); href != "https://sepolia.basescan.org/tx/"+tx1 {
		t.Errorf("detail explorer link %q", href)
	}
	un := page.Doc.Find(`[data-testid="unmatched-row"]`)
	if un.Length() != 1 {
		t.Fatalf("%d unmatched rows", un.Length())
	}
	if got := strings.TrimSpace(un.Find(`[data-testid="unmatched-chain"]`).Text()); got != "Base Sepolia" {
		t.Errorf("unmatched chain %q", got)
	}
	if href, _ := un.Find(`[data-testid="unmatched-explorer"]`).Attr("href"); href != "https://sepolia.basescan.org/tx/"+tx2 {
		t.Errorf("unmatched explorer link %q", href)
	}
	if !strings.Contains(un.Text(), evmAddr1) {
		t.Errorf("unmatched row does not show the receiver in EIP-55: %q", un.Text())
	}
	tid, _ := un.Attr("data-transfer-id")
	var offered []string
	page.Doc.Find(`[data-testid="assign-row"][data-transfer-id="` + tid + `"] option`).Each(func(_ int, s *goquery.Selection) {
		if v, _ := s.Attr("value"); v != "" {
			offered = append(offered, v)
		}
	})
	if len(offered) != 1 || offered[0] != otherID {
		t.Fatalf("assignment offers %v, want only the open session %s", offered, otherID)
	}
	if p := c.Submit("/dashboard/payments", "/dashboard/payments/credits/"+tid+"/assign", url.Values{"payment": {otherID}}); p.Status != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", p.Status, p.Body)
	}
	p, err := env.Store.Payment(context.Background(), otherID)
	if err != nil || p.Status != models.StatusUnderpaid || p.AmountReceived != otherUnits-500_000 || p.TxID != tx2 {
		t.Fatalf("assigned payment: %+v %v", p, err)
	}
	if c.Get("/dashboard/payments").Doc.Find(`[data-testid="unmatched-row"]`).Length() != 0 {
		t.Error("the assigned transfer is still listed as unmatched")
	}

	// A transfer mined before a session's start block is never offered to
	// it, whatever the clocks say (the EVM start rule of matching).
	observeUSDCChain(t, env, 300)
	lateID, lateUnits := open()
	if p, _ := env.Store.Payment(context.Background(), lateID); p.StartBlock != 300 {
		t.Fatalf("session start block %d, want the observed head 300", p.StartBlock)
	}
	tx3 := "0x" + strings.Repeat("d4", 32)
	if res := recordUSDC(t, env, evmAddr1, lateUnits+1, 250, 300, tx3); res.Matched {
		t.Fatalf("a transfer before the session's start matched it: %+v", res)
	}
	again := c.Get("/dashboard/payments")
	old := again.Doc.Find(`[data-testid="unmatched-row"]`)
	oldID, _ := old.Attr("data-transfer-id")
	var offers []string
	again.Doc.Find(`[data-testid="assign-row"][data-transfer-id="` + oldID + `"] option`).Each(func(_ int, s *goquery.Selection) {
		if v, _ := s.Attr("value"); v != "" {
			offers = append(offers, v)
		}
	})
	// The underpaid session (started at block 100) may take it; the new one not.
	if old.Length() != 1 || strings.Join(offers, ",") != otherID {
		t.Errorf("a transfer from block 250 is offered to %v, want only %s (not the session started at block 300)", offers, otherID)
	}

	// Overview: revenue per asset and in USD.
	ov := c.Get("/dashboard")
	if got := ov.TestID("revenue-usdc"); !strings.Contains(got, evm.FormatUSDC(paidUnits)+" USDC") || !strings.Contains(got, "1 payment") {
		t.Errorf("USDC revenue %q", got)
	}
	if got := ov.TestID("revenue-kas"); !strings.Contains(got, "0 KAS") {
		t.Errorf("KAS revenue %q", got)
	}
	if got := ov.TestID("stat-revenue-usd"); !strings.Contains(got, "$10.00") {
		t.Errorf("USD revenue %q", got)
	}
}
