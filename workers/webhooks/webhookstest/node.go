// Package webhookstest runs the API documents' own Node.js webhook
// verifiers (workers/webhooks/testdata) over deliveries captured by tests,
// for every package whose tests capture deliveries.
package webhookstest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// NodePath finds node: TILL_TEST_NODE or PATH. A missing node fails the
// test (`make test` installs it), since the point is to run the documents'
// own JavaScript.
func NodePath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TILL_TEST_NODE"); p != "" {
		return p
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required to run the API documents' verifiers (set TILL_TEST_NODE or install nodejs; `make test` does)")
	}
	return p
}

// Script is the path of a verifier harness in workers/webhooks/testdata.
func Script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", name)
}

// Verbatim returns the block of script between its BEGIN and END marker
// lines: the document's code, which callers compare with the document.
func Verbatim(t testing.TB, script string) string {
	t.Helper()
	raw, err := os.ReadFile(Script(script))
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(raw, []byte("// ----- BEGIN verbatim"))
	end := bytes.Index(raw, []byte("// ----- END verbatim"))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no verbatim block", script)
	}
	begin += bytes.IndexByte(raw[begin:], '\n') + 1
	return string(raw[begin:end])
}

// KasPayCase is one delivery for kaspay_verify.js: Body is the raw body in
// base64, Signature the X-KasPay-Signature header.
type KasPayCase struct {
	Name      string `json:"name"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
	Secret    string `json:"secret"`
}

// KasPayResult is what the KasPay document's verifySignature said, and
// whether the body equals JSON.stringify(JSON.parse(body)).
type KasPayResult struct {
	Name      string `json:"name"`
	Verified  bool   `json:"verified"`
	Canonical bool   `json:"canonical"`
}

// RunKasPay runs testdata/kaspay_verify.js over cases, by name.
func RunKasPay(t testing.TB, cases []KasPayCase) map[string]KasPayResult {
	t.Helper()
	return run[KasPayResult](t, "kaspay_verify.js", cases, func(r KasPayResult) string { return r.Name })
}

// KiraPay verifier modes: what the receiver passes as payload.
const (
	ModeString  = "string"  // the raw body as text (express.text())
	ModeBuffer  = "buffer"  // the raw body as a Buffer (express.raw())
	ModeReparse = "reparse" // JSON.stringify(req.body) after express.json()
	ModeObject  = "object"  // req.body itself: "[object Object]", never verifies
)

// KiraPayCase is one delivery for kirapay_verify.js: Body is the raw body
// in base64; Signature and Timestamp the X-KiraPay-* headers.
type KiraPayCase struct {
	Name      string `json:"name"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
	Secret    string `json:"secret"`
	Timestamp string `json:"timestamp"`
	Mode      string `json:"mode"`
}

// KiraPayResult is what the KiraPay document's verifyWebhook returned, or
// the code of what it threw.
type KiraPayResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Threw string `json:"threw"`
}

// RunKiraPay runs testdata/kirapay_verify.js over cases, by name.
func RunKiraPay(t testing.TB, cases []KiraPayCase) map[string]KiraPayResult {
	t.Helper()
	return run[KiraPayResult](t, "kirapay_verify.js", cases, func(r KiraPayResult) string { return r.Name })
}

// run writes cases to a file, runs script under node and reads one JSON
// result a line, keyed by name.
func run[R any, C any](t testing.TB, script string, cases []C, name func(R) string) map[string]R {
	t.Helper()
	raw, _ := json.Marshal(cases)
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), NodePath(t), Script(script), path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	res := map[string]R{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r R
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s output %q: %v", script, line, err)
		}
		res[name(r)] = r
	}
	if len(res) != len(cases) {
		t.Fatalf("%s answered %d of %d cases", script, len(res), len(cases))
	}
	return res
}
