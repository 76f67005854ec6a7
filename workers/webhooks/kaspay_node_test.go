package webhooks_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/workers/webhooks"
	"till/workers/webhooks/webhookstest"
)

// kaspayVerifier is the verifier printed in the KasPay API document
// (shared/seeds/000_…txt, "Webhook Signatures"), character for character.
const kaspayVerifier = `// Verify webhook signature (Node.js)
const crypto = require('crypto');

function verifySignature(payload, signature, secret) {
  const expected = crypto
    .createHmac('sha256', secret)
    .update(JSON.stringify(payload))
    .digest('hex');
  return signature === expected;
}
`

// nodePath finds node (webhookstest.NodePath).
func nodePath(t *testing.T) string { return webhookstest.NodePath(t) }

type verifyCase = webhookstest.KasPayCase

// runKasPayVerifier runs testdata/kaspay_verify.js over cases, after
// checking it still holds the document's verifier verbatim.
func runKasPayVerifier(t *testing.T, cases []verifyCase) map[string]webhookstest.KasPayResult {
	t.Helper()
	if webhookstest.Verbatim(t, "kaspay_verify.js") != kaspayVerifier {
		t.Fatal("testdata/kaspay_verify.js no longer holds the document's verifier verbatim")
	}
	return webhookstest.RunKasPay(t, cases)
}

