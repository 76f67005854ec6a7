package double

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestErrors pins the status and body of every error path the REST server
// has: FastAPI 422 lists, HTTPException details, routing and body limits.
func TestErrors(t *testing.T) {
	c, url := start(t, Options{})
	good := c.AddressFor("good")
	id := c.Pay(good, 1000, "")
	// Valid shape, last checksum character changed (research §2.2).
	badChecksum := "kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4l"
	regexMsg := `{"detail":[{"loc":["path","kaspaAddress"],"msg":"string does not match regex \"^kaspa:[a-z0-9]{61,63}$\"","type":"value_error.str.regex","ctx":{"pattern":"^kaspa:[a-z0-9]{61,63}$"}}]}`
	ids1001 := `{"transactionIds":["` + strings.Repeat(id+`","`, 1000) + id + `"]}`

	tests := []struct {
		name, method, path, body, ctype string
		status                          int
		want                            string // exact body, or substring when prefixed with "~"
	}{
		{"path regex on balance", "GET", "/addresses/kaspa:short/balance", "", "", 422, regexMsg},
		{"path regex on utxos", "GET", "/addresses/KASPA:" + strings.ToUpper(good[6:]) + "/utxos", "", "", 422, regexMsg},
		{"testnet address on mainnet", "GET", "/addresses/" + DefaultSenderTestnet + "/full-transactions", "", "", 422, regexMsg},
		{"bad checksum", "GET", "/addresses/" + badChecksum + "/balance", "", "", 400, `{"detail":"Invalid address: ` + badChecksum + `"}`},
		{"bad checksum on utxos/count", "GET", "/addresses/" + badChecksum + "/utxos/count", "", "", 400, `{"detail":"Invalid address: ` + badChecksum + `"}`},
		{"batch utxos: regex failure is a 400", "POST", "/addresses/utxos", `{"addresses":["` + good + `","nope"]}`, "", 400, `{"detail":"Invalid address: nope"}`},
		// Addresses seen before are remembered (addressCache); what a
		// request answers must not change with that.
		{"batch utxos: a known address again", "POST", "/addresses/utxos", `{"addresses":["` + good + `","` + good + `"]}`, "", 200, `~"address":"` + good + `"`},
		{"batch utxos: a known address beside a bad one", "POST", "/addresses/utxos", `{"addresses":["` + good + `","` + badChecksum + `"]}`, "", 400, `{"detail":"Invalid address: ` + badChecksum + `"}`},
		{"batch balances: another network's address decodes", "POST", "/addresses/balances", `{"addresses":["` + DefaultSenderTestnet + `"]}`, "", 200, `~"address":"` + DefaultSenderTestnet + `"`},
		{"batch utxos: it still fails the regex after balances decoded it", "POST", "/addresses/utxos", `{"addresses":["` + DefaultSenderTestnet + `"]}`, "", 400, `{"detail":"Invalid address: ` + DefaultSenderTestnet + `"}`},
		{"batch balances: bad checksum", "POST", "/addresses/balances", `{"addresses":["` + badChecksum + `"]}`, "", 400, `{"detail":"Invalid address: ` + badChecksum + `"}`},
		{"tx not found", "GET", "/transactions/" + strings.Repeat("0", 64), "", "", 404, `{"detail":"Transaction not found"}`},
		{"tx id regex is re.match: 64 hex + suffix passes, then 404", "GET", "/transactions/" + id + "zz", "", "", 404, `{"detail":"Transaction not found"}`},
		{"tx id uppercase", "GET", "/transactions/" + strings.ToUpper(id), "", "", 422,
			`{"detail":[{"loc":["path","transaction_id"],"msg":"string does not match regex \"[a-f0-9]{64}\"","type":"value_error.str.regex","ctx":{"pattern":"[a-f0-9]{64}"}}]}`},
		{"strict: unknown query param", "GET", "/addresses/" + good + "/utxos?limit=5", "", "", 422,
			`{"detail":[{"loc":["query","limit"],"msg":"Unknown query parameter in request: limit","type":"value_error","input":"limit=5","ctx":{"available_parameters":[]}}]}`},
		{"strict: page lists its parameters", "GET", "/addresses/" + good + "/full-transactions-page?offset=1", "", "", 422,
			`~"ctx":{"available_parameters":["limit","before","after","fields","resolve_previous_outpoints","acceptance"]}`},
		{"strict: POST /addresses/utxos", "POST", "/addresses/utxos?x=1", `{"addresses":[]}`, "", 422, `~Unknown query parameter in request: x`},
		{"strict: acceptance", "POST", "/transactions/acceptance?x=1", `{"transactionIds":[]}`, "", 422, `~Unknown query parameter in request: x`},
		{"strict beats path validation", "GET", "/addresses/bad/transactions-count?x=1", "", "", 422, `~"loc":["query","x"]`},
		{"not strict: balance ignores unknown params", "GET", "/addresses/" + good + "/balance?foo=bar", "", "", 200, `{"address":"` + good + `","balance":1000}`},
		{"not strict: tx ignores unknown params", "GET", "/transactions/" + id + "?foo=bar", "", "", 200, `~"transaction_id":"` + id + `"`},
		{"limit below 1", "GET", "/addresses/" + good + "/full-transactions?limit=0", "", "", 422,
			`{"detail":[{"loc":["query","limit"],"msg":"ensure this value is greater than or equal to 1","type":"value_error.number.not_ge","ctx":{"limit_value":1}}]}`},
		{"limit above 500", "GET", "/addresses/" + good + "/full-transactions-page?limit=501", "", "", 422,
			`{"detail":[{"loc":["query","limit"],"msg":"ensure this value is less than or equal to 500","type":"value_error.number.not_le","ctx":{"limit_value":500}}]}`},
		{"limit not an int", "GET", "/addresses/" + good + "/full-transactions?limit=ten", "", "", 422,
			`{"detail":[{"loc":["query","limit"],"msg":"value is not a valid integer","type":"type_error.integer"}]}`},
		{"path and query errors together", "GET", "/addresses/x/full-transactions?limit=0&offset=-1", "", "", 422,
			`~"loc":["path","kaspaAddress"]`},
		{"bad enum", "GET", "/transactions/" + id + "?resolve_previous_outpoints=all", "", "", 422,
			`{"detail":[{"loc":["query","resolve_previous_outpoints"],"msg":"value is not a valid enumeration member; permitted: 'no', 'light', 'full'","type":"type_error.enum","ctx":{"enum_values":["no","light","full"]}}]}`},
		{"bad bool", "GET", "/transactions/" + id + "?inputs=maybe", "", "", 422,
			`{"detail":[{"loc":["query","inputs"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}`},
		{"before and after", "GET", "/addresses/" + good + "/full-transactions-page?before=2000000000000&after=1700000000000", "", "", 400,
			`{"detail":"Only one of [before, after] can be present"}`},
		{"search: too many ids", "POST", "/transactions/search", ids1001, "", 422, `{"detail":"Too many transaction ids. Max 1000"}`},
		{"search: both criteria", "POST", "/transactions/search", `{"transactionIds":["` + id + `"],"acceptingBlueScores":{"gte":1,"lt":2}}`, "", 422,
			`{"detail":"Only one of transactionIds and acceptingBlueScores must be non-null"}`},
		{"search: blue score window too wide", "POST", "/transactions/search", `{"acceptingBlueScores":{"gte":1,"lt":102}}`, "", 400,
			`{"detail":"Diff between acceptingBlueScores.gte and lt must be <= 100"}`},
		{"search: gte missing", "POST", "/transactions/search", `{"acceptingBlueScores":{"lt":102}}`, "", 422,
			`{"detail":[{"loc":["body","acceptingBlueScores","gte"],"msg":"field required","type":"value_error.missing"}]}`},
		{"search: empty body object", "POST", "/transactions/search", `{}`, "", 200, `[]`},
		{"acceptance: too many ids", "POST", "/transactions/acceptance", ids1001, "", 422, `{"detail":"Too many transaction ids. Max 1000"}`},
		{"acceptance: ids required", "POST", "/transactions/acceptance", `{"ids":[]}`, "", 422,
			`{"detail":[{"loc":["body","transactionIds"],"msg":"field required","type":"value_error.missing"}]}`},
		{"invalid JSON", "POST", "/addresses/utxos", `{"addresses":`, "", 422,
			`~{"detail":[{"type":"json_invalid","loc":["body",`},
		{"non-JSON content type", "POST", "/addresses/utxos", `{"addresses":[]}`, "text/plain", 422,
			`{"detail":[{"loc":["body"],"msg":"value is not a valid dict","type":"type_error.dict"}]}`},
		{"body is a list", "POST", "/addresses/balances", `["` + good + `"]`, "", 422,
			`{"detail":[{"loc":["body"],"msg":"value is not a valid dict","type":"type_error.dict"}]}`},
		{"addresses not a list", "POST", "/addresses/utxos", `{"addresses":"` + good + `"}`, "", 422,
			`{"detail":[{"loc":["body","addresses"],"msg":"value is not a valid list","type":"type_error.list"}]}`},
		{"addresses null", "POST", "/addresses/utxos", `{"addresses":null}`, "", 422,
			`{"detail":[{"loc":["body","addresses"],"msg":"none is not an allowed value","type":"type_error.none.not_allowed"}]}`},
		{"address element not a string", "POST", "/addresses/utxos", `{"addresses":[{"a":1}]}`, "", 422,
			`{"detail":[{"loc":["body","addresses",0],"msg":"str type expected","type":"type_error.str"}]}`},
		{"number coerced to str then rejected", "POST", "/addresses/utxos", `{"addresses":[12]}`, "", 400, `{"detail":"Invalid address: 12"}`},
		{"missing body", "POST", "/addresses/utxos", "", "", 422,
			`{"detail":[{"loc":["body"],"msg":"field required","type":"value_error.missing"}]}`},
		{"unknown body fields are ignored", "POST", "/addresses/balances", `{"addresses":["` + good + `"],"extra":true}`, "", 200,
			`[{"address":"` + good + `","balance":1000}]`},
		{"missing addresses falls back to the model default", "POST", "/addresses/balances", `{}`, "", 200,
			`[{"address":"kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73","balance":0}]`},
		{"unknown route", "GET", "/nope", "", "", 404, `{"detail":"Not Found"}`},
		{"wrong method", "GET", "/addresses/utxos", "", "", 405, `{"detail":"Method Not Allowed"}`},
		{"GET on search hits the tx route", "GET", "/transactions/search", "", "", 422, `~"loc":["path","transaction_id"]`},
		{"price stringOnly bad bool", "GET", "/info/price?stringOnly=sure", "", "", 422, `~"type":"type_error.bool"`},
		{"virtual chain: blueScoreGte required", "GET", "/virtual-chain?limit=10", "", "", 422,
			`{"detail":[{"loc":["query","blueScoreGte"],"msg":"field required","type":"value_error.missing"}]}`},
		{"virtual chain: blueScoreGte negative", "GET", "/virtual-chain?blueScoreGte=-10", "", "", 422,
			`{"detail":[{"loc":["query","blueScoreGte"],"msg":"ensure this value is greater than or equal to 0","type":"value_error.number.not_ge","ctx":{"limit_value":0}}]}`},
		{"virtual chain: limit not an int", "GET", "/virtual-chain?blueScoreGte=0&limit=ten", "", "", 422,
			`{"detail":[{"loc":["query","limit"],"msg":"value is not a valid integer","type":"type_error.integer"}]}`},
		{"virtual chain: bad bool", "GET", "/virtual-chain?blueScoreGte=0&includeCoinbase=maybe", "", "", 422,
			`{"detail":[{"loc":["query","includeCoinbase"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}`},
		{"virtual chain: strict", "GET", "/virtual-chain?blueScoreGte=0&offset=1", "", "", 422,
			`~"ctx":{"available_parameters":["blueScoreGte","limit","resolveInputs","includeCoinbase"]}`},
		{"virtual chain: limit outside [10, 100] is the handler's 400", "GET", "/virtual-chain?blueScoreGte=0&limit=50", "", "", 400,
			`{"detail":"'limit' must be in [10, 100]"}`},
		{"virtual chain: limit 0 is a 400, not a division by zero", "GET", "/virtual-chain?blueScoreGte=0&limit=0", "", "", 400,
			`{"detail":"'limit' must be in [10, 100]"}`},
		{"virtual chain: blueScoreGte not divisible by limit", "GET", "/virtual-chain?blueScoreGte=1010&limit=100", "", "", 400,
			`{"detail":"'blueScoreGte' must be divisible by limit (100)"}`},
		{"virtual chain: divisible by the default limit", "GET", "/virtual-chain?blueScoreGte=1010", "", "", 200, `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ctype != "" {
				hdr = append(hdr, "Content-Type: "+tc.ctype)
			}
			r := callWithBody(t, tc.method, url+tc.path, tc.body, hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			got := string(r.body)
			if strings.HasPrefix(tc.want, "~") {
				if !strings.Contains(got, tc.want[1:]) {
					t.Errorf("body %s\nwant it to contain %s", got, tc.want[1:])
				}
			} else if got != tc.want {
				t.Errorf("body %s\nwant         %s", got, tc.want)
			}
			if r.status >= 400 && r.status != 404 && r.status != 405 && r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
		})
	}

	t.Run("body over 200000 bytes is 413", func(t *testing.T) {
		big := `{"addresses":["` + strings.Repeat("x", MaxBodyBytes) + `"]}`
		r := callWithBody(t, "POST", url+"/addresses/utxos", big)
		if r.status != http.StatusRequestEntityTooLarge || len(r.body) != 0 {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("POST without Content-Length is 411", func(t *testing.T) {
		req, _ := http.NewRequest("POST", url+"/addresses/utxos", io.MultiReader(strings.NewReader(`{"addresses":[]}`)))
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusLengthRequired {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("a panic becomes the server's 500 body", func(t *testing.T) {
		// No real route panics, so add one to a private handler instance.
		s := c.Handler().(*server)
		s.rest.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
		req, _ := http.NewRequest("GET", "/boom", nil)
		rec := &recorder{header: http.Header{}}
		s.ServeHTTP(rec, req)
		if rec.status != 500 || rec.body.String() != `{"message":"Internal server error"}` {
			t.Errorf("got %d %s", rec.status, rec.body.String())
		}
	})
}

// callWithBody is call that always sends the body (even empty, with
// Content-Length: 0) for POSTs.
func callWithBody(t *testing.T, method, url, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if method == "POST" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}
