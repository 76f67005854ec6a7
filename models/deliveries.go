package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// The webhook outbox. A payment state change writes its Event and one
// WebhookDelivery per subscribed endpoint in the same transaction
// (enqueueDeliveries). Dispatchers (workers/webhooks) claim due deliveries
// with a lease, send them, and record each attempt; a delivery whose
// dispatcher died becomes due again when its lease runs out.

// DeliveryStatus is where a delivery is in its life.
type DeliveryStatus string

// Delivery statuses: pending (waiting for its next attempt) → delivered
// (a 2xx answer) or failed (the retry schedule ran out).
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Valid reports whether s is a known delivery status.
func (s DeliveryStatus) Valid() bool {
	return s == DeliveryPending || s == DeliveryDelivered || s == DeliveryFailed
}

// WebhookDelivery is one event to send to one endpoint.
type WebhookDelivery struct {
	ID         string
	EventID    string
	EndpointID string
	MerchantID string
	Status     DeliveryStatus
	// Attempts counts the attempts made so far.
	Attempts       int
	NextAttemptAt  time.Time
	LastStatusCode *int
	LastError      string
	DeliveredAt    *time.Time
	// LockedUntil and LeaseToken are a dispatcher's claim: nobody else
	// sends the delivery before LockedUntil, and only the holder of
	// LeaseToken may record the outcome.
	LockedUntil *time.Time
	LeaseToken  *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName pins the table name.
func (WebhookDelivery) TableName() string { return "webhook_deliveries" }

// WebhookAttempt is one HTTP request made for a delivery.
type WebhookAttempt struct {
	ID          string
	DeliveryID  string
	AttemptedAt time.Time
	// StatusCode is nil when no HTTP response came back.
	StatusCode      *int
	LatencyMS       int64
	Error           string
	ResponseSnippet string
}

// TableName pins the table name.
func (WebhookAttempt) TableName() string { return "webhook_attempts" }

// Limits on what an attempt records.
const (
	MaxResponseSnippet = 1024
	maxAttemptError    = 500
)

// enqueueDeliveries creates, inside tx, one due delivery of ev for every
// active endpoint of ev's merchant in ev's dialect subscribed to ev.Type
// (or to "*").
func (s *Store) enqueueDeliveries(tx *gorm.DB, ev *Event) error {
	var eps []WebhookEndpoint
	dialect := ev.Dialect
	if dialect == "" {
		dialect = DialectKasPay
	}
	if err := tx.Scopes(ownedBy(ev.MerchantID)).Where("is_active = ? AND dialect = ?", true, dialect).Find(&eps).Error; err != nil {
		return fmt.Errorf("models: endpoints for event: %w", err)
	}
	var rows []WebhookDelivery
	for i := range eps {
		if !eps[i].Subscribed(ev.Type) {
			continue
		}
		rows = append(rows, WebhookDelivery{
			ID: newDeliveryID(), EventID: ev.ID, EndpointID: eps[i].ID, MerchantID: ev.MerchantID,
			Status: DeliveryPending, NextAttemptAt: ev.CreatedAt, CreatedAt: ev.CreatedAt, UpdatedAt: ev.CreatedAt,
		})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("models: enqueue deliveries: %w", err)
	}
	return nil
}

// newDeliveryID is a time-ordered UUID (version 7, monotonic within the
// process): deliveries queued by one state change (transaction.created,
// then transaction.succeeded) share next_attempt_at, and ClaimDeliveries
// breaks that tie by id, so they are claimed in the order they were queued.
func newDeliveryID() string { return uuid.Must(uuid.NewV7()).String() }

// DeliveryRecord is a delivery as its owner sees it: with the event type
// and every attempt, oldest first.
type DeliveryRecord struct {
	WebhookDelivery
	EventType  string
	AttemptLog []WebhookAttempt
}

// DeliveryFilter narrows WebhookDeliveries and Deliveries.
type DeliveryFilter struct {
	// Status keeps only deliveries in that status ("" for all).
	Status DeliveryStatus
	// Limit caps the rows returned (default 50, at most 200).
	Limit int
	// Offset skips that many rows (Deliveries' pages).
	Offset int
	// Dialect keeps deliveries to endpoints of that dialect ("" for all).
	Dialect string
	// EndpointID keeps one endpoint's deliveries (UUID or ShortID; "" for
	// every endpoint of the merchant in Dialect).
	EndpointID string
}

// WebhookDeliveries lists an endpoint's deliveries, newest first, with
// their attempts.
func (s *Store) WebhookDeliveries(ctx context.Context, merchantID, endpointID string, f DeliveryFilter) ([]DeliveryRecord, error) {
	f.EndpointID = endpointID
	if f.EndpointID == "" {
		return nil, &NotFoundError{What: "Webhook"}
	}
	ds, _, err := s.deliveries(ctx, merchantID, f, false)
	return ds, err
}

// Deliveries lists the merchant's deliveries of one endpoint or of every
// endpoint of f.Dialect, newest first, one page (f.Offset, f.Limit), with
// the total matching. An endpoint that is not the merchant's (or not in
// f.Dialect) is a NotFoundError.
func (s *Store) Deliveries(ctx context.Context, merchantID string, f DeliveryFilter) ([]DeliveryRecord, int64, error) {
	return s.deliveries(ctx, merchantID, f, true)
}

// deliveries runs both listings; the total is counted only when asked. The
// endpoint_id/status/created_at index (0011) serves the page and the count.
func (s *Store) deliveries(ctx context.Context, merchantID string, f DeliveryFilter, count bool) ([]DeliveryRecord, int64, error) {
	var endpointID string
	if f.EndpointID != "" {
		e, err := s.webhookIn(ctx, merchantID, f.Dialect, f.EndpointID)
		if err != nil {
			return nil, 0, err
		}
		endpointID = e.ID
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, Invalid("status", "status must be one of pending, delivered, failed")
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		f.Limit = 200
	}
	scope := func(db *gorm.DB) *gorm.DB {
		db = db.Scopes(ownedBy(merchantID))
		switch {
		case endpointID != "":
			db = db.Where("endpoint_id = ?", endpointID)
		case f.Dialect != "":
			db = db.Where("endpoint_id IN (?)", s.db.R(ctx).Model(&WebhookEndpoint{}).Select("id").
				Scopes(ownedBy(merchantID)).Where("dialect = ?", f.Dialect))
		}
		if f.Status != "" {
			db = db.Where("status = ?", f.Status)
		}
		return db
	}
	var total int64
	if count {
		if err := s.db.R(ctx).Model(&WebhookDelivery{}).Scopes(scope).Count(&total).Error; err != nil {
			return nil, 0, fmt.Errorf("models: count deliveries: %w", err)
		}
	}
	var ds []WebhookDelivery
	if err := s.db.R(ctx).Scopes(scope).Order("created_at DESC, id DESC").Offset(max(f.Offset, 0)).Limit(f.Limit).
		Find(&ds).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list deliveries: %w", err)
	}
	recs, err := s.deliveryRecords(ctx, ds)
	return recs, total, err
}

