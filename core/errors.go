package core

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/userimages/userimages/client/api"
)

// Error is the one error type of userimages. Message is safe to show to the
// caller; Field, when set, is the request property at fault (the HTTP
// layer answers it as a JSON pointer, the CLI could name its flag); Limit,
// when set, is the limit the request exceeded (the largest file_size, for
// api.CodeFileTooLarge), answered as a number so that clients need not
// parse Message. Err, the cause, is never shown to callers.
type Error struct {
	Code    api.Code
	Message string
	Field   api.Property
	Limit   int64
	Err     error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a caller-safe message.
func Errorf(code api.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// propertyError is an Errorf that also names the offending request property.
func propertyError(code api.Code, field api.Property, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Field = field
	return e
}

// ErrorCode returns the code of the first *Error in err's chain, or
// api.CodeInternalError when there is none.
func ErrorCode(err error) api.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return api.CodeInternalError
}

// Sentinels returned by stores; match them with errors.Is. They carry no
// code on purpose: the core decides what a missing record means to a
// caller, and one it did not expect (a row whose bytes are gone) stays an
// internal error, logged, instead of passing for a 404.
var (
	// ErrNotFound: the record or object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExist: the record or object already exists and was not replaced.
	ErrExist = errors.New("already exists")
	// ErrFull: the store is out of space or over its quota.
	ErrFull = errors.New("storage full")
)

// storeFault classifies err, returned by a store, for the caller: a full
// store (ErrFull, ENOSPC, EDQUOT) is api.CodeInsufficientStorage, any other
// fault api.CodeStorageUnavailable; both are retryable and never blame the
// caller's request. An *Error, or nil, passes unchanged.
func storeFault(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &Error{Code: api.CodeInsufficientStorage, Message: "the server's storage is full; nothing was stored, retry later", Err: err}
	}
	return &Error{Code: api.CodeStorageUnavailable, Message: "a storage service failed or did not answer; nothing was changed, retry", Err: err}
}
