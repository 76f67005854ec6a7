package double

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBodyBytes is the REST server's request body cap (LimitUploadSize):
// a POST without Content-Length gets 411, a larger one 413, both empty.
const MaxBodyBytes = 200_000

const routeCoinGecko = "GET /coingecko/simple/price"

// gzipMinSize mirrors FastAPI's GZipMiddleware(minimum_size=500).
const gzipMinSize = 500

type server struct {
	c       *Chain
	rest    *http.ServeMux
	control *http.ServeMux
}

// Handler returns the HTTP handler serving the REST API, the CoinGecko
// route and the /_double/ control API.
func (c *Chain) Handler() http.Handler {
	return &server{c: c, rest: c.restMux(), control: c.controlMux()}
}

// Serve serves c.Handler() on ln until ln fails or Close is called (then it
// returns http.ErrServerClosed).
func (c *Chain) Serve(ln net.Listener) error {
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-c.closed:
			_ = srv.Close()
		case <-done:
		}
	}()
	return srv.Serve(ln)
}

// StartLoopback serves the chain on a fresh 127.0.0.1 port (real TCP) and
// returns its base URL ("http://127.0.0.1:NNNNN") and a stop function that
// ends in-flight requests (including ones held by FailTimeout) and closes
// the listener. The chain itself stays usable.
func (c *Chain) StartLoopback() (url string, stop func(), err error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	stop = func() {
		cancel()
		ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-served
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if preflight := s.cors(w, r); preflight {
		return
	}
	if r.URL.Path == "/_double" || strings.HasPrefix(r.URL.Path, "/_double/") {
		s.control.ServeHTTP(w, r)
		return
	}
	_, pattern := s.rest.Handler(r)
	if pattern == "" {
		s.notFound(w, r)
		return
	}
	c := s.c
	c.mu.Lock()
	c.calls[pattern]++
	f, failing := c.takeFailureLocked(pattern)
	cgFail := pattern == routeCoinGecko && c.coingeckoFail
	c.mu.Unlock()
	defer c.enter(r, pattern)()

	if cgFail {
		writeRaw(w, r, http.StatusTooManyRequests, "application/json",
			[]byte(`{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}}`), nil)
		return
	}
	if failing {
		switch f.Mode {
		case Fail503:
			writeRaw(w, r, http.StatusServiceUnavailable, "application/json",
				[]byte(`{"detail":"Service temporarily unavailable (failure injected by the Kaspa double)"}`), nil)
			return
		case Fail500:
			writeRaw(w, r, http.StatusInternalServerError, "application/json", []byte(`{"message":"Internal server error"}`), nil)
			return
		case FailTimeout:
			var delay <-chan time.Time
			if f.Delay > 0 {
				t := time.NewTimer(f.Delay)
				defer t.Stop()
				delay = t.C
			}
			select {
			case <-r.Context().Done():
				// Client gone or server stopping: drop the connection
				// rather than let net/http send an empty 200.
				panic(http.ErrAbortHandler)
			case <-c.closed:
				panic(http.ErrAbortHandler)
			case <-delay:
			}
			failing = false
		}
	}

	if r.Method == http.MethodPost {
		if r.ContentLength < 0 {
			writeRaw(w, r, http.StatusLengthRequired, "", nil, nil)
			return
		}
		if r.ContentLength > MaxBodyBytes {
			writeRaw(w, r, http.StatusRequestEntityTooLarge, "", nil, nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}

	rec := &recorder{header: http.Header{}}
	func() {
		defer func() {
			if p := recover(); p != nil {
				rec = &recorder{header: http.Header{}}
				rec.header.Set("Content-Type", "application/json")
				rec.status = http.StatusInternalServerError
				rec.body.WriteString(`{"message":"Internal server error"}`)
			}
		}()
		s.rest.ServeHTTP(rec, r)
	}()
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && rec.header.Get("Cache-Control") == "" {
		rec.header.Set("Cache-Control", "public, max-age=8")
	}
	body := rec.body.Bytes()
	if failing {
		switch f.Mode {
		case FailJunk:
			rec.status = http.StatusOK
			rec.header.Set("Content-Type", "application/json")
			body = []byte("<html><head><title>502 Bad Gateway</title></head><body>upstream sent junk</body></html>\n")
		case FailTruncated:
			rec.status = http.StatusOK
			body = body[:len(body)/2]
		}
	}
	writeRaw(w, r, rec.status, "", body, rec.header)
}

// writeRaw writes a complete response, gzip-compressing bodies of at least
// 500 bytes when the client accepts it (as the REST server does).
func writeRaw(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	if len(body) >= gzipMinSize && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// cors mirrors Starlette's CORSMiddleware(allow_origins=["*"],
// allow_credentials=True, expose_headers=[X-Data-Source, X-Page-*]) and
// answers preflight requests. It reports whether the request was a
// preflight (and has been answered).
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "600")
		h.Set("Vary", "Origin")
		writeRaw(w, r, http.StatusOK, "text/plain; charset=utf-8", []byte("OK"), nil)
		return true
	}
	h := w.Header()
	if r.Header.Get("Cookie") != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "X-Data-Source, X-Page-Count, X-Next-Page-After, X-Next-Page-Before")
	return false
}

// notFound answers like Starlette: 405 when the path exists for another
// method, else 404, both with a JSON detail.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.rest.Handler(r2); p != "" {
			w.Header().Set("Allow", m)
			writeRaw(w, r, http.StatusMethodNotAllowed, "application/json", []byte(`{"detail":"Method Not Allowed"}`), nil)
			return
		}
	}
	writeRaw(w, r, http.StatusNotFound, "application/json", []byte(`{"detail":"Not Found"}`), nil)
}

// recorder buffers a handler's response so the middleware can add headers,
// corrupt it (junk/truncated) or compress it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// readBody reads a size-capped request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, err
	}
	return b, err
}
