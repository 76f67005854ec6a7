package handlers

import (
	"bytes"
	"context"
	"sync"

	"till/views/partials"
)

// fragmentCacheBytes bounds the bodies the fragment cache holds. A first
// poll's fragment with the whole panel is 5–8 KB, so this keeps the last
// thousand or so polled sessions (issue 12's memory target is 150 MiB at
// 100,000 open sessions; this is a fixed share of it).
const fragmentCacheBytes = 8 << 20

// fragmentCache keeps the rendered status fragment (CheckoutPollResponse)
// of recently polled sessions. Rendering it was 15 % of a first poll's CPU
// (issue 12); its bytes are a pure function of the session view and of
// whether the panel is sent, so an entry is served only when the view
// built for this poll equals, field by field, the one it was rendered
// from. That key holds everything the bytes show: the payment's state and
// version, the link and merchant text, the phase and the countdown as
// displayed (m:ss, so a pending session's fragment lives at most a second),
// "can pay again" as of now. A view with a CSRF token (the new-payment form
// of a client with a session) is never cached: the bytes are that
// client's. The zero value is ready to use.
type fragmentCache struct {
	mu      sync.RWMutex
	entries map[fragmentKey]*fragmentEntry
	size    int // bytes of all bodies held (their capacity)
}

// fragmentKey is one session's fragment with or without the panel.
type fragmentKey struct {
	id    string
	panel bool
}

// fragmentEntry is immutable once stored: view (with its own copy of the
// EVM part) and the bytes rendered from it.
type fragmentEntry struct {
	view partials.CheckoutSession
	body []byte
}

// render returns the fragment of s, from the cache when it holds the same
// view. The returned bytes must not be modified.
func (f *fragmentCache) render(ctx context.Context, s partials.CheckoutSession, panel bool) ([]byte, error) {
	key := fragmentKey{id: s.PaymentID, panel: panel}
	if s.CSRF == "" {
		f.mu.RLock()
		e := f.entries[key]
		f.mu.RUnlock()
		if e != nil && sameView(&e.view, &s) {
			return e.body, nil
		}
	}
	var buf bytes.Buffer
	if err := partials.CheckoutPollResponse(s, panel).Render(ctx, &buf); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	if s.CSRF == "" && len(body) <= fragmentCacheBytes/64 {
		f.put(key, s, body)
	}
	return body, nil
}

// put stores body under key, dropping other entries (in map order, so
// roughly at random) while the cache is over its budget.
func (f *fragmentCache) put(key fragmentKey, s partials.CheckoutSession, body []byte) {
	if s.EVM != nil {
		evm := *s.EVM
		s.EVM = &evm
	}
	e := &fragmentEntry{view: s, body: body}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = make(map[fragmentKey]*fragmentEntry)
	}
	if old := f.entries[key]; old != nil {
		f.size -= cap(old.body)
	}
	for k, old := range f.entries {
		if f.size+cap(body) <= fragmentCacheBytes {
			break
		}
		if k != key {
			delete(f.entries, k)
			f.size -= cap(old.body)
		}
	}
	f.entries[key] = e
	f.size += cap(body)
}

// sameView reports whether a and b render the same bytes: every field
// equal, the EVM part compared by value.
func sameView(a, b *partials.CheckoutSession) bool {
	if (a.EVM == nil) != (b.EVM == nil) || a.EVM != nil && *a.EVM != *b.EVM {
		return false
	}
	x, y := *a, *b
	x.EVM, y.EVM = nil, nil
	return x == y
}
