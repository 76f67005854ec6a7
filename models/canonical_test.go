package models_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"till/models"
)

// nodePath finds node (TILL_TEST_NODE or PATH). These tests compare against
// the real JavaScript engine, so a missing node fails them: `make test`
// installs it.
func nodePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TILL_TEST_NODE"); p != "" {
		return p
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the JSON canonicalisation tests (set TILL_TEST_NODE or install nodejs; `make test` does)")
	}
	return p
}

// jsRoundTrip runs JSON.stringify(JSON.parse(x)) in node for every input.
// ok[i] is false where JSON.parse threw.
func jsRoundTrip(t *testing.T, inputs [][]byte) (out [][]byte, ok []bool) {
	t.Helper()
	const script = `
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l.length > 0);
const out = lines.map(l => {
  const s = Buffer.from(l.slice(1), 'base64').toString('utf8');
  try { return 'OK ' + Buffer.from(JSON.stringify(JSON.parse(s)), 'utf8').toString('base64'); }
  catch (e) { return 'ERR'; }
});
process.stdout.write(out.join('\n') + '\n');`
	var in bytes.Buffer
	for _, x := range inputs {
		in.WriteByte('>') // keeps empty inputs on their own line
		in.WriteString(base64.StdEncoding.EncodeToString(x))
		in.WriteByte('\n')
	}
	cmd := exec.Command(nodePath(t), "-e", script)
	cmd.Stdin = &in
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("node returned %d results for %d inputs", len(lines), len(inputs))
	}
	for _, l := range lines {
		if l == "ERR" {
			out, ok = append(out, nil), append(ok, false)
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l, "OK "))
		if err != nil {
			t.Fatal(err)
		}
		out, ok = append(out, b), append(ok, true)
	}
	return out, ok
}

// trickyJSON is a hand-written corpus of what trips encoders.
var trickyJSON = []string{
	`{"a":1}`, `[]`, `{}`, `null`, `true`, `"x"`, ` 1 `, "\t[\r\n1 ,\n2]\n",
	`[1.0,1e21,1E21,1e+21,1e20,1e-7,1e-6,0.000001,0.0000001,-0,-0.0,0e10,-0e-5]`,
	`[1e400,-1e400,1e-400,-1e-400,5e-324,2.5e-324,2.4e-324,1.7976931348623157e308,1.7976931348623158e308,1.7976931348623159e308]`,
	`[9007199254740993,9007199254740992,12345678901234567890,123456789012345678901234567890,-18446744073709551616]`,
	`[0.1,0.2,0.30000000000000004,100,1000000,123e18,123e19,1.5e300,4.35,0.000123,1234.5678e-3]`,
	`[100e-2,0.5e1,10.0e-1,123456789e-30,1.23456789012345678901234567890]`,
	`{"b":1,"a":2,"1":3,"0":4,"10":5,"2":6}`,
	`{"4294967295":1,"4294967294":2,"01":3,"-1":4,"1.5":5," 1":6,"1 ":7,"1e3":8,"9007199254740993":9}`,
	`{"a":1,"4294967295":2,"4294967294":3,"x":4,"4294967296":5,"0":6}`,
	`{"a":1,"b":2,"a":3}`, `{"1":1,"x":2,"1":3}`, `{"__proto__":{"x":1},"constructor":2}`,
	`{"":1,"":2}`,
	`["<script>","&amp;","'","\"","\\","\/","/","\u003c\u003e\u0026"]`,
	`["\b\f\n\r\t","\u0000\u0001\u001f\u0020\u007f\u0080\u009f"]`,
	`["\u2028\u2029","` + "\u2028\u2029" + `","\\u2028","\\\u2028"]`,
	`["\ud800","\udc00","\ud83d\ude00","\ude00\ud83d","\ud83d","\ud83dx","\ud83d\u0041","\uD83D\uDE00","\uDBFF\uDFFF","\ud800\ud800\udc00"]`,
	`["é","中文","😀","` + "\u00e9\u4e2d\U0001F600\x7f\ufeff\uffff" + `"]`,
	`{"nested":{"z":[1,{"b":[],"a":{}}],"3":null,"2":[true,false]}}`,
	`{"\u0041":1,"A":2}`, `{"\ud83d\ude00":1,"😀":2}`, `{"\ud800":1}`,
	// Invalid JSON: both must refuse.
	`{"a":1,}`, `[1,]`, `01`, `+1`, `.5`, `1.`, `1e`, `-`, `NaN`, `Infinity`, `'x'`, `{'a':1}`, "[\"\x01\"]", `"\x"`,
	`"\u12"`, `"\u12G4"`, `{} x`, ``, `   `, `[1 2]`, `{"a" 1}`, `{1:2}`, `tru`, `nul`, `[`, `{"a":`, `"abc`, "\u00a0[]",
}

