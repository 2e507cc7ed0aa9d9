package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// Variant query parameters (api.VariantWidthParam …), imgix's names.
const (
	paramWidth  = api.VariantWidthParam
	paramFormat = api.VariantFormatParam
	paramAuto   = api.VariantAutoParam
	autoFormat  = api.VariantAutoFormat
)

// variantFormatNames are the values of fm, as the README lists them: the
// formats' extensions, and imgix's "jpg" after "jpeg".
func variantFormatNames() []string {
	var names []string
	for _, f := range core.VariantFormats() {
		names = append(names, f.Ext)
		if f.MIME == api.JPEG.MIME {
			names = append(names, "jpg")
		}
	}
	return names
}

func variantFormat(name string) (api.Format, bool) {
	if name == "jpg" {
		return api.JPEG, true
	}
	for _, f := range core.VariantFormats() {
		if f.Ext == name {
			return f, true
		}
	}
	return api.Format{}, false
}

// parseVariant reads the variant an image GET's query asks for, of an
// original with extension ext; dependsOnAccept says whether the format
// was chosen by the Accept header (auto=format), which the answer's Vary
// must then name.
func (s *Server) parseVariant(r *http.Request, ext string) (v core.Variant, dependsOnAccept bool, err error) {
	widths := s.svc.Images.VariantWidths()
	invalid := func(format string, args ...any) error {
		return core.Errorf(api.CodeInvalidVariant, "%s; an image path takes w=%s, fm=%s or auto=format, or w with one of the others",
			fmt.Sprintf(format, args...), joinInts(widths, "|"), strings.Join(variantFormatNames(), "|"))
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return v, false, invalid("the query is malformed")
	}
	for k, vs := range q {
		if k != paramWidth && k != paramFormat && k != paramAuto {
			return v, false, invalid("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return v, false, invalid("%s is given %d times", k, len(vs))
		}
	}
	if q.Has(paramWidth) {
		// Without w, the picture's own width (core.OwnWidth).
		w, err := strconv.Atoi(q.Get(paramWidth))
		if err != nil || !slices.Contains(widths, w) {
			return v, false, invalid("w=%q is not a served width", q.Get(paramWidth))
		}
		v.Width = w
	}
	orig, ok := formatOfExt(ext)
	if !ok {
		return v, false, core.Errorf(api.CodeNotFound, "no image at this path")
	}
	v.Format = core.DefaultVariantFormat(orig)
	if q.Has(paramAuto) {
		if q.Get(paramAuto) != autoFormat {
			return v, false, invalid("auto=%q is not supported", q.Get(paramAuto))
		}
		if !q.Has(paramFormat) {
			dependsOnAccept = true
			if acceptsWebP(r.Header.Values("Accept")) {
				v.Format = api.WebP
			}
		}
	}
	if q.Has(paramFormat) {
		f, ok := variantFormat(q.Get(paramFormat))
		if !ok {
			return v, false, invalid("fm=%q is not a served format", q.Get(paramFormat))
		}
		v.Format = f
	}
	return v, dependsOnAccept, nil
}

func formatOfExt(ext string) (api.Format, bool) {
	for _, f := range api.Formats() {
		if f.Ext == ext {
			return f, true
		}
	}
	return api.Format{}, false
}

// acceptsWebP reports whether Accept headers list image/webp with a
// non-zero quality.
func acceptsWebP(accepts []string) bool {
	for _, a := range accepts {
		for _, part := range strings.Split(a, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != api.WebP.MIME {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); params["q"] == "" || err == nil && q > 0 {
				return true
			}
		}
	}
	return false
}

func joinInts(ns []int, sep string) string {
	var ss []string
	for _, n := range ns {
		ss = append(ss, strconv.Itoa(n))
	}
	return strings.Join(ss, sep)
}

// serveVariant answers GET <image path>?w=W… with the variant, made on
// its first request (core.Serving.OpenVariant), served as originals are;
// or, with Config.Redirect, a 302 to its bytes.
func (s *Server) serveVariant(w http.ResponseWriter, r *http.Request, id, ext string) error {
	v, dependsOnAccept, err := s.parseVariant(r, ext)
	if err != nil {
		return err
	}
	if dependsOnAccept {
		w.Header().Add("Vary", "Accept")
	}
	img, blob, err := s.svc.Images.OpenVariantAdmitted(r.Context(), id, ext, v, s.admitVariant(r))
	if err != nil {
		return err
	}
	defer blob.Close()
	vw, vh := core.VariantSize(img, v)
	setImageSize(w.Header(), vw, vh)
	if s.cfg.Redirect != nil {
		return s.redirectTo(w, r, img, core.VariantKey(img.ID, v))
	}
	etag := fmt.Sprintf(`"%s-%d-%s"`, img.SHA256, v.Width, v.Format.Ext)
	s.sendImage(w, r, img, v.Format.MIME, etag, blob)
	return nil
}