// deliveryRecords adds event types and attempts to deliveries.
func (s *Store) deliveryRecords(ctx context.Context, ds []WebhookDelivery) ([]DeliveryRecord, error) {
	out := make([]DeliveryRecord, len(ds))
	if len(ds) == 0 {
		return out, nil
	}
	ids := make([]string, len(ds))
	evIDs := make([]string, len(ds))
	for i, d := range ds {
		ids[i], evIDs[i] = d.ID, d.EventID
	}
	var evs []Event
	if err := s.db.R(ctx).Select("id", "type").Where("id IN ?", evIDs).Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("models: delivery events: %w", err)
	}
	types := make(map[string]string, len(evs))
	for _, e := range evs {
		types[e.ID] = e.Type
	}
	var atts []WebhookAttempt
	if err := s.db.R(ctx).Where("delivery_id IN ?", ids).Order("attempted_at, id").Find(&atts).Error; err != nil {
		return nil, fmt.Errorf("models: delivery attempts: %w", err)
	}
	byDelivery := map[string][]WebhookAttempt{}
	for _, a := range atts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], a)
	}
	for i, d := range ds {
		out[i] = DeliveryRecord{WebhookDelivery: d, EventType: types[d.EventID], AttemptLog: byDelivery[d.ID]}
		if out[i].AttemptLog == nil {
			out[i].AttemptLog = []WebhookAttempt{}
		}
	}
	return out, nil
}

