package models

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrations is the ordered list of schema changes. Order is important: add new
// migrations at the end and never edit one that has shipped. Each is plain SQL
// written once for both engines; sqlDDL swaps the few type names that differ.
var migrations = []*gormigrate.Migration{
	{ID: "0001_merchants", Migrate: execDDL(`
CREATE TABLE merchants (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL,
	name            TEXT NOT NULL,
	password_hash   TEXT NOT NULL,
	kaspa_address   TEXT NOT NULL DEFAULT '',
	api_key_hash    TEXT NOT NULL,
	api_key_sealed  TEXT NOT NULL,
	payment_expiry  INTEGER NOT NULL DEFAULT 30,
	created_at      {{TS}} NOT NULL,
	updated_at      {{TS}} NOT NULL
);
CREATE UNIQUE INDEX merchants_email_key ON merchants (email);
CREATE UNIQUE INDEX merchants_api_key_hash_key ON merchants (api_key_hash);
`)},
	{ID: "0002_payments", Migrate: execDDL(`
ALTER TABLE merchants ADD COLUMN kaspa_kpub TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN kaspa_next_index BIGINT NOT NULL DEFAULT 0;
ALTER TABLE merchants ADD COLUMN required_confirmations INTEGER NOT NULL DEFAULT 100;
CREATE TABLE payment_links (
	id              TEXT PRIMARY KEY,
	merchant_id     TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	slug            TEXT NOT NULL,
	title           TEXT NOT NULL,
	description     TEXT NOT NULL DEFAULT '',
	currency        TEXT NOT NULL,
	amount          BIGINT NOT NULL,
	chain           TEXT NOT NULL DEFAULT 'kaspa',
	receiver        TEXT NOT NULL DEFAULT '',
	expiry_minutes  INTEGER,
	status          TEXT NOT NULL,
	success_message TEXT NOT NULL DEFAULT '',
	redirect_url    TEXT NOT NULL DEFAULT '',
	expires_at      {{TS}},
	created_at      {{TS}} NOT NULL,
	updated_at      {{TS}} NOT NULL
);
CREATE UNIQUE INDEX payment_links_slug_key ON payment_links (slug);
CREATE INDEX payment_links_merchant_idx ON payment_links (merchant_id, created_at);
CREATE TABLE payments (
	id                     TEXT PRIMARY KEY,
	merchant_id            TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	link_id                TEXT REFERENCES payment_links(id) ON DELETE SET NULL,
	chain                  TEXT NOT NULL,
	asset                  TEXT NOT NULL,
	pay_address            TEXT NOT NULL,
	derivation_index       BIGINT,
	amount_expected        BIGINT NOT NULL,
	amount_received        BIGINT NOT NULL DEFAULT 0,
	price_currency         TEXT NOT NULL,
	price_amount           BIGINT NOT NULL,
	rate                   TEXT NOT NULL DEFAULT '',
	rate_source            TEXT NOT NULL DEFAULT '',
	rate_at                {{TS}},
	status                 TEXT NOT NULL,
	late                   BOOLEAN NOT NULL DEFAULT FALSE,
	confirmations          BIGINT NOT NULL DEFAULT 0,
	required_confirmations INTEGER NOT NULL,
	start_daa_score        BIGINT NOT NULL DEFAULT 0,
	tx_id                  TEXT NOT NULL DEFAULT '',
	sender_address         TEXT NOT NULL DEFAULT '',
	customer_email         TEXT NOT NULL DEFAULT '',
	customer_name          TEXT NOT NULL DEFAULT '',
	metadata               TEXT NOT NULL DEFAULT '{}',
	visitor                TEXT NOT NULL DEFAULT '',
	expires_at             {{TS}} NOT NULL,
	detected_at            {{TS}},
	confirmed_at           {{TS}},
	expired_at             {{TS}},
	created_at             {{TS}} NOT NULL,
	updated_at             {{TS}} NOT NULL
);
CREATE INDEX payments_merchant_created_idx ON payments (merchant_id, created_at, id);
CREATE INDEX payments_link_idx ON payments (link_id, created_at);
CREATE INDEX payments_open_idx ON payments (status, expires_at);
CREATE INDEX payments_address_idx ON payments (chain, pay_address, amount_expected);
CREATE INDEX payments_tx_idx ON payments (tx_id);
CREATE UNIQUE INDEX payments_open_amount_key ON payments (chain, pay_address, amount_expected) WHERE status = 'pending' AND derivation_index IS NULL;
CREATE TABLE transfers (
	id                   TEXT PRIMARY KEY,
	chain                TEXT NOT NULL,
	tx_id                TEXT NOT NULL,
	output_index         BIGINT NOT NULL,
	address              TEXT NOT NULL,
	amount               BIGINT NOT NULL,
	merchant_id          TEXT REFERENCES merchants(id) ON DELETE CASCADE,
	payment_id           TEXT REFERENCES payments(id) ON DELETE SET NULL,
	block_daa_score      BIGINT,
	accepting_blue_score BIGINT,
	block_time           {{TS}},
	sender_address       TEXT NOT NULL DEFAULT '',
	details_fetched      BOOLEAN NOT NULL DEFAULT FALSE,
	details_attempts     INTEGER NOT NULL DEFAULT 0,
	seen_at              {{TS}} NOT NULL,
	created_at           {{TS}} NOT NULL
);
CREATE UNIQUE INDEX transfers_outpoint_key ON transfers (chain, tx_id, output_index);
CREATE INDEX transfers_payment_idx ON transfers (payment_id);
CREATE INDEX transfers_merchant_idx ON transfers (merchant_id, seen_at);
CREATE INDEX transfers_details_idx ON transfers (details_fetched, seen_at);
CREATE TABLE chain_states (
	chain          TEXT PRIMARY KEY,
	network        TEXT NOT NULL DEFAULT '',
	daa_score      BIGINT NOT NULL DEFAULT 0,
	blue_score     BIGINT NOT NULL DEFAULT 0,
	observed_at    {{TS}} NOT NULL
);
CREATE TABLE events (
	id          TEXT PRIMARY KEY,
	merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	type        TEXT NOT NULL,
	payment_id  TEXT REFERENCES payments(id) ON DELETE SET NULL,
	data        TEXT NOT NULL,
	created_at  {{TS}} NOT NULL
);
CREATE INDEX events_merchant_idx ON events (merchant_id, created_at);
CREATE INDEX events_payment_idx ON events (payment_id);
`)},
	{ID: "0003_webhooks", Migrate: execDDL(`
CREATE TABLE webhook_endpoints (
	id            TEXT PRIMARY KEY,
	merchant_id   TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	url           TEXT NOT NULL,
	events        TEXT NOT NULL,
	secret_sealed TEXT NOT NULL,
	dialect       TEXT NOT NULL DEFAULT 'kaspay',
	is_active     BOOLEAN NOT NULL DEFAULT TRUE,
	description   TEXT NOT NULL DEFAULT '',
	created_at    {{TS}} NOT NULL,
	updated_at    {{TS}} NOT NULL
);
CREATE INDEX webhook_endpoints_merchant_idx ON webhook_endpoints (merchant_id, created_at);
CREATE TABLE webhook_deliveries (
	id               TEXT PRIMARY KEY,
	event_id         TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
	endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
	merchant_id      TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	status           TEXT NOT NULL,
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  {{TS}} NOT NULL,
	last_status_code INTEGER,
	last_error       TEXT NOT NULL DEFAULT '',
	delivered_at     {{TS}},
	locked_until     {{TS}},
	lease_token      TEXT,
	created_at       {{TS}} NOT NULL,
	updated_at       {{TS}} NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_event_endpoint_key ON webhook_deliveries (event_id, endpoint_id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at);
CREATE TABLE webhook_attempts (
	id               TEXT PRIMARY KEY,
	delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
	attempted_at     {{TS}} NOT NULL,
	status_code      INTEGER,
	latency_ms       BIGINT NOT NULL DEFAULT 0,
	error            TEXT NOT NULL DEFAULT '',
	response_snippet TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);
`)},
	{ID: "0004_payment_usd_value_and_indexes", Migrate: execDDL(`
ALTER TABLE payments ADD COLUMN usd_cents BIGINT;
CREATE INDEX payments_merchant_status_idx ON payments (merchant_id, status, confirmed_at);
CREATE INDEX payments_visitor_idx ON payments (link_id, visitor);
`)},
	{ID: "0005_payment_lookup_indexes", Migrate: execDDL(`
DROP INDEX payments_address_idx;
CREATE INDEX payments_address_idx ON payments (pay_address, amount_expected);
CREATE INDEX payments_derived_address_idx ON payments (pay_address, created_at) WHERE derivation_index IS NOT NULL;
`)},
	{ID: "0006_late_window_amount_index", Migrate: execDDL(`
CREATE INDEX payments_late_amount_idx ON payments (pay_address, amount_expected, expires_at) WHERE status = 'expired' AND tx_id = '' AND derivation_index IS NULL;
`)},
	// 0007: credits that the chain took back (reversed, kept), the missing-
	// since mark that starts their grace period, a payment activity log for
	// what sends no event (reversals, manual assignment), revocable
	// credentials (a per-merchant epoch and server-side browser sessions) and
	// a rate-limit table shared by every process on one database.
	{ID: "0007_reversals_sessions_limits", Migrate: execDDL(`
ALTER TABLE transfers ADD COLUMN reversed_at {{TS}};
ALTER TABLE transfers ADD COLUMN missing_since {{TS}};
ALTER TABLE transfers ADD COLUMN coinbase BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE payment_activities (
	id          TEXT PRIMARY KEY,
	payment_id  TEXT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
	merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	tx_id       TEXT NOT NULL DEFAULT '',
	amount      BIGINT NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT '',
	created_at  {{TS}} NOT NULL
);
CREATE INDEX payment_activities_payment_idx ON payment_activities (payment_id, created_at);
ALTER TABLE merchants ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
CREATE TABLE auth_sessions (
	id           TEXT PRIMARY KEY,
	merchant_id  TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
	epoch        BIGINT NOT NULL,
	user_agent   TEXT NOT NULL DEFAULT '',
	created_at   {{TS}} NOT NULL,
	last_seen_at {{TS}} NOT NULL,
	expires_at   {{TS}} NOT NULL,
	revoked_at   {{TS}}
);
CREATE INDEX auth_sessions_merchant_idx ON auth_sessions (merchant_id, created_at);
CREATE TABLE rate_limits (
	bucket       TEXT PRIMARY KEY,
	window_start {{TS}} NOT NULL,
	hits         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
CREATE INDEX transfers_reversed_idx ON transfers (payment_id) WHERE reversed_at IS NOT NULL;
`)},
	// 0008: a second chain family (USDC on EVM chains) on the same tables.
	// Transfers of a block that left the canonical chain are kept, marked
	// orphaned_at, so the outpoint key only spans live rows: the same
	// (chain, tx, log index) can come back in a new block. A target-less
	// ON CONFLICT DO NOTHING still honours the partial index on both
	// engines; one that names the columns must also name its predicate.
	// "cursor" is a non-reserved word on Postgres and no keyword on SQLite.
	{ID: "0008_evm", Migrate: execDDL(`
ALTER TABLE merchants ADD COLUMN evm_address TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN start_block BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN token_address TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN submitted_tx_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN tx_known_at {{TS}};
ALTER TABLE payments ADD COLUMN failure TEXT NOT NULL DEFAULT '';
ALTER TABLE transfers ADD COLUMN block_number BIGINT;
ALTER TABLE transfers ADD COLUMN block_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE transfers ADD COLUMN token_address TEXT NOT NULL DEFAULT '';
ALTER TABLE transfers ADD COLUMN orphaned_at {{TS}};
DROP INDEX transfers_outpoint_key;
CREATE UNIQUE INDEX transfers_outpoint_key ON transfers (chain, tx_id, output_index) WHERE orphaned_at IS NULL;
CREATE INDEX transfers_block_idx ON transfers (chain, block_number) WHERE orphaned_at IS NULL;
CREATE INDEX payments_chain_open_idx ON payments (status, chain, expires_at);
ALTER TABLE chain_states ADD COLUMN chain_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chain_states ADD COLUMN head BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chain_states ADD COLUMN cursor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chain_states ADD COLUMN cursor_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE chain_states ADD COLUMN cursor_time {{TS}};
`)},
	// 0009: two API dialects over one domain. A link records the API key
	// that created it (null: dashboard or JWT); an event belongs to one
	// dialect (existing rows are KasPay's; webhook_endpoints.dialect exists
	// since 0003). The KiraPay _id of an entity is the first 24 hex digits
	// of its UUID without dashes (ShortIDExpr); these unique expression
	// indexes let it be looked up without a stored column.
	{ID: "0009_dialects", Migrate: execDDL(`
ALTER TABLE payment_links ADD COLUMN api_key_id TEXT;
ALTER TABLE events ADD COLUMN dialect TEXT NOT NULL DEFAULT 'kaspay';
CREATE UNIQUE INDEX merchants_short_id_key ON merchants ((substr(replace(id, '-', ''), 1, 24)));
CREATE UNIQUE INDEX payment_links_short_id_key ON payment_links ((substr(replace(id, '-', ''), 1, 24)));
CREATE UNIQUE INDEX payments_short_id_key ON payments ((substr(replace(id, '-', ''), 1, 24)));
CREATE UNIQUE INDEX webhook_endpoints_short_id_key ON webhook_endpoints ((substr(replace(id, '-', ''), 1, 24)));
CREATE UNIQUE INDEX webhook_deliveries_short_id_key ON webhook_deliveries ((substr(replace(id, '-', ''), 1, 24)));
`)},
	// 0010: KiraPay links. A link keeps its receiver as given (the KiraPay
	// API echoes it; '' for older links and the merchant's own address),
	// and the KiraPay list (a merchant's USDC links, newest first) reads
	// one index for its count and its pages.
	{ID: "0010_kirapay_links", Migrate: execDDL(`
ALTER TABLE payment_links ADD COLUMN receiver_given TEXT NOT NULL DEFAULT '';
CREATE INDEX payment_links_merchant_currency_idx ON payment_links (merchant_id, currency, created_at, id);
`)},
	// 0011: the KiraPay deliveries listing filters one merchant's endpoints
	// by status, newest first, and counts the matches: this index serves the
	// page and the count for each endpoint without reading the rows.
	{ID: "0011_kirapay_webhooks", Migrate: execDDL(`
CREATE INDEX webhook_deliveries_endpoint_status_idx ON webhook_deliveries (endpoint_id, status, created_at);
`)},
	// 0012: the KiraPay wallet list. createdAt is tx_known_at, set since
	// the presenter landed: older sessions take the first credit's time.
	// One partial index per query path, each over the list's scope (USDC
	// sessions with a known transaction), ordered as the list is: all rows
	// and date ranges; a status (kiraPayStatusSQL, the presenter's status in
	// SQL); a hash prefix (kiraPayHashSQL, the session's own hash); and
	// orphaned transfers by hash, for sessions whose shown hash is one.
	{ID: "0012_kirapay_wallet", Migrate: execDDL(`
UPDATE payments SET tx_known_at = detected_at WHERE tx_known_at IS NULL AND detected_at IS NOT NULL;
UPDATE payments SET tx_known_at = (SELECT MIN(t.seen_at) FROM transfers t WHERE t.payment_id = payments.id) WHERE tx_known_at IS NULL AND asset = 'USDC' AND EXISTS (SELECT 1 FROM transfers t WHERE t.payment_id = payments.id);
CREATE INDEX payments_kirapay_idx ON payments (merchant_id, tx_known_at, id) WHERE asset = 'USDC' AND tx_known_at IS NOT NULL;
CREATE INDEX payments_kirapay_status_idx ON payments (merchant_id, (CASE WHEN status = 'confirmed' THEN 'S' WHEN status = 'expired' OR (tx_id = '' AND failure <> '') THEN 'F' ELSE 'P' END), tx_known_at, id) WHERE asset = 'USDC' AND tx_known_at IS NOT NULL;
CREATE INDEX payments_kirapay_hash_idx ON payments (merchant_id, (CASE WHEN tx_id <> '' THEN tx_id ELSE submitted_tx_hash END)) WHERE asset = 'USDC' AND tx_known_at IS NOT NULL;
CREATE INDEX transfers_orphaned_tx_idx ON transfers (tx_id) WHERE orphaned_at IS NOT NULL;
`)},
	// 0013: KiraPay events. transaction.created is sent at most once per
	// session and transaction hash: the event's subject (the hash; null
	// for every other event) is unique per payment, so two processes
	// crediting or reporting the same transaction cannot both write it.
	{ID: "0013_kirapay_events", Migrate: execDDL(`
ALTER TABLE events ADD COLUMN subject TEXT;
CREATE UNIQUE INDEX events_subject_key ON events (payment_id, subject) WHERE subject IS NOT NULL;
`)},
	// 0014: indexes for data retention (Store.Prune): attempts that still
	// have a body, finished deliveries by last change, events by age. The
	// partial indexes' predicates are the ones Prune's queries spell out.
	{ID: "0014_retention", Migrate: execDDL(`
CREATE INDEX webhook_attempts_body_idx ON webhook_attempts (attempted_at) WHERE response_snippet <> '' OR error <> '';
CREATE INDEX webhook_deliveries_final_idx ON webhook_deliveries (updated_at) WHERE status <> 'pending';
CREATE INDEX events_created_idx ON events (created_at);
`)},
	// 0015: idempotency keys of create requests (models/idempotency.go),
	// one row per scope (merchant or client IP) and key, pruned by age.
	{ID: "0015_idempotency", Migrate: execDDL(`
CREATE TABLE idempotency_keys (
	scope        TEXT NOT NULL,
	idem_key     TEXT NOT NULL,
	fingerprint  TEXT NOT NULL,
	status       INTEGER NOT NULL DEFAULT 0,
	content_type TEXT NOT NULL DEFAULT '',
	body         TEXT NOT NULL DEFAULT '',
	created_at   {{TS}} NOT NULL,
	PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
`)},
	// 0016: the address-in-use check of kpub sessions (models/paymentinsert.go
	// addressWatchedSQL) by address, chain and status. Without it a planner
	// whose statistics predate a burst of pending sessions (a fresh install)
	// read them all through payments_chain_open_idx.
	{ID: "0016_watched_address_index", Migrate: execDDL(`
CREATE INDEX payments_watched_address_idx ON payments (pay_address, chain, status, expires_at);
`)},
	// 0017: the watchers read only the sessions changed since their last
	// cycle (models.OpenIndex); every payment write sets updated_at. The
	// index leads with updated_at, not chain: a (chain, …) index drew
	// Postgres without statistics away from payments_watched_address_idx
	// for kpub's address check (as 0008's first column order did). The
	// receipt check reads only sessions with a wallet-reported transaction
	// (SubmittedTxsToCheck), not every pending one.
	{ID: "0017_watch_indexes", Migrate: execDDL(`
CREATE INDEX payments_updated_idx ON payments (updated_at, chain);
CREATE INDEX payments_submitted_idx ON payments (chain, id) WHERE status = 'pending' AND submitted_tx_hash <> '' AND failure = '';
`)},
	// 0018: fewer index entries per new session (issue 12: on SQLite's single
	// writer every index of a new row is a B-tree insert). Partial where the
	// key is empty for most new rows: the paying transaction (tx_id, set when
	// paid) and the checkout visitor (none for API sessions); the visitor
	// index also carries created_at, so VisitorPayment's newest-first read is
	// the index alone. Their queries state the predicate (tx_id <> '',
	// visitor <> '') so a planner without statistics can use them.
	// payments_open_idx (status, expires_at) goes: payments_chain_open_idx
	// (status, chain, expires_at) leads with status too and serves every
	// query it did (TestIndexPlans).
	{ID: "0018_partial_indexes", Migrate: execDDL(`
DROP INDEX payments_tx_idx;
CREATE INDEX payments_tx_idx ON payments (tx_id) WHERE tx_id <> '';
DROP INDEX payments_visitor_idx;
CREATE INDEX payments_visitor_idx ON payments (link_id, visitor, created_at) WHERE visitor <> '';
DROP INDEX payments_open_idx;
`)},
	// 0019: the watchers' read of changed rows (OpenIndex, chain = ? AND
	// updated_at > ?) reads only its own chain: 0017's index led with
	// updated_at, so each watcher read every chain's rows written in the
	// window (on SQLite 12 % of Till's CPU creating USDC sessions, most of
	// it the Kaspa watcher's). Led by chain, it is partial on updated_at IS
	// NOT NULL — true of every row (the column is NOT NULL), so it costs a
	// write what 0017's did — which a planner uses only for a statement that
	// bounds updated_at: kpub's address check (chain = ? without updated_at)
	// cannot take it, the trap 0017 avoided (TestIndexPlans).
	{ID: "0019_chain_updated_index", Migrate: execDDL(`
DROP INDEX payments_updated_idx;
CREATE INDEX payments_chain_updated_idx ON payments (chain, updated_at) WHERE updated_at IS NOT NULL;
`)},
	// 0020: one index entry fewer per new session (issue 12). 0004's
	// payments_merchant_status_idx (merchant_id, status, confirmed_at) took
	// an entry for every session and moved at every status change; of the
	// statements the ./models, ./web, ./handlers and ./workers/kaspa suites
	// send, explained one by one, only the daily revenue needed it (by
	// merchant, confirmed, confirmed_at range): that read keeps a partial
	// index of confirmed sessions, which a session enters once, when
	// confirmed. The merchant's grouped counts read all its rows either way
	// (payments_merchant_created_idx); lists by status go to
	// payments_merchant_created_idx or, for a status with few rows,
	// payments_chain_open_idx, which leads with status (Postgres at 100,000
	// ANALYZEd rows, custom and generic plans: under 0.2 ms).
	{ID: "0020_merchant_confirmed_index", Migrate: execDDL(`
DROP INDEX payments_merchant_status_idx;
CREATE INDEX payments_merchant_confirmed_idx ON payments (merchant_id, confirmed_at) WHERE status = 'confirmed';
`)},
	// 0021 (Postgres only): a prepared statement's generic plan cannot see
	// the address, so Postgres costs "pay_address = $1" as 1/n_distinct of
	// the table. ANALYZE counts the addresses in its sample: with a shared
	// address holding most of the history (1M past sessions of one
	// single-address merchant) it found ~10, so kpub's address check was
	// costed as reading a tenth of the table, the generic plan lost to the
	// custom ones, and Postgres planned every kpub insert afresh: ~190 µs
	// of planning per session, more than its execution (pg_stat_statements:
	// plans = calls; docs/BENCHMARKS.md, "Postgres at 1M rows"). Declared
	// instead: half the rows have an address of their own (every kpub
	// session does). Estimates for a shared address are unchanged: ANALYZE
	// lists it among the most common values with its real share, which
	// custom plans use. The declaration takes effect at the next ANALYZE,
	// run here only on a table with rows (analyzeIfRows).
	{ID: "0021_pay_address_distinct", Migrate: onPostgres(`
ALTER TABLE payments ALTER COLUMN pay_address SET (n_distinct = -0.5);
`, analyzeIfRows("payments"))},
	// 0022: one index entry fewer per kpub session (issue 12: on SQLite's
	// single writer each was a random B-tree leaf, and its WAL frames).
	// 0005's payments_address_idx (pay_address, amount_expected) serves
	// the shared-address reads by amount (the credit match, the reversal's
	// amount-taken check), which never match a session on an address of
	// its own: partial on derivation_index IS NULL, which those reads state
	// as a literal. The derived match reads payments_derived_address_idx;
	// the reads of an address's sessions of either kind (the credit's
	// owner, the assignment candidates) payments_watched_address_idx
	// (TestAddressPlans).
	{ID: "0022_shared_address_index", Migrate: execDDL(`
DROP INDEX payments_address_idx;
CREATE INDEX payments_address_idx ON payments (pay_address, amount_expected) WHERE derivation_index IS NULL;
`)},
}

