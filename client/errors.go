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

	"github.com/userimages/userimages/client/api"
)

// Error is a failure that a server (or the object store behind an upload
// URL) explained, or one detected locally before any request (Status 0).
// Match it with errors.As and switch on Code.
type Error struct {
	// Status is the HTTP status; 0 for an error found before any request
	// (an empty or non-image file, say).
	Status int
	// Code is the machine-readable code: one of the api.Code constants
	// from a userimages server; the <Code> of an S3-style XML error from an object
	// store (e.g. SignatureDoesNotMatch, RequestTimeTooSkewed); Zendesk's
	// "error" code for its other error shapes; or "" when the answer was no
	// error document (an HTML page from a proxy, say; see Status and Detail).
	Code api.Code
	// Title is the short human name of Code, or the HTTP status text.
	Title string
	// Detail says what exactly went wrong; safe to show to people.
	Detail string
	// Pointer is the JSON pointer of the request property at fault, e.g.
	// "/file_size", when the server names one.
	Pointer string
	// Limit is the limit the request exceeded, when the server gives it
	// (the largest file_size accepted, for api.CodeFileTooLarge); 0 if not.
	Limit int64
	// RetryAfter is the server's Retry-After, when it sent one (429, 503).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(string(e.Code))
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

// localError is an error found before any request, about property p.
func localError(code api.Code, p api.Property, detail string) *Error {
	return &Error{Code: code, Pointer: p.Pointer(), Detail: detail}
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
		out.Code, out.Detail, out.Pointer, out.Limit = e.Code, e.Detail, e.Pointer, e.Limit
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
	Code                   api.Code
	Title, Detail, Pointer string
	Limit                  int64
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
			api.ErrorBody
			Error       json.RawMessage `json:"error"`
			Description string          `json:"description"`
		}
		if json.Unmarshal(body, &doc) != nil {
			return nil
		}
		if len(doc.Errors) > 0 {
			e := doc.Errors[0]
			p := &parsedError{Code: e.Code, Title: e.Title, Detail: e.Detail}
			if e.Source != nil {
				p.Pointer = e.Source.Pointer
			}
			if e.Meta != nil {
				p.Limit = e.Meta.Limit
			}
			return p
		}
		var code string
		var obj struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(doc.Error, &code) == nil && code != "":
			return &parsedError{Code: api.Code(code), Detail: doc.Description, fromLooseJSON: true}
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
			return &parsedError{Code: api.Code(doc.Code), Detail: doc.Message}
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
