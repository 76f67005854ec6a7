package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/models/evm"
	"till/web/webtest"
)

// walletEnv is a Till with base-sepolia and a Kaspa double, a test clock,
// and one USDC merchant whose sessions are in the wallet states, each made
// by the domain path that makes it (credits and orphaning as the EVM
// watcher applies them, wallet reports, expiry); plus a session with
// nothing known and a paid Kaspa payment, which are never listed.
type walletEnv struct {
	*dashHarness
	now    func() time.Time
	tick   func(time.Duration)
	day1   time.Time // the day of the expired states (UTC midnight)
	ids    map[string]string
	hashes map[string]string
}

// walletStateHash is a hash of its own for a state: states' hashes differ
// from their first digits, so each prefix finds one.
func walletStateHash(name string) string {
	sum := sha256.Sum256([]byte("wallet " + name))
	return "0x" + hex.EncodeToString(sum[:])
}

func newWalletEnv(t *testing.T) *walletEnv {
	t.Helper()
	// The clock starts at 01:00 UTC of a day that began at least an hour
	// before the wall clock: the Kaspa double's blocks carry wall time and
	// credit only sessions opened before them.
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(24 * time.Hour).Add(time.Hour)
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	h := newDashEnv(t, webtest.WithEVMChains(usdcTestChain), func(o *models.StoreOptions) { o.Now = now })
	h.m = h.env.Register("wallet@example.com", "john_doe", webtest.AddrA)
	w := &walletEnv{dashHarness: h, now: now, tick: func(d time.Duration) { offset.Add(int64(d)) },
		day1: base.Truncate(24 * time.Hour), ids: map[string]string{}, hashes: map[string]string{}}
	usdc := createLink(t, h.env, h.m, map[string]any{"title": "Ebook", "amount": 25, "currency": "USDC", "chain": usdcTestChain,
		"receiver": evmAddr1})
	session := func(name string) *models.Payment {
		t.Helper()
		w.tick(time.Second)
		p, err := h.env.Store.CreatePayment(h.ctx, models.CreatePaymentInput{LinkSlug: usdc["slug"].(string)})
		if err != nil {
			t.Fatal(err)
		}
		w.ids[name] = p.ID
		w.tick(time.Second)
		return p
	}
	credit := func(name string, p *models.Payment, head int64) string {
		t.Helper()
		w.hashes[name] = walletStateHash(name)
		if r := recordUSDC(t, h.env, p.PayAddress, p.AmountExpected, p.StartBlock+1, head, w.hashes[name]); !r.Matched {
			t.Fatalf("%s: credit not matched: %+v", name, r)
		}
		return w.hashes[name]
	}
	submit := func(name string, p *models.Payment) {
		t.Helper()
		w.hashes[name] = walletStateHash(name)
		if _, err := h.env.Store.SubmitWalletTx(h.ctx, p.ID, w.hashes[name]); err != nil {
			t.Fatal(err)
		}
	}
	observe := func(head int64, orphaned ...models.EVMSettling) {
		t.Helper()
		_, err := h.env.Store.ApplyEVMObservation(h.ctx, models.EVMObservation{Chain: usdcTestChain, ChainID: usdcChainID,
			Head: head, Orphaned: orphaned, Cursor: head, CursorHash: "0xc0", CursorTime: w.now()})
		if err != nil {
			t.Fatal(err)
		}
	}
	observe(100)

	// Day 1: a Kaspa payment, paid (it has a transaction, but not USDC).
	kas := createLink(t, h.env, h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	kasID, sompi := h.session(kas["slug"].(string), nil)
	h.pay(webtest.AddrA, sompi)
	if p, _ := h.env.Store.Payment(h.ctx, kasID); p == nil || p.TxKnownAt == nil || p.Status != models.StatusConfirmed {
		t.Fatalf("the Kaspa payment is not paid with a known transaction: %+v", p)
	}
	// Expired ones: a transfer a reorg removed; a wallet report never
	// mined; nothing known at all.
	orph := session("orphaned")
	credit("orphaned", orph, 101)
	var tr models.Transfer
	if err := h.env.Store.DB().R(h.ctx).Where("tx_id = ?", w.hashes["orphaned"]).Take(&tr).Error; err != nil {
		t.Fatal(err)
	}
	observe(101, models.EVMSettling{ID: tr.ID, BlockHash: tr.BlockHash})
	submit("notmined", session("notmined"))
	session("nothing")
	w.tick(25 * time.Hour)
	observe(200)
	if n, err := h.env.Store.ExpireDue(h.ctx, 100); err != nil || n != 3 {
		t.Fatalf("expired %d, want 3: %v", n, err)
	}

	// Day 2: open and paid sessions.
	submit("submitted", session("submitted"))
	rev := session("reverted")
	submit("reverted", rev)
	if ok, err := h.env.Store.MarkSubmittedTxFailed(h.ctx, rev.ID, "execution reverted"); !ok || err != nil {
		t.Fatalf("revert: %v %v", ok, err)
	}
	credit("confirming", session("confirming"), 201)
	credit("confirmed", session("confirmed"), 260)
	return w
}

// walletNewest is every listed state, newest first.
var walletNewest = []string{"confirmed", "confirming", "reverted", "submitted", "notmined", "orphaned"}

// walletPage is the data of a GET /api/wallet/transactions answer.
type walletPage struct {
	Transactions []map[string]any `json:"transactions"`
	Total        int64            `json:"total"`
	Page         int              `json:"page"`
	TotalPages   int              `json:"totalPages"`
}

func (w *walletEnv) get(t *testing.T, query string, creds ...string) (webtest.Response, walletPage) {
	t.Helper()
	if creds == nil {
		creds = w.m.Key()
	}
	r := w.env.Do("GET", "/api/wallet/transactions"+query, nil, creds...)
	var env struct {
		Message string     `json:"message"`
		Data    walletPage `json:"data"`
		Code    int        `json:"code"`
	}
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &env); err != nil || env.Message != "success" || env.Code != 200 {
			t.Fatalf("%s: envelope %s (%v)", query, r.Body, err)
		}
	}
	return r, env.Data
}

