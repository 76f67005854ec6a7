package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"till/models"
)

// Headers of KiraPay-dialect deliveries (the KiraPay document's webhook
// section).
const (
	KiraPayHeaderEvent     = "X-KiraPay-Event"
	KiraPayHeaderID        = "X-KiraPay-Id"
	KiraPayHeaderTimestamp = "X-KiraPay-Timestamp"
	KiraPayHeaderSignature = "X-KiraPay-Signature"
)

// KiraPay is the KiraPay dialect, for the endpoints of the KiraPay
// admin API (transaction.* events). Bodies are {"id","type","createdAt",
// "data"}; the timestamp is the event's creation in Unix seconds, the same
// on every attempt, so a retry carries the same signature; the first retry
// comes after one minute, as the document says, then Till's backoff.
type KiraPay struct{}

// Body implements Dialect: canonical {"id","type","createdAt","data"} with
// the event's stored snapshot as data.
func (KiraPay) Body(job *models.DeliveryJob) ([]byte, error) {
	data := json.RawMessage(job.EventData)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	raw, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt string          `json:"createdAt"`
		Data      json.RawMessage `json:"data"`
	}{job.EventID, job.EventType, models.ISOTime(job.EventCreatedAt), data})
	if err != nil {
		return nil, fmt.Errorf("webhooks: event payload: %w", err)
	}
	body, err := models.Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("webhooks: event payload: %w", err)
	}
	return body, nil
}

// SetHeaders implements Dialect.
func (KiraPay) SetHeaders(h http.Header, job *models.DeliveryJob, body []byte, _ time.Time) {
	ts := job.EventCreatedAt.Unix()
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(KiraPayHeaderEvent, job.EventType)
	h.Set(KiraPayHeaderID, job.EventID)
	h.Set(KiraPayHeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(KiraPayHeaderSignature, SignKiraPay(job.Secret, ts, body))
}

// Schedule implements Dialect: one minute, then the base schedule after
// its first wait.
func (KiraPay) Schedule(base []time.Duration) []time.Duration {
	if len(base) == 0 {
		return []time.Duration{time.Minute}
	}
	return append([]time.Duration{time.Minute}, base[1:]...)
}

// SignKiraPay returns the X-KiraPay-Signature value: "sha256=" and the
// base64 HMAC-SHA256 of "<timestamp>.<body>".
func SignKiraPay(secret string, timestamp int64, body []byte) string {
	return signKiraPay(secret, strconv.FormatInt(timestamp, 10), body)
}

// signKiraPay signs the timestamp header's text as sent.
func signKiraPay(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyKiraPay checks a X-KiraPay-Signature value in constant time, as
// the KiraPay document's verifier does (without throwing on a wrong length):
// over the timestamp header's text as received, so "01704067200" is not the
// signed "1704067200".
func VerifyKiraPay(secret, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(signKiraPay(secret, timestamp, body)), []byte(signature))
}
