package console

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// flashes are the messages shown after an action redirects, by its done
// parameter.
var flashes = map[string]string{
	"takedown":   "Taken down.",
	"resembling": "Taken down: the image and the images resembling it that its page listed, each with its own record in this log.",
	"dismissed":  "Reports dismissed.",
	"unblocked":  "Unblocked.",
	"retried":    "The delivery is due now: it is sent within a second or two.",
	"enabled":    "Enabled: new events are sent to the endpoint again.",
	"erased":     "User erased: every image they uploaded is taken down, their API tokens and sessions revoked, the account disabled, their reports' personal data removed.",
}

// withFlash returns d with the flash message the request's done asks for.
func withFlash(r *http.Request, d data) data {
	if f, ok := flashes[r.URL.Query().Get("done")]; ok {
		d["Flash"] = f
	}
	return d
}

// safeNext is where to go after signing in: next when it is a console
// path of this server, else the console's first page.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, Path) || strings.ContainsAny(next, "\\\r\n") {
		return Path
	}
	return u.RequestURI()
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", "Sign in", "", core.User{}, data{"Next": safeNext(r.URL.Query().Get("next"))})
}

// signIn checks the form's email and password, charged first to the
// client's credential budget, and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, gate Gate) {
	email := r.PostFormValue("email")
	d := data{"Next": safeNext(r.PostFormValue("next")), "Email": email}
	if err := gate.AdmitSignIn(w, r); err != nil {
		d["Error"] = "Too many sign-in attempts from this address. Wait a minute, then try again."
		c.render(w, r, core.ErrorCode(err).Status(), "login", "Sign in", "", core.User{}, d)
		return
	}
	token, err := c.sessions.SignIn(r.Context(), email, r.PostFormValue("password"), gate.ClientAddr(r))
	if e, ok := errors.AsType[*core.Error](err); ok && e.Code == api.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
		d["Error"] = "Too many failed sign-ins for this account or from this address. Wait " + w.Header().Get("Retry-After") + " s, then try again."
		c.render(w, r, http.StatusTooManyRequests, "login", "Sign in", "", core.User{}, d)
		return
	}
	if core.ErrorCode(err) == api.CodeUnauthorized {
		d["Error"] = "Wrong email or password."
		c.render(w, r, http.StatusUnauthorized, "login", "Sign in", "", core.User{}, d)
		return
	}
	if err != nil {
		c.fail(w, r, core.User{}, err)
		return
	}
	http.SetCookie(w, c.cookie(r, gate, token, int(c.maxAge.Seconds())))
	http.Redirect(w, r, d["Next"].(string), http.StatusSeeOther)
}

// cookie is the session cookie of token for r; maxAge -1 deletes it.
// It is Secure whenever the client reached us over HTTPS, so that the
// browser never sends it over plain HTTP.
func (c *Console) cookie(r *http.Request, gate Gate, token string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: token, Path: Path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure || gate.OverHTTPS(r), SameSite: http.SameSiteLaxMode}
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, gate Gate) {
	if ck, err := r.Cookie(CookieName); err == nil {
		if err := c.sessions.SignOut(r.Context(), ck.Value); err != nil {
			c.fail(w, r, core.User{}, err)
			return
		}
	}
	http.SetCookie(w, c.cookie(r, gate, "", -1))
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// filterForm is the images page's filter, as the form sends it.
type filterForm struct {
	Brand, Uploader, Addr, From, To string
	Reported                        bool
}

// imageFilter turns the form into a store filter; a value that cannot be
// used is an *core.Error whose message the page shows.
func (c *Console) imageFilter(r *http.Request, f filterForm) (core.ImageFilter, error) {
	filter := core.ImageFilter{BrandID: f.Brand, ClientAddr: strings.TrimSpace(f.Addr), Reported: f.Reported, Limit: pageSize + 1}
	switch u := strings.TrimSpace(f.Uploader); {
	case strings.EqualFold(u, "anonymous"):
		filter.Anonymous = true
	case u != "":
		id, err := c.accounts.UserID(r.Context(), u)
		if err != nil {
			return filter, err
		}
		filter.UserID = id
	}
	if f.From != "" {
		t, err := time.Parse(time.DateOnly, f.From)
		if err != nil {
			return filter, core.Errorf(api.CodeInvalidProperty, "From must be a date (YYYY-MM-DD).")
		}
		filter.After = t
	}
	if f.To != "" {
		t, err := time.Parse(time.DateOnly, f.To)
		if err != nil {
			return filter, core.Errorf(api.CodeInvalidProperty, "To must be a date (YYYY-MM-DD).")
		}
		filter.Before = t.AddDate(0, 0, 1)
	}
	if b := r.URL.Query().Get("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			return filter, core.Errorf(api.CodeInvalidProperty, "The page asked for is not valid; start from the newest.")
		}
		if filter.Before.IsZero() || t.Before(filter.Before) {
			filter.Before = t
		}
	}
	return filter, nil
}

