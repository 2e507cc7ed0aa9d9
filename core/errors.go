package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

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
	// RetryAfter, when not 0, is how long until a retry can succeed (of
	// an api.CodeRateLimited whose wait is known); the answer's
	// Retry-After.
	RetryAfter time.Duration
	Err        error
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

// ErrorCode returns the code of err as Classify answers it: of the first
// *Error in its chain, of a fault a store marked, or api.CodeInternalError
// for anything else.
func ErrorCode(err error) api.Code {
	var e *Error
	if errors.As(Classify(err), &e) {
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
	// ErrUnavailable: the store failed or did not answer (unreachable,
	// timed out, an I/O error, an object store's 5xx); nothing may have
	// changed, and a retry may succeed.
	ErrUnavailable = errors.New("storage unavailable")
)

// StoreFault marks err, a fault of a store, for the core: ErrFull when the
// store is full (ENOSPC, EDQUOT), else ErrUnavailable. Adapters call it on
// every error of theirs the contract does not name, as go-cloud's drivers
// classify their own errors; errors.Is still finds the cause. nil, io.EOF,
// the contract's sentinels, errors marked already and *Error pass
// unchanged.
func StoreFault(err error) error {
	var e *Error
	switch {
	case err == nil, err == io.EOF, errors.Is(err, ErrNotFound), errors.Is(err, ErrExist),
		errors.Is(err, ErrFull), errors.Is(err, ErrUnavailable), errors.As(err, &e):
		return err
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Classify turns err into what a caller is told. An *Error, or nil,
// passes unchanged. A fault a store marked (StoreFault) becomes an *Error:
// a full store (ErrFull, or an unmarked ENOSPC or EDQUOT, which the
// BlobStore contract allows) api.CodeInsufficientStorage, an unavailable
// one or a deadline passed api.CodeStorageUnavailable; both are retryable
// and never blame the caller's request. Anything else passes unchanged:
// no code, so an internal error (500) that the HTTP layer logs, a bug.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, ErrFull), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &Error{Code: api.CodeInsufficientStorage, Message: "the server's storage is full; nothing was stored, retry later", Err: err}
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Code: api.CodeStorageUnavailable, Message: "a storage service failed or did not answer; nothing was changed, retry", Err: err}
	}
	return err
}
