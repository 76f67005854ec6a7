package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/models/evm"
	"till/models/kaspa"
	"till/views/pages"
	"till/views/partials"
)

// The hosted checkout (/pay/…) is public. A payment session is opened only
// by an explicit POST (never by a GET, which link previews and crawlers
// fire), and a browser finds its session again through a random visitor
// cookie whose SHA-256 is stored on the payment. The session page polls a
// status fragment that reads the database only.

const (
	// visitorCookie holds the checkout visitor's random token (path /pay).
	visitorCookie = "till_visitor"
	visitorMaxAge = 30 * 24 * time.Hour
	// qrModulePixels is the size of one QR module in the PNG: whole pixels
	// keep the code crisp when the browser scales it.
	qrModulePixels = 10
	// checkoutTimeout bounds the domain calls of one checkout request
	// (Fiber has no per-request cancellation).
	checkoutTimeout = 10 * time.Second
)

// Messages of the unavailable pages: drafts, inactive and unknown links
// look the same to a customer, so a slug reveals nothing about a draft.
const (
	msgLinkNotFound = "This payment link is not available"
	msgLinkGone     = "This payment link has expired"
)

func checkoutCtx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), checkoutTimeout)
}

// ShowCheckout is the checkout of a link: GET /pay/:slug. It shows the
// visitor's open session on this link if there is one (so a reload resumes
// it), the success state after a confirmed payment, and otherwise the link
// with a "Pay with Kaspa" button. It never creates a session.
func (h *Handlers) ShowCheckout(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	link, err := h.Store.LinkBySlug(ctx, c.Params("slug"))
	if errors.Is(err, models.ErrNotFound) {
		return h.checkoutUnavailable(c, fiber.StatusNotFound, msgLinkNotFound, "")
	}
	if err != nil {
		return err
	}
	open := h.Store.CheckLinkOpen(link)
	notice := ""
	if p, err := h.Store.VisitorPayment(ctx, link.ID, h.visitor(c)); err == nil {
		v, err := h.Store.Checkout(ctx, p.ID)
		if err != nil {
			return err
		}
		// Open or confirmed: show it, even if the merchant has since closed
		// the link. Expired: show it too when money arrived (partly, or a
		// credit that did not match), since the customer must act on it.
		if checkoutPhase(p, h.Store.Now()) != partials.PhaseExpired || p.AmountReceived > 0 || v.StrayCredit {
			return h.renderSession(c, v)
		}
		notice = "Your previous payment request expired before a payment arrived. Start a new one below."
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if open != nil {
		return h.linkClosed(c, open)
	}
	m, err := h.Store.Merchant(ctx, link.MerchantID)
	if err != nil {
		return err
	}
	data := h.linkView(link, m)
	data.Notice = notice
	c.Set(fiber.HeaderCacheControl, "no-store") // per visitor (cookie, CSRF token)
	return render.Page(c, fiber.StatusOK, pages.CheckoutLinkPage(h.meta(c, link.Title), data))
}

// StartCheckout opens a payment session: POST /pay/:slug (a plain form, so
// it works without JavaScript). A visitor who already has an open session on
// the link is sent back to it instead, so a double click or a resubmitted
// form does not open (and, with per-payment addresses, burn) another one.
func (h *Handlers) StartCheckout(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	link, err := h.Store.LinkBySlug(ctx, c.Params("slug"))
	if errors.Is(err, models.ErrNotFound) {
		return h.checkoutUnavailable(c, fiber.StatusNotFound, msgLinkNotFound, "")
	}
	if err != nil {
		return err
	}
	if err := h.Store.CheckLinkOpen(link); err != nil {
		return h.linkClosed(c, err)
	}
	visitor := h.ensureVisitor(c)
	name, email := strings.TrimSpace(c.FormValue("customerName")), strings.TrimSpace(c.FormValue("customerEmail"))
	amount := strings.TrimSpace(c.FormValue("amount"))
	in := models.CreatePaymentInput{LinkSlug: link.Slug, CustomerName: name, CustomerEmail: email, Visitor: visitor}
	if link.OpenAmount() {
		in.Amount = amount
	}
	p, _, err := h.Store.StartCheckout(ctx, in)
	if err != nil {
		// The domain refuses an unreadable amount too; the page words it
		// for a customer rather than an integrator, ahead of other fields.
		if _, perr := evm.ParseUSDC(amount); link.OpenAmount() && perr != nil {
			err = models.Invalid("amount", "Enter an amount in USDC, such as 12.50")
		}
		return h.startFailed(c, link, name, email, amount, err)
	}
	return render.Redirect(c, sessionPath(link.Slug, p.ID))
}

// SubmitWalletTx takes the transaction hash the browser wallet returned:
// POST /pay/status/:id/tx (CSRF and rate limit as the other checkout
// POSTs). It only records the hash, which the page then shows as sent and
// waiting to be mined; crediting is the watcher's. It answers plain text
// for the wallet script: what happened, or why not, with the error's status.
func (h *Handlers) SubmitWalletTx(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if _, err := h.Store.SubmitWalletTx(ctx, c.Params("id"), c.FormValue("txHash")); err != nil {
		status, msg, internal := render.StatusOf(err)
		if internal {
			return err
		}
		return c.Status(status).SendString(msg)
	}
	return c.SendString("Sent, waiting to be mined")
}

// startFailed re-renders the link page with what went wrong: inline errors
// for the optional fields, a form-level message for the rest (no payout
// address, no price feed), a 404/410 page if the link closed meanwhile.
func (h *Handlers) startFailed(c *fiber.Ctx, link *models.PaymentLink, name, email, amount string, err error) error {
	status, msg, internal := render.StatusOf(err)
	if internal {
		return err
	}
	if errors.Is(err, models.ErrLinkNotActive) || errors.Is(err, models.ErrLinkClosed) || errors.Is(err, models.ErrLinkExpired) {
		return h.linkClosed(c, err)
	}
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	m, merr := h.Store.Merchant(ctx, link.MerchantID)
	if merr != nil {
		return merr
	}
	data := h.linkView(link, m)
	data.Form = pages.Form{Values: map[string]string{"customerName": name, "customerEmail": email, "amount": amount}}
	fields, general := formErrors(err)
	for k, v := range fields {
		fields[k] = strings.Replace(v, "customerName", "Name", 1)
	}
	data.Form.Errors, data.Form.Error = fields, general
	if status == fiber.StatusBadRequest {
		status = render.FormStatus(c)
	} else if data.Form.Error == "" {
		data.Form.Error = msg
	}
	return render.Page(c, status, pages.CheckoutLinkPage(h.meta(c, link.Title), data))
}

// ShowCheckoutSession is one session's page: GET /pay/:slug/p/:id. It works
// without the visitor cookie (the id is the capability, as for the public
// status API), and only for a payment that belongs to the link.
func (h *Handlers) ShowCheckoutSession(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	v, err := h.Store.Checkout(ctx, c.Params("id"))
	if errors.Is(err, models.ErrNotFound) || err == nil && (v.Link == nil || v.Link.Slug != c.Params("slug")) {
		return h.checkoutUnavailable(c, fiber.StatusNotFound, "This payment request was not found", "")
	}
	if err != nil {
		return err
	}
	return h.renderSession(c, v)
}

func (h *Handlers) renderSession(c *fiber.Ctx, v *models.CheckoutView) error {
	m := h.meta(c, sessionTitle(v))
	s := h.sessionView(v, false)
	s.CSRF = m.CSRF
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.Page(c, fiber.StatusOK, pages.CheckoutSessionPage(m, s))
}

// CheckoutStatus is the fragment the session page polls every 2 s:
// GET /pay/status/:id?v=…&phase=…. It reads the database only, through
// Store.Checkout's cached view (the session read once). When nothing
// changed since the version the page holds (v) it answers 204, which htmx
// does not swap: no flicker, no lost focus, no repeated screen-reader
// announcement. Otherwise it returns the new poller (without its trigger
// once the status is final, which ends the polling), the status line, and
// the whole panel when the phase changed. The rendered fragment comes from
// h.fragments when the view is the one it was rendered from.
//
// Like the API's status poll it runs on the request's own deadline
// (middleware.Deadline, armed only when a query waits on it) rather than
// checkoutCtx: a context.WithTimeout started and stopped two runtime timers
// on every poll, 8 % of a first poll's CPU even when served from the caches.
func (h *Handlers) CheckoutStatus(c *fiber.Ctx) error {
	ctx := c.UserContext()
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Vary("HX-Request")
	v, err := h.Store.Checkout(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if c.Query("v") == sessionVersion(v.Payment, v.StrayCredit, h.Store.Now()) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	s := h.sessionView(v, true)
	if sess := session.Get(c); sess != nil && offersNewPayment(s) {
		s.CSRF = sess.CSRFToken()
	}
	body, err := h.fragments.render(ctx, s, c.Query("phase") != s.Phase)
	if err != nil {
		return err
	}
	// As render.Page, with the bytes of the fragment cache.
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(fiber.StatusOK).Send(body)
}

// offersNewPayment tells whether the polled fragment holds the "new
// payment" form, the only thing in it that needs the session's CSRF token
// (the wallet script takes its token from the page). Asking for a token
// anywhere else would mint a session cookie on every poll of a client that
// has none (12 % of a first poll's CPU, issue 12).
func offersNewPayment(s partials.CheckoutSession) bool {
	switch s.Phase {
	case partials.PhasePending, partials.PhaseConfirming, partials.PhaseUnderpaid:
		return false
	}
	return s.CanPayAgain
}

// CheckoutQR is the QR code of a session's wallet URI, as a PNG:
// GET /pay/qr/:id.png. It encodes exactly Store.PaymentURI (Kaspa's URI,
// or the EIP-681 transfer for USDC), which never changes for a session, so
// it may be cached for a long time.
func (h *Handlers) CheckoutQR(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	p, err := h.Store.Payment(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	uri, err := h.Store.PaymentURI(p)
	if err != nil {
		return err
	}
	png, err := QRPNG(uri)
	if err != nil {
		return fmt.Errorf("handlers: qr %s: %w", p.ID, err)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400, immutable")
	return c.Send(png)
}

// QRPNG renders text as a QR code PNG (error correction level M, a quiet
// zone of four modules, qrModulePixels pixels per module).
func QRPNG(text string) ([]byte, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.PNG(-qrModulePixels)
}

// CheckoutReceipt is the receipt of a confirmed payment:
// GET /pay/receipt/:id. It shows only what the payer already knows (what
// was paid, to whom, the transaction); never the customer's name or email.
func (h *Handlers) CheckoutReceipt(c *fiber.Ctx) error {
	ctx, cancel := checkoutCtx(c)
	defer cancel()
	v, err := h.Store.Checkout(ctx, c.Params("id"))
	if errors.Is(err, models.ErrNotFound) {
		return h.checkoutUnavailable(c, fiber.StatusNotFound, "This receipt was not found", "")
	}
	if err != nil {
		return err
	}
	p := v.Payment
	if p.Status != models.StatusConfirmed {
		back := ""
		if v.Link != nil {
			back = sessionPath(v.Link.Slug, p.ID)
		}
		network := "the Kaspa network"
		if v.EVM != nil {
			network = v.EVM.Network
		}
		return h.checkoutUnavailableBack(c, fiber.StatusNotFound, "No receipt yet",
			"A receipt is issued once the payment is confirmed on "+network+".", v.MerchantName, back)
	}
	r := pages.CheckoutReceipt{
		PaymentID: p.ID, MerchantName: v.MerchantName, Testnet: h.testnet(),
		AmountReceived: models.FormatAsset(p.AmountReceived, p.AssetOf()), AmountExpected: models.FormatAsset(p.AmountExpected, p.AssetOf()),
		Address: p.PayAddress, TxID: p.TxID, ExplorerURL: templ.SafeURL(models.ExplorerTxURL(p.Chain, string(h.Store.Network()), p.TxID)),
		Sender: p.SenderAddress, Late: p.Late, CreatedAt: humanTime(p.CreatedAt), Asset: string(p.AssetOf()),
	}
	if v.EVM != nil {
		r.Network, r.ExplorerURL = v.EVM.Network, templ.SafeURL(v.EVM.TxURL)
		r.Address = v.EVM.Receiver.Hex()
	}
	if p.ConfirmedAt != nil {
		r.ConfirmedAt, r.ConfirmedAtISO = humanTime(*p.ConfirmedAt), models.ISOTime(*p.ConfirmedAt)
	}
	if v.Link != nil {
		r.Title = v.Link.Title
		r.CheckoutURL = "/pay/" + v.Link.Slug
	}
	if p.PriceCurrency == models.USD {
		r.USD, r.Rate, r.RateSource = models.FormatUnits(p.PriceAmount, 2, 2), p.Rate, p.RateSource
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return render.Page(c, fiber.StatusOK, pages.CheckoutReceiptPage(h.meta(c, "Receipt"), r))
}

// linkView is the link page's data.
func (h *Handlers) linkView(l *models.PaymentLink, m *models.Merchant) pages.CheckoutLink {
	minutes := m.PaymentExpiry
	if l.ExpiryMinutes != nil {
		minutes = *l.ExpiryMinutes
	}
	return pages.CheckoutLink{
		Slug: l.Slug, MerchantName: m.Name, Title: l.Title, Description: l.Description, Testnet: h.testnet(),
		Currency: string(l.Currency), Amount: linkAmount(l), ExpiryMinutes: minutes,
		OpenAmount: l.OpenAmount(), Network: h.networkName(l.Chain),
	}
}

// networkName is how the checkout names a USDC link's chain ("" for Kaspa).
func (h *Handlers) networkName(chain string) string {
	if models.IsKaspa(chain) {
		return ""
	}
	if b, ok := evm.Builtin(chain); ok {
		return b.DisplayName
	}
	return chain
}

func linkAmount(l *models.PaymentLink) string {
	if l.Currency == models.USD {
		return models.FormatUnits(l.Amount, 2, 2)
	}
	return models.FormatAsset(l.Amount, l.Currency)
}

// sessionView turns a session into what the checkout shows. live marks a
// view built for a poll (the confirmed panel then redirects by itself).
func (h *Handlers) sessionView(v *models.CheckoutView, live bool) partials.CheckoutSession {
	p, now := v.Payment, h.Store.Now()
	s := partials.CheckoutSession{
		PaymentID: p.ID, MerchantName: v.MerchantName, Testnet: h.testnet(),
		Phase: checkoutPhase(p, now), Status: string(p.Status), Final: p.Status.Final(),
		Address: p.PayAddress, Amount: models.FormatAsset(p.AmountExpected, p.AssetOf()), URI: p.PaymentURI(),
		QRURL: "/pay/qr/" + p.ID + ".png", SharedAddress: p.DerivationIndex == nil,
		ExpiresAt: models.ISOTime(p.ExpiresAt), ExpiresIn: remaining(p.ExpiresAt.Sub(now)), ExpiresAtText: humanTime(p.ExpiresAt),
		Confirmations: p.Confirmations, Required: int64(p.RequiredConfirmations),
		Received: models.FormatAsset(p.AmountReceived, p.AssetOf()), TxID: p.TxID,
		ExplorerURL: templ.SafeURL(models.ExplorerTxURL(p.Chain, string(h.Store.Network()), p.TxID)), Late: p.Late, Live: live,
		ReceiptURL: "/pay/receipt/" + p.ID, StrayCredit: v.StrayCredit,
		Partial: p.Status == models.StatusExpired && p.AmountReceived > 0,
	}
	s.Asset = string(p.AssetOf())
	if e := v.EVM; e != nil {
		s.URI, s.Address = e.URI, e.Receiver.Hex()
		s.ExplorerURL = templ.SafeURL(e.TxURL)
		s.EVM = &partials.EVMPay{
			Network: e.Network, ChainID: strconv.FormatUint(e.ChainID, 10), ChainIDHex: "0x" + strconv.FormatUint(e.ChainID, 16),
			Token: e.Token.Hex(), TokenURL: templ.SafeURL(e.TokenURL), Units: strconv.FormatInt(p.AmountExpected, 10),
			TxPostURL: "/pay/status/" + p.ID + "/tx",
		}
		s.SubmittedTx, s.SubmittedTxURL, s.Failure = p.SubmittedTxHash, templ.SafeURL(e.SubmittedTxURL), p.Failure
		// Safe as a link target: an EIP-681 URI built from two parsed
		// addresses and integers only.
		s.WalletURL = templ.SafeURL(e.URI)
	}
	if over := p.Overpaid(); over > 0 {
		s.Overpaid = models.FormatAsset(over, p.AssetOf())
	}
	if p.DerivationIndex != nil {
		s.DerivationIndex = strconv.FormatInt(*p.DerivationIndex, 10)
	}
	// The "Open in wallet" href carries a custom scheme (kaspa:), which
	// templ's URL sanitizer refuses. It is safe to mark as trusted here
	// because it is built from parts that cannot carry anything else: an
	// address that passed the strict bech32 codec for our network (lower-case
	// letters and digits after the prefix) and an amount printed from an
	// integer (digits and one dot).
	if _, err := kaspa.ParseAddress(p.PayAddress, h.Store.Network()); err == nil {
		s.WalletURL = templ.SafeURL(kaspa.PaymentURI(p.PayAddress, p.AmountExpected))
		// A top-up matches by itself only on a per-payment address.
		if rest := p.AmountExpected - p.AmountReceived; p.Status == models.StatusUnderpaid && rest > 0 && p.DerivationIndex != nil {
			s.Remaining = kaspa.FormatKAS(rest)
			s.RemainingURI = kaspa.PaymentURI(p.PayAddress, rest)
			s.RemainingURL = templ.SafeURL(s.RemainingURI)
		}
	}
	if p.PriceCurrency == models.USD {
		s.USD, s.Rate, s.RateSource = models.FormatUnits(p.PriceAmount, 2, 2), p.Rate, p.RateSource
	}
	if l := v.Link; l != nil {
		s.Slug, s.Title, s.Description = l.Slug, l.Title, l.Description
		s.SuccessMessage = l.SuccessMessage
		s.RedirectURL, s.RedirectHost = httpURL(l.RedirectURL)
		s.CanPayAgain = h.Store.CheckLinkOpen(l) == nil
		s.SelfURL = sessionPath(l.Slug, p.ID)
	}
	if !s.Final {
		s.PollURL = "/pay/status/" + p.ID + "?" + url.Values{"v": {sessionVersion(p, v.StrayCredit, now)}, "phase": {s.Phase}}.Encode()
	}
	return s
}

// checkoutPhase is what the customer sees: the status, except that a pending
// session past its deadline shows as expired already.
func checkoutPhase(p *models.Payment, now time.Time) string {
	switch p.Status {
	case models.StatusPending:
		if !now.Before(p.ExpiresAt) {
			return partials.PhaseExpired
		}
		return partials.PhasePending
	case models.StatusConfirming:
		return partials.PhaseConfirming
	case models.StatusConfirmed:
		return partials.PhaseConfirmed
	case models.StatusUnderpaid:
		return partials.PhaseUnderpaid
	}
	return partials.PhaseExpired
}

// sessionVersion identifies everything the status fragment shows (stray:
// the unmatched-credit notice); a poll carrying the current version gets 204.
func sessionVersion(p *models.Payment, stray bool, now time.Time) string {
	v := checkoutPhase(p, now) + "." + string(p.Status) + "." + strconv.FormatInt(p.Confirmations, 10) + "." +
		strconv.FormatInt(p.AmountReceived, 10)
	if stray {
		v += ".u"
	}
	if p.SubmittedTxHash != "" {
		v += ".s"
	}
	if p.Failure != "" {
		v += ".f"
	}
	return v
}

func sessionPath(slug, id string) string { return "/pay/" + slug + "/p/" + id }

func sessionTitle(v *models.CheckoutView) string {
	if v.Link != nil && v.Link.Title != "" {
		return v.Link.Title
	}
	return "Pay " + v.MerchantName
}

// linkClosed renders the page for a link that takes no payments: 404 for
// drafts and inactive links (indistinguishable from unknown ones), 410 for
// expired ones.
func (h *Handlers) linkClosed(c *fiber.Ctx, err error) error {
	if errors.Is(err, models.ErrLinkExpired) {
		return h.checkoutUnavailable(c, fiber.StatusGone, msgLinkGone,
			"The merchant set this link to stop taking payments. Ask them for a new one.")
	}
	return h.checkoutUnavailable(c, fiber.StatusNotFound, msgLinkNotFound, "")
}

func (h *Handlers) checkoutUnavailable(c *fiber.Ctx, status int, heading, body string) error {
	return h.checkoutUnavailableBack(c, status, heading, body, "", "")
}

func (h *Handlers) checkoutUnavailableBack(c *fiber.Ctx, status int, heading, body, merchant, back string) error {
	if body == "" {
		body = "Check the link you were given, or ask the merchant for a new one."
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.Page(c, status, pages.CheckoutUnavailable(h.meta(c, heading), pages.CheckoutProblem{
		Status: status, Heading: heading, Body: body, MerchantName: merchant, BackURL: back, Testnet: h.testnet(),
	}))
}

func (h *Handlers) testnet() bool { return h.Store.Network() != kaspa.Mainnet }

// visitor returns the hash of the checkout visitor's token, or "".
func (h *Handlers) visitor(c *fiber.Ctx) string {
	tok := c.Cookies(visitorCookie)
	if len(tok) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(tok); err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// ensureVisitor returns the visitor hash, first giving the browser a token
// if it has none; the cookie's lifetime is renewed on every session start.
func (h *Handlers) ensureVisitor(c *fiber.Ctx) string {
	tok := c.Cookies(visitorCookie)
	if h.visitor(c) == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		tok = base64.RawURLEncoding.EncodeToString(b)
	}
	c.Cookie(&fiber.Cookie{
		Name: visitorCookie, Value: tok, Path: "/pay", MaxAge: int(visitorMaxAge / time.Second),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: strings.HasPrefix(h.BaseURL, "https://"),
	})
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// httpURL returns u when it is an absolute http(s) URL without credentials
// (the domain already validates redirectUrl; this guards old rows), and its
// host for display.
func httpURL(u string) (templ.SafeURL, string) {
	p, err := url.Parse(u)
	if u == "" || err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
		return "", ""
	}
	return templ.SafeURL(p.String()), p.Hostname()
}

func humanTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

// remaining prints a duration as the countdown does: m:ss, or h:mm:ss.
func remaining(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	h, m, sec := s/3600, s%3600/60, s%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}
