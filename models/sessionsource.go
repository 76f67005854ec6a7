package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// sessionSource is what opening a session needs besides the request: the
// link, the merchant settings a session uses (ID, payout addresses, kpub,
// expiry and confirmation defaults; the other Merchant fields stay zero) and
// the chain's last observed position (zero when never observed).
type sessionSource struct {
	link     PaymentLink
	merchant Merchant
	// daaScore is Kaspa's, head and cursor an EVM chain's, as ChainState.
	daaScore, head, cursor int64
}

// linkSource is the cached half of a sessionSource that links and
// merchants decide: the link by slug and its merchant's session settings.
type linkSource struct {
	link     PaymentLink
	merchant Merchant
}

// chainPosition is the cached half that chain_states decides: a chain's
// last observed position, as sessionSource.
type chainPosition struct{ daaScore, head, cursor int64 }

// sessionSourceSQL reads the link and its merchant's session settings in
// one statement on the read handle.
const sessionSourceSQL = `SELECT l.id, l.merchant_id, l.slug, l.title, l.description, l.currency, l.amount,
 l.chain, l.receiver, l.receiver_given, l.expiry_minutes, l.status, l.success_message, l.redirect_url,
 l.api_key_id, l.expires_at, l.created_at, l.updated_at,
 m.kaspa_address, m.kaspa_kpub, m.evm_address, m.payment_expiry, m.required_confirmations
FROM payment_links l
JOIN merchants m ON m.id = l.merchant_id
WHERE l.slug = ?`

// chainPositionSQL reads a chain's last observed position.
const chainPositionSQL = `SELECT c.daa_score, c.head, c.cursor FROM chain_states c WHERE c.chain = ?`

// sessionSource returns what a session on the link with slug needs.
//
// Every session creation asks for it, so both halves are cached reads (see
// Changes): the link and merchant under the links and merchants groups, the
// chain position under the chain-state group of its own, so that a watcher
// cycle does not invalidate the link caches and a link edit does not drop
// the chain positions. Each call gets its own copy.
//
// Staleness: a link edited, paused or expired and a merchant's payout
// address or kpub changed are seen by the next session at once in this
// process (the write bumps its group when it commits, before the writer's
// call returns) and after the NOTIFY in other Postgres processes. The chain
// position (a session's StartDaaScore or StartBlock: a credit older than it
// never pays the session) is never older than the last committed
// chain_states write this process could know of when the request began:
// the entry served was read after the stamp of its group was taken, and any
// commit counted since changes that stamp. The watcher writes chain_states
// once per cycle after recording the cycle's credits, so the value is up to
// one poll interval old, as it was read uncached. Writes this process cannot
// hear (a NOTIFY still on its way; SQLite serves a single process) are
// bounded by CacheTTL, and while Postgres's listener is down every read goes
// to the database.
func (s *Store) sessionSource(ctx context.Context, slug string) (*sessionSource, error) {
	ls, err := s.caches.linkSources.get(slug, func() (linkSource, error) { return s.loadLinkSource(ctx, slug) })
	if err != nil {
		return nil, err
	}
	chain := ls.link.Chain
	if chain == "" { // a link made before the chain column was filled (IsKaspa)
		chain = chainKaspa
	}
	pos, err := s.caches.chainPositions.get(chain, func() (chainPosition, error) { return s.loadChainPosition(ctx, chain) })
	if err != nil {
		return nil, err
	}
	return &sessionSource{link: *ls.link.clone(), merchant: ls.merchant,
		daaScore: pos.daaScore, head: pos.head, cursor: pos.cursor}, nil
}

// loadLinkSource reads the link with slug and its merchant (no cache).
func (s *Store) loadLinkSource(ctx context.Context, slug string) (linkSource, error) {
	var src linkSource
	l, m := &src.link, &src.merchant
	err := s.db.R(ctx).Raw(sessionSourceSQL, slug).Row().Scan(
		&l.ID, &l.MerchantID, &l.Slug, &l.Title, &l.Description, &l.Currency, &l.Amount,
		&l.Chain, &l.Receiver, &l.ReceiverGiven, &l.ExpiryMinutes, &l.Status, &l.SuccessMessage, &l.RedirectURL,
		&l.APIKeyID, &l.ExpiresAt, &l.CreatedAt, &l.UpdatedAt,
		&m.KaspaAddress, &m.KaspaKpub, &m.EVMAddress, &m.PaymentExpiry, &m.RequiredConfirmations)
	if errors.Is(err, sql.ErrNoRows) {
		return src, &NotFoundError{What: "Payment link"}
	}
	if err != nil {
		return src, fmt.Errorf("models: link by slug: %w", err)
	}
	m.ID = l.MerchantID
	return src, nil
}

// loadChainPosition reads chain's last observed position (no cache; zero
// when never observed).
func (s *Store) loadChainPosition(ctx context.Context, chain string) (chainPosition, error) {
	var pos chainPosition
	err := s.db.R(ctx).Raw(chainPositionSQL, chain).Row().Scan(&pos.daaScore, &pos.head, &pos.cursor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return pos, fmt.Errorf("models: chain state: %w", err)
	}
	return pos, nil
}
