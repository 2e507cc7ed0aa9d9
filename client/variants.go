package client

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/userimages/userimages/client/api"
)

// VariantURL returns the URL of img resized to width w (one of the
// server's widths, api.DefaultVariantWidths unless it is configured
// otherwise; never upscaled) in format (jpeg, png or webp), or with
// format "" in WebP where the browser accepts it (auto=format) and
// otherwise the original's format. Only a userimages server serves
// variants; Zendesk does not.
func (img Image) VariantURL(w int, format string) string {
	// w first, as the composer writes them: one URL per variant, for
	// caches.
	u := img.URL + "?" + api.VariantWidthParam + "=" + strconv.Itoa(w)
	if format == "" {
		return u + "&" + api.VariantAutoParam + "=" + api.VariantAutoFormat
	}
	return u + "&" + api.VariantFormatParam + "=" + url.QueryEscape(format)
}

// Srcset returns an <img srcset> value of img's auto-format variants at
// widths ("URL?w=160&auto=format 160w, …").
func (img Image) Srcset(widths []int) string {
	var parts []string
	for _, w := range widths {
		parts = append(parts, img.VariantURL(w, "")+" "+strconv.Itoa(w)+"w")
	}
	return strings.Join(parts, ", ")
}
