package webtest

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"
)

// ChromiumPath returns the Chromium binary for browser tests: TILL_TEST_CHROMIUM,
// else /usr/bin/chromium. There is no download fallback and no skip: a
// missing browser fails the test (make test installs Debian's chromium).
func ChromiumPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TILL_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("browser tests need Chromium at %s (apt-get install chromium, or set TILL_TEST_CHROMIUM): %v", p, err)
	}
	return p
}

// Browser starts a headless Chromium for t and closes it when the test ends.
func Browser(t testing.TB) *rod.Browser {
	t.Helper()
	l := launcher.New().Bin(ChromiumPath(t)).Headless(true).NoSandbox(true).
		UserDataDir(t.TempDir()).
		Set("disable-gpu").Set("disable-quic").Set("no-first-run").
		Set("disable-background-networking").Set("disable-component-update").
		Set("disable-sync").Set("disable-dev-shm-usage").Leakless(false)
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("launch chromium: %v", err)
	}
	b := rod.New().ControlURL(u).Timeout(90 * time.Second)
	if err := b.Connect(); err != nil {
		l.Kill()
		t.Fatalf("connect to chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		l.Kill()
		l.Cleanup()
	})
	return b
}

// Screenshot saves a PNG of the page under dir (created) as name.png.
// Set TILL_SCREENSHOTS to a folder (make screenshots uses docs/screenshots)
// to keep them; otherwise they go to the test's temp dir.
func Screenshot(t testing.TB, p *rod.Page, name string) string {
	t.Helper()
	dir := os.Getenv("TILL_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := p.Screenshot(true, nil)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ConsoleErrors records script exceptions and console/Log errors (CSP
// violations among them) of page from now on. Call the returned function to
// read them.
func ConsoleErrors(t testing.TB, p *rod.Page) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []string
	)
	if err := (proto.LogEnable{}).Call(p); err != nil {
		t.Fatal(err)
	}
	if err := (proto.RuntimeEnable{}).Call(p); err != nil {
		t.Fatal(err)
	}
	go p.EachEvent(
		func(e *proto.RuntimeExceptionThrown) {
			mu.Lock()
			errs = append(errs, "exception: "+e.ExceptionDetails.Text+" "+exceptionDescription(e))
			mu.Unlock()
		},
		func(e *proto.LogEntryAdded) {
			if e.Entry.Level == proto.LogLogEntryLevelError {
				mu.Lock()
				errs = append(errs, "log: "+e.Entry.Text+" "+e.Entry.URL)
				mu.Unlock()
			}
		},
		func(e *proto.RuntimeConsoleAPICalled) {
			if e.Type == proto.RuntimeConsoleAPICalledTypeError {
				mu.Lock()
				errs = append(errs, "console.error")
				mu.Unlock()
			}
		},
	)()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

func exceptionDescription(e *proto.RuntimeExceptionThrown) string {
	if e.ExceptionDetails.Exception != nil {
		return e.ExceptionDetails.Exception.Description
	}
	return ""
}

// Element waits up to timeout for the first element matching sel on p and
// fails t with the page's URL and the start of its text if none appears, so
// a slow or unexpected page says what it showed instead of a bare timeout.
func Element(t testing.TB, p *rod.Page, sel string, timeout time.Duration) *rod.Element {
	t.Helper()
	el, err := p.Timeout(timeout).Element(sel)
	if err == nil {
		return el.CancelTimeout()
	}
	url, text := "?", ""
	if info, ierr := p.Info(); ierr == nil {
		url = info.URL
	}
	if body, berr := p.Timeout(5 * time.Second).Element("body"); berr == nil {
		text, _ = body.Text()
	}
	if len(text) > 600 {
		text = text[:600]
	}
	t.Fatalf("no %s after %s at %s: %v\npage text: %s", sel, timeout, url, err, text)
	return nil
}

// Arrive waits until p, sent elsewhere by the page's own script (a checkout's
// redirect to the shop), shows url and an element matching sel there. A query
// that starts while the browser swaps documents fails with "Inspected target
// navigated or closed"; that is the navigation this waits for, so such errors
// are retried until timeout, and then t fails with where the page was.
func Arrive(t testing.TB, p *rod.Page, url, sel string, timeout time.Duration) *rod.Element {
	t.Helper()
	deadline := time.Now().Add(timeout)
	at, lastErr := "?", error(nil)
	for time.Now().Before(deadline) {
		info, err := p.Info()
		if err == nil {
			at = info.URL
		}
		if err == nil && info.URL == url {
			el, err := p.Timeout(time.Second).Element(sel)
			if err == nil {
				return el.CancelTimeout()
			}
			lastErr = err
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("not at %s with %s after %s: at %s (%v)", url, sel, timeout, at, lastErr)
	return nil
}

// Navigate runs click (which should make p leave its page) and waits until p
// has a new document whose path (/a/b), or path and query (/a/b?c=d), match
// the regular expression urlRe and
// which has finished loading. rod's WaitNavigation waits for a lifecycle
// event, and a late one of the page being left can satisfy it before the
// click's navigation started; a marker set on the old document tells them
// apart here. Queries that fail while documents swap are retried.
func Navigate(t testing.TB, p *rod.Page, click func(), urlRe string, timeout time.Duration) {
	t.Helper()
	re := regexp.MustCompile(urlRe)
	p.MustEval(`() => { window.__tillLeaving = true }`)
	click()
	deadline := time.Now().Add(timeout)
	at := "?"
	for time.Now().Before(deadline) {
		if info, err := p.Info(); err == nil {
			at = info.URL
			if u, err := url.Parse(info.URL); err == nil && (re.MatchString(u.Path) || re.MatchString(u.RequestURI())) {
				res, err := p.Timeout(time.Second).Eval(`() => !window.__tillLeaving && document.readyState === "complete"`)
				if err == nil && res.Value.Bool() {
					return
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no loaded page at %s after %s: at %s", urlRe, timeout, at)
}
