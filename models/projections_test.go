package models_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"till/models"
)

// probe is a stand-in second dialect: it names every transition, so tests
// can see transitions the KasPay projection is silent about.
const probeDialect = "probe"

func probeProjection(p *models.Payment, t models.Transition) (string, any, bool) {
	return "probe." + string(t), map[string]any{"id": p.ID, "status": string(p.Status)}, true
}

func withProbe() models.Projections {
	return append(models.DefaultProjections(), models.Projection{Dialect: probeDialect, Project: probeProjection})
}

// TestProjectionsTable: each transition × dialect yields zero or one event
// of the right type, with the dialect's own snapshot.
func TestProjectionsTable(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	link := "link-1"
	kaspa := &models.Payment{ID: "11111111-2222-3333-4444-555555555555", Chain: models.ChainKaspa, PayAddress: "kaspa:qqtest",
		Status: models.StatusConfirmed, AmountExpected: 1_000_000_000, AmountReceived: 1_000_000_000, PriceCurrency: models.KAS,
		LinkID: &link, ExpiresAt: at.Add(time.Hour), CreatedAt: at, ConfirmedAt: &at, RequiredConfirmations: 10, Confirmations: 10}
	usdc := &models.Payment{ID: "66666666-7777-8888-9999-000000000000", Chain: "base", Asset: "USDC",
		PayAddress: "0x1111111111111111111111111111111111111111", Status: models.StatusConfirming,
		AmountExpected: 25_000_000, AmountReceived: 25_000_000, PriceCurrency: models.USDC, ExpiresAt: at.Add(time.Hour), CreatedAt: at}
	type want struct{ dialect, typ string }
	cases := []struct {
		name  string
		table models.Projections
		p     *models.Payment
		tr    models.Transition
		want  []want
	}{
		{"kaspay confirmed kaspa", models.DefaultProjections(), kaspa, models.TransitionConfirmed, []want{{"kaspay", models.EventPaymentConfirmed}}},
		{"kaspay expired kaspa", models.DefaultProjections(), kaspa, models.TransitionExpired, []want{{"kaspay", models.EventPaymentExpired}}},
		{"kaspay transfer seen kaspa", models.DefaultProjections(), kaspa, models.TransitionTransferSeen, nil},
		{"kaspay confirmed usdc", models.DefaultProjections(), usdc, models.TransitionConfirmed, []want{{"kaspay", models.EventPaymentConfirmed}}},
		{"kaspay expired usdc", models.DefaultProjections(), usdc, models.TransitionExpired, []want{{"kaspay", models.EventPaymentExpired}}},
		{"kaspay transfer seen usdc", models.DefaultProjections(), usdc, models.TransitionTransferSeen, nil},
		{"two dialects confirmed", withProbe(), kaspa, models.TransitionConfirmed, []want{{"kaspay", models.EventPaymentConfirmed}, {probeDialect, "probe.confirmed"}}},
		{"two dialects transfer seen", withProbe(), usdc, models.TransitionTransferSeen, []want{{probeDialect, "probe.transfer_seen"}}},
		{"empty table", models.Projections{}, kaspa, models.TransitionConfirmed, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := tc.table.Project(tc.p, tc.tr)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %v", len(evs), evs, tc.want)
			}
			for i, w := range tc.want {
				if evs[i].Dialect != w.dialect || evs[i].Type != w.typ {
					t.Fatalf("event %d: %s/%s, want %s/%s", i, evs[i].Dialect, evs[i].Type, w.dialect, w.typ)
				}
				var snap any = tc.p.Snapshot()
				if w.dialect == probeDialect {
					_, snap, _ = probeProjection(tc.p, tc.tr)
				}
				data, _ := models.CanonicalJSON(snap)
				if evs[i].Data != string(data) {
					t.Fatalf("event %d data:\n got  %s\n want %s", i, evs[i].Data, data)
				}
			}
		})
	}
}

