package kirapay

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/models"
)

// transactionsPage is the data of GET /api/wallet/transactions.
type transactionsPage struct {
	Transactions []models.KiraPayTransaction `json:"transactions"`
	Total        int64                       `json:"total"`
	Page         int                         `json:"page"`
	TotalPages   int                         `json:"totalPages"`
}

// Transactions serves GET /api/wallet/transactions (issue 10 §2.4): the
// merchant's USDC sessions with a known transaction, newest first, filtered
// by status, transaction_hash and from_date/to_date, one page of them.
func (a *API) Transactions(c *fiber.Ctx) error {
	f := models.KiraPayTxFilter{}
	var ok bool
	if s := c.Query("status"); s != "" {
		if f.Status, ok = models.KiraPayStatusFilter(s); !ok {
			return Fail(http.StatusBadRequest, "INVALID_STATUS")
		}
	}
	if h := c.Query("transaction_hash"); h != "" {
		if f.Hash, ok = models.KiraPayHashFilter(h); !ok {
			return Fail(http.StatusBadRequest, "INVALID_TRANSACTION_HASH")
		}
	}
	var err error
	if f.From, err = queryDate(c.Query("from_date"), false); err != nil {
		return err
	}
	if f.To, err = queryDate(c.Query("to_date"), true); err != nil {
		return err
	}
	if f.Page, f.Limit, err = PageParams(c); err != nil {
		return err
	}
	txs, total, err := a.Store.KiraPayTransactions(c.UserContext(), authn.Merchant(c).ID, f)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, transactionsPage{Transactions: txs, Total: total, Page: f.Page, TotalPages: Pages(total, f.Limit)})
}

// dateTimeLayouts are the accepted from_date/to_date forms with a time:
// RFC 3339 with or without fraction (the seed's "…T00:00:00.000Z"), and
// the same without an offset, read as UTC.
var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// queryDate reads a from_date/to_date value (nil when absent). A plain
// date is the start of that day UTC, or its end (the last microsecond, the
// databases' precision) when endOfDay: to_date=2025-01-31 includes all of the 31st. Anything else is
// 400 "Invalid date format", the seed's message.
func queryDate(s string, endOfDay bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, Fail(http.StatusBadRequest, "Invalid date format")
	}
	if endOfDay {
		t = t.Add(24*time.Hour - time.Microsecond)
	}
	return &t, nil
}
