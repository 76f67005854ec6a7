package pages

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"till/models"
	"till/models/evm"
	"till/models/kaspa"
)

// Formatting helpers of the dashboard pages. Amounts arrive as integers in
// base units and are printed exactly (never through floats), with thousands
// separators for reading.

// groupDigits puts a comma between each group of three integer digits of a
// plain decimal string ("1234567.5" → "1,234,567.5").
func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// KASAmount prints sompi as an exact, grouped KAS number ("1,234.5").
func KASAmount(sompi int64) string { return groupDigits(kaspa.FormatKAS(sompi)) }

// KAS prints sompi with its unit ("1,234.5 KAS").
func KAS(sompi int64) string { return KASAmount(sompi) + " KAS" }

// Amount prints base units of an asset exactly, grouped, with its unit
// ("1,234.5 KAS", "12.345678 USDC").
func Amount(v int64, asset models.Currency) string {
	return groupDigits(models.FormatAsset(v, asset)) + " " + string(asset)
}

// Totals prints per-asset sums side by side, never added together: always
// the KAS total, then each other asset that has any rows
// ("1,234.5 KAS · 25.001234 USDC").
func Totals(a models.AssetTotals) string {
	s := KAS(a.KAS.Units)
	if a.USDC.Count > 0 {
		s += " · " + Amount(a.USDC.Units, models.USDC)
	}
	return s
}

// USD prints cents as dollars ("$1,234.50").
func USD(cents int64) string {
	s := models.FormatUnits(cents, 2, 2)
	if strings.HasPrefix(s, "-") {
		return "-$" + groupDigits(s[1:])
	}
	return "$" + groupDigits(s)
}

// Price prints an amount in its own currency: "$19.99" or "10 KAS".
func Price(amount int64, c models.Currency) string {
	switch c {
	case models.USD:
		return USD(amount)
	}
	return Amount(amount, c)
}

// When prints a time for tables: "2026-03-01 12:00 UTC".
func When(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// WhenSec prints a time with seconds: "2026-03-01 12:00:05 UTC".
func WhenSec(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// WhenPtr is When for optional times ("—" when unset).
func WhenPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return When(*t)
}

// ISO is the machine-readable time for <time datetime>.
func ISO(t time.Time) string { return models.ISOTime(t) }

// Short shortens an id or hash for tables: "abcdef12…9f3e".
func Short(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:8] + "…" + s[len(s)-4:]
}

// Plural picks the singular or plural form for n: Plural(2, "payment",
// "payments") = "2 payments".
func Plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return groupDigits(strconv.FormatInt(n, 10)) + " " + many
}

// Count prints an integer with thousands separators.
func Count(n int64) string { return groupDigits(strconv.FormatInt(n, 10)) }

// statusBadge is the CSS class of a status badge.
func statusBadge(status string) string { return "badge badge-" + status }

// statusLabel is a status as shown to people.
func statusLabel(status string) string {
	switch status {
	case "pending":
		return "Pending"
	case "confirming":
		return "Confirming"
	case "confirmed":
		return "Confirmed"
	case "expired":
		return "Expired"
	case "underpaid":
		return "Underpaid"
	case "draft":
		return "Draft"
	case "active":
		return "Active"
	case "inactive":
		return "Inactive"
	case "delivered":
		return "Delivered"
	case "failed":
		return "Failed"
	}
	return status
}

// PaymentStatuses lists the statuses in the order the filter offers them.
var PaymentStatuses = []models.PaymentStatus{
	models.StatusPending, models.StatusConfirming, models.StatusConfirmed, models.StatusUnderpaid, models.StatusExpired,
}

// minutes prints a duration in minutes as words ("30 minutes", "2 hours").
func minutes(m int) string {
	switch {
	case m%1440 == 0:
		return Plural(int64(m/1440), "day", "days")
	case m%60 == 0:
		return Plural(int64(m/60), "hour", "hours")
	}
	return Plural(int64(m), "minute", "minutes")
}

// idAttr builds an element id from a prefix and a value.
func idAttr(prefix, v string) string { return fmt.Sprintf("%s-%s", prefix, v) }

// titleOf returns the title of the link with id from titles, or "—".
func titleOf(titles map[string]string, id *string) string {
	if id != nil {
		if t := titles[*id]; t != "" {
			return t
		}
	}
	return "—"
}

// customerOf names a payment's customer: name, else email, else "—".
func customerOf(p models.Payment) string {
	switch {
	case p.CustomerName != "" && p.CustomerEmail != "":
		return p.CustomerName + " <" + p.CustomerEmail + ">"
	case p.CustomerName != "":
		return p.CustomerName
	case p.CustomerEmail != "":
		return p.CustomerEmail
	}
	return "—"
}

// qrDot draws a fixed 5×5 pattern that reads as "a QR code goes here" in
// the link preview.
func qrDot(i int) bool { return "1110110101110001010111011"[i] == '1' }

