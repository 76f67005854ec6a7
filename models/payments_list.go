package models

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// PaymentFilter narrows a merchant's payment list. Zero values mean "any".
type PaymentFilter struct {
	Status PaymentStatus
	// Statuses, when not empty, lists the statuses to match (any of them);
	// the KasPay surface's "pending" is three internal statuses (see
	// KasPayStatusFilter).
	Statuses []PaymentStatus
	LinkID   string
	From     *time.Time // created at or after
	To       *time.Time // created before
	// Search matches a transaction id prefix, a customer email or name, or
	// a payment id.
	Search string
	// Cursor continues a previous page (PaymentPage.NextCursor).
	Cursor string
	Limit  int
}

// Page sizes of the payment list.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// PaymentPage is one page of payments, newest first.
type PaymentPage struct {
	Payments   []Payment
	NextCursor string
}

// Payments lists the merchant's payments matching f, newest first, with
// keyset pagination on (created_at, id) so pages stay fast at any depth.
func (s *Store) Payments(ctx context.Context, merchantID string, f PaymentFilter) (*PaymentPage, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, Invalid("status", "status must be one of pending, confirming, confirmed, expired, underpaid")
	}
	if f.LinkID != "" {
		if _, err := uuid.Parse(f.LinkID); err != nil {
			return nil, Invalid("link", "link must be a payment link id")
		}
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return nil, Invalid("from", "from must be before to")
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, Invalid("limit", "limit must be between 1 and %d", MaxPageSize)
	}
	q := s.db.R(ctx).Model(&Payment{}).Scopes(ownedBy(merchantID))
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if len(f.Statuses) > 0 {
		q = q.Where("status IN ?", f.Statuses)
	}
	if f.LinkID != "" {
		q = q.Where("link_id = ?", f.LinkID)
	}
	if f.From != nil {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if f.To != nil {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	if term := strings.TrimSpace(f.Search); term != "" {
		low := strings.ToLower(term)
		q = q.Where(`tx_id LIKE ? ESCAPE '\' OR customer_email = ? OR LOWER(customer_name) LIKE ? ESCAPE '\' OR id = ?`,
			escapeLike(low)+"%", low, "%"+escapeLike(low)+"%", low)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, Invalid("cursor", "cursor is not valid; use the nextCursor of the previous page")
		}
		// The leading created_at <= bound lets both engines walk the
		// (merchant_id, created_at, id) index from the cursor instead of
		// filtering every newer row again on each page.
		q = q.Where("created_at <= ? AND (created_at < ? OR id < ?)", at, at, id)
	}
	var ps []Payment
	if err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("models: list payments: %w", err)
	}
	page := &PaymentPage{Payments: ps}
	if len(ps) > limit {
		page.Payments = ps[:limit]
		last := ps[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// StreamPageSize is how many payments one query of a PaymentStream reads.
var StreamPageSize = MaxPageSize

// PaymentStream is every payment matching a filter, read page by page along
// the (created_at, id) keyset so memory stays flat at any table size. The
// first page is read by StreamPayments, so a bad filter fails before a
// response is started.
type PaymentStream struct {
	s          *Store
	merchantID string
	filter     PaymentFilter
	first      *PaymentPage
}

// StreamPayments prepares a stream of the merchant's payments matching f,
// newest first, from f.Cursor (if any) to the end; f.Limit is ignored.
func (s *Store) StreamPayments(ctx context.Context, merchantID string, f PaymentFilter) (*PaymentStream, error) {
	f.Limit = StreamPageSize
	first, err := s.Payments(ctx, merchantID, f)
	if err != nil {
		return nil, err
	}
	return &PaymentStream{s: s, merchantID: merchantID, filter: f, first: first}, nil
}

// EachPage calls fn with every page of the stream in order (the last one
// may be empty), reading the next page only after fn has returned. It stops
// at fn's first error.
func (ps *PaymentStream) EachPage(ctx context.Context, fn func([]Payment) error) error {
	page, f := ps.first, ps.filter
	ps.first = nil // let the first page go once it is written
	for {
		if err := fn(page.Payments); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
		next, err := ps.s.Payments(ctx, ps.merchantID, f)
		if err != nil {
			return err
		}
		page = next
	}
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, "", fmt.Errorf("bad cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", err
	}
	if _, err := uuid.Parse(id); err != nil {
		return time.Time{}, "", err
	}
	return t.UTC(), id, nil
}

// UnmatchedTransfers lists credits to the merchant's addresses that matched
// no payment (wrong amount, no open session), newest first.
func (s *Store) UnmatchedTransfers(ctx context.Context, merchantID string, limit int) ([]Transfer, error) {
	return listOwned[Transfer](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
		return db.Where("payment_id IS NULL AND orphaned_at IS NULL").Order("seen_at DESC").Limit(limit)
	})
}

// PaymentTransfers lists the credits applied to a payment, oldest first.
func (s *Store) PaymentTransfers(ctx context.Context, paymentID string) ([]Transfer, error) {
	var ts []Transfer
	if err := s.db.R(ctx).Where("payment_id = ?", paymentID).Order("seen_at, id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("models: payment transfers: %w", err)
	}
	return ts, nil
}