// names maps listed transactions to their states, in list order.
func (w *walletEnv) names(p walletPage) []string {
	byID := map[string]string{}
	for k, id := range w.ids {
		byID[models.ShortID(id)] = k
	}
	out := []string{}
	for _, tx := range p.Transactions {
		out = append(out, byID[tx["_id"].(string)])
	}
	return out
}

// kiraPayError checks a KiraPay error body: status, message, an ISO-8601
// millisecond timestamp and the path with its query as requested.
func kiraPayError(t *testing.T, r webtest.Response, status int, message, path string) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(r.Body, &b); err != nil || r.Status != status {
		t.Fatalf("%s: %d %s, want %d", path, r.Status, r.Body, status)
	}
	ts, _ := b["timestamp"].(string)
	if b["statusCode"] != float64(status) || b["message"] != message || b["path"] != path || len(b) != 4 ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
		t.Errorf("%s: body %s, want statusCode %d message %q", path, r.Body, status, message)
	}
}

func TestKiraPayWalletTransactions(t *testing.T) {
	w := newWalletEnv(t)
	day1, day2 := w.day1.Format(time.DateOnly), w.day1.Add(24*time.Hour).Format(time.DateOnly)
	known := func(name string) time.Time {
		p, err := w.env.Store.Payment(w.ctx, w.ids[name])
		if err != nil {
			t.Fatal(err)
		}
		return *p.TxKnownAt
	}
	pending, failed := []string{"confirming", "submitted"}, []string{"reverted", "notmined", "orphaned"}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"everything", "", walletNewest},
		{"the seed's cURL as printed", "?page=1&limit=10&status=PENDING", pending},
		{"pending, lower-case", "?status=pending", pending},
		{"completed, mixed case", "?status=Completed", []string{"confirmed"}},
		{"failed", "?status=FAILED", failed},
		{"cancelled matches nothing", "?status=CANCELLED", nil},
		{"full hash", "?transaction_hash=" + walletStateHash("confirmed"), []string{"confirmed"}},
		{"full hash upper-case", "?transaction_hash=0x" + strings.ToUpper(walletStateHash("submitted")[2:]), []string{"submitted"}},
		{"hash prefix", "?transaction_hash=" + walletStateHash("reverted")[:12], []string{"reverted"}},
		{"orphaned transfer's hash", "?transaction_hash=" + walletStateHash("orphaned")[:20], []string{"orphaned"}},
		{"the seed's 0x1234567890 is a prefix", "?transaction_hash=0x1234567890", nil},
		{"hash and another status", "?status=FAILED&transaction_hash=" + walletStateHash("confirmed"), nil},
		{"plain dates, to_date the whole day", "?from_date=" + day1 + "&to_date=" + day1, []string{"notmined", "orphaned"}},
		{"from a plain date", "?from_date=" + day2, walletNewest[:4]},
		{"RFC 3339 with fraction, inclusive", "?from_date=" + known("reverted").Format("2006-01-02T15:04:05.000Z") +
			"&to_date=" + known("confirming").Format("2006-01-02T15:04:05.000Z"), []string{"confirming", "reverted"}},
		{"RFC 3339 without fraction", "?to_date=" + known("notmined").Format(time.RFC3339), []string{"notmined", "orphaned"}},
		{"RFC 3339 with an offset", "?from_date=" + strings.ReplaceAll(known("confirmed").In(time.FixedZone("", 2*3600)).Format(time.RFC3339), "+", "%2B"),
			[]string{"confirmed"}},
		{"no offset is UTC", "?from_date=" + known("confirmed").Format("2006-01-02T15:04:05"), []string{"confirmed"}},
		{"the seed's January 2025", "?from_date=2025-01-01T00:00:00.000Z&to_date=2025-01-31T23:59:59.999Z", nil},
		{"from after to", "?from_date=" + day2 + "&to_date=" + day1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, page := w.get(t, tc.query)
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if got := w.names(page); strings.Join(got, ",") != strings.Join(tc.want, ",") || page.Total != int64(len(tc.want)) ||
				page.Page != 1 || page.TotalPages != (len(tc.want)+9)/10 {
				t.Errorf("%s: %v total %d page %d of %d, want %v", tc.query, got, page.Total, page.Page, page.TotalPages, tc.want)
			}
		})
	}

	// The full object of a confirmed transaction: every field of the seed,
	// Till's type/source/payload readings.
	_, page := w.get(t, "?status=COMPLETED")
	tx := page.Transactions[0]
	p, _ := w.env.Store.Payment(w.ctx, w.ids["confirmed"])
	link := models.ShortID(*p.LinkID)
	wantKeys := "__v,_id,createdAt,hash,link,payload,price,source,status,type,updatedAt,user"
	if got := strings.Join(sortedKeys(tx), ","); got != wantKeys {
		t.Errorf("keys %s, want %s", got, wantKeys)
	}
	if tx["status"] != "Success" || tx["type"] != "Transfer" || tx["source"] != "6" || tx["hash"] != walletStateHash("confirmed") ||
		tx["link"] != link || tx["__v"] != float64(0) || tx["price"] != usdcNumber(p.AmountReceived) ||
		tx["createdAt"] != models.ISOTime(*p.TxKnownAt) {
		t.Errorf("confirmed transaction %v", tx)
	}
	if u := tx["user"].(map[string]any); u["_id"] != models.ShortID(w.m.ID) || u["username"] != "john_doe" {
		t.Errorf("user %v", u)
	}
	pl := tx["payload"].(map[string]any)
	for k, v := range map[string]any{"status": "complete", "amount": itoa(p.AmountReceived), "sourceDomain": float64(6),
		"destinationDomain": float64(6), "eventNonce": nil, "attestation": nil, "cctpVersion": nil, "maxFee": float64(0),
		"feeExecuted": float64(0), "chain": usdcTestChain, "recipient": evmAddr1, "mintRecipient": evmAddr1,
		"requiredConfirmations": float64(p.RequiredConfirmations)} {
		if pl[k] != v {
			t.Errorf("payload %s = %v, want %v", k, pl[k], v)
		}
	}
	// Failed ones say why; a session whose transfer left the chain shows
	// that transfer's hash; no payload without a credited transfer.
	_, page = w.get(t, "?status=failed")
	for i, why := range []string{models.KiraPayErrReverted, models.KiraPayErrNotMined, models.KiraPayErrOrphaned} {
		if tx := page.Transactions[i]; tx["status"] != "Failed" || tx["error"] != why || tx["payload"] != nil ||
			tx["hash"] != walletStateHash(failed[i]) {
			t.Errorf("%s: %v", failed[i], tx)
		}
	}

	// Both credentials.
	if r, page := w.get(t, "?status=COMPLETED", w.m.Bearer()...); r.Status != 200 || page.Total != 1 {
		t.Errorf("bearer: %d %s", r.Status, r.Body)
	}

	// Refusals, in the KiraPay error shape with the path as requested.
	for _, tc := range []struct{ query, message string }{
		{"?status=DONE", "INVALID_STATUS"},
		{"?status=Success", "INVALID_STATUS"},
		{"?transaction_hash=1234", "INVALID_TRANSACTION_HASH"},
		{"?transaction_hash=0x", "INVALID_TRANSACTION_HASH"},
		{"?transaction_hash=0xzz12", "INVALID_TRANSACTION_HASH"},
		{"?transaction_hash=0x" + strings.Repeat("a", 65), "INVALID_TRANSACTION_HASH"},
		{"?from_date=yesterday", "Invalid date format"},
		{"?to_date=2025-13-01", "Invalid date format"},
		{"?from_date=2025-01-01%2000:00:00", "Invalid date format"},
		{"?to_date=1735689600", "Invalid date format"},
		{"?from_date=2025-1-1", "Invalid date format"},
		{"?page=0", "INVALID_PAGE"},
		{"?page=x", "INVALID_PAGE"},
		{"?limit=-1", "INVALID_LIMIT"},
		{"?limit=2.5", "INVALID_LIMIT"},
	} {
		r, _ := w.get(t, tc.query)
		kiraPayError(t, r, http.StatusBadRequest, tc.message, "/api/wallet/transactions"+tc.query)
	}

	// 401 in the KiraPay shape: no credentials, an unknown key, a bad token.
	for _, creds := range [][]string{{}, {"x-api-key", "kp_nope"}, {"Authorization", "Bearer nope"}} {
		r, _ := w.get(t, "?page=1", creds...)
		kiraPayError(t, r, http.StatusUnauthorized, "API_KEY_INVALID", "/api/wallet/transactions?page=1")
	}

	// Another merchant sees nothing of these.
	other := w.env.Register("other@example.com", "Other", webtest.AddrB)
	if r, page := w.get(t, "", other.Key()...); r.Status != 200 || page.Total != 0 || len(page.Transactions) != 0 || page.TotalPages != 0 {
		t.Errorf("other merchant: %d %s", r.Status, r.Body)
	}
	if r, page := w.get(t, "?transaction_hash="+walletStateHash("confirmed"), other.Key()...); r.Status != 200 || page.Total != 0 {
		t.Errorf("other merchant by hash: %s", r.Body)
	}
}