func TestCanonicalizeMatchesNodeOnCorpus(t *testing.T) {
	inputs := make([][]byte, len(trickyJSON))
	for i, s := range trickyJSON {
		inputs[i] = []byte(s)
	}
	compareWithNode(t, inputs)
}

func TestCanonicalizeMatchesNodeOnRandomDocuments(t *testing.T) {
	g := &jsonGen{r: rand.New(rand.NewPCG(20260301, 4))}
	var inputs [][]byte
	for range 3000 {
		inputs = append(inputs, []byte(g.value(0)))
	}
	// Numbers alone, from random bit patterns: the shortest-digits and
	// exponent rules of Number.prototype.toString.
	for range 3000 {
		f := math.Float64frombits(g.r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		inputs = append(inputs, []byte(strconv.FormatFloat(f, 'g', -1, 64)))
		inputs = append(inputs, []byte(strconv.FormatFloat(f, 'e', g.r.IntN(20), 64)))
	}
	compareWithNode(t, inputs)
}

func compareWithNode(t *testing.T, inputs [][]byte) {
	t.Helper()
	want, ok := jsRoundTrip(t, inputs)
	bad := 0
	for i, in := range inputs {
		got, err := models.Canonicalize(in)
		switch {
		case !ok[i] && err == nil:
			t.Errorf("JSON.parse refuses %q but Canonicalize accepted it as %q", in, got)
		case ok[i] && err != nil:
			t.Errorf("JSON.parse accepts %q but Canonicalize failed: %v", in, err)
		case ok[i] && !bytes.Equal(got, want[i]):
			t.Errorf("input %q\n go   %q\n node %q", in, got, want[i])
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
	t.Logf("%d inputs compared with node", len(inputs))
}

func TestCanonicalJSONOfGoValues(t *testing.T) {
	name := "Zoë <b>&amp;</b> \"q\" \\ \u2028\u2029 😀 \b\f\x01"
	snap := models.PaymentSnapshot{
		ID: "p", Status: "confirmed", CustomerName: &name,
		Metadata: json.RawMessage(`{"z":1.0,"2":"b","1":"a","big":1e21,"html":"<&>"}`),
	}
	got, err := models.CanonicalJSON(snap)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte(`\u003c`)) || bytes.Contains(got, []byte(`\u2028`)) || bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("Go escaping survived: %s", got)
	}
	if !bytes.Contains(got, []byte(`"metadata":{"1":"a","2":"b","z":1,"big":1e+21,"html":"<&>"}`)) {
		t.Fatalf("metadata not in JavaScript form: %s", got)
	}
	want, _ := jsRoundTrip(t, [][]byte{got})
	if !bytes.Equal(got, want[0]) {
		t.Fatalf("not a fixed point of JSON.stringify(JSON.parse(x)):\n go   %s\n node %s", got, want[0])
	}
	if _, err := models.Canonicalize([]byte("{\"a\":\"\xff\"}")); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
}

func TestPaymentMetadataStoredAsJavaScriptReserializesIt(t *testing.T) {
	e := newWhEnv(t)
	l := e.link(e.merchant("meta@example.com", whAddrA))
	docs := []string{
		`{"orderId":"12345"}`,
		`{"zeta":1,"alpha":2,"10":"ten","9":"nine","mid":{"y":1.0,"x":1e21,"0":-0}}`,
		`{"note":"<b>Tom & \"Jerry\"</b> \\ ` + "\u2028\u2029" + ` ünïcödé 😀","n":[1.50,0.000001,1e-7,12345678901234567890]}`,
		`{"dup":1,"other":true,"dup":{"last":"wins"}}`,
		`{"lone":"\ud800","pair":"\ud83d\ude00","ctl":"\u0001\b\f"}`,
		"  {\n\t\"spaced\" : [ 1 , 2 ] }  ",
	}
	inputs := make([][]byte, len(docs))
	for i, d := range docs {
		inputs[i] = []byte(d)
	}
	want, ok := jsRoundTrip(t, inputs)
	for i, d := range docs {
		if !ok[i] {
			t.Fatalf("corpus entry %d is not JSON", i)
		}
		p := e.payment(l, models.CreatePaymentInput{Metadata: json.RawMessage(d)})
		stored, err := e.s.Payment(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Metadata != string(want[i]) {
			t.Errorf("metadata %s\n stored %s\n node   %s", d, stored.Metadata, want[i])
		}
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":1} {"b":2}`, `{"a":1,}`, "{\"a\":\"\xc3\"}"} {
		_, err := e.s.CreatePayment(e.ctx, models.CreatePaymentInput{LinkSlug: l.Slug, Metadata: json.RawMessage(bad)})
		if err == nil || !strings.Contains(err.Error(), "metadata") {
			t.Errorf("metadata %q: want a metadata error, got %v", bad, err)
		}
	}
}

// jsonGen writes random JSON text with the features that differ between
// encoders: number spellings, escapes, surrogates, key order, duplicates.
type jsonGen struct{ r *rand.Rand }

func (g *jsonGen) ws() string {
	if g.r.IntN(4) != 0 {
		return ""
	}
	return []string{" ", "\t", "\n", "\r\n", "  "}[g.r.IntN(5)]
}

func (g *jsonGen) value(depth int) string {
	n := 7
	if depth > 3 {
		n = 4
	}
	switch g.r.IntN(n) {
	case 0:
		return g.number()
	case 1, 2:
		return g.str()
	case 3:
		return []string{"true", "false", "null"}[g.r.IntN(3)]
	case 4:
		var b strings.Builder
		b.WriteString("[" + g.ws())
		for i := range g.r.IntN(5) {
			if i > 0 {
				b.WriteString("," + g.ws())
			}
			b.WriteString(g.value(depth+1) + g.ws())
		}
		return b.String() + "]"
	default:
		var b strings.Builder
		b.WriteString("{" + g.ws())
		var keys []string
		for i := range g.r.IntN(7) {
			if i > 0 {
				b.WriteString("," + g.ws())
			}
			var k string
			if len(keys) > 0 && g.r.IntN(6) == 0 {
				k = keys[g.r.IntN(len(keys))] // duplicate
			} else {
				k = g.key()
			}
			keys = append(keys, k)
			b.WriteString(k + g.ws() + ":" + g.ws() + g.value(depth+1) + g.ws())
		}
		return b.String() + "}"
	}
}

var keyPool = []string{`"0"`, `"1"`, `"2"`, `"10"`, `"9"`, `"01"`, `"-1"`, `"1.5"`, `"4294967294"`, `"4294967295"`,
	`"a"`, `"b"`, `"z"`, `"__proto__"`, `"orderId"`, `""`, `" 1"`, `"\u0031"`, `"😀"`, `"\ud83d\ude00"`}

func (g *jsonGen) key() string {
	if g.r.IntN(3) == 0 {
		return g.str()
	}
	return keyPool[g.r.IntN(len(keyPool))]
}

var numberPool = []string{"0", "-0", "-0.0", "1.0", "1e21", "1E21", "1e-7", "0.000001", "1e400", "-1e400", "1e-400",
	"5e-324", "9007199254740993", "12345678901234567890", "0.1", "100", "1.7976931348623157e308", "123e-20", "0.5"}

func (g *jsonGen) number() string {
	switch g.r.IntN(4) {
	case 0:
		return numberPool[g.r.IntN(len(numberPool))]
	case 1:
		f := math.Float64frombits(g.r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "1"
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case 2:
		// A random decimal: digits, fraction, exponent.
		s := strconv.FormatUint(g.r.Uint64N(1_000_000_000_000), 10)
		if g.r.IntN(2) == 0 {
			s = "-" + s
		}
		if g.r.IntN(2) == 0 {
			s += "." + strconv.FormatUint(g.r.Uint64N(1_000_000), 10)
		}
		if g.r.IntN(2) == 0 {
			s += []string{"e", "E", "e+", "e-"}[g.r.IntN(4)] + strconv.Itoa(g.r.IntN(40))
		}
		return s
	default:
		return strconv.FormatFloat(g.r.NormFloat64()*math.Pow(10, float64(g.r.IntN(60)-30)), 'f', -1, 64)
	}
}

var rawPieces = []string{"a", "Z", " ", "<", ">", "&", "'", "é", "中", "😀", "\u2028", "\u2029", "\x7f", "\ufeff", "\uffff", "ü"}
var escPieces = []string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u0000`, `\u001F`, `\u001f`, `\u007f`, `\u2028`,
	`\u2029`, `\ud800`, `\udfff`, `\uD83D\uDE00`, `\ud83d\ude00`, `\ude00\ud83d`, `\u00e9`, `\u0041`, `\\u2028`, `\u005c`}

func (g *jsonGen) str() string {
	var b strings.Builder
	b.WriteByte('"')
	for range g.r.IntN(8) {
		switch g.r.IntN(3) {
		case 0:
			b.WriteString(rawPieces[g.r.IntN(len(rawPieces))])
		case 1:
			b.WriteString(escPieces[g.r.IntN(len(escPieces))])
		default:
			// A random code unit escape, surrogates included.
			b.WriteString(`\u` + strconv.FormatInt(int64(0x10000+g.r.IntN(0x10000)), 16)[1:])
		}
	}
	b.WriteByte('"')
	return b.String()
}
