package models

import (
	"context"
	"time"
)

// TenantProbe is a test-only table for the tenant scoping helpers.
type TenantProbe struct {
	ID         string
	MerchantID string
	Note       string
}

// FindOwnedProbe exposes findOwned to the external tests.
func FindOwnedProbe(ctx context.Context, db *DB, merchantID, id string) (*TenantProbe, error) {
	return findOwned[TenantProbe](ctx, db.read, merchantID, id, "Probe")
}

// ListOwnedProbes exposes listOwned.
func ListOwnedProbes(ctx context.Context, db *DB, merchantID string) ([]TenantProbe, error) {
	return listOwned[TenantProbe](ctx, db.read, merchantID)
}

// UpdateOwnedProbe exposes updateOwned.
func UpdateOwnedProbe(ctx context.Context, db *DB, merchantID, id, note string) (int64, error) {
	return updateOwned[TenantProbe](ctx, db.write, merchantID, id, map[string]any{"note": note})
}

// Stamp is the tracker's stamp of the groups table belongs to.
func (c *Changes) Stamp(table string) uint64 { return c.stamp(tableMask(table)) }

// SetTTL changes how long cached reads are served (every entry, at once).
func (c *Changes) SetTTL(d time.Duration) { c.ttl.Store(int64(d)) }

// Notifies is how many NOTIFYs this handle sent.
func (c *Changes) Notifies() int64 { return c.notifies.Load() }

// SQLWriteGroups exposes sqlWriteMask: whether sql writes, and the groups
// (bit 0 payments, 1 links, 2 merchants).
func SQLWriteGroups(sql string) (bool, uint32) {
	w, m := sqlWriteMask(sql)
	return w, uint32(m)
}
