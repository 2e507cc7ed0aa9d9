// Package api declares the vocabulary of the userimages API once: its error
// codes with their HTTP status, title and plain sentence, the wire types of every request
// and response, and the image formats it accepts. The server (core,
// httpapi, imagesafe, the stores, the composer) and the Go client derive
// from it; it imports only the standard library, so that programs that
// never link the server can use it.
package api

import (
	"slices"
	"strings"
	"time"
)

// Code is a stable, machine-readable error code. Codes are part of the
// public API: clients switch on them and the README lists them.
type Code string

// Error codes of a userimages server. Zendesk uses some of the same names;
// an object store behind an upload URL has its own (a client may see those
// too, as Codes outside this list).
const (
	CodeInvalidJSON            Code = "InvalidJSON"            // 400: the body is not a JSON object
	CodeInvalidHost            Code = "InvalidHost"            // 400: no valid Host header to build the upload URL from
	CodeInvalidVariant         Code = "InvalidVariant"         // 400: an image GET's query is not a configured variant (see the detail)
	CodeBodyTooLarge           Code = "BodyTooLarge"           // 413: a JSON body over 64 KiB
	CodeInvalidProperty        Code = "InvalidProperty"        // 422: a property is missing or malformed (see the pointer)
	CodeUnsupportedContentType Code = "UnsupportedContentType" // 422: not an accepted image type
	CodeInvalidFileSize        Code = "InvalidFileSize"        // 422: file_size is not a positive whole number
	CodeFileTooLarge           Code = "FileTooLarge"           // 422: file_size is over the server's limit (see ErrorMeta.Limit)
	CodeUnauthorized           Code = "Unauthorized"           // 401: wrong or malformed credentials
	CodeSignatureMismatch      Code = "SignatureMismatch"      // 403: the upload URL or a signed header was changed
	CodeUploadURLExpired       Code = "UploadURLExpired"       // 403: the upload URL is past X-Amz-Expires
	CodePayloadTooLarge        Code = "PayloadTooLarge"        // 413: the PUT body is longer than file_size
	CodeIncompleteBody         Code = "IncompleteBody"         // 400: the PUT body is shorter than file_size
	CodeAlreadyUploaded        Code = "AlreadyUploaded"        // 409: a second PUT to an upload URL
	CodeTokenNotFound          Code = "TokenNotFound"          // 404: no upload has this token
	CodeTokenExpired           Code = "TokenExpired"           // 410: the upload was not claimed in time
	CodeNotUploaded            Code = "NotUploaded"            // 409: claim before the PUT
	CodeBrandNotFound          Code = "BrandNotFound"          // 422: brand_id is not a registered brand
	CodeAlreadyClaimed         Code = "AlreadyClaimed"         // 409: the token was claimed for another brand
	CodeContentMismatch        Code = "ContentMismatch"        // 422: the bytes are not of the declared type
	CodeInvalidImage           Code = "InvalidImage"           // 422: corrupt, or no pixels
	CodeTruncatedImage         Code = "TruncatedImage"         // 422: the image ends before its end marker
	CodeImageTooLarge          Code = "ImageTooLarge"          // 422: over the pixel caps
	CodeActiveContent          Code = "ActiveContent"          // 422: script or markup in kept metadata
	CodeBlockedContent         Code = "BlockedContent"         // 422: these bytes were taken down and blocklisted
	CodeContentRejected        Code = "ContentRejected"        // 422: the site's claim hook refused the image (the detail is its reason)
	CodeForbidden              Code = "Forbidden"              // 403: authenticated, but not allowed
	CodeRateLimited            Code = "RateLimited"            // 429: too many requests; see Retry-After
	CodeServiceUnavailable     Code = "ServiceUnavailable"     // 503: busy or shutting down; see Retry-After
	CodeStorageUnavailable     Code = "StorageUnavailable"     // 503: a store of the server failed; nothing changed
	CodeInsufficientStorage    Code = "InsufficientStorage"    // 507: the server's storage is full; nothing stored
	CodeNotFound               Code = "NotFound"               // 404: no such route or image
	CodeMethodNotAllowed       Code = "MethodNotAllowed"       // 405: wrong method for the route
	CodeConflict               Code = "Conflict"               // 409: an admin command would create a duplicate
	CodeInternalError          Code = "InternalError"          // 500: the detail quotes a request id for the operator
)

