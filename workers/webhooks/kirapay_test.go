package webhooks_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/workers/webhooks"
	"till/workers/webhooks/webhookstest"
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

	if webhookstest.Verbatim(t, "kirapay_verify.js") != kirapayVerifier {
		t.Fatal("testdata/kirapay_verify.js no longer holds the document's verifier verbatim")
	}
	wrong := "whsec_ffffffffffffffffffffffffffffffff"
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	tampered := []byte(strings.Replace(string(body), "25.5", "26.5", 1))
	cases := []webhookstest.KiraPayCase{
		{Name: "raw body", Body: b64(body), Signature: sig, Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeString},
		{Name: "raw body as Buffer", Body: b64(body), Signature: sig, Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeBuffer},
		{Name: "JSON.stringify of the parsed body", Body: b64(body), Signature: sig, Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeReparse},
		{Name: "parsed object ([object Object])", Body: b64(body), Signature: sig, Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeObject},
		{Name: "wrong secret", Body: b64(body), Signature: sig, Secret: wrong, Timestamp: ts, Mode: webhookstest.ModeString},
		{Name: "changed body", Body: b64(tampered), Signature: sig, Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeString},
		{Name: "other timestamp", Body: b64(body), Signature: sig, Secret: job.Secret, Timestamp: "1704067201", Mode: webhookstest.ModeString},
		{Name: "short signature", Body: b64(body), Signature: sig[:10], Secret: job.Secret, Timestamp: ts, Mode: webhookstest.ModeString},
	}
	want := map[string]bool{"raw body": true, "raw body as Buffer": true, "JSON.stringify of the parsed body": true}
	got := webhookstest.RunKiraPay(t, cases)
	for _, c := range cases {
		if r := got[c.Name]; r.OK != want[c.Name] {
			t.Errorf("%s: document verifier says %v (threw %q), want %v", c.Name, r.OK, r.Threw, want[c.Name])
		}
	}
	// The document's verifier throws on a signature of another length:
	// docs/WEBHOOKS.md tells receivers to wrap it.
	if got["short signature"].Threw != "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH" {
		t.Errorf("short signature: threw %q, want ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", got["short signature"].Threw)
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
