// Package session keeps the dashboard's login state in a signed and encrypted
// cookie (gorilla/sessions), with the CSRF token that every form and htmx
// request must echo. A login is also a server-side record (models
// AuthSession) whose token the cookie carries: the middleware accepts the
// cookie only while that record is valid, so logout and credential changes
// revoke copies of the cookie. Any number of Till processes can serve the
// same browser.
package session

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"
)

// CookieName is the session cookie's name.
const CookieName = "till_session"

// MaxAge is how long a dashboard login lasts (its server-side session
// expires then too, however active it was).
const MaxAge = 7 * 24 * time.Hour

// Manager loads and saves sessions.
type Manager struct {
	store *sessions.CookieStore
}

// NewManager builds a Manager. hashKey (32+ bytes) signs the cookie and
// blockKey (32 bytes) encrypts it; secure marks it Secure (https base URLs).
func NewManager(hashKey, blockKey []byte, secure bool) *Manager {
	st := sessions.NewCookieStore(hashKey, blockKey)
	st.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(MaxAge / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	st.MaxAge(st.Options.MaxAge)
	return &Manager{store: st}
}

// Session is one request's view of the cookie.
type Session struct {
	s       *sessions.Session
	changed bool
}

const localsKey = "till.session"

// Load reads the cookie into a Session stored on the request. A missing,
// expired or tampered cookie gives a fresh, empty session.
func (m *Manager) Load(c *fiber.Ctx) *Session {
	if s, ok := c.Locals(localsKey).(*Session); ok {
		return s
	}
	// gorilla/sessions reads cookies from a net/http request; it needs only
	// the Cookie header, so build a minimal request rather than converting
	// the whole fasthttp request.
	r, _ := http.NewRequestWithContext(c.UserContext(), http.MethodGet, "/", nil)
	if h := c.Get(fiber.HeaderCookie); h != "" {
		r.Header.Set("Cookie", h)
	}
	gs, err := m.store.Get(r, CookieName)
	if err != nil || gs == nil {
		gs, _ = m.store.New(r, CookieName)
		gs.Values = map[any]any{}
	}
	s := &Session{s: gs}
	c.Locals(localsKey, s)
	return s
}

// Save writes the cookie back when the session changed.
func (m *Manager) Save(c *fiber.Ctx) error {
	s, ok := c.Locals(localsKey).(*Session)
	if !ok || !s.changed {
		return nil
	}
	r, _ := http.NewRequestWithContext(c.UserContext(), http.MethodGet, "/", nil)
	w := &headerWriter{h: http.Header{}}
	if err := m.store.Save(r, w, s.s); err != nil {
		return err
	}
	for _, v := range w.h.Values("Set-Cookie") {
		c.Response().Header.Add(fiber.HeaderSetCookie, v)
	}
	// A response that sets the session cookie carries a credential.
	c.Set(fiber.HeaderCacheControl, "no-store")
	s.changed = false
	return nil
}

// headerWriter captures the Set-Cookie header gorilla writes.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

// Get returns the session of the current request (Load must have run).
func Get(c *fiber.Ctx) *Session {
	s, _ := c.Locals(localsKey).(*Session)
	return s
}

// MerchantID returns the logged-in merchant's id, or "".
func (s *Session) MerchantID() string {
	id, _ := s.s.Values["merchant_id"].(string)
	return id
}

// Token returns the server-side session token of the login, or "".
func (s *Session) Token() string {
	tok, _ := s.s.Values["sid"].(string)
	return tok
}

// Login records merchantID with its server-side session token and rotates
// the CSRF token (no fixation).
func (s *Session) Login(merchantID, token string) {
	s.s.Values["merchant_id"] = merchantID
	s.s.Values["sid"] = token
	s.s.Values["csrf"] = newToken()
	s.s.Options.MaxAge = int(MaxAge / time.Second)
	s.changed = true
}

// Reissue replaces the server-side session token of the current login (after
// a credential change that revoked the old one), keeping the CSRF token so
// the page's open forms still work.
func (s *Session) Reissue(token string) {
	s.s.Values["sid"] = token
	s.s.Options.MaxAge = int(MaxAge / time.Second)
	s.changed = true
}

// Logout forgets the merchant and expires the cookie.
func (s *Session) Logout() {
	s.s.Values = map[any]any{}
	s.s.Options = &sessions.Options{Path: s.s.Options.Path, MaxAge: -1, HttpOnly: true, Secure: s.s.Options.Secure, SameSite: s.s.Options.SameSite}
	s.changed = true
}

// SignedOut forgets the merchant but keeps a cookie carrying only a fresh
// CSRF token and msg as the flash of the next page (the login page).
func (s *Session) SignedOut(msg string) {
	s.s.Values = map[any]any{"csrf": newToken()}
	if msg != "" {
		s.s.Values["flash"] = msg
	}
	s.s.Options = &sessions.Options{Path: s.s.Options.Path, MaxAge: int(MaxAge / time.Second), HttpOnly: true, Secure: s.s.Options.Secure, SameSite: s.s.Options.SameSite}
	s.changed = true
}

// CSRFToken returns the session's CSRF token, creating one on first use.
func (s *Session) CSRFToken() string {
	tok, _ := s.s.Values["csrf"].(string)
	if tok == "" {
		tok = newToken()
		s.s.Values["csrf"] = tok
		s.changed = true
	}
	return tok
}

// CheckCSRF compares a submitted token with the session's in constant time.
func (s *Session) CheckCSRF(submitted string) bool {
	tok, _ := s.s.Values["csrf"].(string)
	submitted = strings.TrimSpace(submitted)
	return tok != "" && submitted != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(submitted)) == 1
}

// SetFlash stores a one-time message shown on the next page.
func (s *Session) SetFlash(msg string) {
	s.s.Values["flash"] = msg
	s.changed = true
}

// Flash pops the one-time message.
func (s *Session) Flash() string {
	msg, _ := s.s.Values["flash"].(string)
	if msg != "" {
		delete(s.s.Values, "flash")
		s.changed = true
	}
	return msg
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
