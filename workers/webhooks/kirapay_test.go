package webhooks_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/workers/webhooks"
)

// kirapayVerifier is the verifier of the KiraPay document
// (shared/seeds/001_…txt, "Webhook Verification"), line for line.
const kirapayVerifier = `const crypto = require('crypto');
function verifyWebhook(payload, signature, secret, timestamp) {
const expectedSignature = crypto
.createHmac('sha256', secret)
.update(` + "`${timestamp}.${payload}`" + `)
.digest('base64');
const expectedHeader = ` + "`sha256=${expectedSignature}`" + `;
return crypto.timingSafeEqual(
Buffer.from(signature),
Buffer.from(expectedHeader)
);
}
`

// kirapayJob is a claimed KiraPay delivery as the dispatcher sees it.
func kirapayJob() *models.DeliveryJob {
	return &models.DeliveryJob{
		DeliveryID: "d-1", EventID: "evt_1704067200000_abc123", EventType: "transaction.succeeded",
		EventData:      `{"_id":"65a1b2c3d4e5f6a7b8c9d0e1","price":25.5,"status":"Success","note":"Zoë \u2028 <&>"}`,
		EventCreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Secret: "whsec_0123456789abcdef0123456789abcdef",
		Dialect: "kirapay",
	}
}

// TestKiraPaySignerAgainstDocumentVerifier: the body, headers and
// signature of the KiraPay skeleton verify with the document's own Node.js
// code, on the raw body and on JSON.stringify of the parsed body; a wrong
// secret or a changed body does not.
func TestKiraPaySignerAgainstDocumentVerifier(t *testing.T) {
	job := kirapayJob()
	var d webhooks.Dialect = webhooks.KiraPay{}
	body, err := d.Body(job)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		ID, Type, CreatedAt string
		Data                map[string]any
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.ID != job.EventID || parsed.Type != job.EventType || parsed.CreatedAt != "2024-01-01T00:00:00.000Z" || parsed.Data["_id"] != "65a1b2c3d4e5f6a7b8c9d0e1" {
		t.Fatalf("body %s", body)
	}
	if !strings.HasPrefix(string(body), `{"id":"evt_1704067200000_abc123","type":"transaction.succeeded","createdAt":`) {
		t.Fatalf("body field order: %s", body)
	}
	h := http.Header{}
	d.SetHeaders(h, job, body, time.Now())
	ts := h.Get(webhooks.KiraPayHeaderTimestamp)
	if h.Get("Content-Type") != "application/json" || h.Get(webhooks.KiraPayHeaderEvent) != job.EventType ||
		h.Get(webhooks.KiraPayHeaderID) != job.EventID || ts != "1704067200" {
		t.Fatalf("headers %v", h)
	}
	sig := h.Get(webhooks.KiraPayHeaderSignature)
	// A retry an hour later carries the same timestamp and signature.
	h2 := http.Header{}
	d.SetHeaders(h2, job, body, time.Now().Add(time.Hour))
	if h2.Get(webhooks.KiraPayHeaderSignature) != sig || h2.Get(webhooks.KiraPayHeaderTimestamp) != ts {
		t.Fatalf("retry signed differently: %v vs %v", h2, h)
	}
	if !webhooks.VerifyKiraPay(job.Secret, ts, body, sig) || webhooks.VerifyKiraPay(job.Secret+"x", ts, body, sig) ||
		webhooks.VerifyKiraPay(job.Secret, "1704067201", body, sig) || webhooks.VerifyKiraPay(job.Secret, ts, body, sig[:10]) {
		t.Fatal("VerifyKiraPay disagrees with SignKiraPay")
	}

	type kcase struct {
		Name, Body, Signature, Secret, Timestamp string
		Reparse                                  bool
		Want                                     bool
	}
	wrong := "whsec_ffffffffffffffffffffffffffffffff"
	tampered := strings.Replace(string(body), "25.5", "26.5", 1)
	cases := []kcase{
		{"raw body", string(body), sig, job.Secret, ts, false, true},
		{"JSON.stringify of the parsed body", string(body), sig, job.Secret, ts, true, true},
		{"wrong secret", string(body), sig, wrong, ts, false, false},
		{"changed body", tampered, sig, job.Secret, ts, false, false},
		{"other timestamp", string(body), sig, job.Secret, "1704067201", false, false},
	}
	script := kirapayVerifier + `
const fs = require('fs');
for (const c of JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))) {
  const payload = c.Reparse ? JSON.stringify(JSON.parse(c.Body)) : c.Body;
  console.log(JSON.stringify({name: c.Name, ok: verifyWebhook(payload, c.Signature, c.Secret, c.Timestamp)}));
}
`
	dir := t.TempDir()
	raw, _ := json.Marshal(cases)
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verify.js"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodePath(t), filepath.Join(dir, "verify.js"), filepath.Join(dir, "cases.json"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Name string
			OK   bool
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("node output %q: %v", line, err)
		}
		got[r.Name] = r.OK
	}
	for _, c := range cases {
		if ok, seen := got[c.Name]; !seen || ok != c.Want {
			t.Errorf("%s: document verifier says %v (answered %v), want %v", c.Name, ok, seen, c.Want)
		}
	}
}

