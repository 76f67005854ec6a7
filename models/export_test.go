package models

import "context"

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