// analyzeIfRows returns a step that runs ANALYZE on table when it has rows.
// An empty table is left unanalyzed: ANALYZE would record it as empty
// (reltuples 0), where a never-analyzed one is costed at no fewer than 10
// pages. Plans made on a table recorded empty are sequential scans, and a
// bulk load in one transaction (a restore, the bench's prefill) keeps
// them, since autovacuum cannot analyze rows not yet committed: a scan of
// the growing table per row (100,000 open sessions prefilled in 533 s
// instead of 15 s). Autovacuum analyzes the table once it has rows.
func analyzeIfRows(table string) gormigrate.MigrateFunc {
	return func(tx *gorm.DB) error {
		var rows bool
		if err := tx.Raw("SELECT EXISTS (SELECT 1 FROM " + table + ")").Scan(&rows).Error; err != nil {
			return err
		}
		if !rows {
			return nil
		}
		return tx.Exec("ANALYZE " + table).Error
	}
}

// onPostgres returns a migration step that runs ddl, then each of then, on
// Postgres only (a planner setting SQLite has no counterpart for).
func onPostgres(ddl string, then ...gormigrate.MigrateFunc) gormigrate.MigrateFunc {
	run := execDDL(ddl)
	return func(tx *gorm.DB) error {
		if Dialect(tx.Name()) != Postgres {
			return nil
		}
		if err := run(tx); err != nil {
			return err
		}
		for _, step := range then {
			if err := step(tx); err != nil {
				return err
			}
		}
		return nil
	}
}

