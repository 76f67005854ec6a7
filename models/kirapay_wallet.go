package models

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The KiraPay wallet list (GET /api/wallet/transactions): a merchant's USDC
// sessions for which Till knows a transaction (a transfer seen or a hash
// reported), newest first by the time it became known. Every filter has an
// index of migration 0012 that serves it in order, so a page and its total
// never read the merchant's other rows.

// KiraPay status filter values (the query's status, upper-case).
const (
	KiraPayFilterPending   = "PENDING"
	KiraPayFilterCompleted = "COMPLETED"
	KiraPayFilterFailed    = "FAILED"
	KiraPayFilterCancelled = "CANCELLED"
)

// kiraPayWalletScope is the rows the wallet list can show; its literal text
// is the predicate of the 0012 partial indexes, which SQLite uses only when
// the query repeats it.
const kiraPayWalletScope = "asset = 'USDC' AND tx_known_at IS NOT NULL"

// kiraPayStatusSQL is Payment.KiraPayStatus in SQL, one letter per status
// (S Success, F Failed, P Pending); migration 0012 indexes this exact
// expression, so it must not change without a new index.
const kiraPayStatusSQL = "(CASE WHEN status = 'confirmed' THEN 'S' WHEN status = 'expired' OR (tx_id = '' AND failure <> '') THEN 'F' ELSE 'P' END)"

// kiraPayHashSQL is the hash the session itself holds, as KiraPayTx shows
// it (the credited transaction, else the wallet-reported one; empty when the
// shown hash is an orphaned transfer's). Indexed by migration 0012.
const kiraPayHashSQL = "(CASE WHEN tx_id <> '' THEN tx_id ELSE submitted_tx_hash END)"

// kiraPayStatusCodes maps each status filter to its kiraPayStatusSQL
// letter ("" for CANCELLED: Till never cancels, nothing matches).
var kiraPayStatusCodes = map[string]string{
	KiraPayFilterPending: "P", KiraPayFilterCompleted: "S", KiraPayFilterFailed: "F", KiraPayFilterCancelled: "",
}

// KiraPayStatusFilter reads a status filter value, any case; false when it
// is not one of PENDING, COMPLETED, FAILED, CANCELLED.
func KiraPayStatusFilter(s string) (string, bool) {
	up := strings.ToUpper(strings.TrimSpace(s))
	_, ok := kiraPayStatusCodes[up]
	return up, ok
}

var kiraPayHashPrefix = regexp.MustCompile(`^0[xX][0-9a-fA-F]{1,64}$`)

// KiraPayHashFilter reads a transaction_hash filter: a full hash (0x and 64
// hex digits) or a shorter 0x-hex prefix, any case; returned lower-case,
// false for anything else.
func KiraPayHashFilter(s string) (string, bool) {
	if !kiraPayHashPrefix.MatchString(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// KiraPayTxFilter narrows the wallet list. Zero values mean "any".
type KiraPayTxFilter struct {
	// Status is a KiraPayFilter* value.
	Status string
	// Hash is a lower-case full hash or 0x-hex prefix (KiraPayHashFilter).
	Hash string
	// From and To bound createdAt (tx_known_at), both inclusive.
	From, To *time.Time
	// Page counts from 1; Limit is the page size (1…100).
	Page, Limit int
}

// KiraPayTransactions lists the merchant's wallet transactions matching f,
// newest first, one page of them, with the total that match. The merchant's
// name and the orphaned transfers' hashes are read once per page, and the
// page is cached by merchant and query (see Changes): wallets poll it.
func (s *Store) KiraPayTransactions(ctx context.Context, merchantID string, f KiraPayTxFilter) ([]KiraPayTransaction, int64, error) {
	code, ok := kiraPayStatusCodes[f.Status]
	if f.Status != "" && !ok {
		return nil, 0, Invalid("status", "status must be one of PENDING, COMPLETED, FAILED, CANCELLED")
	}
	if f.Hash != "" && !kiraPayHashPrefix.MatchString(f.Hash) {
		return nil, 0, Invalid("transaction_hash", "transaction_hash must be 0x followed by 1 to 64 hexadecimal digits")
	}
	if f.Page < 1 || f.Limit < 1 || f.Limit > 100 {
		return nil, 0, Invalid("limit", "page must be at least 1 and limit between 1 and 100")
	}
	if (f.Status != "" && code == "") || (f.From != nil && f.To != nil && f.From.After(*f.To)) {
		return []KiraPayTransaction{}, 0, nil
	}
	page, err := s.caches.wallet.get(walletKey(merchantID, f), func() (walletPage, error) {
		return s.loadWalletPage(ctx, merchantID, f, code)
	})
	if err != nil {
		return nil, 0, err
	}
	// Fresh structs every call: KiraPayTx points into its payment, so
	// each call presents its own copies.
	out := make([]KiraPayTransaction, len(page.payments))
	for i := range page.payments {
		p := page.payments[i].clone()
		out[i] = KiraPayTx(KiraPayTxSource{Payment: p, Username: page.username, OrphanedTxID: page.orphans[p.ID]}, true)
	}
	return out, page.total, nil
}

// walletPage is a cached page of wallet transactions: the sessions, the
// total that match, the merchant's name and the latest orphaned hashes.
type walletPage struct {
	payments []Payment
	total    int64
	username string
	orphans  map[string]string
}

// walletKey names a wallet query in the cache.
func walletKey(merchantID string, f KiraPayTxFilter) string {
	t := func(p *time.Time) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(p.UnixMicro(), 10)
	}
	return strings.Join([]string{merchantID, f.Status, f.Hash, t(f.From), t(f.To), strconv.Itoa(f.Page), strconv.Itoa(f.Limit)}, "|")
}

// loadWalletPage reads one page of KiraPayTransactions from the database.
func (s *Store) loadWalletPage(ctx context.Context, merchantID string, f KiraPayTxFilter, code string) (walletPage, error) {
	where := func() *gorm.DB {
		q := s.db.R(ctx).Model(&Payment{})
		if f.Hash != "" {
			q = kiraPayHashCandidates(q, merchantID, f.Hash)
		}
		q = q.Where("merchant_id = ? AND "+kiraPayWalletScope, merchantID)
		if code != "" {
			q = q.Where(kiraPayStatusSQL+" = ?", code)
		}
		if f.From != nil {
			q = q.Where("tx_known_at >= ?", f.From.UTC())
		}
		if f.To != nil {
			q = q.Where("tx_known_at <= ?", f.To.UTC())
		}
		return q
	}
	var total int64
	if err := where().Count(&total).Error; err != nil {
		return walletPage{}, fmt.Errorf("models: count wallet transactions: %w", err)
	}
	offset := (f.Page - 1) * f.Limit
	if total <= int64(offset) {
		return walletPage{total: total}, nil
	}
	var ps []Payment
	if err := where().Select("payments.*").Order("tx_known_at DESC, id DESC").Limit(f.Limit).Offset(offset).Find(&ps).Error; err != nil {
		return walletPage{}, fmt.Errorf("models: list wallet transactions: %w", err)
	}
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return walletPage{}, err
	}
	orphans, err := s.latestOrphanedTxIDs(ctx, ps)
	if err != nil {
		return walletPage{}, err
	}
	return walletPage{payments: ps, total: total, username: m.Name, orphans: orphans}, nil
}

