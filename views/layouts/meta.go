// Package layouts holds the page shells: the bare base document and the
// dashboard frame with its navigation.
package layouts

import "encoding/json"

// Meta is what every page shell needs.
type Meta struct {
	Title string
	// CSRF is the session's token; forms embed it and htmx sends it as a header.
	CSRF string
	// Flash is a one-time notice shown at the top of the page.
	Flash string
}

// HXHeaders returns the JSON for hx-headers that carries the CSRF token.
func (m Meta) HXHeaders() string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": m.CSRF})
	return string(b)
}

// Nav is the dashboard's navigation state.
type Nav struct {
	Meta
	Active       string // overview | links | payments | webhooks | settings
	MerchantName string
	Email        string
	Network      string
}

// NavItem is one entry of the dashboard navigation.
type NavItem struct {
	Key, Label, Href string
}

// NavItems lists the dashboard sections in order.
var NavItems = []NavItem{
	{"overview", "Overview", "/dashboard"},
	{"links", "Payment links", "/dashboard/links"},
	{"payments", "Payments", "/dashboard/payments"},
	{"webhooks", "Webhooks", "/dashboard/webhooks"},
	{"settings", "Settings", "/dashboard/settings"},
}