// images is the grid of recent images, newest first, filtered and paged.
func (c *Console) images(w http.ResponseWriter, r *http.Request, u core.User) error {
	q := r.URL.Query()
	f := filterForm{Brand: q.Get("brand"), Uploader: q.Get("uploader"), Addr: q.Get("addr"), From: q.Get("from"), To: q.Get("to"), Reported: q.Get("reported") == "true"}
	brands, err := c.brands.Brands(r.Context())
	if err != nil {
		return err
	}
	d := data{"Filter": f, "Brands": brands}
	filter, err := c.imageFilter(r, f)
	var imgs []core.Image
	if err == nil {
		imgs, err = c.mod.ListImages(r.Context(), filter)
	}
	if refusal(err) {
		d["Error"], err = err.(*core.Error).Message, nil
	}
	if err != nil {
		return err
	}
	if len(imgs) > pageSize {
		imgs = imgs[:pageSize]
		older := url.Values{}
		for k, v := range q {
			older[k] = v
		}
		older.Set("before", imgs[pageSize-1].CreatedAt.Format(time.RFC3339Nano))
		d["Older"] = Path + "?" + older.Encode()
	}
	if q.Has("before") {
		q.Del("before")
		d["Newer"] = Path + "?" + q.Encode()
	}
	d["Images"] = imgs
	c.render(w, r, http.StatusOK, "images", "Recent images", "images", u, d)
	return nil
}

// entry is one line of an audit log: a takedown or another action.
type entry struct {
	At                               time.Time
	Action, Target, Link, By, Reason string
}

func deletionEntry(d core.Deletion) entry {
	action := "take down"
	if d.Blocked {
		action = "take down and block"
	}
	return entry{At: d.At, Action: action, Target: core.Path(d.Image), Link: "/admin/images/" + d.Image.ID, By: d.By, Reason: d.Reason}
}

func eventEntry(e core.ModerationEvent) entry {
	en := entry{At: e.At, Action: e.Action, Target: e.Target, By: e.By, Reason: e.Reason}
	if e.Action == core.ActionDismiss {
		en.Action, en.Link = "dismiss reports", "/admin/images/"+e.Target
	}
	return en
}

// newestFirst sorts entries newest first.
func newestFirst(es []entry) []entry {
	slices.SortStableFunc(es, func(a, b entry) int { return b.At.Compare(a.At) })
	return es
}