// CodeInfo is what the API answers with a code.
type CodeInfo struct {
	Code   Code
	Status int    // the HTTP status
	Title  string // the short human name of the code
	// RetryAfter is the Retry-After, in seconds, that the server answers
	// with this code unless the handler set one; 0 for none.
	RetryAfter int
	// Plain says in plain words, to the person uploading, what went wrong,
	// with {file} where the file's name goes (see Sentence). The CLI and
	// the composer page both word a refusal with it: the CLI adds the flag
	// to check, the page its Retry button. It starts in lower case, with no
	// final stop, so that either can add to it.
	Plain string
}

// Sentence is ci.Plain with {file} replaced by file.
func (ci CodeInfo) Sentence(file string) string {
	return strings.ReplaceAll(ci.Plain, "{file}", file)
}

// codes is the table of every code, in the README's order. It is the only
// place a code's status and title are declared.
var codes = []CodeInfo{
	{CodeInvalidJSON, 400, "Invalid JSON", 0,
		"the server could not read the request for {file}"},
	{CodeInvalidHost, 400, "Invalid Host header", 0,
		"the server could not make an upload URL for {file}: the request named no valid host"},
	{CodeInvalidVariant, 400, "Invalid variant", 0,
		"the server does not make {file} in that size or format"},
	{CodeBodyTooLarge, 413, "Request body too large", 0,
		"the request for {file} was too large for the server"},
	{CodeInvalidProperty, 422, "Invalid property", 0,
		"the server refused the request for {file}"},
	{CodeUnsupportedContentType, 422, "Unsupported content type", 0,
		"the server does not accept the image type of {file}"},
	{CodeInvalidFileSize, 422, "Invalid file size", 0,
		"the server refused the size of {file}"},
	{CodeFileTooLarge, 422, "File too large", 0,
		"{file} is too large for the server"},
	{CodeUnauthorized, 401, "Unauthorized", 0,
		"the server refused the credentials"},
	{CodeSignatureMismatch, 403, "Signature does not match", 0,
		"the upload URL refused {file} (a proxy changing headers, or a wrong clock?)"},
	{CodeUploadURLExpired, 403, "Upload URL expired", 0,
		"the upload URL expired before {file} was sent (is this computer's clock right?)"},
	{CodePayloadTooLarge, 413, "Upload larger than declared", 0,
		"{file} changed size while it was being uploaded; try again"},
	{CodeIncompleteBody, 400, "Upload shorter than declared", 0,
		"{file} changed size while it was being uploaded; try again"},
	{CodeAlreadyUploaded, 409, "Already uploaded", 0,
		"the upload of {file} went wrong midway"},
	{CodeTokenNotFound, 404, "Unknown token", 0,
		"the upload of {file} went wrong midway"},
	{CodeTokenExpired, 410, "Token expired", 0,
		"the upload of {file} expired before it was claimed"},
	{CodeNotUploaded, 409, "Image not uploaded", 0,
		"the upload of {file} went wrong midway"},
	{CodeBrandNotFound, 422, "Unknown brand", 0,
		"the server has no such brand"},
	{CodeAlreadyClaimed, 409, "Already claimed", 0,
		"the upload of {file} went wrong midway"},
	{CodeContentMismatch, 422, "Content does not match type", 0,
		"the bytes of {file} are not the type of image they start like (a damaged or disguised file?)"},
	{CodeInvalidImage, 422, "Invalid image", 0,
		"{file} is not a valid image: it is damaged or has no pixels"},
	{CodeTruncatedImage, 422, "Truncated image", 0,
		"{file} is cut short: the image ends early (an incomplete download or copy?)"},
	{CodeImageTooLarge, 422, "Image dimensions too large", 0,
		"{file} has too many pixels for the server; scale it down"},
	{CodeActiveContent, 422, "Active content in image", 0,
		"{file} carries markup or script in its metadata; save it again without metadata"},
	{CodeBlockedContent, 422, "Blocked content", 0,
		"{file} was taken down by a moderator and may not be uploaded again"},
	{CodeContentRejected, 422, "Content rejected", 0,
		"the site refused {file}"},
	{CodeForbidden, 403, "Forbidden", 0,
		"these credentials may not upload"},
	{CodeRateLimited, 429, "Too many requests", 0,
		"slow down: too many requests"},
	{CodeServiceUnavailable, 503, "Service unavailable", 5,
		"the server is busy or restarting"},
	{CodeStorageUnavailable, 503, "Storage unavailable", 2,
		"the server's storage failed; nothing was kept of {file}"},
	{CodeInsufficientStorage, 507, "Insufficient storage", 60,
		"the server's storage is full; nothing was kept of {file}"},
	{CodeNotFound, 404, "Not found", 0,
		"the server does not look like a userimages or Zendesk help center server"},
	{CodeMethodNotAllowed, 405, "Method not allowed", 0,
		"the server does not look like a userimages or Zendesk help center server"},
	{CodeConflict, 409, "Conflict", 0,
		"the request for {file} conflicts with what the server has"},
	{CodeInternalError, 500, "Internal error", 0,
		"the server failed while taking {file}"},
}