// webhookDelivery returns the delivery with id of the merchant's endpoint.
func (s *Store) webhookDelivery(ctx context.Context, merchantID, endpointID, id string) (*DeliveryRecord, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, &NotFoundError{What: "Delivery"}
	}
	d, err := findOwned[WebhookDelivery](ctx, s.db.write, merchantID, id, "Delivery")
	if err != nil {
		return nil, err
	}
	if d.EndpointID != endpointID {
		return nil, &NotFoundError{What: "Delivery"}
	}
	recs, err := s.deliveryRecords(ctx, []WebhookDelivery{*d})
	if err != nil {
		return nil, err
	}
	return &recs[0], nil
}

// RedeliverWebhook makes a delivery due now, whatever its status, keeping
// its attempt history. If the attempt fails, the retry schedule continues
// from the delivery's attempt count (a delivery that had already failed
// fails again after this one attempt).
func (s *Store) RedeliverWebhook(ctx context.Context, merchantID, endpointID, deliveryID string) (*DeliveryRecord, error) {
	e, err := s.Webhook(ctx, merchantID, endpointID)
	if err != nil {
		return nil, err
	}
	if _, err := s.webhookDelivery(ctx, merchantID, endpointID, deliveryID); err != nil {
		return nil, err
	}
	if !e.IsActive {
		return nil, &StateError{Reason: ErrWebhookInactive, Message: "This webhook is inactive: activate it before redelivering"}
	}
	now := s.clock()
	n, err := updateOwned[WebhookDelivery](ctx, s.db.write, merchantID, deliveryID, map[string]any{
		"status": DeliveryPending, "next_attempt_at": now, "updated_at": now,
	}, func(db *gorm.DB) *gorm.DB { return db.Where("endpoint_id = ?", endpointID) })
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &NotFoundError{What: "Delivery"}
	}
	return s.webhookDelivery(ctx, merchantID, endpointID, deliveryID)
}

// RedeliverDelivery is RedeliverWebhook for a delivery given alone, by
// UUID or ShortID, to an endpoint of dialect ("" any). A delivery that is
// not the merchant's (or not in dialect) is "Webhook delivery not found".
func (s *Store) RedeliverDelivery(ctx context.Context, merchantID, dialect, deliveryID string) (*DeliveryRecord, error) {
	notFound := &NotFoundError{What: "Webhook delivery"}
	where, ok := idOrShortID(deliveryID)
	if !ok {
		return nil, notFound
	}
	q := s.db.W(ctx).Scopes(ownedBy(merchantID)).Where(where, deliveryID)
	if dialect != "" {
		q = q.Where("endpoint_id IN (?)", s.db.W(ctx).Model(&WebhookEndpoint{}).Select("id").
			Scopes(ownedBy(merchantID)).Where("dialect = ?", dialect))
	}
	var d WebhookDelivery
	if err := q.Take(&d).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("models: find delivery: %w", err)
	}
	return s.RedeliverWebhook(ctx, merchantID, d.EndpointID, d.ID)
}

// TestWebhookLimit is how many test events one merchant may send.
var TestWebhookLimit = RateLimit{Max: 10, Window: time.Minute}

