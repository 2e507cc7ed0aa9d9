package client

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Error is a failure that a server (or the object store behind an upload
// URL) explained, or one detected locally before any request (Status 0).
// Match it with errors.As and switch on Code.
type Error struct {
	// Status is the HTTP status; 0 for an error found before any request
	// (an empty or non-image file, say).
	Status int
	// Code is the machine-readable code: one of the Code constants from a
	// userimages server; the <Code> of an S3-style XML error from an object
	// store (e.g. SignatureDoesNotMatch, RequestTimeTooSkewed); Zendesk's
	// "error" code for its other error shapes; or "" when the answer was no
	// error document (an HTML page from a proxy, say; see Status and Detail).
	Code string
	// Title is the short human name of Code, or the HTTP status text.
	Title string
	// Detail says what exactly went wrong; safe to show to people.
	Detail string
	// Pointer is the JSON pointer of the request property at fault, e.g.
	// "/file_size", when the server names one.
	Pointer string
	// RetryAfter is the server's Retry-After, when it sent one (429, 503).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": " + e.Detail)
	case e.Title != "":
		b.WriteString(": " + e.Title)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Error codes of a userimages server (its README lists when each occurs).
// Zendesk uses some of the same names; an object store has its own.
const (
	CodeInvalidJSON            = "InvalidJSON"            // 400: the body is not a JSON object
	CodeInvalidHost            = "InvalidHost"            // 400: no valid Host header to build the upload URL from
	CodeBodyTooLarge           = "BodyTooLarge"           // 413: a JSON body over 64 KiB
	CodeInvalidProperty        = "InvalidProperty"        // 422: a property is missing or malformed (see Pointer)
	CodeUnsupportedContentType = "UnsupportedContentType" // 422: not an accepted image type
	CodeInvalidFileSize        = "InvalidFileSize"        // 422: file_size is not a positive whole number
	CodeFileTooLarge           = "FileTooLarge"           // 422: file_size is over the server's limit
	CodeUnauthorized           = "Unauthorized"           // 401: wrong or malformed credentials
	CodeSignatureMismatch      = "SignatureMismatch"      // 403: the upload URL or a signed header was changed
	CodeUploadURLExpired       = "UploadURLExpired"       // 403: the upload URL is past X-Amz-Expires
	CodePayloadTooLarge        = "PayloadTooLarge"        // 413: the PUT body is longer than file_size
	CodeIncompleteBody         = "IncompleteBody"         // 400: the PUT body is shorter than file_size
	CodeAlreadyUploaded        = "AlreadyUploaded"        // 409: a second PUT to an upload URL
	CodeTokenNotFound          = "TokenNotFound"          // 404: no upload has this token
	CodeTokenExpired           = "TokenExpired"           // 410: the upload was not claimed in time
	CodeNotUploaded            = "NotUploaded"            // 409: claim before the PUT
	CodeBrandNotFound          = "BrandNotFound"          // 422: brand_id is not a registered brand
	CodeAlreadyClaimed         = "AlreadyClaimed"         // 409: the token was claimed for another brand
	CodeContentMismatch        = "ContentMismatch"        // 422: the bytes are not of the declared type
	CodeInvalidImage           = "InvalidImage"           // 422: corrupt, or no pixels
	CodeTruncatedImage         = "TruncatedImage"         // 422: the image ends before its end marker
	CodeImageTooLarge          = "ImageTooLarge"          // 422: over the pixel caps
	CodeActiveContent          = "ActiveContent"          // 422: script or markup in kept metadata
	CodeBlockedContent         = "BlockedContent"         // 422: these bytes were taken down and blocklisted
	CodeForbidden              = "Forbidden"              // 403: authenticated, but not allowed
	CodeRateLimited            = "RateLimited"            // 429: too many requests; see RetryAfter
	CodeServiceUnavailable     = "ServiceUnavailable"     // 503: busy or shutting down; see RetryAfter
	CodeStorageUnavailable     = "StorageUnavailable"     // 503: a store of the server failed; nothing changed, see RetryAfter
	CodeInsufficientStorage    = "InsufficientStorage"    // 507: the server's storage is full; nothing stored, see RetryAfter
	CodeNotFound               = "NotFound"               // 404: no such route or image
	CodeMethodNotAllowed       = "MethodNotAllowed"       // 405: wrong method for the route
	CodeConflict               = "Conflict"               // 409: an admin command would create a duplicate
	CodeInternalError          = "InternalError"          // 500: the detail quotes a request id for the operator
)

func localError(code, pointer, detail string) *Error {
	return &Error{Code: code, Pointer: pointer, Detail: detail}
}

// responseError returns the error res and its body stand for, or nil for a
// success: a 2xx whose body has no non-empty "errors" (Zendesk's own
// clients treat such a key as failure whatever the status).
func responseError(res *http.Response, body []byte) *Error {
	e := parseErrorBody(body)
	if res.StatusCode >= 200 && res.StatusCode < 300 && (e == nil || e.fromLooseJSON) {
		return nil // Zendesk's {"error": …} shapes are not looked for in a 2xx
	}
	out := &Error{Status: res.StatusCode, Title: http.StatusText(res.StatusCode)}
	if e != nil {
		out.Code, out.Detail, out.Pointer = e.Code, e.Detail, e.Pointer
		if e.Title != "" {
			out.Title = e.Title
		}
	} else {
		out.Detail = snippet(body)
	}
	out.RetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
	return out
}

// parsedError is what an error body says.
type parsedError struct {
	Code, Title, Detail, Pointer string
	// fromLooseJSON: read from Zendesk's {"error": …} shapes, which a 2xx
	// body could carry as data rather than as a failure.
	fromLooseJSON bool
}

// parseErrorBody reads the error documents a client meets: this API's
// {"errors":[{code,title,detail,status,source:{pointer}}]}, Zendesk's
// {"error":"Code","description":"…"} and {"error":{"title","message"}},
// and S3's <Error><Code>…</Code><Message>…</Message></Error>. It returns
// nil for anything else.
func parseErrorBody(body []byte) *parsedError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	switch body[0] {
	case '{':
		var doc struct {
			Errors []struct {
				Code   string `json:"code"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
				Source struct {
					Pointer string `json:"pointer"`
				} `json:"source"`
			} `json:"errors"`
			Error       json.RawMessage `json:"error"`
			Description string          `json:"description"`
		}
		if json.Unmarshal(body, &doc) != nil {
			return nil
		}
		if len(doc.Errors) > 0 {
			e := doc.Errors[0]
			return &parsedError{Code: e.Code, Title: e.Title, Detail: e.Detail, Pointer: e.Source.Pointer}
		}
		var code string
		var obj struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(doc.Error, &code) == nil && code != "":
			return &parsedError{Code: code, Detail: doc.Description, fromLooseJSON: true}
		case json.Unmarshal(doc.Error, &obj) == nil && (obj.Title != "" || obj.Message != ""):
			return &parsedError{Title: obj.Title, Detail: obj.Message, fromLooseJSON: true}
		}
	case '<':
		var doc struct {
			XMLName xml.Name `xml:"Error"`
			Code    string   `xml:"Code"`
			Message string   `xml:"Message"`
		}
		if xml.Unmarshal(body, &doc) == nil && doc.Code != "" {
			return &parsedError{Code: doc.Code, Detail: doc.Message}
		}
	}
	return nil
}

// snippet is the start of a body that is no error document, fit to show.
func snippet(body []byte) string {
	const limit = 200
	s := strings.Join(strings.FieldsFunc(string(bytes.ToValidUTF8(body, nil)), func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return s
}

// retryAfter parses a Retry-After value: seconds or an HTTP date. It
// returns 0 when there is none or it is unparsable or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 1<<31 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
