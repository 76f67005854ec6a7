package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/evm"
	"till/web/webtest"
)

// EIP-55 test addresses (the EIP's own examples) and their variants.
const (
	evmAddr1      = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	evmAddr2      = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
	evmAddr1Typo  = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD" // one letter's case changed
	evmZero       = "0x0000000000000000000000000000000000000000"
	usdcTestChain = "base-sepolia"
	usdcChainID   = 84532
)

// newUSDCEnv is a Till with base-sepolia enabled (no chain I/O: sessions
// start from the stored chain state, credits are recorded through the
// store as the EVM watcher would).
func newUSDCEnv(t *testing.T) *webtest.Env {
	t.Helper()
	return webtest.NewWith(t, []func(*models.StoreOptions){webtest.WithEVMChains(usdcTestChain)})
}

// usdcMerchant registers a merchant and sets its EVM address.
func usdcMerchant(t *testing.T, env *webtest.Env, email, evmAddr string) webtest.Merchant {
	t.Helper()
	m := env.Register(email, "USDC Shop", webtest.AddrA)
	if evmAddr != "" {
		if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": evmAddr}, m.Bearer()...); r.Status != 200 {
			t.Fatalf("set evmAddress: %d %s", r.Status, r.Body)
		}
	}
	return m
}

// usdcLink creates a USDC link through the API and returns its JSON.
func usdcLink(t *testing.T, env *webtest.Env, m webtest.Merchant, body string) map[string]any {
	t.Helper()
	r := env.Do("POST", "/api/links", body, m.Bearer()...)
	if r.Status != http.StatusOK {
		t.Fatalf("create USDC link %s: %d %s", body, r.Status, r.Body)
	}
	return r.JSON(t)
}

func TestEVMAddressSettingsAPI(t *testing.T) {
	env := newUSDCEnv(t)
	m := env.Register("evm@example.com", "EVM Shop", webtest.AddrA)
	me := func() map[string]any { return env.Do("GET", "/api/auth/me", nil, m.Bearer()...).JSON(t) }
	if got := me()["evmAddress"]; got != "" {
		t.Fatalf("new merchant evmAddress = %v, want \"\"", got)
	}
	// Lower-case (no checksum) is accepted, stored lower-case, shown EIP-55.
	r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": strings.ToLower(evmAddr1)}, m.Bearer()...)
	if r.Status != 200 || r.JSON(t)["evmAddress"] != evmAddr1 {
		t.Fatalf("set lower-case: %d %s", r.Status, r.Body)
	}
	if got := me()["evmAddress"]; got != evmAddr1 {
		t.Fatalf("me evmAddress = %v, want %s", got, evmAddr1)
	}
	mm, err := env.Store.Merchant(context.Background(), m.ID)
	if err != nil || mm.EVMAddress != strings.ToLower(evmAddr1) {
		t.Fatalf("stored %q, %v", mm.EVMAddress, err)
	}
	for _, tc := range []struct{ in, want string }{
		{evmAddr1Typo, "copy the address again from your wallet"},
		{evmZero, "zero address"},
		{"0x1234", "40 hexadecimal"},
		{"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "must start with 0x"},
	} {
		r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": tc.in, "name": "Changed"}, m.Bearer()...)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(t), tc.want) {
			t.Errorf("%s: %d %s, want 400 mentioning %q", tc.in, r.Status, r.Body, tc.want)
		}
	}
	if got := me(); got["evmAddress"] != evmAddr1 || got["name"] != "EVM Shop" {
		t.Fatalf("a refused change changed settings: %v", got)
	}
	// A checksummed address is accepted as is; "" clears.
	if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": evmAddr2}, m.Bearer()...); r.JSON(t)["evmAddress"] != evmAddr2 {
		t.Fatalf("set EIP-55: %s", r.Body)
	}
	if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": ""}, m.Bearer()...); r.Status != 200 || r.JSON(t)["evmAddress"] != "" {
		t.Fatalf("clear: %d %s", r.Status, r.Body)
	}
	if got := me()["evmAddress"]; got != "" {
		t.Fatalf("cleared evmAddress = %v", got)
	}
}

