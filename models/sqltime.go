package models

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// scanTime reads a timestamp from an aggregate (MIN/MAX): Postgres returns a
// time, SQLite the stored text, since the column type is lost.
type scanTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *scanTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		t.Time = x.UTC()
		return nil
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	case nil:
		t.Time = time.Time{}
		return nil
	}
	return fmt.Errorf("models: cannot scan %T into a time", v)
}

func (t *scanTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("models: unparseable time %q", s)
}

// Value implements driver.Valuer.
func (t scanTime) Value() (driver.Value, error) { return t.Time, nil }