// TestKiraPayWalletPages: pages slice one newest-first order; totalPages is
// ceil(total/limit); a page past the end is empty with the total; a limit
// above 100 is served as 100.
func TestKiraPayWalletPages(t *testing.T) {
	w := newWalletEnv(t)
	var all []string
	for page := 1; page <= 3; page++ {
		r, p := w.get(t, "?limit=4&page="+itoa(int64(page)))
		if r.Status != 200 || p.Total != 6 || p.Page != page || p.TotalPages != 2 {
			t.Fatalf("page %d: %d total %d page %d of %d", page, r.Status, p.Total, p.Page, p.TotalPages)
		}
		if want := []int{4, 2, 0}[page-1]; len(p.Transactions) != want {
			t.Errorf("page %d holds %d, want %d", page, len(p.Transactions), want)
		}
		all = append(all, w.names(p)...)
	}
	if strings.Join(all, ",") != strings.Join(walletNewest, ",") {
		t.Errorf("pages %v, want %v", all, walletNewest)
	}
	for _, tc := range []struct {
		query           string
		rows, pages, pg int
	}{
		{"?limit=1", 1, 6, 1},
		{"?limit=5&page=2", 1, 2, 2},
		{"?limit=6", 6, 1, 1},
		{"?limit=1000", 6, 1, 1}, // served as 100
		{"?status=PENDING&limit=1&page=2", 1, 2, 2},
	} {
		r, p := w.get(t, tc.query)
		if r.Status != 200 || len(p.Transactions) != tc.rows || p.TotalPages != tc.pages || p.Page != tc.pg {
			t.Errorf("%s: %d rows, %d pages, page %d (%d %s)", tc.query, len(p.Transactions), p.TotalPages, p.Page, r.Status, r.Body)
		}
	}
}

// usdcNumber is a USDC amount as json.Unmarshal reads a JSON number.
func usdcNumber(units int64) float64 {
	var f float64
	_ = json.Unmarshal([]byte(evm.FormatUSDC(units)), &f)
	return f
}