// Codes returns every code of the API with its status and title, in the
// README's order.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codes...) }

// Info returns what the API answers with c, and false for a code that is
// not the API's (an object store's, say).
func (c Code) Info() (CodeInfo, bool) {
	for _, ci := range codes {
		if ci.Code == c {
			return ci, true
		}
	}
	return CodeInfo{}, false
}

// storeCodes are codes an S3 object store answers a PUT to an upload URL
// with, by the API code whose meaning they share.
var storeCodes = map[Code]Code{
	"ExpiredToken":          CodeUploadURLExpired,
	"SignatureDoesNotMatch": CodeSignatureMismatch,
	"RequestTimeTooSkewed":  CodeSignatureMismatch,
	"AccessDenied":          CodeSignatureMismatch,
}

// StoreCodes returns the object store codes that Meaning knows, each with
// the API code it means.
func StoreCodes() map[Code]Code {
	m := make(map[Code]Code, len(storeCodes))
	for k, v := range storeCodes {
		m[k] = v
	}
	return m
}

// Meaning returns what c means, for wording it: its own info for an API
// code, the info of the API code an object store's code means (an
// S3 ExpiredToken is an UploadURLExpired), and false for other codes.
func (c Code) Meaning() (CodeInfo, bool) {
	if same, ok := storeCodes[c]; ok {
		c = same
	}
	return c.Info()
}

// newUploadCodes are the codes after which an upload's URL and token
// cannot be used again.
var newUploadCodes = []Code{CodeSignatureMismatch, CodeUploadURLExpired, CodeTokenNotFound, CodeTokenExpired, CodeAlreadyClaimed}

// NeedsNewUpload reports whether c, an API code or an object store's (see
// Meaning), answered to a PUT or a claim, means that upload's URL and token
// cannot be used again: a retry starts over at step 1 with a fresh upload
// URL. After any other code a retry repeats only the step that failed.
func (c Code) NeedsNewUpload() bool {
	ci, ok := c.Meaning()
	return ok && slices.Contains(newUploadCodes, ci.Code)
}

// retryableCodes are the codes after which trying the same file again can
// succeed: the upload went wrong midway, or the server or its storage was
// busy, full or failing. Every other code is about the file, the request,
// the credentials or the server's configuration, which a retry sends
// unchanged.
var retryableCodes = []Code{
	CodeSignatureMismatch, CodeUploadURLExpired, CodePayloadTooLarge, CodeIncompleteBody,
	CodeAlreadyUploaded, CodeTokenNotFound, CodeTokenExpired, CodeNotUploaded, CodeAlreadyClaimed,
	CodeRateLimited, CodeServiceUnavailable, CodeStorageUnavailable, CodeInsufficientStorage,
	CodeInternalError,
}

// Retryable reports whether trying again can succeed after c, an API code
// or an object store's (see Meaning): from the step that failed, or from
// step 1 when NeedsNewUpload. It is false for codes a retry cannot fix
// (BlockedContent, ContentMismatch, FileTooLarge, Unauthorized…) and for
// codes the API does not know, whose meaning it cannot tell.
func (c Code) Retryable() bool {
	ci, ok := c.Meaning()
	return ok && slices.Contains(retryableCodes, ci.Code)
}

// Status returns the HTTP status of c, or 0 for a code not the API's.
func (c Code) Status() int {
	ci, _ := c.Info()
	return ci.Status
}

// ErrorBody is the error document of every failed request:
// {"errors":[{code,title,detail,status,source:{pointer},meta:{limit}}]}.
type ErrorBody struct {
	Errors []ErrorItem `json:"errors"`
}

