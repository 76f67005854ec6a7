package static

import "embed"

// OpenAPI holds the two OpenAPI 3.1 documents of Till's JSON surfaces,
// written by hand and served by the API (not under /static):
//
//   - openapi/kaspay.json: the KasPay surface (/api/...), Till's extensions
//     marked x-till-extension
//   - openapi/kirapay.json: the KiraPay Public API (/api/link, /api/wallet,
//     /api/admin) and its webhooks
//
// web/webtest validates every API test's requests and responses against
// them, so they cannot drift from the code.
//
//go:embed openapi/kaspay.json openapi/kirapay.json
var OpenAPI embed.FS

// The documents' paths inside OpenAPI.
const (
	OpenAPIKasPay  = "openapi/kaspay.json"
	OpenAPIKiraPay = "openapi/kirapay.json"
)