// execDDL returns a migration step that runs each statement of ddl in order.
func execDDL(ddl string) gormigrate.MigrateFunc {
	return func(tx *gorm.DB) error {
		for _, stmt := range strings.Split(sqlDDL(Dialect(tx.Name()), ddl), ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("%w\n%s", err, stmt)
			}
		}
		return nil
	}
}

// sqlDDL replaces the type placeholders used in migrations with the engine's
// own names: {{TS}} is a UTC timestamp, {{JSON}} a JSON document.
func sqlDDL(d Dialect, ddl string) string {
	ts, js := "DATETIME", "TEXT"
	if d == Postgres {
		ts, js = "TIMESTAMPTZ", "JSONB"
	}
	return strings.NewReplacer("{{TS}}", ts, "{{JSON}}", js).Replace(ddl)
}

// Migrate applies every pending migration in one transaction. On Postgres an
// advisory lock makes concurrent `till serve` start-ups take turns.
func (db *DB) Migrate(ctx context.Context) error {
	return db.withMigrationLock(ctx, func(conn *gorm.DB) error {
		m := gormigrate.New(conn, &gormigrate.Options{
			TableName:                 "schema_migrations",
			IDColumnName:              "id",
			IDColumnSize:              255,
			UseTransaction:            true,
			ValidateUnknownMigrations: true,
		}, migrations)
		if err := m.Migrate(); err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
		return nil
	})
}

// PendingMigrations lists migrations not yet applied (for `till migrate`'s log).
func (db *DB) PendingMigrations(ctx context.Context) ([]string, error) {
	applied := map[string]bool{}
	w := db.W(ctx)
	if w.Migrator().HasTable("schema_migrations") {
		var ids []string
		if err := w.Table("schema_migrations").Pluck("id", &ids).Error; err != nil {
			return nil, fmt.Errorf("models: read migrations: %w", err)
		}
		for _, id := range ids {
			applied[id] = true
		}
	}
	var pending []string
	for _, m := range migrations {
		if !applied[m.ID] {
			pending = append(pending, m.ID)
		}
	}
	return pending, nil
}

// migrationLockKey is an arbitrary constant naming Till's migration lock.
const migrationLockKey = 7_114_111_001

func (db *DB) withMigrationLock(ctx context.Context, fn func(*gorm.DB) error) error {
	if db.Dialect != Postgres {
		return fn(db.base.WithContext(ctx))
	}
	// Session-level advisory locks belong to one connection, so pin one.
	return db.base.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockKey).Error; err != nil {
			return fmt.Errorf("models: migration lock: %w", err)
		}
		defer conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockKey)
		return fn(conn)
	})
}
