package models

import (
	"context"
	"database/sql"
	"os"
	"reflect"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the publisher's pool
)

// TestCloneCopiesEveryPointer: every pointer field of a cached struct is
// copied, so a caller changing what it got cannot change the cache (a new
// pointer field without a line in clone fails here).
func TestCloneCopiesEveryPointer(t *testing.T) {
	check := func(name string, orig any, clone func() any) {
		ov := reflect.ValueOf(orig).Elem()
		for i := 0; i < ov.NumField(); i++ {
			if f := ov.Field(i); f.Kind() == reflect.Pointer {
				f.Set(reflect.New(f.Type().Elem()))
			}
		}
		cv := reflect.ValueOf(clone()).Elem()
		for i := 0; i < ov.NumField(); i++ {
			if f := ov.Field(i); f.Kind() == reflect.Pointer && f.Pointer() == cv.Field(i).Pointer() {
				t.Errorf("%s.%s is shared by the clone", name, ov.Type().Field(i).Name)
			}
		}
	}
	var p Payment
	check("Payment", &p, func() any { return p.clone() })
	var l PaymentLink
	check("PaymentLink", &l, func() any { return l.clone() })
	if n := reflect.TypeFor[Merchant]().NumField(); n > 0 {
		for i := range n {
			if k := reflect.TypeFor[Merchant]().Field(i).Type.Kind(); k == reflect.Pointer || k == reflect.Slice || k == reflect.Map {
				t.Errorf("Merchant.%s is a reference: MerchantByAPIKey's copy would share it", reflect.TypeFor[Merchant]().Field(i).Name)
			}
		}
	}
	// sessionSource copies its cached halves with PaymentLink.clone and by
	// value: any other reference field would be shared.
	for _, typ := range []reflect.Type{reflect.TypeFor[linkSource](), reflect.TypeFor[chainPosition](), reflect.TypeFor[sessionSource]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Type == reflect.TypeFor[PaymentLink]() || f.Type == reflect.TypeFor[Merchant]() {
				continue
			}
			if k := f.Type.Kind(); k == reflect.Pointer || k == reflect.Slice || k == reflect.Map || k == reflect.Struct {
				t.Errorf("%s.%s (%s) is not copied by sessionSource: add it to the copy and to this test", typ.Name(), f.Name, k)
			}
		}
	}
}

// TestPublishCoalesces: writes that pile up while the publisher is busy
// go out as one NOTIFY carrying every group.
func TestPublishCoalesces(t *testing.T) {
	url := os.Getenv("TILL_TEST_POSTGRES_URL")
	if os.Getenv("TILL_TEST_DB") != "postgres" || url == "" {
		t.Skip("NOTIFY needs Postgres")
	}
	pool, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := newChanges(Postgres)
	c.kick = make(chan struct{}, 1)
	for i := 0; i < 100; i++ {
		c.bump(changePayments)
	}
	c.bump(changeMerchants)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go c.publish(ctx, pool)
	deadline := time.Now().Add(10 * time.Second)
	for c.notifies.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	c.stop()
	if n := c.notifies.Load(); n != 1 {
		t.Errorf("%d NOTIFYs for 101 writes made while none was on its way, want 1", n)
	}
	if m := c.pending.Load(); m != 0 {
		t.Errorf("groups %03b still pending", m)
	}
}