// image is one image's page: the picture, its metadata, its reports, its
// audit log, other images of its uploader and address, and the takedown
// form; for an image taken down, its takedown record.
func (c *Console) image(w http.ResponseWriter, r *http.Request, u core.User) error {
	ctx, id := r.Context(), r.PathValue("id")
	d := withFlash(r, data{})
	var log []entry
	img, err := c.mod.Image(ctx, id)
	switch {
	case err == nil:
		d["Image"] = img
		if d["Reports"], err = c.queue.Reports(ctx, id); err != nil {
			return err
		}
		if img.Uploader.UserID != 0 {
			if d["SameUploader"], err = c.others(r, img, core.ImageFilter{UserID: img.Uploader.UserID}); err != nil {
				return err
			}
		}
		if d["SameAddr"], err = c.others(r, img, core.ImageFilter{ClientAddr: img.Uploader.ClientAddr}); err != nil {
			return err
		}
		if d["Copies"], err = c.mod.Copies(ctx, img, 12); err != nil {
			return err
		}
		if c.alike != nil {
			d["Lookalikes"] = true
			if d["Resembling"], err = c.alike.Resembling(ctx, img, resemblingShown); err != nil {
				return err
			}
		}
	case core.ErrorCode(err) == api.CodeNotFound:
		del, derr := c.mod.Deletion(ctx, id)
		if derr != nil {
			return derr
		}
		d["Deletion"] = del
		// Its record says it was taken down, by whom and why: one
		// banner, not a second "Taken down."
		delete(d, "Flash")
		log = append(log, deletionEntry(del))
	default:
		return err
	}
	evs, err := c.mod.ModerationEvents(ctx, id, 100)
	if err != nil {
		return err
	}
	for _, e := range evs {
		log = append(log, eventEntry(e))
	}
	d["Log"] = newestFirst(log)
	c.render(w, r, http.StatusOK, "image", "Image "+id, "images", u, d)
	return nil
}

// others lists up to 12 images f selects other than img.
func (c *Console) others(r *http.Request, img core.Image, f core.ImageFilter) ([]core.Image, error) {
	f.Limit = 13
	imgs, err := c.mod.ListImages(r.Context(), f)
	return slices.DeleteFunc(imgs, func(i core.Image) bool { return i.ID == img.ID }), err
}

// refusal reports whether err is a *core.Error refusing the request (not a
// store's fault), whose message the page shows.
func refusal(err error) bool {
	e, ok := err.(*core.Error)
	return ok && e.Code.Status() < http.StatusInternalServerError
}

// Fields of the moderation forms (templates/*.html), named as the query of
// a takedown through the API (api.RouteDeleteImage) is.
const (
	formReason = string(api.PropReason)
	formBlock  = string(api.PropBlock)
	formCopies = string(api.PropAllCopies)
)

// moderation returns who acts (u's audit name, as the API records it)
// and the form's reason, which actions other than dismissals need.
func (c *Console) moderation(r *http.Request, u core.User) (by, why string, err error) {
	if by, err = c.accounts.Moderator(r.Context(), u.ID); err != nil {
		return "", "", err
	}
	why = strings.TrimSpace(r.PostFormValue(formReason))
	if why == "" {
		return "", "", core.Errorf(api.CodeInvalidProperty, "Give a reason: it goes in the audit log.")
	}
	return by, why, nil
}

// takeDown takes an image down as DELETE /api/v2/guide/user_images/{id}
// does: core.Moderation.DeleteImage, by the admin's Moderator name.
func (c *Console) takeDown(w http.ResponseWriter, r *http.Request, u core.User) error {
	by, why, err := c.moderation(r, u)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	o := core.TakedownOrder{ID: id, By: by, Reason: why, Block: r.PostFormValue(formBlock) == "true", AllCopies: r.PostFormValue(formCopies) == "true"}
	if _, err := c.mod.TakeDown(r.Context(), o); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/images/"+id+"?done=takedown", http.StatusSeeOther)
	return nil
}

// resemblingShown is how many resembling images an image's page lists,
// nearest first.
const resemblingShown = 48

// formResembling is the field of the "take down all" form naming each
// resembling image listed.
const formResembling = "resembling"

// takeDownResembling takes an image down with the resembling images its
// page listed (core.Moderation.TakeDownResembling), each as takeDown
// would, and shows the audit log.
func (c *Console) takeDownResembling(w http.ResponseWriter, r *http.Request, u core.User) error {
	by, why, err := c.moderation(r, u)
	if err != nil {
		return err
	}
	o := core.TakedownOrder{ID: r.PathValue("id"), By: by, Reason: why, Block: r.PostFormValue(formBlock) == "true"}
	if _, err := c.mod.TakeDownResembling(r.Context(), o, r.PostForm[formResembling]); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/log?done=resembling", http.StatusSeeOther)
	return nil
}

