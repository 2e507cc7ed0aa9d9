// Package console is the moderation console: server-rendered pages under
// /admin/ (html/template, with plain CSS and one small script embedded)
// where admins sign in, look at recent images, take them down, work
// through readers' reports, and read the audit log and the blocklist.
//
// Every action goes through core's use cases exactly as the HTTP API's do:
// a takedown here is core.Moderation.DeleteImage with the admin's
// core.Accounts.Moderator name, the same audit record, blocklist and cache
// invalidation as DELETE /api/v2/guide/user_images/{id}.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// CookieName is the session cookie's name.
const CookieName = "userimages_session"

// Path is where the console is served: httpapi.ConsolePath, which routes
// every request below it here.
const Path = "/admin/"

// pageSize is how many images a grid page shows.
const pageSize = 24

// Gate is what the console needs of the server in front of it: sign-in
// attempts charged to the rate limit of credentials, and whether a request
// came over HTTPS.
//
// Contract: AdmitSignIn returns nil when the attempt may go on, or, over
// the budget, a *core.Error with api.CodeRateLimited (having set
// Retry-After on w). OverHTTPS reports whether the client reached the
// server over HTTPS (TLS to it, or a trusted proxy's word), never on the
// word of the client alone. ClientAddr is the client's address (through
// trusted proxies), which failed sign-ins are counted against.
// httpapi.Server implements it.
type Gate interface {
	AdmitSignIn(w http.ResponseWriter, r *http.Request) error
	OverHTTPS(r *http.Request) bool
	ClientAddr(r *http.Request) string
}

// Config configures the console.
type Config struct {
	Sessions   Sessions
	Accounts   Accounts
	Brands     Brands
	Moderation Moderation
	Reports    Reports
	Erasure    Erasure
	// HashLists, when set, are shown on the blocklist page.
	HashLists HashLists
	// Lookalikes, when set, lists on an image's page the published images
	// that resemble it.
	Lookalikes Lookalikes
	// Outbox, when set, shows the purges that wait on the Purges page.
	Outbox Outbox
	// Webhooks, when set, shows the webhook endpoints and their
	// deliveries on the Webhooks page.
	Webhooks Webhooks
	Log      *slog.Logger
	// SecureCookies marks the session cookie Secure on every request: for
	// a server whose --public-url is https. Without it, requests that came
	// over HTTPS (see Gate.OverHTTPS: TLS, or a trusted proxy that
	// terminates it and says so) get Secure.
	SecureCookies bool
	// ImageOrigins are origins other than this server's that images may be
	// loaded from (an object store or CDN that image GETs redirect to).
	ImageOrigins []string
	// ThumbWidth is the width of the variant thumbnails load
	// (GET <path>?w=ThumbWidth&auto=format), one the server serves; 0
	// loads the originals.
	ThumbWidth int
}

// Console serves the pages. Create it with New.
type Console struct {
	sessions Sessions
	accounts Accounts
	brands   Brands
	mod      Moderation
	queue    Reports
	erasure  Erasure
	lists    HashLists
	alike    Lookalikes
	outbox   Outbox
	hooks    Webhooks
	log      *slog.Logger
	secure   bool
	csp      string
	pages    map[string]*template.Template
	maxAge   time.Duration
}

// New returns a Console, or an error if cfg is incomplete or a template
// does not parse.
func New(cfg Config) (*Console, error) {
	if cfg.Sessions == nil || cfg.Accounts == nil || cfg.Brands == nil || cfg.Moderation == nil || cfg.Reports == nil || cfg.Erasure == nil {
		return nil, errors.New("console: Sessions, Accounts, Brands, Moderation, Reports and Erasure are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Console{sessions: cfg.Sessions, accounts: cfg.Accounts, brands: cfg.Brands, mod: cfg.Moderation, queue: cfg.Reports, erasure: cfg.Erasure, lists: cfg.HashLists, alike: cfg.Lookalikes, outbox: cfg.Outbox, hooks: cfg.Webhooks, log: cfg.Log, secure: cfg.SecureCookies, pages: map[string]*template.Template{},
		maxAge: cfg.Sessions.MaxAge(),
		csp: "default-src 'none'; img-src " + strings.Join(append([]string{"'self'"}, cfg.ImageOrigins...), " ") +
			"; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	funcs := template.FuncMap{
		"path":       core.Path,
		"thumb":      thumbURL(cfg.ThumbWidth),
		"thumbWidth": func() int { return cfg.ThumbWidth },
		"bytes":      humanBytes,
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"scanned":    func() string { return thousands(core.ResemblingScan) },
		// uploader and who are replaced per request (see render).
		"uploader": func(core.Image) string { return "" },
		"who":      func(string) string { return "" },
	}
	for _, page := range []string{"login", "forbidden", "images", "image", "reports", "log", "blocklist", "purges", "webhooks"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/log.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", page, err)
		}
		c.pages[page] = t
	}
	return c, nil
}

// thumbURL returns what a thumbnail of an image loads: its variant of
// width w, in WebP where the browser takes it; its original for w 0.
func thumbURL(w int) func(core.Image) string {
	return func(img core.Image) string {
		if w == 0 {
			return core.Path(img)
		}
		// In the order the composer's srcset writes it: one URL, one
		// cached copy.
		return core.Path(img) + "?" + api.VariantWidthParam + "=" + strconv.Itoa(w) + "&" + api.VariantAutoParam + "=" + api.VariantAutoFormat
	}
}

