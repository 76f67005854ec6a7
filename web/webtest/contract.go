package webtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"till/static"
)

// The contract check: every request and response that a test sends through
// Env.Do to an API path is validated against the OpenAPI document of its
// surface (static/openapi), so the documents cannot drift from the code.
// A mismatch fails the test with the route and what differs.
//
//   - A documented route: the response always; the request too, unless the
//     answer is a 4xx (the test sent a bad request on purpose).
//   - An undocumented path under a surface (the 404 catch-all): the response
//     must be an error whose body is the document's Error schema.

// APIDoc is one parsed OpenAPI document with its validator.
type APIDoc struct {
	Name      string
	Model     *v3.Document
	Validator validator.Validator
	// errorSchema is components.schemas.Error: every error body.
	errorSchema *base.Schema
}

// KiraPayPrefixes are the path prefixes of the KiraPay route group; every
// other /api path belongs to the KasPay surface.
var KiraPayPrefixes = []string{"/api/link", "/api/wallet", "/api/admin"}

// IsKiraPayPath reports whether path (without query) is under a KiraPay
// prefix, by whole segments (/api/links is KasPay).
func IsKiraPayPath(path string) bool {
	for _, p := range KiraPayPrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// isAPIPath reports whether path is under /api.
func isAPIPath(path string) bool { return path == "/api" || strings.HasPrefix(path, "/api/") }

// contracts parses both documents once per test binary.
var contracts = sync.OnceValues(func() ([2]*APIDoc, error) {
	var out [2]*APIDoc
	for i, name := range []string{static.OpenAPIKasPay, static.OpenAPIKiraPay} {
		d, err := loadAPIDoc(name)
		if err != nil {
			return out, err
		}
		out[i] = d
	}
	return out, nil
})

func loadAPIDoc(name string) (*APIDoc, error) {
	raw, err := static.OpenAPI.ReadFile(name)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", name, errs)
	}
	d := &APIDoc{Name: name, Model: &model.Model, Validator: v}
	if model.Model.Components != nil && model.Model.Components.Schemas != nil {
		if sp, ok := model.Model.Components.Schemas.Get("Error"); ok {
			d.errorSchema = sp.Schema()
		}
	}
	if d.errorSchema == nil {
		return nil, fmt.Errorf("%s: no components.schemas.Error", name)
	}
	return d, nil
}

// APIDocs returns the parsed KasPay and KiraPay documents, failing t if
// either does not load.
func APIDocs(t testing.TB) (kaspay, kirapay *APIDoc) {
	t.Helper()
	ds, err := contracts()
	if err != nil {
		t.Fatalf("OpenAPI documents: %v", err)
	}
	return ds[0], ds[1]
}

// docFor picks the document of the surface that serves path (the KiraPay
// groups' paths, else KasPay's); nil for paths outside the API.
func (e *Env) docFor(path string) *APIDoc {
	if !isAPIPath(path) {
		return nil
	}
	kaspay, kirapay := APIDocs(e.T)
	if IsKiraPayPath(path) {
		return kirapay
	}
	return kaspay
}

// checkContract validates one exchange of Do; see the comment at the top.
func (e *Env) checkContract(req *http.Request, reqBody []byte, resp Response) {
	e.T.Helper()
	if e.NoContract {
		return
	}
	doc := e.docFor(req.URL.Path)
	if doc == nil {
		return
	}
	route := req.Method + " " + req.URL.RequestURI()
	httpResp := &http.Response{StatusCode: resp.Status, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(resp.Body)),
		Request: req}
	_, errs := doc.Validator.ValidateHttpResponse(withBody(req, reqBody), httpResp)
	if undocumented(errs) {
		if resp.Status < 400 {
			e.T.Errorf("contract (%s): %s answered %d but is not in the document", doc.Name, route, resp.Status)
			return
		}
		if ok, verrs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(doc.errorSchema, resp.Body); !ok {
			e.T.Errorf("contract (%s): %s answered %d with a body that is not the Error schema: %s\n%s",
				doc.Name, route, resp.Status, describe(verrs), resp.Body)
		}
		return
	}
	if len(errs) > 0 {
		e.T.Errorf("contract (%s): response of %s (%d) does not match the document: %s\nbody: %s",
			doc.Name, route, resp.Status, describe(errs), clip(resp.Body))
	}
	if resp.Status >= 400 && resp.Status < 500 {
		return // a request refused on purpose: only its answer is checked
	}
	if _, errs := doc.Validator.ValidateHttpRequest(withBody(req, reqBody)); len(errs) > 0 {
		e.T.Errorf("contract (%s): request %s does not match the document: %s\nbody: %s",
			doc.Name, route, describe(errs), clip(reqBody))
	}
}

// withBody returns a copy of req whose body reads b from the start.
func withBody(req *http.Request, b []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return r
}

// undocumented reports whether errs say the path or method is not in the
// document.
func undocumented(errs []*liberrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation &&
			(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			return true
		}
	}
	return false
}

// describe prints validation errors with their schema details.
func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s: %s", s.FieldPath, s.Reason)
		}
	}
	return b.String()
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
