package httpapi

import (
	"net/http"
	"strconv"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// deleteImage lets an admin take an image down:
// DELETE /api/v2/guide/user_images/{id}[?block=true&reason=…], where {id} is
// the image id or its file name (<id>.<ext>). 204 when done.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.caller(w, r)
	if err != nil {
		return err
	}
	by, err := s.svc.Accounts.Moderator(r.Context(), caller.UserID)
	if err != nil {
		return err
	}
	id, err := core.ParseImagePath(r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	block, err := strconv.ParseBool(q.Get(string(api.PropBlock)))
	if q.Get(string(api.PropBlock)) == "" {
		block, err = false, nil
	}
	if err != nil {
		return &core.Error{Code: api.CodeInvalidProperty, Message: string(api.PropBlock) + " must be true or false", Field: api.PropBlock}
	}
	if _, err := s.svc.Moderation.DeleteImage(r.Context(), id, by, q.Get(string(api.PropReason)), block); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reportImage lets anyone report an image to the moderators:
// POST /api/v2/guide/user_images/{id}/reports {"reason": …, "detail": …},
// where {id} is the image id or its file name. 202 when recorded, or
// recorded already: one report per client (user, or address per /64) and
// image counts. Our extension; Zendesk has no such route.
func (s *Server) reportImage(w http.ResponseWriter, r *http.Request) error {
	up, err := s.admit(w, r, "report", s.cfg.RateLimits.Report)
	if err != nil {
		return err
	}
	id, err := core.ParseImagePath(r.PathValue("id"))
	if err != nil {
		return err
	}
	var req api.ReportRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := s.svc.Moderation.Report(r.Context(), id, subject(up), req.Reason, req.Detail); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, api.ReportResponse{Status: "accepted"})
	return nil
}

// ready answers 200 when the stores answer, else 503: for load balancers
// and orchestrators.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Readiness.Ready(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		return core.Errorf(api.CodeServiceUnavailable, "a store does not answer")
	}
	writeJSON(w, http.StatusOK, api.StatusResponse{Status: "ready"})
	return nil
}
