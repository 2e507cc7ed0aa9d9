package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// StatusOf returns the HTTP status of an error code (api.Code.Status; 500
// for a code that is not the API's).
func StatusOf(c api.Code) int {
	if st := c.Status(); st != 0 {
		return st
	}
	return http.StatusInternalServerError
}

// writeError answers err as JSON, classified by core.Classify: a fault a
// store marked is StorageUnavailable (503) or InsufficientStorage (507);
// errors without a code are internal (500), a bug: they are logged with
// the request id and never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = core.Classify(err)
	code := core.ErrorCode(err)
	info, ok := code.Info()
	if !ok {
		info, _ = api.CodeInternalError.Info()
		code = info.Code
	}
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	item := api.ErrorItem{Code: code, Title: info.Title, Status: strconv.Itoa(info.Status)}
	if e, ok := asError(err); ok && e.RetryAfter > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	if info.RetryAfter != 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(info.RetryAfter))
	}
	switch e, _ := asError(err); {
	case code == api.CodeInternalError:
		s.log.ErrorContext(r.Context(), "internal error", "request_id", requestID(r.Context()), "err", err)
		item.Detail = "something went wrong on our side; quote request id " + requestID(r.Context())
	case code == api.CodeStorageUnavailable || code == api.CodeInsufficientStorage:
		// A fault of ours: the cause goes to the log, never to the caller.
		s.log.WarnContext(r.Context(), "storage fault", "request_id", requestID(r.Context()), "code", code, "err", err)
		if errors.Is(err, context.DeadlineExceeded) && s.svc.Readiness != nil {
			s.svc.Readiness.Unanswered()
		}
		item.Detail = e.Message
	case e != nil:
		item.Detail = e.Message
		if e.Field != "" {
			item.Source = &api.ErrorSource{Pointer: e.Field.Pointer()}
		}
		if e.Limit != 0 {
			item.Meta = &api.ErrorMeta{Limit: e.Limit}
		}
	}
	if api.Route(r.Pattern) == s.putPattern() {
		w.Header().Set("X-Amz-Error-Code", s3ErrorCode(code))
	}
	if info.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="userimages"`)
	}
	writeJSON(w, info.Status, api.ErrorBody{Errors: []api.ErrorItem{item}})
}

// s3ErrorCodes are the names S3 gives the refusals of a PUT that the
// upload target shares with it, by API code, where S3's name is not the
// code itself (it is for IncompleteBody, ServiceUnavailable and
// InternalError).
var s3ErrorCodes = map[api.Code]string{
	api.CodeSignatureMismatch:  "SignatureDoesNotMatch",
	api.CodeUploadURLExpired:   "ExpiredToken",
	api.CodePayloadTooLarge:    "EntityTooLarge",
	api.CodeAlreadyUploaded:    "PreconditionFailed",
	api.CodeRateLimited:        "SlowDown",
	api.CodeStorageUnavailable: string(api.CodeServiceUnavailable),
}

// s3ErrorCode is the X-Amz-Error-Code of a refused upload PUT, which S3
// clients read (Uppy shows it): S3's name for code, or code itself where
// S3 names it the same or has no such refusal (the image checks).
func s3ErrorCode(code api.Code) string {
	if c, ok := s3ErrorCodes[code]; ok {
		return c
	}
	return string(code)
}

// internalErrorBody is answered when a response cannot be encoded.
var internalErrorBody = func() []byte {
	info, _ := api.CodeInternalError.Info()
	b, _ := json.Marshal(api.ErrorBody{Errors: []api.ErrorItem{{Code: info.Code, Title: info.Title, Status: strconv.Itoa(info.Status)}}})
	return append(b, '\n')
}()

// writeJSON answers v as JSON. URLs stay readable: no HTML escaping of &.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // only our own types are encoded
		slog.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.Write(internalErrorBody)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