func TestUSDCLinksAPI(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "usdc-links@example.com", "")

	// Refusals, each with its field's message.
	for _, tc := range []struct{ name, body, want string }{
		{"no receiver", `{"title":"A","amount":5,"currency":"USDC","chain":"base-sepolia"}`, "receiver is required"},
		{"chain not enabled", `{"title":"A","amount":5,"currency":"USDC","chain":"ethereum","receiver":"` + evmAddr1 + `"}`, `chain "ethereum" is not enabled`},
		{"unknown chain", `{"title":"A","amount":5,"currency":"USDC","chain":"nochain","receiver":"` + evmAddr1 + `"}`, "not enabled"},
		{"no chain", `{"title":"A","amount":5,"currency":"USDC","receiver":"` + evmAddr1 + `"}`, "chain is required"},
		{"bad checksum", `{"title":"A","amount":5,"currency":"USDC","chain":"base-sepolia","receiver":"` + evmAddr1Typo + `"}`, "copy the address again from your wallet"},
		{"zero receiver", `{"title":"A","amount":5,"currency":"USDC","chain":"base-sepolia","receiver":"` + evmZero + `"}`, "zero address"},
		{"7 decimals", `{"title":"A","amount":1.0000001,"currency":"USDC","chain":"base-sepolia","receiver":"` + evmAddr1 + `"}`, "at most 6 decimal places"},
		{"negative", `{"title":"A","amount":-1,"currency":"USDC","chain":"base-sepolia","receiver":"` + evmAddr1 + `"}`, "must not be negative"},
		{"below a cent", `{"title":"A","amount":0.005,"currency":"USDC","chain":"base-sepolia","receiver":"` + evmAddr1 + `"}`, "at least 0.01 USDC"},
		{"chain on KAS link", `{"title":"A","amount":5,"currency":"KAS","chain":"base-sepolia"}`, "chain applies to USDC links only"},
		{"receiver on KAS link", `{"title":"A","amount":5,"currency":"KAS","receiver":"` + evmAddr1 + `"}`, "receiver applies to USDC links only"},
	} {
		r := env.Do("POST", "/api/links", tc.body, m.Bearer()...)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(t), tc.want) {
			t.Errorf("%s: %d %s, want 400 mentioning %q", tc.name, r.Status, r.Body, tc.want)
		}
	}

	// An explicit receiver (lower-case accepted), a price read exactly
	// from the JSON number's text.
	l := usdcLink(t, env, m, `{"title":"Ebook","amount":100.5,"currency":"USDC","chain":"base-sepolia","receiver":"`+strings.ToLower(evmAddr2)+`"}`)
	if !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(l["slug"].(string)) {
		t.Errorf("USDC link slug %q is not a 10-character code", l["slug"])
	}
	for k, v := range map[string]any{"currency": "USDC", "chain": usdcTestChain, "receiver": evmAddr2, "amount": "100.50000000"} {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	// The merchant's EVM address is the default receiver.
	usdcMerchantAddr := func() {
		if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": evmAddr1}, m.Bearer()...); r.Status != 200 {
			t.Fatal(r.Status)
		}
	}
	usdcMerchantAddr()
	d := usdcLink(t, env, m, `{"title":"Default","amount":12.345678,"currency":"USDC","chain":"base-sepolia"}`)
	if d["receiver"] != evmAddr1 || d["amount"] != "12.34567800" {
		t.Errorf("default receiver link: %v", d)
	}
	kas := createLink(t, env, m, map[string]any{"title": "KAS", "amount": 1, "currency": "KAS"})
	if _, has := kas["chain"]; has {
		t.Errorf("a KAS link shows chain: %v", kas)
	}

	// The list carries USDC links with chain and receiver.
	data := env.Do("GET", "/api/links", nil, m.Bearer()...).JSON(t)["data"].([]any)
	if len(data) != 3 {
		t.Fatalf("list has %d links", len(data))
	}
	byID := map[string]map[string]any{}
	for _, x := range data {
		byID[x.(map[string]any)["id"].(string)] = x.(map[string]any)
	}
	if got := byID[l["id"].(string)]; got["currency"] != "USDC" || got["chain"] != usdcTestChain || got["receiver"] != evmAddr2 {
		t.Errorf("listed USDC link: %v", got)
	}
	if _, has := byID[kas["id"].(string)]["receiver"]; has {
		t.Errorf("listed KAS link has receiver")
	}

	// Updates: price and receiver change; every refusal leaves it as is.
	id := l["id"].(string)
	r := env.Do("PATCH", "/api/links/"+id, `{"amount":7,"receiver":"`+evmAddr1+`"}`, m.Bearer()...)
	if r.Status != 200 || r.JSON(t)["amount"] != "7.00000000" || r.JSON(t)["receiver"] != evmAddr1 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"chain":"ethereum"}`, "not enabled"},
		{`{"receiver":"` + evmAddr1Typo + `"}`, "copy the address again"},
		{`{"amount":1.1234567}`, "at most 6 decimal places"},
		{`{"amount":-3}`, "must not be negative"},
		{`{"currency":"KAS"}`, "cannot change between USDC and KAS/USD"},
	} {
		r := env.Do("PATCH", "/api/links/"+id, tc.body, m.Bearer()...)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(t), tc.want) {
			t.Errorf("update %s: %d %s, want 400 mentioning %q", tc.body, r.Status, r.Body, tc.want)
		}
	}
	if got := env.Do("GET", "/api/links/"+id, nil, m.Bearer()...).JSON(t); got["amount"] != "7.00000000" || got["receiver"] != evmAddr1 || got["chain"] != usdcTestChain {
		t.Errorf("after refused updates: %v", got)
	}
	// A KAS link cannot become a USDC one either.
	if r := env.Do("PATCH", "/api/links/"+kas["id"].(string), `{"currency":"USDC","chain":"base-sepolia"}`, m.Bearer()...); r.Status != 400 {
		t.Errorf("KAS→USDC: %d %s", r.Status, r.Body)
	}
}

// recordUSDC records a USDC transfer log to addr as the EVM watcher would,
// with the chain's head at head.
func recordUSDC(t *testing.T, env *webtest.Env, to string, units, block, head int64, tx string) models.EVMRecordResult {
	t.Helper()
	c, _ := evm.Builtin(usdcTestChain)
	res, err := env.Store.RecordEVMTransfer(context.Background(), models.EVMTransfer{
		Chain: usdcTestChain, TxHash: tx, LogIndex: 0, BlockNumber: block, BlockHash: "0x" + strings.Repeat("ab", 32),
		BlockTime: time.Now().UTC().Truncate(time.Second), Token: c.USDC.Lower(), From: strings.ToLower(evmAddr2),
		To: strings.ToLower(to), Amount: units,
	}, head)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func usdcUnits(t *testing.T, s string) int64 {
	t.Helper()
	u, err := evm.ParseUSDC(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUSDCSessionAPIShapes(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "usdc-session@example.com", evmAddr1)
	l := usdcLink(t, env, m, `{"title":"Course","amount":25,"currency":"USDC","chain":"base-sepolia"}`)
	r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": l["slug"], "customerEmail": "c@example.com"})
	if r.Status != 200 {
		t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	chain, _ := evm.Builtin(usdcTestChain)
	units := usdcUnits(t, p["amountExpected"].(string))
	if units < 25_000_001 || units > 25_009_999 {
		t.Fatalf("amountExpected %v is not 25 USDC plus an offset of 1…9,999 micro-USDC", p["amountExpected"])
	}
	if !regexp.MustCompile(`^\d+\.\d{8}$`).MatchString(p["amountExpected"].(string)) {
		t.Errorf("amountExpected %q is not an 8-place string", p["amountExpected"])
	}
	wantURI := "ethereum:" + chain.USDC.Hex() + "@84532/transfer?address=" + evmAddr1 + "&uint256=" + strconv.FormatInt(units, 10)
	exact := evm.FormatUSDC(units)
	want := map[string]any{
		"kaspaAddress": nil, "chain": usdcTestChain, "chainId": json.Number(strconv.Itoa(usdcChainID)), "asset": "USDC",
		"payAddress": evmAddr1, "tokenAddress": chain.USDC.Hex(), "paymentUri": wantURI, "currency": "USDC",
		"assetAmount": exact, "status": "pending", "stage": "awaiting_payment",
	}
	checkValues(t, "create", p, want)
	if _, has := p["kaspaAddress"]; !has {
		t.Error("kaspaAddress is missing, want null")
	}
	id := p["id"].(string)

	st := env.Do("GET", "/api/payments/"+id+"/status", nil).JSON(t)
	checkValues(t, "status", st, map[string]any{"chain": usdcTestChain, "asset": "USDC", "payAddress": evmAddr1,
		"tokenAddress": chain.USDC.Hex(), "chainId": json.Number("84532"), "paymentUri": wantURI,
		"amountReceived": json.Number("0"), "amountExpected": p["amountExpected"]})

	// Paid on chain: confirmed at the chain's depth; the status, the list,
	// the single payment and the webhook event carry the USDC fields.
	tx := "0x" + strings.Repeat("1f", 32)
	res := recordUSDC(t, env, evmAddr1, units, 10, 10+int64(chain.Confirmations)-1, tx)
	if !res.Matched || !res.Confirmed {
		t.Fatalf("record: %+v", res)
	}
	st = env.Do("GET", "/api/payments/"+id+"/status", nil).JSON(t)
	checkValues(t, "paid status", st, map[string]any{"status": "confirmed", "amountReceived": json.Number(exact), "txId": tx})
	list := env.Do("GET", "/api/payments", nil, m.Bearer()...).JSON(t)["data"].([]any)
	single := env.Do("GET", "/api/payments/"+id, nil, m.Bearer()...).JSON(t)
	paged := env.Do("GET", "/api/payments?limit=10", nil, m.Bearer()...).JSON(t)["data"].([]any)
	for where, got := range map[string]map[string]any{"list": list[0].(map[string]any), "single": single, "paged": paged[0].(map[string]any)} {
		checkValues(t, where, got, map[string]any{"kaspaAddress": nil, "chain": usdcTestChain, "chainId": json.Number("84532"),
			"asset": "USDC", "payAddress": evmAddr1, "tokenAddress": chain.USDC.Hex(), "paymentUri": wantURI,
			"amountReceived": p["amountExpected"], "amountExpected": p["amountExpected"], "priceAmount": "25.00000000",
			"assetAmountReceived": exact, "status": "confirmed"})
	}
	all, err := env.Store.EventsForPayment(context.Background(), id)
	var evs []models.Event // KasPay's (KiraPay's have their own tests)
	for _, e := range all {
		if e.Dialect == models.DialectKasPay {
			evs = append(evs, e)
		}
	}
	if err != nil || len(evs) != 1 || evs[0].Type != models.EventPaymentConfirmed {
		t.Fatalf("events: %v %v", evs, err)
	}
	var snap map[string]any
	dec := json.NewDecoder(strings.NewReader(evs[0].Data))
	dec.UseNumber()
	if err := dec.Decode(&snap); err != nil {
		t.Fatal(err)
	}
	checkValues(t, "webhook snapshot", snap, map[string]any{"kaspaAddress": nil, "chain": usdcTestChain,
		"chainId": json.Number("84532"), "asset": "USDC", "payAddress": evmAddr1, "tokenAddress": chain.USDC.Hex(),
		"paymentUri": wantURI, "amountExpected": p["amountExpected"], "amountReceived": p["amountExpected"],
		"assetAmount": exact, "assetAmountReceived": exact, "status": "confirmed", "txId": tx, "currency": "USDC"})
	if _, has := snap["kaspaAddress"]; !has {
		t.Error("snapshot has no kaspaAddress (want null)")
	}
}

func TestUSDCOpenAmountSessions(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "open@example.com", evmAddr1)
	open := usdcLink(t, env, m, `{"title":"Tip jar","amount":0,"currency":"USDC","chain":"base-sepolia"}`)
	if open["amount"] != "0.00000000" {
		t.Fatalf("open link amount %v", open["amount"])
	}
	fixed := usdcLink(t, env, m, `{"title":"Fixed","amount":3,"currency":"USDC","chain":"base-sepolia"}`)
	kas := createLink(t, env, m, map[string]any{"title": "KAS", "amount": 1, "currency": "KAS"})
	for _, tc := range []struct {
		slug any
		body string
		want string
	}{
		{open["slug"], ``, "amount is required"},
		{open["slug"], `,"amount":0.009`, "at least 0.01 USDC"},
		{open["slug"], `,"amount":1.0000001`, "at most 6 decimal places"},
		{open["slug"], `,"amount":-5`, "must not be negative"},
		{open["slug"], `,"amount":true`, "amount must be a number"},
		{fixed["slug"], `,"amount":5`, "only be given for an open-amount link"},
		{kas["slug"], `,"amount":5`, "only be given for an open-amount link"},
	} {
		r := env.Do("POST", "/api/payments", `{"paymentLinkSlug":"`+tc.slug.(string)+`"`+tc.body+`}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(t), tc.want) {
			t.Errorf("%v %s: %d %s, want 400 mentioning %q", tc.slug, tc.body, r.Status, r.Body, tc.want)
		}
	}
	// The customer's amount (number or decimal string) plus a unique offset.
	seen := map[int64]bool{}
	for _, amt := range []string{`5.5`, `"5.5"`, `5.50`} {
		r := env.Do("POST", "/api/payments", `{"paymentLinkSlug":"`+open["slug"].(string)+`","amount":`+amt+`}`)
		if r.Status != 200 {
			t.Fatalf("open session %s: %d %s", amt, r.Status, r.Body)
		}
		j := r.JSON(t)
		u := usdcUnits(t, j["amountExpected"].(string))
		if u < 5_500_001 || u > 5_509_999 || seen[u] {
			t.Errorf("open session %s: amountExpected %v (want 5.5 USDC plus a fresh offset)", amt, j["amountExpected"])
		}
		seen[u] = true
		if !strings.HasSuffix(j["paymentUri"].(string), "&uint256="+strconv.FormatInt(u, 10)) {
			t.Errorf("paymentUri %v does not ask for %d units", j["paymentUri"], u)
		}
		p, err := env.Store.Payment(context.Background(), j["id"].(string))
		if err != nil || p.PriceAmount != 5_500_000 || p.PriceCurrency != models.USDC {
			t.Errorf("stored price %d %s, %v", p.PriceAmount, p.PriceCurrency, err)
		}
	}
}