// SendTestWebhook queues a webhook.test event to one endpoint, whatever its
// subscriptions (KasPay endpoints only). An endpoint has at most one pending test delivery, and a
// merchant sends at most TestWebhookLimit test events (RateLimitError, 429). The payment in it is a sample: its id (all zeros) matches
// no payment.
func (s *Store) SendTestWebhook(ctx context.Context, merchantID, endpointID string) (*DeliveryRecord, error) {
	e, err := s.Webhook(ctx, merchantID, endpointID)
	if err != nil {
		return nil, err
	}
	if !e.IsActive {
		return nil, &StateError{Reason: ErrWebhookInactive, Message: "This webhook is inactive: activate it before sending a test event"}
	}
	if e.Dialect == DialectKiraPay {
		// KiraPay names no test event, and a sample transaction would reach
		// receivers as a real one: redeliver a past delivery instead.
		return nil, &StateError{Message: "KiraPay endpoints have no test event: redeliver one of their deliveries instead"}
	}
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	data, err := CanonicalJSON(samplePayment(m, now))
	if err != nil {
		return nil, fmt.Errorf("models: test payload: %w", err)
	}
	if err := s.checkRateLimits(ctx, TestWebhookLimit, "Too many test events: at most 10 a minute, please wait a moment",
		"webhook-test:merchant:"+merchantID); err != nil {
		return nil, err
	}
	ev := &Event{ID: uuid.NewString(), MerchantID: merchantID, Type: EventWebhookTest, Dialect: e.Dialect, Data: string(data), CreatedAt: now}
	d := &WebhookDelivery{ID: uuid.NewString(), EventID: ev.ID, EndpointID: e.ID, MerchantID: merchantID,
		Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		// One pending test per endpoint. The endpoint row is locked first
		// (Postgres; SQLite transactions already run one at a time), so two
		// concurrent requests cannot both see none pending.
		if s.db.Dialect == Postgres {
			var id string
			if err := tx.Raw("SELECT id FROM webhook_endpoints WHERE id = ? FOR UPDATE", e.ID).Scan(&id).Error; err != nil {
				return err
			}
		}
		var pending int64
		if err := tx.Model(&WebhookDelivery{}).Joins("JOIN events ON events.id = webhook_deliveries.event_id").
			Where("webhook_deliveries.endpoint_id = ? AND webhook_deliveries.status = ? AND events.type = ?", e.ID, DeliveryPending, EventWebhookTest).
			Count(&pending).Error; err != nil {
			return err
		}
		if pending > 0 {
			return &RateLimitError{Message: "A test event to this endpoint is still pending: wait until it is delivered or fails " +
				"(see the delivery log), or redeliver it from there", RetryAfter: time.Minute}
		}
		if err := tx.Create(ev).Error; err != nil {
			return err
		}
		return tx.Create(d).Error
	})
	var limited *RateLimitError
	if errors.As(err, &limited) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("models: queue test event: %w", err)
	}
	return &DeliveryRecord{WebhookDelivery: *d, EventType: ev.Type, AttemptLog: []WebhookAttempt{}}, nil
}

// samplePayment is the payment carried by webhook.test events: a confirmed
// 100 KAS payment to the merchant's address, shown through the KasPay
// presenter like every real one.
func samplePayment(m *Merchant, now time.Time) PaymentSnapshot {
	confirmed := now
	const amount = 100 * 100_000_000 // 100 KAS in sompi
	p := Payment{
		ID: "00000000-0000-0000-0000-000000000000", Chain: ChainKaspa, Status: StatusConfirmed,
		AmountExpected: amount, AmountReceived: amount, PayAddress: m.KaspaAddress, PriceCurrency: KAS,
		TxID: strings.Repeat("0", 64), CustomerEmail: "customer@example.com", CustomerName: "Test Customer",
		Metadata: `{"test":true}`, ConfirmedAt: &confirmed,
		Confirmations: defaultRequiredConfirmations, RequiredConfirmations: defaultRequiredConfirmations,
		ExpiresAt: now.Add(30 * time.Minute), CreatedAt: now,
	}
	return p.Snapshot()
}

// DeliveryJob is a claimed delivery with everything needed to send it.
type DeliveryJob struct {
	DeliveryID string
	EventID    string
	EventType  string
	// EventData is the event's canonical JSON payload (a PaymentSnapshot).
	EventData      string
	EventCreatedAt time.Time
	EndpointID     string
	MerchantID     string
	URL            string
	Dialect        string
	// Secret is the endpoint's signing secret; SecretErr is set instead
	// when it cannot be decrypted.
	Secret    string
	SecretErr error
	// Attempt is the number of this attempt, from 1.
	Attempt int
	// LeaseToken fences the claim; LockedUntil is when it runs out.
	LeaseToken  string
	LockedUntil time.Time
}

// ClaimRequest says how many due deliveries a dispatcher wants.
type ClaimRequest struct {
	// Limit is the number of free send slots.
	Limit int
	// Lease is how long the claim holds (longer than one send, timeout
	// included, plus recording).
	Lease time.Duration
	// PerEndpoint caps in-flight deliveries per endpoint (0: no cap), with
	// InFlight the caller's current count per endpoint id, so one slow
	// endpoint cannot occupy every slot.
	PerEndpoint int
	InFlight    map[string]int
}

// claimCandidates bounds the rows one claim looks at.
const claimCandidates = 200

