package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// ReviewBytes serves the claim hook the bytes of an image under review
// (claimhook.Hook), at signed, short-lived URLs under Config.ReviewPath.
//
// Contract: OpenBytes verifies the URL whose last path segment is file
// ("<image id>.<ext>") and whose query is query, and returns the bytes it
// names with their content type; an *core.Error with
// api.CodeSignatureMismatch for a URL it did not sign or that expired,
// api.CodeNotFound for bytes that are gone; any other error is a store's
// fault.
type ReviewBytes interface {
	OpenBytes(ctx context.Context, file string, query url.Values) (contentType string, b core.Blob, err error)
}

// reviewPattern is the route of the claim hook's bytes URLs.
func (s *Server) reviewPattern() api.Route {
	return api.Route("GET " + s.cfg.ReviewPath + "{file}")
}

// serveReviewBytes answers a bytes URL: the bytes, never cached, never
// rendered by a browser that is handed the URL.
func (s *Server) serveReviewBytes(w http.ResponseWriter, r *http.Request) error {
	ct, b, err := s.cfg.ReviewBytes.OpenBytes(r.Context(), r.PathValue("file"), r.URL.Query())
	if err != nil {
		return err
	}
	defer b.Close()
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", "attachment")
	// Through a guard, as sendImage's several ranges: ServeContent's range
	// goroutine may outlive this, and b's descriptor go on to another
	// request (localdisk's open-file cache) once closed.
	g := &guardedReader{r: b}
	defer g.stop() // before b.Close
	http.ServeContent(w, r, "", b.ModTime(), g)
	return nil
}
