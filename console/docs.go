package console

import (
	"net/http"
	"strings"

	swaggerFiles "github.com/swaggo/files/v2"
)

// The API reference at /docs/ is Swagger UI over /v1/openapi.json. The
// page and its start-up script are ours (assets/docs/), so nothing runs
// inline; the bundle and stylesheet come from swaggo/files. Swagger UI
// sets inline style attributes, so this path alone allows
// style-src 'unsafe-inline'; scripts stay 'self' only.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// swaggerAssets are the files of swaggo/files that /docs/ serves.
var swaggerAssets = map[string]bool{
	"swagger-ui.css":       true,
	"swagger-ui-bundle.js": true,
	"favicon-32x32.png":    true,
	"favicon-16x16.png":    true,
}

func (c *Console) serveDocs(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, docsCSP)
	name := strings.TrimPrefix(r.URL.Path, "/docs/")
	if swaggerAssets[name] {
		c.serveAsset(w, r, swaggerFiles.FS, name)
		return
	}
	switch name {
	case "", "index.html":
		name = "index.html"
	case "docs.js", "docs.css":
	default:
		writeErr(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	c.serveAsset(w, r, c.static, "docs/"+name)
}