// TestTransferSeenRecorded: a credit, Kaspa or USDC, goes through the
// "transfer seen" transition in its own transaction; the KasPay projection
// writes nothing for it, so a confirming payment has no KasPay event.
func TestTransferSeenRecorded(t *testing.T) {
	types := func(evs []models.Event) (kaspay, probe []string) {
		for _, e := range evs {
			switch e.Dialect {
			case models.DialectKasPay:
				kaspay = append(kaspay, e.Type)
			case probeDialect:
				probe = append(probe, e.Type)
			case models.DialectKiraPay: // its own tests: kirapay_events_test.go
			default:
				t.Fatalf("event of dialect %q", e.Dialect)
			}
		}
		return
	}
	t.Run("kaspa", func(t *testing.T) {
		f := newFixture(t)
		models.SetProjections(f.s, withProbe())
		p := f.session()
		f.advance(1)
		f.observe(f.credit(p.PayAddress, p.AmountExpected))
		if got := f.reload(p.ID); got.Status != models.StatusConfirming {
			t.Fatalf("status %s, want confirming", got.Status)
		}
		evs, err := f.s.EventsForPayment(f.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		kp, pr := types(evs)
		if len(kp) != 0 || fmt.Sprint(pr) != "[probe.transfer_seen]" {
			t.Fatalf("after the credit: kaspay %v, probe %v", kp, pr)
		}
		f.advance(uint64(p.RequiredConfirmations) + 1)
		f.observe()
		evs, _ = f.s.EventsForPayment(f.ctx, p.ID)
		kp, pr = types(evs)
		if fmt.Sprint(kp) != "[payment.confirmed]" || fmt.Sprint(pr) != "[probe.transfer_seen probe.confirmed]" {
			t.Fatalf("after confirmation: kaspay %v, probe %v", kp, pr)
		}
	})
	t.Run("usdc", func(t *testing.T) {
		f, l := usdcFixture(t, evmReceiver)
		models.SetProjections(f.s, withProbe())
		p := f.usdcSession(l.Slug)
		if r, err := f.s.RecordEVMTransfer(f.ctx, evmLog(evmReceiver, p.AmountExpected, 501, f.clock.Now()), 501); err != nil || !r.Matched || r.Confirmed {
			t.Fatalf("transfer: %+v %v", r, err)
		}
		evs, _ := f.s.EventsForPayment(f.ctx, p.ID)
		kp, pr := types(evs)
		if len(kp) != 0 || fmt.Sprint(pr) != "[probe.transfer_seen]" {
			t.Fatalf("after the transfer: kaspay %v, probe %v", kp, pr)
		}
		// A transfer already deep enough: seen and confirmed in one
		// transaction (same instant, so compared as a set).
		q := f.usdcSession(l.Slug)
		if r, err := f.s.RecordEVMTransfer(f.ctx, evmLog(evmReceiver, q.AmountExpected, 502, f.clock.Now()), 510); err != nil || !r.Confirmed {
			t.Fatalf("deep transfer: %+v %v", r, err)
		}
		evs, _ = f.s.EventsForPayment(f.ctx, q.ID)
		kp, pr = types(evs)
		sort.Strings(pr)
		if fmt.Sprint(kp) != "[payment.confirmed]" || fmt.Sprint(pr) != "[probe.confirmed probe.transfer_seen]" {
			t.Fatalf("deep transfer: kaspay %v, probe %v", kp, pr)
		}
	})
}

// TestDeliveriesRoutedByDialect: an event is delivered only to the active
// endpoints of its own dialect.
func TestDeliveriesRoutedByDialect(t *testing.T) {
	e := newWhEnv(t)
	models.SetProjections(e.s, withProbe())
	m := e.merchant("a@example.com", whAddrA)
	kas, _ := e.endpoint(m, "https://hooks.example.com/kaspay", "*")
	prb, _ := e.endpoint(m, "https://hooks.example.com/probe", "*")
	if err := e.s.DB().W(e.ctx).Model(&models.WebhookEndpoint{}).Where("id = ?", prb.ID).Update("dialect", probeDialect).Error; err != nil {
		t.Fatal(err)
	}
	e.confirm(e.payment(e.link(m), models.CreatePaymentInput{}))
	got := e.deliveriesByEndpoint(m)
	want := map[string][]string{
		kas.ID: {"payment.confirmed"},
		prb.ID: {"probe.transfer_seen", "probe.confirmed"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries by endpoint:\n got  %v\n want %v", got, want)
	}
}

// TestMigrationDialects checks 0009 on the engine under test: an event
// inserted without a dialect is KasPay's, links carry a nullable API key
// id, and the 24-hex short ids are unique and looked up by expression.
func TestMigrationDialects(t *testing.T) {
	f := newFixture(t)
	db := f.s.DB().W(f.ctx)
	id := uuid.NewString()
	if err := db.Exec("INSERT INTO events (id, merchant_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
		id, f.m.ID, "payment.confirmed", "{}", f.clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	var ev models.Event
	if err := db.Where("id = ?", id).Take(&ev).Error; err != nil || ev.Dialect != models.DialectKasPay {
		t.Fatalf("event dialect %q (%v), want kaspay", ev.Dialect, err)
	}
	var l models.PaymentLink
	if err := db.Where("id = ?", f.link.ID).Take(&l).Error; err != nil || l.APIKeyID != nil {
		t.Fatalf("link api_key_id %v (%v), want null", l.APIKeyID, err)
	}
	key := "key_0123456789ab"
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", f.link.ID).Update("api_key_id", key).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Where("id = ?", f.link.ID).Take(&l).Error; err != nil || l.APIKeyID == nil || *l.APIKeyID != key {
		t.Fatalf("link api_key_id %v (%v), want %s", l.APIKeyID, err, key)
	}
	short := strings.ReplaceAll(f.link.ID, "-", "")[:24]
	var found string
	if err := db.Raw("SELECT id FROM payment_links WHERE substr(replace(id, '-', ''), 1, 24) = ?", short).Scan(&found).Error; err != nil || found != f.link.ID {
		t.Fatalf("short id lookup: %q (%v), want %s", found, err, f.link.ID)
	}
	// Same first 24 hex digits, another tail: refused.
	twin := *f.link
	twin.ID = f.link.ID[:28] + "ffffffff"
	if twin.ID == f.link.ID {
		twin.ID = f.link.ID[:28] + "00000000"
	}
	twin.Slug = "twinslug01"
	if err := db.Create(&twin).Error; err == nil ||
		!(errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "payment_links_short_id_key")) {
		t.Fatalf("a link with a duplicate short id: %v, want the short id key to refuse it", err)
	}
	// The same row with a short id of its own is accepted (the refusal
	// above was the short id's).
	twin.ID = uuid.NewString()
	if err := db.Create(&twin).Error; err != nil {
		t.Fatalf("control insert: %v", err)
	}
}
