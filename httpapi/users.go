package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/userimages/userimages/client/api"
)

// showMe answers GET /api/v2/users/me: the authenticated caller, or
// Zendesk's anonymous user (id null, role "anonymous") without
// credentials. Zendesk's help-center theme reads authenticity_token from
// it before every upload.
func (s *Server) showMe(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.caller(w, r)
	if err != nil {
		return err
	}
	u := api.User{Name: "Anonymous user", Role: "anonymous", TimeZone: "UTC", IANATimeZone: "Etc/UTC",
		Locale: "en-us", LocaleID: 1, AuthenticityToken: authenticityToken()}
	if caller.UserID != 0 {
		user, err := s.svc.Accounts.User(r.Context(), caller.UserID)
		if err != nil {
			return err
		}
		u.ID, u.Name, u.Email = &user.ID, user.Email, &user.Email
		u.CreatedAt, u.UpdatedAt = &user.CreatedAt, &user.CreatedAt
		u.Role, u.Verified, u.Active, u.Moderator = "end-user", true, true, user.Admin
		if user.Admin {
			u.Role = "admin"
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, api.UserResponse{User: u})
	return nil
}

// authenticityToken is 32 random bytes, URL-safe base64.
func authenticityToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
