package models

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"till/models/netguard"
)

// Webhook event names beyond the payment events (events.go).
const (
	// EventAll subscribes an endpoint to every event of its dialect (events
	// are enqueued only for endpoints of their own dialect). KiraPay
	// endpoints always hold it: they receive every transaction.* event,
	// including types added later.
	EventAll = "*"
	// EventWebhookTest is sent only by the explicit "send test event"
	// action, to the one endpoint tested; no endpoint can subscribe to it.
	EventWebhookTest = "webhook.test"
)

// SubscribableEvents are the values an endpoint's events list may hold.
var SubscribableEvents = []string{EventPaymentConfirmed, EventPaymentExpired, EventAll}

// Webhook dialects: the API surface that registered an endpoint decides the
// body and signature format of its deliveries.
const (
	DialectKasPay  = "kaspay"
	DialectKiraPay = "kirapay"
)

// Bounds on webhook endpoints.
const (
	MaxWebhooksPerMerchant   = 20
	MaxWebhookDescriptionLen = 500
	MinWebhookSecretLen      = 16
	MaxWebhookSecretLen      = 256
	webhookSecretPrefix      = "whsec_"
)

// EventList is an endpoint's subscribed event names, stored as a JSON array.
type EventList []string

// Value implements driver.Valuer.
func (l EventList) Value() (driver.Value, error) {
	if l == nil {
		l = EventList{}
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *EventList) Scan(v any) error {
	var raw []byte
	switch x := v.(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	case nil:
		*l = nil
		return nil
	default:
		return fmt.Errorf("models: cannot scan %T into an event list", v)
	}
	return json.Unmarshal(raw, (*[]string)(l))
}

// WebhookEndpoint is a merchant's URL that receives signed event deliveries.
type WebhookEndpoint struct {
	ID         string
	MerchantID string
	URL        string
	Events     EventList
	// SecretSealed is the signing secret, encrypted with the Sealer.
	SecretSealed string
	Dialect      string
	IsActive     bool
	Description  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName pins the table name.
func (WebhookEndpoint) TableName() string { return "webhook_endpoints" }

// Subscribed reports whether the endpoint wants events of type typ.
func (e *WebhookEndpoint) Subscribed(typ string) bool {
	for _, t := range e.Events {
		if t == typ || t == EventAll {
			return true
		}
	}
	return false
}

// WebhookInput carries endpoint fields from an API or a page. Nil means
// "not given": on create URL and Events are required (Events only for
// KasPay), on update the field keeps its value.
type WebhookInput struct {
	URL         *string
	Events      *[]string
	IsActive    *bool
	Description *string
	// Secret is a merchant-chosen signing secret (KiraPay); nil on create
	// generates one.
	Secret *string
	// Dialect is the surface acting: on create the endpoint's dialect
	// ("" is KasPay), on update the dialect the endpoint must have ("" any).
	Dialect string
}

// newWebhookSecret returns "whsec_" and 32 random bytes in hex.
func newWebhookSecret() string { return webhookSecretPrefix + randomHex(32) }

// CreateWebhook validates in and registers an endpoint for merchantID. dest
// is the destination policy the URL must satisfy (nil: netguard.Strict). It
// returns the endpoint and its signing secret.
//
// A KiraPay endpoint (in.Dialect) takes no events list: it is subscribed to
// every transaction event. Its secret may be chosen (in.Secret); the secret
// returned is then "", since the merchant already has it.
func (s *Store) CreateWebhook(ctx context.Context, merchantID string, in WebhookInput, dest *netguard.Policy) (*WebhookEndpoint, string, error) {
	now := s.clock()
	dialect := in.Dialect
	if dialect == "" {
		dialect = DialectKasPay
	}
	e := &WebhookEndpoint{ID: uuid.NewString(), MerchantID: merchantID, Dialect: dialect, IsActive: true, CreatedAt: now, UpdatedAt: now}
	var v ValidationErrors
	if dialect != DialectKasPay && dialect != DialectKiraPay {
		v.add(Invalid("dialect", "Choose a format: KasPay or KiraPay"))
	}
	if in.URL == nil {
		v.add(InvalidAs("url", ErrRequired, "url is required"))
	}
	if dialect == DialectKiraPay {
		e.Events = EventList{EventAll}
	} else if in.Events == nil {
		v.add(InvalidAs("events", ErrRequired, "events is required: a non-empty array of %s", strings.Join(SubscribableEvents, ", ")))
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	if err := s.applyWebhookInput(ctx, e, in, dest); err != nil {
		return nil, "", err
	}
	var n int64
	if err := s.db.R(ctx).Model(&WebhookEndpoint{}).Scopes(ownedBy(merchantID)).Count(&n).Error; err != nil {
		return nil, "", fmt.Errorf("models: count webhooks: %w", err)
	}
	if n >= MaxWebhooksPerMerchant {
		return nil, "", InvalidAs("url", ErrLimitReached, "An account can have at most %d webhook endpoints", MaxWebhooksPerMerchant)
	}
	secret := ""
	if in.Secret == nil {
		secret = newWebhookSecret()
		e.SecretSealed = s.sealer.Seal(secret)
	}
	if err := s.db.W(ctx).Create(e).Error; err != nil {
		return nil, "", fmt.Errorf("models: create webhook: %w", err)
	}
	return e, secret, nil
}

// applyWebhookInput validates every given field and copies it into e; on
// error e must be discarded. The destination check (which resolves the
// hostname) runs only once everything else is valid.
func (s *Store) applyWebhookInput(ctx context.Context, e *WebhookEndpoint, in WebhookInput, dest *netguard.Policy) error {
	var v ValidationErrors
	if in.Events != nil && e.Dialect == DialectKiraPay {
		return Invalid("events", "A KiraPay endpoint receives every transaction event: it has no events list")
	}
	if in.Secret != nil && e.Dialect != DialectKiraPay {
		return Invalid("secret", "Only KiraPay endpoints take a chosen secret: rotate the secret instead")
	}
	var parsed *url.URL
	if in.URL != nil {
		u, err := validateWebhookURL(strings.TrimSpace(*in.URL))
		v.add(err)
		if err == nil {
			parsed = u
			e.URL = u.String()
		}
	}
	if in.Secret != nil {
		err := validateWebhookSecret(*in.Secret)
		v.add(err)
		if err == nil {
			e.SecretSealed = s.sealer.Seal(*in.Secret)
		}
	}
	if in.Events != nil {
		evs, err := validateWebhookEvents(*in.Events)
		v.add(err)
		e.Events = evs
	}
	if in.IsActive != nil {
		e.IsActive = *in.IsActive
	}
	if in.Description != nil {
		d := strings.TrimSpace(*in.Description)
		v.add(validateText("description", "description", d, false, MaxWebhookDescriptionLen))
		e.Description = d
	}
	if err := v.err(); err != nil {
		return err
	}
	if parsed != nil {
		if dest == nil {
			dest = netguard.Strict
		}
		if err := dest.CheckURL(ctx, parsed); err != nil {
			return webhookDestinationError(err)
		}
	}
	return nil
}

// validateWebhookSecret checks a merchant-chosen signing secret: 16 to 256
// characters, no control characters (it goes into HMACs the receiver
// computes from its own copy, so it must survive config files unchanged).
func validateWebhookSecret(secret string) error {
	n := utf8.RuneCountInString(secret)
	if !utf8.ValidString(secret) || n < MinWebhookSecretLen || n > MaxWebhookSecretLen {
		return Invalid("secret", "secret must be %d to %d characters", MinWebhookSecretLen, MaxWebhookSecretLen)
	}
	for _, r := range secret {
		if unicode.IsControl(r) {
			return Invalid("secret", "secret must not contain control characters")
		}
	}
	return nil
}

// webhookDestinationError turns a netguard refusal into a 400 message
// (reason ErrNotPublic: the URL is well-formed, its destination is not).
func webhookDestinationError(err error) error {
	var be *netguard.BlockedError
	var re *netguard.ResolveError
	switch {
	case errors.As(err, &be):
		return InvalidAs("url", ErrNotPublic, "url must point to a public internet address: %s", be.Error())
	case errors.As(err, &re):
		return InvalidAs("url", ErrNotPublic, "url host %s could not be resolved", re.Host)
	}
	return InvalidAs("url", ErrNotPublic, "url is not reachable: %s", err.Error())
}

// validateWebhookURL checks an absolute http(s) URL without credentials and
// returns it parsed, with scheme and host lower-cased.
func validateWebhookURL(raw string) (*url.URL, error) {
	const msg = "url must be an absolute http:// or https:// URL"
	if raw == "" {
		return nil, InvalidAs("url", ErrRequired, "url is required")
	}
	if len(raw) > MaxURLLen {
		return nil, Invalid("url", "url must be at most %d characters", MaxURLLen)
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return nil, Invalid("url", "url must not contain spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return nil, Invalid("url", msg)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, Invalid("url", msg)
	}
	if u.User != nil {
		return nil, Invalid("url", "url must not contain credentials (user:password@); authenticate the webhook with its signature")
	}
	if u.Hostname() == "" {
		return nil, Invalid("url", msg)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return nil, Invalid("url", "url has an invalid port")
		}
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// validateWebhookEvents checks a non-empty list of known, distinct events.
func validateWebhookEvents(events []string) (EventList, error) {
	if len(events) == 0 {
		return nil, Invalid("events", "events must be a non-empty array of %s", strings.Join(SubscribableEvents, ", "))
	}
	seen := map[string]bool{}
	out := make(EventList, 0, len(events))
	for _, ev := range events {
		known := false
		for _, k := range SubscribableEvents {
			known = known || ev == k
		}
		if !known {
			return nil, Invalid("events", "Unknown event %q: events may contain %s", ev, strings.Join(SubscribableEvents, ", "))
		}
		if seen[ev] {
			return nil, Invalid("events", "events must not repeat %q", ev)
		}
		seen[ev] = true
		out = append(out, ev)
	}
	return out, nil
}

// Webhooks lists the merchant's endpoints of every dialect, newest first.
func (s *Store) Webhooks(ctx context.Context, merchantID string) ([]WebhookEndpoint, error) {
	return s.WebhooksIn(ctx, merchantID, "")
}

// WebhooksIn lists the merchant's endpoints of one dialect ("" for all),
// newest first: each API surface lists only its own endpoints.
func (s *Store) WebhooksIn(ctx context.Context, merchantID, dialect string) ([]WebhookEndpoint, error) {
	return listOwned[WebhookEndpoint](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
		if dialect != "" {
			db = db.Where("dialect = ?", dialect)
		}
		return db.Order("created_at DESC, id DESC")
	})
}

// Webhook returns the merchant's endpoint with id (its UUID or ShortID).
func (s *Store) Webhook(ctx context.Context, merchantID, id string) (*WebhookEndpoint, error) {
	return s.webhookIn(ctx, merchantID, "", id)
}

// webhookIn returns the merchant's endpoint with id (UUID or ShortID) in
// dialect ("" any). A KiraPay miss is "Webhook endpoint not found", the
// KiraPay seed's wording; otherwise "Webhook not found" as ever.
func (s *Store) webhookIn(ctx context.Context, merchantID, dialect, id string) (*WebhookEndpoint, error) {
	what := "Webhook"
	if dialect == DialectKiraPay {
		what = "Webhook endpoint"
	}
	where, ok := idOrShortID(id)
	if !ok {
		return nil, &NotFoundError{What: what}
	}
	var e WebhookEndpoint
	q := s.db.R(ctx).Scopes(ownedBy(merchantID)).Where(where, id)
	if dialect != "" {
		q = q.Where("dialect = ?", dialect)
	}
	err := q.Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: what}
	}
	if err != nil {
		return nil, fmt.Errorf("models: find webhook: %w", err)
	}
	return &e, nil
}

// idOrShortID is the condition that finds a row by id given as a UUID or as
// its ShortID (through the expression index of migration 0009); ok is false
// for anything else, which matches no row.
func idOrShortID(id string) (where string, ok bool) {
	if _, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return "id = ?", true
	}
	if ValidShortID(id) {
		return ShortIDExpr + " = ?", true
	}
	return "", false
}

// UpdateWebhook changes an endpoint's url, events, isActive, description or
// (KiraPay) secret; any invalid field leaves it unchanged. A new URL is
// checked against dest. in.Dialect, when set, is the dialect the endpoint
// must have (another dialect's endpoint is not found).
func (s *Store) UpdateWebhook(ctx context.Context, merchantID, id string, in WebhookInput, dest *netguard.Policy) (*WebhookEndpoint, error) {
	e, err := s.webhookIn(ctx, merchantID, in.Dialect, id)
	if err != nil {
		return nil, err
	}
	if in.URL == nil && in.Events == nil && in.IsActive == nil && in.Description == nil && in.Secret == nil {
		return nil, InvalidAs("", ErrNoFields, "No fields to update")
	}
	if err := s.applyWebhookInput(ctx, e, in, dest); err != nil {
		return nil, err
	}
	e.UpdatedAt = s.clock()
	n, err := updateOwned[WebhookEndpoint](ctx, s.db.write, merchantID, e.ID, map[string]any{
		"url": e.URL, "events": e.Events, "is_active": e.IsActive, "description": e.Description,
		"secret_sealed": e.SecretSealed, "updated_at": e.UpdatedAt,
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &NotFoundError{What: "Webhook"}
	}
	return e, nil
}

// DeleteWebhook removes an endpoint with its deliveries and their attempts:
// nothing more is sent to it.
func (s *Store) DeleteWebhook(ctx context.Context, merchantID, id string) error {
	return s.DeleteWebhookIn(ctx, merchantID, "", id)
}

// DeleteWebhookIn is DeleteWebhook for an endpoint of dialect ("" any),
// given by UUID or ShortID.
func (s *Store) DeleteWebhookIn(ctx context.Context, merchantID, dialect, id string) error {
	e, err := s.webhookIn(ctx, merchantID, dialect, id)
	if err != nil {
		return err
	}
	res := s.db.W(ctx).Scopes(ownedBy(merchantID)).Where("id = ?", e.ID).Delete(&WebhookEndpoint{})
	if res.Error != nil {
		return fmt.Errorf("models: delete webhook: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return &NotFoundError{What: "Webhook"}
	}
	return nil
}

// RotateWebhookSecret gives an endpoint a new signing secret and returns
// it. The old secret stops at once: deliveries, retries included, are
// signed when they are sent.
func (s *Store) RotateWebhookSecret(ctx context.Context, merchantID, id string) (string, error) {
	e, err := s.Webhook(ctx, merchantID, id)
	if err != nil {
		return "", err
	}
	secret := newWebhookSecret()
	n, err := updateOwned[WebhookEndpoint](ctx, s.db.write, merchantID, e.ID, map[string]any{
		"secret_sealed": s.sealer.Seal(secret), "updated_at": s.clock(),
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", &NotFoundError{What: "Webhook"}
	}
	return secret, nil
}

// WebhookSecret reveals an endpoint's signing secret to its owner.
func (s *Store) WebhookSecret(ctx context.Context, merchantID, id string) (string, error) {
	e, err := s.Webhook(ctx, merchantID, id)
	if err != nil {
		return "", err
	}
	return s.sealer.Open(e.SecretSealed)
}