// kaspaCreateKeys, kaspaStatusKeys and kaspaListKeys are the Kaspa shapes
// before USDC existed: a Kaspa payment must keep exactly these keys.
var (
	kaspaCreateKeys = []string{"amountExpected", "createdAt", "currency", "derivationIndex", "expiresAt", "id",
		"kaspaAddress", "originalUsdAmount", "paymentUri", "rate", "requiredConfirmations", "stage", "status"}
	kaspaStatusKeys = []string{"amountExpected", "amountReceived", "confirmations", "confirmedAt", "expiresAt", "id",
		"late", "requiredConfirmations", "senderAddress", "stage", "status", "txId"}
	kaspaListKeys = []string{"amountExpected", "amountReceived", "confirmations", "confirmedAt", "createdAt", "currency",
		"customerEmail", "customerName", "derivationIndex", "expiresAt", "id", "kaspaAddress", "late", "metadata",
		"paymentLinkId", "priceAmount", "rate", "rateSource", "requiredConfirmations", "senderAddress", "stage", "status", "txId"}
	kaspaSnapshotKeys = []string{"amountExpected", "amountReceived", "confirmations", "confirmedAt", "createdAt", "currency",
		"customerEmail", "customerName", "expiresAt", "id", "kaspaAddress", "late", "metadata", "paymentLinkId",
		"requiredConfirmations", "senderAddress", "stage", "status", "txId"}
)

