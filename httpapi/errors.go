package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"userimages/core"
)

// statuses maps every error code to its HTTP status and title, and for
// retryable faults of ours the Retry-After (seconds) answered unless the
// handler set one. It is the only place that does; a test checks it covers
// core.Codes.
var statuses = map[core.Code]struct {
	status     int
	title      string
	retryAfter string
}{
	core.CodeInvalidJSON:            {http.StatusBadRequest, "Invalid JSON", ""},
	core.CodeInvalidHost:            {http.StatusBadRequest, "Invalid Host header", ""},
	core.CodeBodyTooLarge:           {http.StatusRequestEntityTooLarge, "Request body too large", ""},
	core.CodeInvalidProperty:        {http.StatusUnprocessableEntity, "Invalid property", ""},
	core.CodeUnsupportedContentType: {http.StatusUnprocessableEntity, "Unsupported content type", ""},
	core.CodeInvalidFileSize:        {http.StatusUnprocessableEntity, "Invalid file size", ""},
	core.CodeFileTooLarge:           {http.StatusUnprocessableEntity, "File too large", ""},
	core.CodeUnauthorized:           {http.StatusUnauthorized, "Unauthorized", ""},
	core.CodeSignatureMismatch:      {http.StatusForbidden, "Signature does not match", ""},
	core.CodeUploadURLExpired:       {http.StatusForbidden, "Upload URL expired", ""},
	core.CodePayloadTooLarge:        {http.StatusRequestEntityTooLarge, "Upload larger than declared", ""},
	core.CodeIncompleteBody:         {http.StatusBadRequest, "Upload shorter than declared", ""},
	core.CodeAlreadyUploaded:        {http.StatusConflict, "Already uploaded", ""},
	core.CodeTokenNotFound:          {http.StatusNotFound, "Unknown token", ""},
	core.CodeTokenExpired:           {http.StatusGone, "Token expired", ""},
	core.CodeNotUploaded:            {http.StatusConflict, "Image not uploaded", ""},
	core.CodeBrandNotFound:          {http.StatusUnprocessableEntity, "Unknown brand", ""},
	core.CodeAlreadyClaimed:         {http.StatusConflict, "Already claimed", ""},
	core.CodeContentMismatch:        {http.StatusUnprocessableEntity, "Content does not match type", ""},
	core.CodeInvalidImage:           {http.StatusUnprocessableEntity, "Invalid image", ""},
	core.CodeTruncatedImage:         {http.StatusUnprocessableEntity, "Truncated image", ""},
	core.CodeImageTooLarge:          {http.StatusUnprocessableEntity, "Image dimensions too large", ""},
	core.CodeActiveContent:          {http.StatusUnprocessableEntity, "Active content in image", ""},
	core.CodeBlockedContent:         {http.StatusUnprocessableEntity, "Blocked content", ""},
	core.CodeForbidden:              {http.StatusForbidden, "Forbidden", ""},
	core.CodeRateLimited:            {http.StatusTooManyRequests, "Too many requests", ""},
	core.CodeUnavailable:            {http.StatusServiceUnavailable, "Service unavailable", "5"},
	core.CodeStorageUnavailable:     {http.StatusServiceUnavailable, "Storage unavailable", "2"},
	core.CodeInsufficientStorage:    {http.StatusInsufficientStorage, "Insufficient storage", "60"},
	core.CodeNotFound:               {http.StatusNotFound, "Not found", ""},
	core.CodeMethodNotAllowed:       {http.StatusMethodNotAllowed, "Method not allowed", ""},
	core.CodeConflict:               {http.StatusConflict, "Conflict", ""},
	core.CodeInternal:               {http.StatusInternalServerError, "Internal error", ""},
}

// StatusOf returns the HTTP status of an error code.
func StatusOf(c core.Code) int { return statuses[c].status }

// errorBody is the Guide-Medias-style error document.
type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code   core.Code    `json:"code"`
	Title  string       `json:"title"`
	Detail string       `json:"detail,omitempty"`
	Status string       `json:"status"`
	Source *errorSource `json:"source,omitempty"`
}

type errorSource struct {
	Pointer string `json:"pointer"`
}

// writeError answers err as JSON. Errors without a code are internal: they
// are logged with the request id and never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := core.ErrorCode(err)
	st, ok := statuses[code]
	if !ok {
		code, st = core.CodeInternal, statuses[core.CodeInternal]
	}
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	item := errorItem{Code: code, Title: st.title, Status: strconv.Itoa(st.status)}
	if st.retryAfter != "" && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", st.retryAfter)
	}
	switch e, _ := asError(err); {
	case code == core.CodeInternal:
		s.log.ErrorContext(r.Context(), "internal error", "request_id", requestID(r.Context()), "err", err)
		item.Detail = "something went wrong on our side; quote request id " + requestID(r.Context())
	case code == core.CodeStorageUnavailable || code == core.CodeInsufficientStorage:
		// A fault of ours: the cause goes to the log, never to the caller.
		s.log.WarnContext(r.Context(), "storage fault", "request_id", requestID(r.Context()), "code", code, "err", err)
		item.Detail = e.Message
	case e != nil:
		item.Detail = e.Message
		if e.Pointer != "" {
			item.Source = &errorSource{Pointer: e.Pointer}
		}
	}
	if st.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="userimages"`)
	}
	writeJSON(w, st.status, errorBody{Errors: []errorItem{item}})
}

// writeJSON answers v as JSON. URLs stay readable: no HTML escaping of &.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // only our own types are encoded
		slog.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"errors":[{"code":"InternalError","title":"Internal error","status":"500"}]}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