// timelineLabel says what a timeline entry means.
func timelineLabel(e models.TimelineEntry, p *models.Payment) string {
	switch e.Kind {
	case "created":
		return "Checkout session opened"
	case "detected":
		return "Payment seen on-chain"
	case "confirmed":
		s := "Confirmed at " + Plural(p.Confirmations, "confirmation", "confirmations")
		if p.Late {
			s += ", paid after the session expired"
		}
		return s
	case "expired":
		if p.AmountReceived > 0 && p.Status == models.StatusExpired {
			return "Session expired with " + Amount(p.AmountReceived, p.AssetOf()) + " of " + Amount(p.AmountExpected, p.AssetOf()) + " received"
		}
		return "Session expired unpaid"
	case "event":
		return "Event " + e.Event + " recorded for webhooks"
	case models.ActivityReversed:
		return "Credit reversed by the chain: " + activityAmount(e, p) + " no longer counts" + activityTx(e)
	case models.ActivityRecredited:
		return "Credit accepted again: " + activityAmount(e, p) + " counts once more" + activityTx(e)
	case models.ActivityAssigned:
		return "Unmatched credit of " + activityAmount(e, p) + " assigned by the merchant" + activityTx(e)
	}
	return e.Kind
}

// deliveryFilterURL is an endpoint's page with its log filtered by status.
func deliveryFilterURL(id, status string) string {
	u := "/dashboard/webhooks/" + id
	if status != "" {
		u += "?status=" + status
	}
	return u
}

func deliveryFilterLabel(status string) string {
	if status == "" {
		return "All"
	}
	return statusLabel(status)
}

// attemptCode prints an HTTP status, or "—" when no response came back.
func attemptCode(code *int) string {
	if code == nil {
		return "—"
	}
	return strconv.Itoa(*code)
}

// lastLatency is the latency of a delivery's latest attempt.
func lastLatency(r *models.DeliveryRecord) string {
	if len(r.AttemptLog) == 0 {
		return "—"
	}
	return strconv.FormatInt(r.AttemptLog[len(r.AttemptLog)-1].LatencyMS, 10) + " ms"
}

// customerShort names a payment's customer in a table cell: the name, else
// the email, else "—".
func customerShort(p models.Payment) string {
	switch {
	case p.CustomerName != "":
		return p.CustomerName
	case p.CustomerEmail != "":
		return p.CustomerEmail
	}
	return "—"
}

// activityAmount prints an activity entry's amount in the payment's asset.
func activityAmount(e models.TimelineEntry, p *models.Payment) string {
	if e.Activity == nil {
		return "a credit"
	}
	asset := models.KAS
	if p != nil {
		asset = p.AssetOf()
	}
	return Amount(e.Activity.Amount, asset)
}

// activityTx names the transaction of an activity entry, if any.
func activityTx(e models.TimelineEntry) string {
	if e.Activity == nil || e.Activity.TxID == "" {
		return ""
	}
	if e.Activity.Detail != "" {
		return " (" + e.Activity.Detail + ", transaction " + e.Activity.TxID + ")"
	}
	return " (transaction " + e.Activity.TxID + ")"
}

// overpaidText says by how much a payment exceeded its amount.
func overpaidText(p *models.Payment) string {
	return "overpaid by " + Amount(p.Overpaid(), p.AssetOf())
}

// candidateLabel describes a session offered for a manual assignment: what
// it expects, where it stands, when it opened and for whom.
func candidateLabel(p *models.Payment) string {
	s := "Expects " + Amount(p.AmountExpected, p.AssetOf()) + " · " + statusLabel(string(p.Status))
	if p.AmountReceived > 0 {
		s += ", received " + Amount(p.AmountReceived, p.AssetOf())
	}
	s += " · opened " + When(p.CreatedAt)
	if c := customerShort(*p); c != "—" {
		s += " · " + c
	}
	return s
}

// evmAddressHelp explains the EVM payout address: the default receiver of
// USDC links, on every enabled chain, and why a smart-contract wallet needs
// care.
func evmAddressHelp(chains []string) string {
	on := "the enabled EVM chains"
	if len(chains) > 0 {
		on = strings.Join(chains, ", ")
	}
	return "USDC payments on " + on + " go straight to this address; it is the default receiver of new USDC links. " +
		"Paste it exactly as your wallet shows it (mixed-case addresses are checked). " +
		"An ordinary wallet address (externally owned) works on every chain; a smart-contract wallet such as a Safe " +
		"must exist at this address on every chain you accept, or funds sent there may be lost. Leave empty to clear."
}

// LinkPrice is a link's price, "Any amount (USDC)" for an open-amount link.
func LinkPrice(l *models.PaymentLink) string {
	if l.OpenAmount() {
		return "Any amount (USDC)"
	}
	return Price(l.Amount, l.Currency)
}

// ChainName is a chain's display name: the built-in table's ("Base"), the
// configured name for a local chain, "Kaspa" for Kaspa.
func ChainName(chain string) string {
	if models.IsKaspa(chain) {
		return "Kaspa"
	}
	if c, ok := evm.Builtin(chain); ok {
		return c.DisplayName
	}
	return chain
}

// AddressOn shows an address of chain: EIP-55 on EVM chains, as stored on
// Kaspa.
func AddressOn(chain, addr string) string {
	if models.IsKaspa(chain) || addr == "" {
		return addr
	}
	if a, err := evm.ParseAddress(addr, evm.Format); err == nil {
		return a.Hex()
	}
	return addr
}