// TestKaspaShapesUnchanged: with an EVM chain enabled, Kaspa payments keep
// the KasPay shapes key for key, kaspaAddress a string and the Kaspa URI.
func TestKaspaShapesUnchanged(t *testing.T) {
	env := newUSDCEnv(t)
	m := usdcMerchant(t, env, "kaspa-shape@example.com", evmAddr1)
	l := createLink(t, env, m, map[string]any{"title": "KAS", "amount": 1, "currency": "KAS"})
	c := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": l["slug"]}).JSON(t)
	keysEqual(t, "create", c, kaspaCreateKeys)
	if c["kaspaAddress"] != webtest.AddrA || !strings.HasPrefix(c["paymentUri"].(string), webtest.AddrA+"?amount=") {
		t.Errorf("Kaspa create: %v", c)
	}
	id := c["id"].(string)
	keysEqual(t, "status", env.Do("GET", "/api/payments/"+id+"/status", nil).JSON(t), kaspaStatusKeys)
	keysEqual(t, "single", env.Do("GET", "/api/payments/"+id, nil, m.Bearer()...).JSON(t), kaspaListKeys)
	p, err := env.Store.Payment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := models.CanonicalJSON(p.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap map[string]any
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	keysEqual(t, "snapshot", snap, kaspaSnapshotKeys)
	if snap["kaspaAddress"] != webtest.AddrA {
		t.Errorf("snapshot kaspaAddress %v", snap["kaspaAddress"])
	}
}

func keysEqual(t *testing.T, where string, got map[string]any, want []string) {
	t.Helper()
	keys := sortedKeys(got)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(keys, ",") != strings.Join(w, ",") {
		t.Errorf("%s keys:\n got %v\nwant %v", where, keys, w)
	}
}

// checkValues asserts that got has every key of want with exactly that
// value (nil: present and null).
func checkValues(t *testing.T, where string, got, want map[string]any) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: field %q missing", where, k)
		case gv != wv:
			t.Errorf("%s: %q = %#v, want %#v", where, k, gv, wv)
		}
	}
}