// ClaimDeliveries leases up to req.Limit due deliveries of active
// endpoints, oldest due first. On Postgres the candidate rows are locked
// with FOR UPDATE SKIP LOCKED, so concurrent dispatchers never claim the
// same row; on SQLite the write transaction is exclusive. A lease that
// runs out (its dispatcher died) makes the delivery due again.
func (s *Store) ClaimDeliveries(ctx context.Context, req ClaimRequest) ([]DeliveryJob, error) {
	if req.Limit <= 0 {
		return nil, nil
	}
	if req.Lease <= 0 {
		req.Lease = time.Minute
	}
	now := s.clock()
	until := now.Add(req.Lease)
	token := uuid.NewString()
	var full []string
	for id, n := range req.InFlight {
		if req.PerEndpoint > 0 && n >= req.PerEndpoint {
			full = append(full, id)
		}
	}
	due := `SELECT d.id, d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.status = ? AND d.next_attempt_at <= ? AND (d.locked_until IS NULL OR d.locked_until <= ?) AND e.is_active = ?`
	dueArgs := []any{DeliveryPending, now, now, true}
	if len(full) > 0 {
		due += " AND d.endpoint_id NOT IN ?"
		dueArgs = append(dueArgs, full)
	}
	// A read first: most polls find nothing, and need not take SQLite's
	// write lock (or open a Postgres write transaction) to learn it.
	var probe []string
	if err := s.db.R(ctx).Raw("SELECT id FROM ("+due+" LIMIT 1) AS probe", dueArgs...).Scan(&probe).Error; err != nil {
		return nil, fmt.Errorf("models: due deliveries: %w", err)
	}
	if len(probe) == 0 {
		return nil, nil
	}
	var jobs []DeliveryJob
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		q, args := due+" ORDER BY d.next_attempt_at, d.id LIMIT ?", dueArgs
		args = append(args[:len(args):len(args)], min(req.Limit*4, claimCandidates))
		if s.db.Dialect == Postgres {
			q += " FOR UPDATE OF d SKIP LOCKED"
		}
		type cand struct {
			ID         string
			EndpointID string
		}
		var cands []cand
		if err := tx.Raw(q, args...).Scan(&cands).Error; err != nil {
			return fmt.Errorf("models: due deliveries: %w", err)
		}
		taken := map[string]int{}
		var ids []string
		for _, c := range cands {
			if len(ids) == req.Limit {
				break
			}
			if req.PerEndpoint > 0 && req.InFlight[c.EndpointID]+taken[c.EndpointID] >= req.PerEndpoint {
				continue
			}
			taken[c.EndpointID]++
			ids = append(ids, c.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&WebhookDelivery{}).Where("id IN ?", ids).
			Updates(map[string]any{"locked_until": until, "lease_token": token, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("models: lease deliveries: %w", err)
		}
		var ds []WebhookDelivery
		if err := tx.Where("id IN ?", ids).Order("next_attempt_at, id").Find(&ds).Error; err != nil {
			return fmt.Errorf("models: leased deliveries: %w", err)
		}
		evIDs, epIDs := make([]string, 0, len(ds)), make([]string, 0, len(ds))
		for _, d := range ds {
			evIDs, epIDs = append(evIDs, d.EventID), append(epIDs, d.EndpointID)
		}
		var evs []Event
		if err := tx.Where("id IN ?", evIDs).Find(&evs).Error; err != nil {
			return fmt.Errorf("models: delivery events: %w", err)
		}
		var eps []WebhookEndpoint
		if err := tx.Where("id IN ?", epIDs).Find(&eps).Error; err != nil {
			return fmt.Errorf("models: delivery endpoints: %w", err)
		}
		evByID := make(map[string]*Event, len(evs))
		for i := range evs {
			evByID[evs[i].ID] = &evs[i]
		}
		epByID := make(map[string]*WebhookEndpoint, len(eps))
		for i := range eps {
			epByID[eps[i].ID] = &eps[i]
		}
		for _, d := range ds {
			ev, ep := evByID[d.EventID], epByID[d.EndpointID]
			if ev == nil || ep == nil {
				continue // cascaded away meanwhile
			}
			j := DeliveryJob{
				DeliveryID: d.ID, EventID: ev.ID, EventType: ev.Type, EventData: ev.Data, EventCreatedAt: ev.CreatedAt,
				EndpointID: ep.ID, MerchantID: d.MerchantID, URL: ep.URL, Dialect: ep.Dialect,
				Attempt: d.Attempts + 1, LeaseToken: token, LockedUntil: until,
			}
			j.Secret, j.SecretErr = s.sealer.Open(ep.SecretSealed)
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// AttemptResult is the outcome of one send.
type AttemptResult struct {
	// At is when the request started.
	At time.Time
	// StatusCode is the HTTP status, 0 when none came back.
	StatusCode int
	Latency    time.Duration
	// Err describes a failure (transport error, timeout, refused
	// destination, non-2xx status); "" on success.
	Err string
	// Snippet is the start of the response body (cut to 1 KB here).
	Snippet string
}

// Delivered reports whether the attempt succeeded (a 2xx answer).
func (r AttemptResult) Delivered() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// ErrLeaseLost is returned by RecordDeliveryAttempt when the job's lease
// was taken over (it ran out and another dispatcher claimed the delivery)
// or the delivery is gone; the attempt is still logged when possible.
var ErrLeaseLost = errors.New("models: delivery lease lost")

// RecordDeliveryAttempt logs an attempt and moves the delivery on:
// delivered on a 2xx, else due again after schedule[attempt-1], or failed
// once the schedule is exhausted. It returns the delivery's new status.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, job *DeliveryJob, res AttemptResult, schedule []time.Duration) (DeliveryStatus, error) {
	now := s.clock()
	at := res.At.UTC().Truncate(time.Microsecond)
	if at.IsZero() {
		at = now
	}
	att := &WebhookAttempt{
		ID: uuid.NewString(), DeliveryID: job.DeliveryID, AttemptedAt: at, LatencyMS: res.Latency.Milliseconds(),
		Error: cleanText(res.Err, maxAttemptError), ResponseSnippet: cleanText(res.Snippet, MaxResponseSnippet),
	}
	updates := map[string]any{
		"attempts": job.Attempt, "last_error": att.Error, "locked_until": nil, "lease_token": nil, "updated_at": now,
	}
	if res.StatusCode > 0 {
		code := res.StatusCode
		att.StatusCode = &code
		updates["last_status_code"] = code
	} else {
		updates["last_status_code"] = nil
	}
	status := DeliveryPending
	switch {
	case res.Delivered():
		status = DeliveryDelivered
		updates["delivered_at"] = now
		updates["last_error"] = ""
	case job.Attempt > len(schedule):
		status = DeliveryFailed
	default:
		updates["next_attempt_at"] = now.Add(schedule[job.Attempt-1])
	}
	updates["status"] = status
	var lost bool
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		r := tx.Model(&WebhookDelivery{}).Where("id = ? AND lease_token = ? AND status = ?", job.DeliveryID, job.LeaseToken, DeliveryPending).
			Updates(updates)
		if r.Error != nil {
			return fmt.Errorf("models: record delivery: %w", r.Error)
		}
		if r.RowsAffected == 0 {
			lost = true
			var n int64
			if err := tx.Model(&WebhookDelivery{}).Where("id = ?", job.DeliveryID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return nil // endpoint deleted: nothing to log against
			}
		}
		return tx.Create(att).Error
	})
	if err != nil {
		return "", fmt.Errorf("models: record attempt: %w", err)
	}
	if lost {
		return "", ErrLeaseLost
	}
	return status, nil
}

// ReleaseDelivery gives a claimed delivery back without recording an
// attempt (its dispatcher is shutting down and cannot know whether the
// receiver got it); it is due again at once.
func (s *Store) ReleaseDelivery(ctx context.Context, job *DeliveryJob) error {
	err := s.db.W(ctx).Model(&WebhookDelivery{}).Where("id = ? AND lease_token = ?", job.DeliveryID, job.LeaseToken).
		Updates(map[string]any{"locked_until": nil, "lease_token": nil, "updated_at": s.clock()}).Error
	if err != nil {
		return fmt.Errorf("models: release delivery: %w", err)
	}
	return nil
}

// cleanText makes s storable on both engines: valid UTF-8, no NUL bytes,
// at most max bytes (cut on a character boundary).
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
