package core

import (
	"errors"
	"fmt"
	"syscall"
)

// Code is a stable, machine-readable error code. Codes are part of the public
// API: clients switch on them, the README lists them, and the HTTP layer maps
// each one to a status.
type Code string

// Error codes. Each must appear in the README's error table (a test checks).
const (
	CodeInvalidJSON            Code = "InvalidJSON"
	CodeInvalidHost            Code = "InvalidHost"
	CodeBodyTooLarge           Code = "BodyTooLarge"
	CodeInvalidProperty        Code = "InvalidProperty"
	CodeUnsupportedContentType Code = "UnsupportedContentType"
	CodeInvalidFileSize        Code = "InvalidFileSize"
	CodeFileTooLarge           Code = "FileTooLarge"
	CodeUnauthorized           Code = "Unauthorized"
	CodeSignatureMismatch      Code = "SignatureMismatch"
	CodeUploadURLExpired       Code = "UploadURLExpired"
	CodePayloadTooLarge        Code = "PayloadTooLarge"
	CodeIncompleteBody         Code = "IncompleteBody"
	CodeAlreadyUploaded        Code = "AlreadyUploaded"
	CodeTokenNotFound          Code = "TokenNotFound"
	CodeTokenExpired           Code = "TokenExpired"
	CodeNotUploaded            Code = "NotUploaded"
	CodeBrandNotFound          Code = "BrandNotFound"
	CodeAlreadyClaimed         Code = "AlreadyClaimed"
	CodeContentMismatch        Code = "ContentMismatch"
	CodeInvalidImage           Code = "InvalidImage"
	CodeTruncatedImage         Code = "TruncatedImage"
	CodeImageTooLarge          Code = "ImageTooLarge"
	CodeActiveContent          Code = "ActiveContent"
	CodeBlockedContent         Code = "BlockedContent"
	CodeForbidden              Code = "Forbidden"
	CodeRateLimited            Code = "RateLimited"
	CodeUnavailable            Code = "ServiceUnavailable"
	CodeStorageUnavailable     Code = "StorageUnavailable"
	CodeInsufficientStorage    Code = "InsufficientStorage"
	CodeNotFound               Code = "NotFound"
	CodeMethodNotAllowed       Code = "MethodNotAllowed"
	CodeConflict               Code = "Conflict"
	CodeInternal               Code = "InternalError"
)

// Codes lists every code, for documentation checks and exhaustive tests.
var Codes = []Code{
	CodeInvalidJSON, CodeInvalidHost, CodeBodyTooLarge, CodeInvalidProperty, CodeUnsupportedContentType,
	CodeInvalidFileSize, CodeFileTooLarge, CodeUnauthorized, CodeSignatureMismatch,
	CodeUploadURLExpired, CodePayloadTooLarge, CodeIncompleteBody, CodeAlreadyUploaded,
	CodeTokenNotFound, CodeTokenExpired, CodeNotUploaded, CodeBrandNotFound,
	CodeAlreadyClaimed, CodeContentMismatch, CodeInvalidImage, CodeTruncatedImage,
	CodeImageTooLarge, CodeActiveContent, CodeBlockedContent, CodeForbidden, CodeRateLimited, CodeUnavailable,
	CodeStorageUnavailable, CodeInsufficientStorage, CodeNotFound,
	CodeMethodNotAllowed, CodeConflict, CodeInternal,
}

// Error is the one error type of userimages. Message is safe to show to the
// caller; Pointer, when set, is the JSON pointer of the offending request
// property. Err, the cause, is never shown to callers.
type Error struct {
	Code    Code
	Message string
	Pointer string
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
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// propertyError is an Errorf that also names the offending request property.
func propertyError(code Code, pointer, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Pointer = pointer
	return e
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
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
// store (ErrFull, ENOSPC, EDQUOT) is CodeInsufficientStorage, any other
// fault CodeStorageUnavailable; both are retryable and never blame the
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
		return &Error{Code: CodeInsufficientStorage, Message: "the server's storage is full; nothing was stored, retry later", Err: err}
	}
	return &Error{Code: CodeStorageUnavailable, Message: "a storage service failed or did not answer; nothing was changed, retry", Err: err}
}
