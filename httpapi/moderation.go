package httpapi

import (
	"net/http"
	"strconv"

	"userimages/core"
)

// deleteImage lets an admin take an image down:
// DELETE /api/v2/guide/user_images/{id}[?block=true&reason=…], where {id} is
// the image id or its file name (<id>.<ext>). 204 when done.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	caller, err := s.caller(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	by, err := s.svc.Moderator(r.Context(), caller.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := core.ParseImagePath(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	block, err := strconv.ParseBool(q.Get("block"))
	if q.Get("block") == "" {
		block, err = false, nil
	}
	if err != nil {
		s.writeError(w, r, &core.Error{Code: core.CodeInvalidProperty, Message: "block must be true or false", Pointer: "/block"})
		return
	}
	if _, err := s.svc.DeleteImage(r.Context(), id, by, q.Get("reason"), block); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ready answers 200 when the stores answer, else 503: for load balancers
// and orchestrators.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Ready(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "a store does not answer"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
