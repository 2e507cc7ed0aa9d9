// Package composer serves a browser page for writing a community post with
// pictures: a title, a body and an image area where files are picked,
// dropped or pasted, each uploaded in the User Images API's three steps
// exactly as Zendesk's own help-center theme does it. It shows end users
// the service working, and its script is plain enough to copy into a
// help-center theme.
//
// The page and its assets are embedded in the binary, so nothing is built
// or fetched at run time. They are served with a strict Content Security
// Policy: the page runs no inline script or style, only its own files.
package composer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Prefix is the path the page and its assets are served under.
const Prefix = "/composer/"

//go:embed static/index.html static/composer.js static/composer.css
var static embed.FS

// Config is what the page needs to know about the service. The page gets it
// as /composer/config.json.
type Config struct {
	// Brands lists the brand ids the page offers in its brand selector.
	// Nil: none.
	Brands func(ctx context.Context) ([]string, error)
	// MaxFileSize and ContentTypes are the service's limits. The page checks
	// files against them before uploading, so a refused file costs no
	// request and gets a message naming the limits. Zero or empty: the page
	// leaves that check to the server.
	MaxFileSize  int64
	ContentTypes []string
	// VariantWidths are the widths the server makes smaller copies of a
	// picture at (GET PATH?w=W): the page builds the srcset of the pictures
	// it inserts from them. Empty: no srcset.
	VariantWidths []int
	// ConnectOrigins are origins, other than the page's own, that the page
	// may send requests to: where upload URLs point when that is not the
	// host the page is loaded from (a --public-url, an object store).
	ConnectOrigins []string
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	cfg    Config
	csp    string
	assets map[string]asset
}

// Handler serves the page at Prefix, its script, style sheet and
// config.json below it. Other paths under Prefix are 404; methods other
// than GET and HEAD are 405.
func Handler(cfg Config) http.Handler {
	h := &handler{cfg: cfg, assets: map[string]asset{}}
	for name, ct := range map[string]string{
		"index.html":   "text/html; charset=utf-8",
		"composer.js":  "text/javascript; charset=utf-8",
		"composer.css": "text/css; charset=utf-8",
	} {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic("composer: embedded " + name + " is missing: " + err.Error()) // caught by the tests
		}
		sum := sha256.Sum256(b)
		h.assets[name] = asset{body: b, contentType: ct,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	connect := "'self'"
	for _, o := range cfg.ConnectOrigins {
		connect += " " + o
	}
	// Only the page's own files may run or style it; images may also be
	// local previews (blob:) and the empty favicon (data:). Nothing may
	// frame the page, and it submits no form anywhere.
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src " + connect +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if name == "config.json" {
		h.serveConfig(w, r)
		return
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	// Revalidate every time: the ETag makes that a 304, and a new binary's
	// page never runs with the old script.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// pageConfig is config.json, named like the API's JSON.
type pageConfig struct {
	Brands       []string `json:"brands"`
	MaxFileSize  int64    `json:"max_file_size"`
	ContentTypes []string `json:"content_types"`
	// Formats are the API's image formats, with their readable names and
	// the signatures the page sniffs a file's real type with (as the CLI
	// does), so that the script holds no second table of them.
	Formats []pageFormat `json:"formats"`
	// Messages is the plain sentence of every error code (and of the
	// object store codes the API knows the meaning of), with {file} where
	// the file's name goes: the page words a refusal as the CLI does
	// (api.CodeInfo.Plain), from the same table.
	Messages map[api.Code]string `json:"messages"`
	// NewUploadCodes are the codes (the API's and an object store's) after
	// which a retry needs a fresh upload URL (api.Code.NeedsNewUpload);
	// after others it repeats only the step that failed.
	NewUploadCodes []api.Code `json:"new_upload_codes"`
	// RetryableCodes are the codes (the API's and an object store's) after
	// which trying again can succeed (api.Code.Retryable): the page offers
	// Retry after those only, and after failures with no code (a lost
	// connection).
	RetryableCodes []api.Code `json:"retryable_codes"`
	// ReportReasons and MaxReportDetail are what a reader's report may
	// say (api.ReportRequest): the preview's Report action offers them.
	ReportReasons   []string `json:"report_reasons"`
	MaxReportDetail int      `json:"max_report_detail"`
	// VariantWidths are Config.VariantWidths.
	VariantWidths []int `json:"variant_widths"`
}

// pageFormat is an api.Format for the page. Magics are byte values, as
// JSON has no byte strings.
type pageFormat struct {
	MIME      string  `json:"mime"`
	Name      string  `json:"name"`
	Magics    [][]int `json:"magics"`
	Tag       []int   `json:"tag,omitempty"`
	TagOffset int     `json:"tag_offset,omitempty"`
}

func byteValues(s string) []int {
	if s == "" {
		return nil
	}
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

// pageVocabulary is the part of config.json that comes from client/api.
func pageVocabulary() (formats []pageFormat, messages map[api.Code]string, newUpload, retryable []api.Code) {
	for _, f := range api.Formats() {
		sig := f.Signature()
		pf := pageFormat{MIME: f.MIME, Name: f.Name, Tag: byteValues(sig.Tag), TagOffset: sig.TagOffset}
		for _, m := range sig.Magics {
			pf.Magics = append(pf.Magics, byteValues(m))
		}
		formats = append(formats, pf)
	}
	messages = map[api.Code]string{}
	known := func(c api.Code) {
		ci, _ := c.Meaning()
		messages[c] = ci.Plain
		if c.NeedsNewUpload() {
			newUpload = append(newUpload, c)
		}
		if c.Retryable() {
			retryable = append(retryable, c)
		}
	}
	for _, ci := range api.Codes() {
		known(ci.Code)
	}
	// An object store's codes, worded as the API code they mean.
	for c := range api.StoreCodes() {
		known(c)
	}
	slices.Sort(newUpload)
	slices.Sort(retryable)
	return formats, messages, newUpload, retryable
}

func (h *handler) serveConfig(w http.ResponseWriter, r *http.Request) {
	pc := pageConfig{Brands: []string{}, MaxFileSize: h.cfg.MaxFileSize, ContentTypes: h.cfg.ContentTypes,
		VariantWidths: append([]int{}, h.cfg.VariantWidths...)}
	pc.Formats, pc.Messages, pc.NewUploadCodes, pc.RetryableCodes = pageVocabulary()
	pc.ReportReasons, pc.MaxReportDetail = api.ReportReasons(), api.MaxReportDetail
	if pc.ContentTypes == nil {
		pc.ContentTypes = []string{}
	}
	if h.cfg.Brands != nil {
		brands, err := h.cfg.Brands(r.Context())
		if err != nil {
			// A store's fault, worth a retry (as the API's
			// StorageUnavailable); the request log records it and the page
			// says it cannot load its settings.
			unavailable, _ := api.CodeStorageUnavailable.Info()
			w.Header().Set("Retry-After", strconv.Itoa(unavailable.RetryAfter))
			http.Error(w, "cannot list brands; try again", unavailable.Status)
			return
		}
		if brands != nil {
			pc.Brands = brands
		}
	}
	b, err := json.Marshal(pc)
	if err != nil {
		http.Error(w, "cannot encode the configuration", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	// Brands are added while the server runs.
	hd.Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}