// Handler returns the console's routes, sign-ins charged to gate, behind
// cross-origin protection: a state-changing request from another origin
// (a form on another site posting with the admin's cookie) is refused.
func (c *Console) Handler(gate Gate) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Path, http.StatusFound) })
	mux.HandleFunc("GET /admin/login", c.loginPage)
	mux.HandleFunc("POST /admin/login", func(w http.ResponseWriter, r *http.Request) { c.signIn(w, r, gate) })
	mux.HandleFunc("POST /admin/logout", func(w http.ResponseWriter, r *http.Request) { c.signOut(w, r, gate) })
	mux.HandleFunc("GET /admin/{$}", c.admin(c.images))
	mux.HandleFunc("GET /admin/images/{id}", c.admin(c.image))
	mux.HandleFunc("POST /admin/images/{id}/takedown", c.admin(c.takeDown))
	mux.HandleFunc("POST /admin/images/{id}/takedown-resembling", c.admin(c.takeDownResembling))
	mux.HandleFunc("POST /admin/images/{id}/dismiss", c.admin(c.dismiss))
	mux.HandleFunc("POST /admin/users/{id}/erase", c.admin(c.erase))
	mux.HandleFunc("GET /admin/reports", c.admin(c.reports))
	mux.HandleFunc("GET /admin/log", c.admin(c.auditLog))
	mux.HandleFunc("GET /admin/blocklist", c.admin(c.blocklist))
	mux.HandleFunc("POST /admin/blocklist/{sha}/unblock", c.admin(c.unblock))
	mux.HandleFunc("GET /admin/purges", c.admin(c.purges))
	mux.HandleFunc("GET /admin/webhooks", c.admin(c.webhooks))
	mux.HandleFunc("POST /admin/webhooks/{ep}/enable", c.admin(c.enableWebhook))
	mux.HandleFunc("POST /admin/webhooks/{ep}/deliveries/{msg}/retry", c.admin(c.retryWebhook))
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, core.User{}, core.Errorf(api.CodeNotFound, "There is no such page."))
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, core.User{}, core.Errorf(api.CodeForbidden, "This request came from another site and was refused."))
	}))
	return c.headers(cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		mux.ServeHTTP(w, r)
	})))
}

// maxForm bounds a form's body: a reason and a few fields.
const maxForm = 16 << 10

// headers sets the security headers of every console response.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", c.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// data is what a template gets: the page's own fields and, set by
// render, Title, Nav (which link of the navigation is current) and User
// (the signed-in user, or the zero User).
type data map[string]any

// handler is a page of a signed-in admin.
type handler func(w http.ResponseWriter, r *http.Request, u core.User) error

// admin runs h for a signed-in admin: a request without a valid session
// is sent to sign in (303), a user who is not an admin gets 403.
func (c *Console) admin(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := c.sessionUser(r)
		if core.ErrorCode(err) == api.CodeUnauthorized {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = Path
			}
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if err == nil && !u.Admin {
			err = core.Errorf(api.CodeForbidden, "Only admins may use the moderation console.")
		}
		if err == nil {
			err = h(w, r, u)
		}
		if err != nil {
			c.fail(w, r, u, err)
		}
	}
}

func (c *Console) sessionUser(r *http.Request) (core.User, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return core.User{}, core.Errorf(api.CodeUnauthorized, "not signed in")
	}
	return c.sessions.SessionUser(r.Context(), ck.Value)
}

// fail answers err as a page with its code's status: a refusal's message,
// or, for a fault (a store's, 503 or 507; anything else, 500: a bug), a
// message that hides it (and logs it).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, u core.User, err error) {
	code := core.ErrorCode(err)
	msg := "Something went wrong; nothing was changed. Try again."
	var e *core.Error
	switch {
	case code == api.CodeStorageUnavailable || code == api.CodeInsufficientStorage || code == api.CodeInternalError:
		c.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
	case errors.As(err, &e):
		msg = e.Message
	}
	title := "Not allowed"
	switch code.Status() {
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusUnprocessableEntity:
		title = "Cannot do that"
	case http.StatusServiceUnavailable, http.StatusInsufficientStorage:
		title = "Unavailable"
	case http.StatusInternalServerError:
		title = "Something went wrong"
	}
	c.render(w, r, code.Status(), "forbidden", title, "", u, data{"Message": msg})
}

// render writes page name with status, titled title, nav its current
// navigation link, for u.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, u core.User, d data) {
	d["Title"], d["Nav"], d["User"] = title, nav, u
	t, err := c.pages[name].Clone()
	if err == nil {
		users := map[int64]string{}
		email := func(id int64) string {
			if e, ok := users[id]; ok {
				return e
			}
			e := fmt.Sprintf("user %d", id)
			if u, err := c.accounts.User(r.Context(), id); err == nil {
				e = u.Label() // a host app's user by their name and email claims
			}
			users[id] = e
			return e
		}
		t.Funcs(template.FuncMap{
			"uploader": func(img core.Image) string {
				if img.Uploader.UserID == 0 {
					return "anonymous"
				}
				return email(img.Uploader.UserID)
			},
			"who": func(by string) string {
				if id, ok := core.ActorUser(by); ok {
					return email(id)
				}
				return by
			},
		})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		err = t.ExecuteTemplate(w, "layout", d)
	}
	if err != nil {
		c.log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// thousands writes n with its thousands apart: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
