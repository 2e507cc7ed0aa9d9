package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of every route, written by hand. Its
// tests check that it covers every route the Handler registers and drive
// the server through each route and error code, validating the responses
// against it.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers GET /api/openapi.json with the document as checked in.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.Write(openAPI)
}
