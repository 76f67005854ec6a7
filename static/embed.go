// Package static holds Till's browser assets, embedded in the binary so that
// `till serve` needs no files on disk and no Node at run time:
//
//   - css/app.css: Tailwind CSS built from src/input.css (make generate)
//   - js/htmx.min.js: htmx 2, copied from the pinned npm package (make generate)
//   - js/swagger-ui-bundle.js, css/swagger-ui.css: Swagger UI for /docs, copied
//     from the pinned swagger-ui-dist package (make generate); js/docs.js starts it
//   - img/: the logo and favicon
//
// The built files are committed; `make check-generated` fails when they are
// stale. Paths inside FS are relative to this directory, e.g. "css/app.css";
// the web server serves them under /static/.
package static

import "embed"

// FS holds the css, js and img directories.
//
//go:embed css js img
var FS embed.FS
