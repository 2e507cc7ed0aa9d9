package core

import (
	"errors"

	"userimages/imagesafe"

	"github.com/userimages/userimages/client/api"
)

// Extension returns the file extension of an accepted content type, and
// false for any other type.
func Extension(contentType string) (string, bool) {
	f, ok := api.FormatOf(contentType)
	return f.Ext, ok
}

// sniffLen is how many leading bytes of a PUT are checked before the rest
// is stored: enough for every format's magic and, but for JPEG, dimensions.
const sniffLen = 64

// refusalCodes map imagesafe's reasons to error codes.
var refusalCodes = map[imagesafe.Reason]api.Code{
	imagesafe.NotFormat:     api.CodeContentMismatch,
	imagesafe.Corrupt:       api.CodeInvalidImage,
	imagesafe.Truncated:     api.CodeTruncatedImage,
	imagesafe.TooLarge:      api.CodeImageTooLarge,
	imagesafe.ActiveContent: api.CodeActiveContent,
}

// imageError turns an imagesafe refusal into an *Error. A *ReadError is
// a fault of the store the bytes were read from, or of the scratch space
// they were written to while checked (a client's body that fails is an
// *Error before this), and is marked so; other errors pass.
func imageError(err error, contentType string) error {
	var re *imagesafe.ReadError
	if errors.As(err, &re) {
		return StoreFault(err)
	}
	var r *imagesafe.Refusal
	if !errors.As(err, &r) {
		return err
	}
	if r.Reason == imagesafe.NotFormat {
		return Errorf(api.CodeContentMismatch, "the uploaded bytes are not %s", contentType)
	}
	return &Error{Code: refusalCodes[r.Reason], Message: r.Detail}
}

func imageOptions(cfg Config) imagesafe.Options {
	return imagesafe.Options{Strip: !cfg.KeepMetadata, MaxPixels: cfg.MaxPixels, MaxSide: cfg.MaxSide}
}
