package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// zendeskUser is Zendesk's user object as GET /api/v2/users/me answers it,
// with the fields userimages can fill; the rest of Zendesk's (phone,
// organization, tags, custom fields…) are left out rather than made up.
// Pointers are what Zendesk answers null for the anonymous user.
type zendeskUser struct {
	ID           *int64     `json:"id"`
	URL          *string    `json:"url"`
	Name         string     `json:"name"`
	Email        *string    `json:"email"`
	CreatedAt    *time.Time `json:"created_at"`
	UpdatedAt    *time.Time `json:"updated_at"`
	TimeZone     string     `json:"time_zone"`
	IANATimeZone string     `json:"iana_time_zone"`
	Locale       string     `json:"locale"`
	LocaleID     int        `json:"locale_id"`
	Role         string     `json:"role"`
	Verified     bool       `json:"verified"`
	Active       bool       `json:"active"`
	Suspended    bool       `json:"suspended"`
	Moderator    bool       `json:"moderator"`
	Photo        *struct{}  `json:"photo"`
	// AuthenticityToken is what Zendesk's help-center theme sends back as
	// X-CSRF-Token. userimages sets no cookies, so there is no ambient
	// session for a forged request to ride on, and the token guards
	// nothing: it is a fresh random value that the server neither stores
	// nor checks (see the README's compatibility table).
	AuthenticityToken string `json:"authenticity_token"`
}

type userResponse struct {
	User zendeskUser `json:"user"`
}

// showMe answers GET /api/v2/users/me: the authenticated caller, or
// Zendesk's anonymous user (id null, role "anonymous") without
// credentials. Zendesk's help-center theme reads authenticity_token from
// it before every upload.
func (s *Server) showMe(w http.ResponseWriter, r *http.Request) error {
	if err := s.admitCredentials(w, r); err != nil {
		return err
	}
	caller, err := s.caller(r)
	if err != nil {
		return err
	}
	u := zendeskUser{Name: "Anonymous user", Role: "anonymous", TimeZone: "UTC", IANATimeZone: "Etc/UTC",
		Locale: "en-us", LocaleID: 1, AuthenticityToken: authenticityToken()}
	if caller.UserID != 0 {
		user, err := s.svc.User(r.Context(), caller.UserID)
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
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

// authenticityToken is 32 random bytes, URL-safe base64.
func authenticityToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
