package static

import (
	"net/http"
)

// HTTP returns the embedded assets as an http.FileSystem for the /static route.
func HTTP() http.FileSystem { return http.FS(FS) }
