package core

import (
	"errors"

	"userimages/imagesafe"
)

// extensions of the accepted image types, as in published paths.
var extensions = map[string]string{
	"image/jpeg": "jpeg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// Extension returns the file extension of an accepted content type, and
// false for any other type.
func Extension(contentType string) (string, bool) {
	ext, ok := extensions[contentType]
	return ext, ok
}

// sniffLen is how many leading bytes of a PUT are checked before the rest
// is stored: enough for every format's magic and, but for JPEG, dimensions.
const sniffLen = 64

// refusalCodes map imagesafe's reasons to error codes.
var refusalCodes = map[imagesafe.Reason]Code{
	imagesafe.NotFormat:     CodeContentMismatch,
	imagesafe.Corrupt:       CodeInvalidImage,
	imagesafe.Truncated:     CodeTruncatedImage,
	imagesafe.TooLarge:      CodeImageTooLarge,
	imagesafe.ActiveContent: CodeActiveContent,
}

// imageError turns an imagesafe refusal into an *Error; other errors pass.
func imageError(err error, contentType string) error {
	var r *imagesafe.Refusal
	if !errors.As(err, &r) {
		return err
	}
	if r.Reason == imagesafe.NotFormat {
		return Errorf(CodeContentMismatch, "the uploaded bytes are not %s", contentType)
	}
	return &Error{Code: refusalCodes[r.Reason], Message: r.Detail}
}

func (s *Service) imageOptions() imagesafe.Options {
	return imagesafe.Options{Strip: !s.cfg.KeepMetadata, MaxPixels: s.cfg.MaxPixels, MaxSide: s.cfg.MaxSide}
}
