package core

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// format describes one accepted image type.
type format struct {
	ext          string
	magic        func([]byte) bool
	decodeConfig func(io.Reader) (image.Config, error)
}

var formats = map[string]format{
	"image/jpeg": {"jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }, jpeg.DecodeConfig},
	"image/png":  {"png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig},
	"image/gif": {"gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}, gif.DecodeConfig},
	"image/webp": {"webp", func(b []byte) bool {
		return len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP"))
	}, webp.DecodeConfig},
}

// Extension returns the file extension of an accepted content type, and
// false for any other type.
func Extension(contentType string) (string, bool) {
	f, ok := formats[contentType]
	return f.ext, ok
}

// magicLen is how many leading bytes identify every accepted format.
const magicLen = 12

// checkImage verifies that r holds an image of contentType: its magic bytes
// match and its header decodes to a positive width and height. It reads only
// as far as the header, never decoding pixels.
func checkImage(r io.Reader, contentType string) (image.Config, error) {
	f := formats[contentType]
	br := bufio.NewReader(r)
	head, _ := br.Peek(magicLen)
	if !f.magic(head) {
		return image.Config{}, Errorf(CodeContentMismatch, "the uploaded bytes are not %s", contentType)
	}
	cfg, err := f.decodeConfig(br)
	if err != nil {
		return image.Config{}, &Error{Code: CodeInvalidImage, Message: fmt.Sprintf("the uploaded %s header does not decode", contentType), Err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return image.Config{}, Errorf(CodeInvalidImage, "the uploaded image has no pixels (%dx%d)", cfg.Width, cfg.Height)
	}
	return cfg, nil
}
