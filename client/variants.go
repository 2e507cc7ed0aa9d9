package client

import (
	"context"
	"net/http"
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
// widths ("URL?w=160&auto=format 160w, …"). When img.Width is known (the
// server said it: see Image.Width), it lists only the widths narrower than
// the picture, then the picture itself at its width ("URL 500w"), as the
// composer does, so that no candidate claims a width the picture does not
// have; "" when no width is narrower. When it is not known, every width
// is listed (a server never upscales: a wider one serves the picture's own
// size).
func (img Image) Srcset(widths []int) string {
	var parts []string
	for _, w := range widths {
		if img.Width > 0 && w >= img.Width {
			continue
		}
		parts = append(parts, img.VariantURL(w, "")+" "+strconv.Itoa(w)+"w")
	}
	if img.Width > 0 && len(parts) > 0 {
		parts = append(parts, img.URL+" "+strconv.Itoa(img.Width)+"w")
	}
	return strings.Join(parts, ", ")
}

// imageSize reads api.ImageWidthHeader and api.ImageHeightHeader: 0, 0
// when either is missing or not a positive number.
func imageSize(h http.Header) (w, ht int) {
	w, errW := strconv.Atoi(h.Get(api.ImageWidthHeader))
	ht, errH := strconv.Atoi(h.Get(api.ImageHeightHeader))
	if errW != nil || errH != nil || w <= 0 || ht <= 0 {
		return 0, 0
	}
	return w, ht
}

// Measure returns img with Width and Height as the server says them in
// answer to a HEAD of img.URL (api.ImageWidthHeader): for an image this
// client did not upload, such as a path stored in a post. A server that
// does not say (Zendesk, or an image a userimages server stored before it
// kept sizes) leaves them 0, with no error. The error is an *Error when
// the server answered with an error status.
func (c *Client) Measure(ctx context.Context, img Image) (Image, error) {
	err := c.retry(ctx, func(int) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, img.URL, nil)
		if err != nil {
			return false, err
		}
		res, err := c.hc.Do(req)
		if err != nil {
			return ctx.Err() == nil, err
		}
		res.Body.Close()
		if e := responseError(res, nil); e != nil { // a HEAD's answer has no body
			return retryableStatus(res.StatusCode), e
		}
		img.Width, img.Height = imageSize(res.Header)
		return false, nil
	})
	return img, err
}
