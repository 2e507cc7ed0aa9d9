package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// deleteImage takes an image down: DELETE
// /api/v2/guide/user_images/{id}[?block=true&all_copies=true&reason=…],
// where {id} is the image id or its file name (<id>.<ext>). 204 when
// done. Who may:
//   - an admin, any image, with block and reason as asked; block, or
//     all_copies without blocking, takes every published copy of its
//     bytes down too;
//   - the page that uploaded it, sending the upload token it was claimed
//     from as api.UploadTokenHeader, within the delete window after the
//     claim (charged to the address's credentials budget, as a password
//     is);
//   - the signed-in user who uploaded it.
//
// An image that is not the caller's is 404, as one that does not exist:
// the answer tells nothing of other people's images. Only admins block or
// take copies down.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.caller(w, r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	block, err := queryBool(q, api.PropBlock)
	if err != nil {
		return err
	}
	allCopies, err := queryBool(q, api.PropAllCopies)
	if err != nil {
		return err
	}
	by, err := s.svc.Accounts.Moderator(r.Context(), caller.UserID)
	if code := core.ErrorCode(err); err != nil && code != api.CodeForbidden && code != api.CodeUnauthorized {
		return err
	}
	admin := err == nil
	token := r.Header.Get(api.UploadTokenHeader)
	switch {
	case admin:
	case block || allCopies:
		return core.Errorf(api.CodeForbidden, "only admins may block an image's bytes or take its copies down")
	case token == "" && caller.UserID == 0:
		return core.Errorf(api.CodeUnauthorized, "deleting an image needs its uploader's or an admin's credentials, or its upload token (%s)", api.UploadTokenHeader)
	case token != "" && r.Header.Get("Authorization") == "":
		// Charged as a password is: the budget that bounds guessing.
		if err := s.AdmitSignIn(w, r); err != nil {
			return err
		}
	}
	id, err := core.ParseImagePath(r.PathValue("id"))
	if err != nil {
		return err
	}
	switch {
	case admin:
		_, err = s.svc.Moderation.TakeDown(r.Context(), core.TakedownOrder{ID: id, By: by, Reason: q.Get(string(api.PropReason)), Block: block, AllCopies: allCopies})
	case token != "":
		err = s.svc.Erasure.DeleteWithUploadToken(r.Context(), id, token)
	default:
		err = s.svc.Erasure.DeleteOwnImage(r.Context(), id, caller.UserID)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// queryBool returns the boolean query parameter p, false when absent.
func queryBool(q url.Values, p api.Property) (bool, error) {
	if q.Get(string(p)) == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(q.Get(string(p)))
	if err != nil {
		return false, &core.Error{Code: api.CodeInvalidProperty, Message: string(p) + " must be true or false", Field: p}
	}
	return v, nil
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
	if err := s.svc.Reports.Report(r.Context(), id, subject(up), req.Reason, req.Detail); err != nil {
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