// kiraPayHashCandidates narrows q to the sessions whose shown hash
// (KiraPayTx) starts with prefix: the session's own hash (kiraPayHashSQL),
// or, for a session holding none, its latest orphaned transfer's. The
// candidates come from two index range scans (payments_kirapay_hash_idx,
// transfers_orphaned_tx_idx) and drive the query (CROSS JOIN keeps SQLite
// from scanning the merchant's rows to probe them instead); the row then
// must hold that hash itself or none. Hashes are stored lower-case; the
// range [prefix, next) is "starts with" for hex strings on any collation
// (next never leaves the hex digits).
func kiraPayHashCandidates(q *gorm.DB, merchantID, prefix string) *gorm.DB {
	lo, hi := prefix, hexPrefixEnd(prefix)
	return q.Table(`(
SELECT id AS cid FROM payments WHERE merchant_id = ? AND `+kiraPayWalletScope+` AND `+kiraPayHashSQL+` >= ? AND `+kiraPayHashSQL+` < ?
UNION
SELECT t.payment_id FROM transfers t WHERE t.orphaned_at IS NOT NULL AND t.tx_id >= ? AND t.tx_id < ?
 AND NOT EXISTS (SELECT 1 FROM transfers t2 WHERE t2.payment_id = t.payment_id AND t2.orphaned_at IS NOT NULL
  AND (t2.orphaned_at > t.orphaned_at OR (t2.orphaned_at = t.orphaned_at AND t2.id > t.id)))
) AS c CROSS JOIN payments`, merchantID, lo, hi, lo, hi).
		Where("payments.id = c.cid").
		Where("("+kiraPayHashSQL+" >= ? AND "+kiraPayHashSQL+" < ?) OR (tx_id = '' AND submitted_tx_hash = '')", lo, hi)
}

// hexPrefixEnd is the least string above every lower-case hex string that
// starts with prefix ("0x12f" → "0x13", "0xff" → "0y").
func hexPrefixEnd(prefix string) string {
	const digits = "0123456789abcdef"
	b := []byte(prefix)
	for i := len(b) - 1; i >= 2; i-- {
		if b[i] != 'f' {
			b[i] = digits[strings.IndexByte(digits, b[i])+1]
			return string(b[:i+1])
		}
	}
	return "0y"
}

// latestOrphanedTxIDs is, per payment of ps, the hash of its latest
// orphaned transfer (absent for none), in one query per 500 payments.
func (s *Store) latestOrphanedTxIDs(ctx context.Context, ps []Payment) (map[string]string, error) {
	out := map[string]string{}
	ids := make([]string, len(ps))
	for i := range ps {
		ids[i] = ps[i].ID
	}
	for start := 0; start < len(ids); start += 500 {
		var ts []Transfer
		err := s.db.R(ctx).Select("payment_id", "tx_id").
			Where("payment_id IN ? AND orphaned_at IS NOT NULL", ids[start:min(start+500, len(ids))]).
			Order("orphaned_at, id").Find(&ts).Error
		if err != nil {
			return nil, fmt.Errorf("models: orphaned transfers: %w", err)
		}
		for _, t := range ts {
			out[*t.PaymentID] = t.TxID // later rows win: the latest
		}
	}
	return out, nil
}