func TestKasPayDocumentVerifierAcceptsDeliveries(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, nil)
	ep, secret := e.endpoint(rc.URL + "/hooks/kaspay?src=till")

	names := []string{
		`Zoë <script>alert("x")</script> & Co`,
		`O'Brien \ "Back\slash" \u2028 literal`,
		"Line\u2028Separator\u2029Paragraph",
		"😀 Ünïcödé 中文 ⟨⟩ \u00a0nbsp",
	}
	metas := []string{
		`{"orderId":"A-1<>&","z":1.0,"a":1e21,"tiny":0.000001,"tinier":1e-7,"neg":-0,"big":12345678901234567890,"10":"ten","2":"two",` +
			`"nested":{"q":"\"quoted\"","bs":"\\","ls":"\u2028\u2029","html":"<b>&amp;</b>"}}`,
		`{"emoji":"😀","lone":"\ud800","ctl":"\u0001\b\f\t","arr":[1.50,-0.0,1E400,5e-324,0.1],"raw":"` + "\u2028\u2029" + `"}`,
		`{"dup":1,"key order":"kept","dup":2,"0":"zero","__proto__":{"x":1}}`,
		`{}`,
	}
	var paid, open []*models.Payment
	for i, n := range names {
		p := e.payment(n, metas[i])
		if i%2 == 0 {
			paid = append(paid, p)
		} else {
			open = append(open, p)
		}
	}
	for _, p := range paid {
		e.confirm(p)
	}
	e.expireAll()
	if _, err := e.s.SendTestWebhook(e.ctx, e.m.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	d := e.dispatcher()
	for e.deliverDue(d) > 0 {
	}
	reqs := rc.requests()
	if len(reqs) != len(names)+1 {
		t.Fatalf("receiver got %d requests, want %d", len(reqs), len(names)+1)
	}

	var cases []verifyCase
	seenEvents := map[string]int{}
	for i, r := range reqs {
		h := r.Header
		var body struct {
			Event   string          `json:"event"`
			Payment json.RawMessage `json:"payment"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("body %d is not JSON: %v", i, err)
		}
		seenEvents[body.Event]++
		if got := h.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := h.Get("User-Agent"); got != "Till-Webhooks/1" {
			t.Errorf("User-Agent = %q", got)
		}
		if h.Get("X-KasPay-Event") != body.Event || h.Get("X-KasPay-Event-Id") == "" || h.Get("X-KasPay-Delivery") == "" {
			t.Errorf("event headers: %v", h)
		}
		ts, err := strconv.ParseInt(h.Get("X-KasPay-Timestamp"), 10, 64)
		if err != nil || ts < 1_700_000_000 {
			t.Errorf("X-KasPay-Timestamp = %q", h.Get("X-KasPay-Timestamp"))
		}
		sig := h.Get("X-KasPay-Signature")
		if sig != webhooks.Sign(secret, r.Body) || !webhooks.Verify(secret, r.Body, sig) || sig != strings.ToLower(sig) || len(sig) != 64 {
			t.Errorf("X-KasPay-Signature %q is not hex HMAC-SHA256 of the body", sig)
		}
		if got, want := h.Get("X-Till-Signature"), webhooks.SignTimed(secret, h.Get("X-KasPay-Event-Id"), ts, r.Body); got != want {
			t.Errorf("X-Till-Signature = %q, want %q", got, want)
		}
		if bytes.HasSuffix(r.Body, []byte("\n")) || hasEscape(r.Body, "u003c") || hasEscape(r.Body, "u0026") || hasEscape(r.Body, "u2028") {
			t.Errorf("body carries Go encoder artefacts: %s", r.Body)
		}
		name := h.Get("X-KasPay-Delivery")
		cases = append(cases, verifyCase{Name: name, Body: base64.StdEncoding.EncodeToString(r.Body), Signature: sig, Secret: secret})
	}
	if seenEvents["payment.confirmed"] != len(paid) || seenEvents["payment.expired"] != len(open) || seenEvents["webhook.test"] != 1 {
		t.Fatalf("events delivered: %v", seenEvents)
	}
	// Controls: the verifier must say false for a forged body and a wrong secret.
	first := reqs[0]
	forged := bytes.Replace(first.Body, []byte(`"status":"`), []byte(`"status":"x`), 1)
	cases = append(cases,
		verifyCase{Name: "forged-body", Body: base64.StdEncoding.EncodeToString(forged), Signature: first.Header.Get("X-KasPay-Signature"), Secret: secret},
		verifyCase{Name: "wrong-secret", Body: base64.StdEncoding.EncodeToString(first.Body), Signature: first.Header.Get("X-KasPay-Signature"), Secret: secret + "x"},
	)

	results := runKasPayVerifier(t, cases)
	for _, c := range cases {
		r := results[c.Name]
		control := c.Name == "forged-body" || c.Name == "wrong-secret"
		if r.Verified == control {
			t.Errorf("%s: verifySignature returned %v", c.Name, r.Verified)
		}
		if !control && !r.Canonical {
			t.Errorf("%s: body differs from JSON.stringify(JSON.parse(body))", c.Name)
		}
	}

	// The verifiers printed in docs/WEBHOOKS.md accept the same deliveries.
	var docCases []docCase
	for _, r := range reqs {
		h := map[string]string{}
		for k := range r.Header {
			h[strings.ToLower(k)] = r.Header.Get(k)
		}
		if !webhooks.VerifyTimed(secret, h["x-kaspay-event-id"], h["x-kaspay-timestamp"], r.Body, h["x-till-signature"], time.Now(), 5*time.Minute) {
			t.Errorf("VerifyTimed refuses delivery %s", h["x-kaspay-delivery"])
		}
		docCases = append(docCases, docCase{Name: h["x-kaspay-delivery"], Body: base64.StdEncoding.EncodeToString(r.Body), Headers: h, Secret: secret})
	}
	stale := map[string]string{}
	for k, v := range docCases[0].Headers {
		stale[k] = v
	}
	staleTS := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	stale["x-kaspay-timestamp"] = staleTS
	stale["x-till-signature"] = webhooks.SignTimed(secret, stale["x-kaspay-event-id"], time.Now().Add(-10*time.Minute).Unix(), reqs[0].Body)
	forgedTS := map[string]string{}
	for k, v := range docCases[0].Headers {
		forgedTS[k] = v
	}
	forgedTS["x-kaspay-timestamp"] = strconv.FormatInt(time.Now().Unix()+1, 10)
	docCases = append(docCases,
		docCase{Name: "stale", Body: docCases[0].Body, Headers: stale, Secret: secret},
		docCase{Name: "forged-timestamp", Body: docCases[0].Body, Headers: forgedTS, Secret: secret},
		docCase{Name: "forged-body", Body: base64.StdEncoding.EncodeToString(forged), Headers: docCases[0].Headers, Secret: secret},
	)
	for name, r := range runDocsVerifiers(t, docCases) {
		wantRaw := name != "forged-body"
		wantTimed := name != "forged-body" && name != "stale" && name != "forged-timestamp"
		if r.Raw != wantRaw || r.Timed != wantTimed {
			t.Errorf("docs verifiers on %s: raw %v timed %v, want %v %v", name, r.Raw, r.Timed, wantRaw, wantTimed)
		}
	}

	// The payload carries the payment as the API shows it.
	for _, r := range reqs {
		var body struct {
			Event   string                 `json:"event"`
			Payment models.PaymentSnapshot `json:"payment"`
		}
		_ = json.Unmarshal(r.Body, &body)
		p := body.Payment
		if body.Event == "webhook.test" {
			if p.ID != "00000000-0000-0000-0000-000000000000" || string(p.Metadata) != `{"test":true}` {
				t.Errorf("test event payment: %+v", p)
			}
			continue
		}
		if p.PaymentLinkID == nil || *p.PaymentLinkID != e.link.ID || p.CustomerName == nil || p.KaspaAddress == nil || *p.KaspaAddress != addrA ||
			!strings.HasPrefix(p.AmountExpected, "100.") || p.CustomerEmail == nil || len(p.Metadata) == 0 {
			t.Errorf("payment snapshot incomplete: %+v", p)
		}
		if body.Event == "payment.confirmed" && (p.Status != "confirmed" || p.TxID == nil || p.ConfirmedAt == nil || p.AmountReceived != p.AmountExpected) {
			t.Errorf("confirmed snapshot: %+v", p)
		}
		if body.Event == "payment.expired" && p.Status != "expired" {
			t.Errorf("expired snapshot: %+v", p)
		}
	}
	// Nothing secret or customer-identifying reaches the log.
	logs := e.logs.String()
	for _, s := range []string{secret, "Zoë", "orderId", "customer@example.com", "src=till"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains %q", s)
		}
	}
	if !strings.Contains(logs, "webhook delivered") {
		t.Errorf("no delivery log lines: %s", logs)
	}
}

// hasEscape reports whether body holds the JSON escape \<seq> (a backslash
// that is not itself escaped, followed by seq).
func hasEscape(body []byte, seq string) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		j := i
		for j < len(body) && body[j] == '\\' {
			j++
		}
		if (j-i)%2 == 1 && bytes.HasPrefix(body[j:], []byte(seq)) {
			return true
		}
		i = j - 1
	}
	return false
}

type docCase struct {
	Name    string            `json:"name"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	Secret  string            `json:"secret"`
}

type docResult struct {
	Name  string `json:"name"`
	Raw   bool   `json:"raw"`
	Timed bool   `json:"timed"`
}

// runDocsVerifiers runs testdata/docs_verify.js, after checking that
// docs/WEBHOOKS.md prints its verifiers byte for byte.
func runDocsVerifiers(t *testing.T, cases []docCase) map[string]docResult {
	t.Helper()
	harness, err := os.ReadFile("testdata/docs_verify.js")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	begin := []byte("// ----- BEGIN docs/WEBHOOKS.md Node verifiers -----\n")
	end := []byte("// ----- END docs/WEBHOOKS.md Node verifiers -----\n")
	i, j := bytes.Index(harness, begin), bytes.Index(harness, end)
	if i < 0 || j < 0 || !bytes.Contains(doc, harness[i:j+len(end)]) {
		t.Fatal("docs/WEBHOOKS.md and testdata/docs_verify.js print different Node verifiers")
	}
	raw, _ := json.Marshal(cases)
	path := filepath.Join(t.TempDir(), "doc-cases.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodePath(t), "testdata/docs_verify.js", path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	res := map[string]docResult{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r docResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("harness output %q: %v", line, err)
		}
		res[r.Name] = r
	}
	if len(res) != len(cases) {
		t.Fatalf("harness answered %d of %d cases", len(res), len(cases))
	}
	return res
}