// TestUSDCDefaultChain: with TILL_EVM_DEFAULT_CHAIN set, a USDC link that
// names no chain gets the default one, and the dashboard's link builder
// offers it first (preselected); without it the chain stays required (see
// TestUSDCLinksAPI).
func TestUSDCDefaultChain(t *testing.T) {
	env := webtest.NewWith(t, []func(*models.StoreOptions){
		webtest.WithEVMChains("base", usdcTestChain),
		func(o *models.StoreOptions) { o.DefaultEVMChain = usdcTestChain },
	})
	m := usdcMerchant(t, env, "usdc-default@example.com", evmAddr1)
	l := usdcLink(t, env, m, `{"title":"Ebook","amount":5,"currency":"USDC"}`)
	if l["chain"] != usdcTestChain {
		t.Fatalf("link without a chain got %v, want the default %s", l["chain"], usdcTestChain)
	}
	if l := usdcLink(t, env, m, `{"title":"Ebook","amount":5,"currency":"USDC","chain":"base"}`); l["chain"] != "base" {
		t.Fatalf("an explicit chain is kept: got %v", l["chain"])
	}
	if got := env.Store.EVMChainNames(); len(got) != 2 || got[0] != usdcTestChain || got[1] != "base" {
		t.Fatalf("chain choices %v, want the default first", got)
	}
	dc := dashLogin(t, env, m)
	page := dc.Get("/dashboard/links/new")
	first := page.Doc.Find(`select[name="chain"] option`).First().AttrOr("value", "")
	if first != usdcTestChain {
		t.Fatalf("link builder's first chain %q, want the default %s", first, usdcTestChain)
	}
}
