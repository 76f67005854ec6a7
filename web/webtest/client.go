package webtest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// Client is a cookie-keeping HTTP client for the HTML pages over real TCP.
// It does not follow redirects, so tests can assert them.
type Client struct {
	t    testing.TB
	base string
	http *http.Client
}

// Client returns a fresh visitor (empty cookie jar); Listen must have run.
func (e *Env) Client() *Client {
	e.T.Helper()
	if e.URL == "" {
		e.Listen()
	}
	jar, _ := cookiejar.New(nil)
	return &Client{t: e.T, base: e.URL, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Page is a fetched HTML page.
type Page struct {
	Status int
	Header http.Header
	Doc    *goquery.Document
	Body   string
}

// Get fetches path.
func (c *Client) Get(path string, headers ...string) Page {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", c.base+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// PostForm submits form values to path (add "_csrf" yourself, or use Submit).
func (c *Client) PostForm(path string, values url.Values, headers ...string) Page {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", c.base+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// Submit loads formPage, takes the CSRF token from its form and posts values
// to action, as a browser would.
func (c *Client) Submit(formPage, action string, values url.Values, headers ...string) Page {
	c.t.Helper()
	p := c.Get(formPage)
	tok, ok := p.Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		c.t.Fatalf("no CSRF token on %s", formPage)
	}
	values.Set("_csrf", tok)
	return c.PostForm(action, values, headers...)
}

func (c *Client) do(req *http.Request) Page {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(raw)))
	if err != nil {
		c.t.Fatal(err)
	}
	return Page{Status: resp.StatusCode, Header: resp.Header, Doc: doc, Body: string(raw)}
}

// Text returns the trimmed text of the first element matching sel.
func (p Page) Text(sel string) string { return strings.TrimSpace(p.Doc.Find(sel).First().Text()) }

// TestID returns the text of the element with data-testid=id.
func (p Page) TestID(id string) string { return p.Text(`[data-testid="` + id + `"]`) }