// ErrorItem is one error of an ErrorBody.
type ErrorItem struct {
	Code   Code   `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status, as a string (JSON:API's style).
	Status string       `json:"status"`
	Source *ErrorSource `json:"source,omitempty"`
	Meta   *ErrorMeta   `json:"meta,omitempty"`
}

// ErrorSource names the request property at fault.
type ErrorSource struct {
	// Pointer is the JSON pointer of the property, e.g. "/file_size".
	Pointer string `json:"pointer"`
}

// ErrorMeta carries the numbers an error is about, so that nobody parses
// the detail's prose.
type ErrorMeta struct {
	// Limit is the limit that was exceeded: the largest file_size accepted,
	// in bytes, for FileTooLarge.
	Limit int64 `json:"limit,omitempty"`
}

// CreateUploadRequest is the body of POST /api/v2/guide/user_images/uploads.
type CreateUploadRequest struct {
	ContentType string `json:"content_type"`
	FileSize    int64  `json:"file_size"`
}

// CreateUploadResponse answers CreateUploadRequest.
type CreateUploadResponse struct {
	Upload Upload `json:"upload"`
}

// Upload is where to PUT an image's bytes.
type Upload struct {
	// Headers must all be sent with the PUT, unchanged.
	Headers map[string]string `json:"headers"`
	// Token names the upload in ClaimRequest. It also lets the page that
	// uploaded the image delete it for a while after the claim (sent as
	// UploadTokenHeader with DELETE /api/v2/guide/user_images/{id}).
	Token string `json:"token"`
	// URL is presigned: the PUT sends no Authorization.
	URL string `json:"url"`
}

// UploadTokenHeader is the request header of DELETE
// /api/v2/guide/user_images/{id} that carries the upload token the image
// was claimed from: the uploading page's capability to delete it, for the
// server's delete window after the claim (24 h by default). Our extension;
// no Zendesk response body changes.
const UploadTokenHeader = "X-Upload-Token"

// ImageWidthHeader and ImageHeightHeader are response headers of GET and
// HEAD of an image (and of a variant: its own size) and of the claim: the
// picture's size in pixels as it is shown (upright, its EXIF orientation
// applied), so that a client can leave out of a srcset the widths the
// picture does not have. Our extension, readable cross-origin; no Zendesk
// response body changes. Absent when the size is unknown (an image stored
// before sizes were kept).
const (
	ImageWidthHeader  = "X-Image-Width"
	ImageHeightHeader = "X-Image-Height"
)

// ClaimRequest is the body of POST /api/v2/guide/user_images. The server
// also accepts brand_id as a JSON integer.
type ClaimRequest struct {
	BrandID string `json:"brand_id"`
	Token   string `json:"token"`
}

// ClaimResponse answers ClaimRequest with the published image.
type ClaimResponse struct {
	UserImage UserImage `json:"user_image"`
}

// UserImage is a published image.
type UserImage struct {
	ContentType string `json:"content_type"`
	// Path is /hc/user_images/<id>.<ext>: what goes into a post.
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// StatusResponse answers GET /healthz and /readyz.
type StatusResponse struct {
	Status string `json:"status"`
}

// User is Zendesk's user object as GET /api/v2/users/me answers it,
// with the fields userimages can fill; the rest of Zendesk's (phone,
// organization, tags, custom fields…) are left out rather than made up.
// Pointers are what Zendesk answers null for the anonymous user.
type User struct {
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

// UserResponse answers GET /api/v2/users/me.
type UserResponse struct {
	User User `json:"user"`
}

// ReportRequest is the body of POST /api/v2/guide/user_images/{id}/reports,
// userimages' extension (Zendesk has no such route): a reader reports an
// image to the moderators. Reason is one of ReportReasons; Detail is
// optional free text.
type ReportRequest struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ReportResponse answers ReportRequest (202): the report is recorded, or
// was already, once per client and image.
type ReportResponse struct {
	Status string `json:"status"`
}

// Reasons of a ReportRequest.
const (
	ReportSpam     = "spam"
	ReportNudity   = "nudity"
	ReportViolence = "violence"
	ReportPrivacy  = "privacy"
	ReportOther    = "other"
)

// ReportReasons are the reasons a ReportRequest may give, in the order a
// form lists them.
func ReportReasons() []string {
	return []string{ReportSpam, ReportNudity, ReportViolence, ReportPrivacy, ReportOther}
}

// MaxReportDetail is the longest Detail of a ReportRequest, in bytes.
const MaxReportDetail = 1000

// APITokenUserSuffix ends the user name of Basic credentials that carry an
// API token instead of a password, as Zendesk's do:
// "{email}/token:{api_token}".
const APITokenUserSuffix = "/token"
