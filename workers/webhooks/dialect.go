package webhooks

import (
	"fmt"
	"net/http"
	"time"

	"till/models"
)

// Dialect is the format of one API surface's webhooks: the body built from
// a claimed delivery, the headers (signature included) and the wait after
// each failed attempt. The dispatcher, claiming, leases, attempt log and
// SSRF guard are shared by every dialect.
type Dialect interface {
	// Body returns the request body of job. It must depend only on the
	// stored event, so every attempt sends the same bytes.
	Body(job *models.DeliveryJob) ([]byte, error)
	// SetHeaders sets every header of the request, signature included;
	// sentAt is when this attempt starts.
	SetHeaders(h http.Header, job *models.DeliveryJob, body []byte, sentAt time.Time)
	// Schedule returns the retry schedule of this dialect given the
	// dispatcher's own (its Schedule field).
	Schedule(base []time.Duration) []time.Duration
}

// dialects maps an endpoint's dialect to its format.
var dialects = map[string]Dialect{
	models.DialectKasPay:  KasPay{},
	models.DialectKiraPay: KiraPay{},
	"":                    KasPay{},
}

// dialectOf returns the format of an endpoint's dialect.
func dialectOf(name string) (Dialect, error) {
	if d, ok := dialects[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("unknown webhook dialect %q", name)
}

// KasPay is the KasPay dialect: {"event","payment"} bodies, X-KasPay-*
// headers with a hex HMAC of the body, and the dispatcher's schedule.
type KasPay struct{}

// Body implements Dialect.
func (KasPay) Body(job *models.DeliveryJob) ([]byte, error) {
	return KasPayBody(job.EventType, job.EventData)
}

// SetHeaders implements Dialect.
func (KasPay) SetHeaders(h http.Header, job *models.DeliveryJob, body []byte, sentAt time.Time) {
	kasPayHeaders(h, job, body, sentAt)
}

// Schedule implements Dialect: the dispatcher's schedule, unchanged.
func (KasPay) Schedule(base []time.Duration) []time.Duration { return base }
