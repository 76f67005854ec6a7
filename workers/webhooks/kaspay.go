// Package webhooks sends the webhook outbox: a Dispatcher claims due
// deliveries (models.ClaimDeliveries), builds each body in its endpoint's
// dialect, signs it, POSTs it through an SSRF-safe client, and records the
// attempt (models.RecordDeliveryAttempt), retrying on a schedule that lasts
// days.
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"till/models"
)

// Headers of KasPay-dialect deliveries.
const (
	HeaderSignature = "X-KasPay-Signature"
	HeaderEvent     = "X-KasPay-Event"
	HeaderEventID   = "X-KasPay-Event-Id"
	HeaderDelivery  = "X-KasPay-Delivery"
	HeaderTimestamp = "X-KasPay-Timestamp"
	// HeaderTimedSignature signs the event id and timestamp with the body
	// ("v1=" + hex HMAC-SHA256 of "<event id>.<timestamp>.<body>"), so a
	// receiver can reject replays; X-KasPay-Signature covers the body only,
	// as the KasPay document specifies.
	HeaderTimedSignature = "X-Till-Signature"
	UserAgent            = "Till-Webhooks/1"
)

// KasPayBody returns the delivery body of an event in the KasPay dialect:
// {"event":"payment.confirmed","payment":{…}}. data is the event's stored
// payment snapshot. The result is canonical (byte-identical to
// JSON.stringify(JSON.parse(body))) and depends only on its inputs, so a
// redelivery sends the same bytes.
func KasPayBody(eventType, data string) ([]byte, error) {
	typ, err := json.Marshal(eventType)
	if err != nil {
		return nil, err
	}
	if data == "" {
		data = "null"
	}
	raw := make([]byte, 0, len(data)+len(typ)+24)
	raw = append(raw, `{"event":`...)
	raw = append(raw, typ...)
	raw = append(raw, `,"payment":`...)
	raw = append(raw, data...)
	raw = append(raw, '}')
	body, err := models.Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("webhooks: event payload: %w", err)
	}
	return body, nil
}

// Sign returns the lowercase hex HMAC-SHA256 of body under secret: the
// X-KasPay-Signature value.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SignTimed returns the X-Till-Signature value: "v1=" and the hex
// HMAC-SHA256 of "<eventID>.<timestamp>.<body>".
func SignTimed(secret, eventID string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(eventID + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a X-KasPay-Signature value in constant time.
func Verify(secret string, body []byte, signature string) bool {
	want, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), want)
}

// VerifyTimed checks the X-Till-Signature of a delivery in constant time
// and refuses timestamps further than tolerance from now: with a store of
// seen event ids it makes replays useless.
func VerifyTimed(secret, eventID, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || eventID == "" {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want, err := hex.DecodeString(strings.TrimPrefix(signature, "v1="))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(eventID + "." + timestamp + "."))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), want)
}

// kasPayHeaders sets the body-independent headers of a KasPay delivery.
func kasPayHeaders(h http.Header, job *models.DeliveryJob, body []byte, sentAt time.Time) {
	ts := sentAt.Unix()
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderEvent, job.EventType)
	h.Set(HeaderEventID, job.EventID)
	h.Set(HeaderDelivery, job.DeliveryID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(job.Secret, body))
	h.Set(HeaderTimedSignature, SignTimed(job.Secret, job.EventID, ts, body))
}