// TestDialectSchedules: KasPay keeps the dispatcher's schedule; KiraPay
// retries first after one minute, then follows it.
func TestDialectSchedules(t *testing.T) {
	base := []time.Duration{5 * time.Second, time.Hour, 24 * time.Hour}
	cases := []struct {
		name string
		d    webhooks.Dialect
		in   []time.Duration
		want []time.Duration
	}{
		{"kaspay default", webhooks.KasPay{}, webhooks.DefaultSchedule, webhooks.DefaultSchedule},
		{"kaspay custom", webhooks.KasPay{}, base, base},
		{"kirapay default", webhooks.KiraPay{}, webhooks.DefaultSchedule, append([]time.Duration{time.Minute}, webhooks.DefaultSchedule[1:]...)},
		{"kirapay custom", webhooks.KiraPay{}, base, []time.Duration{time.Minute, time.Hour, 24 * time.Hour}},
		{"kirapay empty", webhooks.KiraPay{}, nil, []time.Duration{time.Minute}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Schedule(tc.in); strconv.Quote(fmtDurations(got)) != strconv.Quote(fmtDurations(tc.want)) {
				t.Fatalf("schedule %v, want %v", got, tc.want)
			}
		})
	}
	if webhooks.DefaultSchedule[0] != time.Minute {
		t.Fatal("DefaultSchedule changed")
	}
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// TestKasPayDialectIsTodaysFormat: the KasPay dialect's body and headers
// are KasPayBody and the X-KasPay-* set with both signatures.
func TestKasPayDialectIsTodaysFormat(t *testing.T) {
	job := kirapayJob()
	job.Dialect, job.EventType = models.DialectKasPay, models.EventPaymentConfirmed
	var d webhooks.Dialect = webhooks.KasPay{}
	body, err := d.Body(job)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := webhooks.KasPayBody(job.EventType, job.EventData)
	if string(body) != string(want) {
		t.Fatalf("body %s, want %s", body, want)
	}
	at := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	d.SetHeaders(h, job, body, at)
	if h.Get(webhooks.HeaderSignature) != webhooks.Sign(job.Secret, body) ||
		h.Get(webhooks.HeaderTimedSignature) != webhooks.SignTimed(job.Secret, job.EventID, at.Unix(), body) ||
		h.Get(webhooks.HeaderTimestamp) != "1800000000" || h.Get(webhooks.HeaderEvent) != job.EventType ||
		h.Get(webhooks.HeaderEventID) != job.EventID || h.Get(webhooks.HeaderDelivery) != job.DeliveryID ||
		h.Get(webhooks.KiraPayHeaderSignature) != "" {
		t.Fatalf("headers %v", h)
	}
}
