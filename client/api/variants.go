package api

// Variants: a userimages server also serves each image resized, as
// GET <path>?w=W[&fm=F|&auto=format] (imgix's parameter names). Zendesk
// does not: the Zendesk API is unchanged.
const (
	// VariantWidthParam is the width in pixels; the server serves only
	// its configured widths (DefaultVariantWidths unless configured) and
	// never upscales.
	VariantWidthParam = "w"
	// VariantFormatParam is the format: jpeg (or jpg), png or webp.
	// Default: the original's (PNG for a GIF).
	VariantFormatParam = "fm"
	// VariantAutoParam with the value VariantAutoFormat picks WebP when
	// the request's Accept allows it (the answer then varies by Accept);
	// an fm given too wins.
	VariantAutoParam  = "auto"
	VariantAutoFormat = "format"
)

// DefaultVariantWidths are the widths served unless the server is
// configured otherwise (--variant-widths).
var DefaultVariantWidths = []int{160, 320, 640, 960, 1280, 1920}
