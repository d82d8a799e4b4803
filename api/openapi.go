package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.0 description of every route in the table.
// TestOpenAPIMatchesRoutes fails when the two disagree.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.0 document the API serves at
// /v1/openapi.json. The caller must not modify it.
func OpenAPI() []byte { return openAPIDoc }

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request, _ Principal) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeRaw(w, http.StatusOK, openAPIDoc)
}