// erase erases the uploader user id as `userimages user erase` does:
// core.Erasure.EraseUser, by the admin's Moderator name, for the reason
// given.
func (c *Console) erase(w http.ResponseWriter, r *http.Request, u core.User) error {
	by, why, err := c.moderation(r, u)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return core.Errorf(api.CodeNotFound, "no user has id %q", r.PathValue("id"))
	}
	target, err := c.accounts.User(r.Context(), id)
	if err != nil {
		return err
	}
	if _, err := c.erasure.EraseUser(r.Context(), target.Email, by, why); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/log?done=erased", http.StatusSeeOther)
	return nil
}

func (c *Console) dismiss(w http.ResponseWriter, r *http.Request, u core.User) error {
	by, err := c.accounts.Moderator(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if err := c.queue.DismissReports(r.Context(), r.PathValue("id"), by, strings.TrimSpace(r.PostFormValue(formReason))); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/reports?done=dismissed", http.StatusSeeOther)
	return nil
}

// queued is an image of the reports queue with its open reports.
type queued struct {
	Image   core.Image
	Count   int
	Reports []core.Report
}

func (c *Console) reports(w http.ResponseWriter, r *http.Request, u core.User) error {
	q, err := c.queue.ReportQueue(r.Context(), 50)
	if err != nil {
		return err
	}
	var items []queued
	for _, ri := range q {
		rs, err := c.queue.Reports(r.Context(), ri.Image.ID)
		if err != nil {
			return err
		}
		items = append(items, queued{Image: ri.Image, Count: ri.Reports, Reports: rs})
	}
	c.render(w, r, http.StatusOK, "reports", "Reports", "reports", u, withFlash(r, data{"Queue": items}))
	return nil
}

// auditLogSize is how many entries the audit log page shows.
const auditLogSize = 200

func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, u core.User) error {
	dels, err := c.mod.Deletions(r.Context(), auditLogSize)
	if err != nil {
		return err
	}
	evs, err := c.mod.ModerationEvents(r.Context(), "", auditLogSize)
	if err != nil {
		return err
	}
	var log []entry
	for _, d := range dels {
		log = append(log, deletionEntry(d))
	}
	for _, e := range evs {
		log = append(log, eventEntry(e))
	}
	log = newestFirst(log)
	log = log[:min(len(log), auditLogSize)]
	c.render(w, r, http.StatusOK, "log", "Audit log", "log", u, withFlash(r, data{"Log": log}))
	return nil
}

func (c *Console) blocklist(w http.ResponseWriter, r *http.Request, u core.User) error {
	bl, err := c.mod.Blocklist(r.Context(), 500)
	if err != nil {
		return err
	}
	var lists []core.HashList
	if c.lists != nil {
		if lists, err = c.lists.Lists(r.Context()); err != nil {
			return err
		}
	}
	entries := make([]blockedEntry, len(bl))
	for i, b := range bl {
		entries[i].Blocked = b
		if entries[i].TookDown, err = c.mod.DeletionsOf(r.Context(), b.SHA256, 100); err != nil {
			return err
		}
	}
	c.render(w, r, http.StatusOK, "blocklist", "Blocklist", "blocklist", u, withFlash(r, data{"Blocked": entries, "Lists": lists}))
	return nil
}

// blockedEntry is a blocklisted SHA-256 with the takedowns of its images:
// the paths it took down, why, by whom, when.
type blockedEntry struct {
	core.Blocked
	TookDown []core.Deletion
}

// purges lists the purges of the caches in front not delivered yet,
// oldest first: those that failed say why and when they are tried again.
func (c *Console) purges(w http.ResponseWriter, r *http.Request, u core.User) error {
	var pending []core.OutboxEntry
	if c.outbox != nil {
		var err error
		if pending, err = c.outbox.Pending(r.Context(), core.TopicPurge, 200); err != nil { // webhooks have their page
			return err
		}
	}
	c.render(w, r, http.StatusOK, "purges", "Purges", "purges", u, data{"Pending": pending, "Enabled": c.outbox != nil})
	return nil
}

func (c *Console) unblock(w http.ResponseWriter, r *http.Request, u core.User) error {
	by, why, err := c.moderation(r, u)
	if err != nil {
		return err
	}
	if err := c.mod.Unblock(r.Context(), r.PathValue("sha"), by, why); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/blocklist?done=unblocked", http.StatusSeeOther)
	return nil
}
