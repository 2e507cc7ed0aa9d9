package httpapi

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/userimages/userimages/client/api"
)

// showMe answers GET /api/v2/users/me: the authenticated caller (a host
// app's user named by their token's name and email claims), or
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
		if user.Issuer != "" { // a host app's user: their token's claims
			u.Name, u.Email = cmp.Or(user.Name, user.ContactEmail, user.Subject), nil
			if user.ContactEmail != "" {
				u.Email = &user.ContactEmail
			}
		}
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
